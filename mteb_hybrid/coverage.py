"""Tokenizer coverage per language: what share of a task's text a model's tokenizer can see.

For an English model the result for Bengali or Telugu is decided by the tokenizer before any
training ratio matters: unknown-token pieces carry no meaning, and long token sequences are cut
at the model's maximum length. Per language of a task this reports, over the distinct texts of
its collection (queries and documents):

- ``unk_share``: the share of tokens that are the tokenizer's unknown token (``[UNK]``);
- ``tokens_per_char``: tokens per character (how finely the text is split);
- ``truncated_share``: the share of texts longer than the model's maximum length (special tokens
  included), which the model sees only in part.

The report's files and tables (read by the leaderboard) are in :mod:`mteb_hybrid.coverage_report`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mteb_hybrid.coverage_report import COVERAGE_FIELDS


@dataclass(frozen=True)
class LanguageCoverage:
    """Coverage figures of one language (``language``: the ISO 639-3 label in subset names)."""

    language: str
    texts: int
    characters: int
    tokens: int
    unk_tokens: int
    truncated: int
    max_length: int

    @property
    def unk_share(self) -> float:
        """Unknown tokens / all tokens (special tokens not counted)."""
        return self.unk_tokens / self.tokens if self.tokens else 0.0

    @property
    def tokens_per_char(self) -> float:
        """Tokens per character of text."""
        return self.tokens / self.characters if self.characters else 0.0

    @property
    def truncated_share(self) -> float:
        """Share of texts cut at ``max_length``."""
        return self.truncated / self.texts if self.texts else 0.0

    def to_dict(self) -> dict[str, Any]:
        """Counts and the three shares, as plain JSON."""
        data = asdict(self)
        data.update({name: getattr(self, name) for name in COVERAGE_FIELDS})
        return data


def measure_coverage(
    tokenizer: Any, texts_by_language: Mapping[str, Sequence[str]], max_length: int
) -> list[LanguageCoverage]:
    """Coverage of ``tokenizer`` on each language's texts, cut at ``max_length`` tokens."""
    unk_id = tokenizer.unk_token_id
    specials = tokenizer.num_special_tokens_to_add(pair=False)
    report = []
    for language, texts in texts_by_language.items():
        ids = tokenizer(list(texts), add_special_tokens=False)["input_ids"] if texts else []
        report.append(
            LanguageCoverage(
                language=language,
                texts=len(texts),
                characters=sum(len(t) for t in texts),
                tokens=sum(len(row) for row in ids),
                unk_tokens=sum(row.count(unk_id) for row in ids) if unk_id is not None else 0,
                truncated=sum(len(row) + specials > max_length for row in ids),
                max_length=max_length,
            )
        )
    return report


def load_tokenizer(model: str) -> tuple[Any, int]:
    """The tokenizer of a sentence-transformers model (folder or Hub id) and its max length.

    The max length is the model's ``max_seq_length`` (``sentence_bert_config.json``), else the
    tokenizer's ``model_max_length``. Only the tokenizer is loaded, not the weights.
    """
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model)
    max_length = None
    config = Path(model) / "sentence_bert_config.json"
    if config.is_file():
        max_length = json.loads(config.read_text(encoding="utf-8")).get("max_seq_length")
    else:
        try:
            from huggingface_hub import hf_hub_download

            path = hf_hub_download(model, "sentence_bert_config.json")
            max_length = json.loads(Path(path).read_text(encoding="utf-8")).get("max_seq_length")
        except Exception:  # noqa: BLE001 - not a sentence-transformers repo, or offline
            max_length = None
    return tokenizer, int(max_length or tokenizer.model_max_length)


def task_texts(
    task_name: str,
    *,
    languages: Sequence[str] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    **task_options: Any,
) -> dict[str, list[str]]:
    """Distinct texts (queries and documents) per language label of one of our tasks."""
    from mteb_hybrid.tasks import TASKS, task_class

    cls = task_class(task_name)
    if cls is None:
        names = ", ".join(sorted(c.metadata.name for c in TASKS))
        raise ValueError(f"unknown task {task_name!r}: use one of {names}")
    task = cls(data_dir=data_dir, languages=list(languages or ()), **task_options)
    task.load_data()
    collection = task.collection
    texts: dict[str, dict[str, None]] = {
        task.language_label(code): {} for code in collection.languages
    }
    for codes, values in (
        (collection.query_langs, collection.query_texts),
        (collection.doc_langs, collection.doc_texts),
    ):
        for code, text in zip(codes, values, strict=True):
            texts[task.language_label(collection.languages[code])][text] = None
    return {label: list(values) for label, values in texts.items()}


def portable_model_name(model: str) -> str:
    """The name a report shows: ``local/<folder>`` for a local folder (no machine path), else the
    Hub id as given."""
    from mteb_hybrid.local_models import is_local_model_dir, local_model_name

    return local_model_name(Path(model).resolve()) if is_local_model_dir(model) else model


def coverage_report(
    model: str,
    task_name: str,
    *,
    languages: Sequence[str] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    max_length: int | None = None,
    **task_options: Any,
) -> dict[str, Any]:
    """The coverage of ``model``'s tokenizer on ``task_name``, as a JSON-able report."""
    tokenizer, model_max = load_tokenizer(model)
    length = max_length or model_max
    texts = task_texts(task_name, languages=languages, data_dir=data_dir, **task_options)
    rows = measure_coverage(tokenizer, texts, length)
    return {
        "model": portable_model_name(model),
        "task": task_name,
        "tokenizer": type(tokenizer).__name__,
        "vocab_size": len(tokenizer),
        "max_length": length,
        "languages": [row.to_dict() for row in rows],
    }
