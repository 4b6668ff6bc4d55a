"""LAReQA files (XQuAD-R, MLQA-R): SQuAD v1.1 JSON with sentence breaks, one file per language.

A candidate is one sentence of a paragraph; the relevant candidate of a question is the sentence
whose span ``[start, end)`` holds the answer's ``answer_start`` (the first such span where spans
touch). Question ids are shared across languages, which makes the data parallel.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mteb_hybrid.data.download import DataFileError, RemoteFile, fetch

LAREQA_REPO = "https://raw.githubusercontent.com/google-research-datasets/lareqa"
XQUAD_R_COMMIT = "9bc8c7f"
MLQA_R_COMMIT = "354d67d1cd066854cdfbf5ad0e6105528976141d"

XQUAD_R_SHA256 = {
    "ar": "c52922d3b8ac1ae03ed5ac38647ad59870dca3dda2beefe18ecdc30729acb69d",
    "de": "16fb0f4bf4916154b585a20c24c66074591c9718a1affe764ff4697572328949",
    "el": "163fd43ee785a30eb534ae2061e9eaa766a7ee4e8ffce5e4b422480c150f64b6",
    "en": "7b0954f39297c27a31fef610f0883337dd2907fa8699151dc922afdd0fa12ffe",
    "es": "f8e836b2d91009c4363e04315f7ede363eedbbb49c67dda60de6c4aa782f58de",
    "hi": "ea45ba8ae4513d1533b222bebdc02a90bc319c055d3aeea68584a053d2e92872",
    "ru": "7f4dff853538b9a5fcc28c070b8bb983a5c5d190ac747b8e005a1ada9cab18f1",
    "th": "c3a041864c3a9fb0b4dd91cfdf99cf36b411b3e704c58a303c97bc6dc786cfe4",
    "tr": "f3e8c13002bbce154a4578f535f7533cb70f3da08840e6b62735935baec7bd94",
    "vi": "e35926bf5cc6fc6ecbdfca49467aabeb454f08d152d7818143a906bd31dde995",
    "zh": "80c2cde7b9c2fb134c303cbb52f2ba396ead9eb0014aec43993543d2ba9e93ed",
}
MLQA_R_SHA256 = {
    "ar": "2132fbc03208535c0fe01f2e2c5121d06f9c2aa799af93b0a719dbc105bdf137",
    "de": "ce9454dc5aa6f2d85c23cd6e49cb367fbb7c4c6e62d7f71e355c6b5dae4d0886",
    "en": "fedd9a5cc0848dda80caf84aa36f482adaae230526a3f6e9e86926a93ef3b1e4",
    "es": "70ecba276b8c96a692b120693a595d076ce94ad21d4b28311538a9fcbfe0f9d7",
    "hi": "4dd0fb3c06f737a5481d705bc1dcac7876712a5815c9265908fbb3a0696cb654",
    "vi": "9d3baff6ba03e6793b25594217265ea59a136b9733833dca8a9582a84a78ff85",
    "zh": "57f01d2fff50cf3392805635b01445339f225ad5bf28ba8443b12f8dbd1e69dc",
}

DATASETS: dict[str, tuple[str, dict[str, str]]] = {
    "xquad-r": (XQUAD_R_COMMIT, XQUAD_R_SHA256),
    "mlqa-r": (MLQA_R_COMMIT, MLQA_R_SHA256),
}


@dataclass(frozen=True)
class Sentence:
    """One retrieval candidate: a sentence of a paragraph in one language."""

    id: str
    lang: str
    text: str
    context: str


@dataclass(frozen=True)
class Question:
    """One question in one language, with the id it shares across languages."""

    id: str
    lang: str
    text: str
    answer_sentence_id: str
    answer_paragraph_id: str


@dataclass(frozen=True)
class LanguageFile:
    """Everything read from one language's file."""

    lang: str
    sentences: list[Sentence]
    questions: list[Question]
    paragraphs: dict[str, str]


def remote_file(dataset: str, lang: str) -> RemoteFile:
    """The :class:`RemoteFile` for one language of ``xquad-r`` or ``mlqa-r``."""
    if dataset not in DATASETS:
        raise ValueError(f"unknown LAReQA dataset {dataset!r}: use one of {sorted(DATASETS)}")
    commit, checksums = DATASETS[dataset]
    if lang not in checksums:
        raise ValueError(f"{dataset} has no language {lang!r}: use one of {sorted(checksums)}")
    return RemoteFile(
        relpath=f"{dataset}/{lang}.json",
        url=f"{LAREQA_REPO}/{commit}/{dataset}/{lang}.json",
        sha256=checksums[lang],
    )


def _field(obj: dict, key: str, where: str, path: Path) -> object:
    if not isinstance(obj, dict) or key not in obj:
        raise DataFileError(
            f"{path}: {where} has no field {key!r}; expected SQuAD v1.1 JSON with "
            "'sentences' and 'sentence_breaks' (the LAReQA format)"
        )
    return obj[key]


def parse_language_file(path: str | os.PathLike[str], lang: str) -> LanguageFile:
    """Parse one LAReQA language file into sentences and questions."""
    path = Path(path)
    try:
        with path.open(encoding="utf-8") as handle:
            payload = json.load(handle)
    except json.JSONDecodeError as error:
        raise DataFileError(
            f"{path}: not valid JSON ({error.msg} at line {error.lineno}); the file is truncated "
            "or corrupt, delete it and download it again"
        ) from error
    sentences: list[Sentence] = []
    questions: list[Question] = []
    paragraphs: dict[str, str] = {}
    articles = _field(payload, "data", "the top level", path)
    paragraph_number = 0
    for a_idx, article in enumerate(articles):
        for p in _field(article, "paragraphs", f"article {a_idx}", path):
            where = f"article {a_idx} paragraph {paragraph_number}"
            texts = _field(p, "sentences", where, path)
            breaks = _field(p, "sentence_breaks", where, path)
            if len(texts) != len(breaks):
                raise DataFileError(
                    f"{path}: {where} has {len(texts)} sentences but {len(breaks)} "
                    "sentence_breaks; the file is corrupt"
                )
            paragraph_id = f"{lang}-p{paragraph_number:05d}"
            paragraphs[paragraph_id] = str(_field(p, "context", where, path))
            ids = [f"{paragraph_id}-s{i:03d}" for i in range(len(texts))]
            sentences.extend(
                Sentence(id=sid, lang=lang, text=text, context=paragraph_id)
                for sid, text in zip(ids, texts, strict=True)
            )
            for qa in _field(p, "qas", where, path):
                answers = _field(qa, "answers", f"{where} question", path)
                if not answers:
                    raise DataFileError(f"{path}: question {qa.get('id')} has no answers")
                start = answers[0]["answer_start"]
                hit = next((i for i, (b, e) in enumerate(breaks) if b <= start < e), None)
                if hit is None:
                    raise DataFileError(
                        f"{path}: question {qa.get('id')}: answer_start {start} lies in no "
                        "sentence span; the file is corrupt"
                    )
                questions.append(
                    Question(
                        id=str(_field(qa, "id", f"{where} question", path)),
                        lang=lang,
                        text=str(_field(qa, "question", f"{where} question", path)),
                        answer_sentence_id=ids[hit],
                        answer_paragraph_id=paragraph_id,
                    )
                )
            paragraph_number += 1
    return LanguageFile(lang=lang, sentences=sentences, questions=questions, paragraphs=paragraphs)


def load_lareqa(
    dataset: str,
    languages: Sequence[str] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
) -> dict[str, LanguageFile]:
    """Fetch (local folder, cache or download, all checksummed) and parse the given languages."""
    _, checksums = DATASETS.get(dataset, (None, None)) or (None, None)
    if checksums is None:
        raise ValueError(f"unknown LAReQA dataset {dataset!r}: use one of {sorted(DATASETS)}")
    langs: Iterable[str] = languages if languages is not None else sorted(checksums)
    return {
        lang: parse_language_file(fetch(remote_file(dataset, lang), data_dir), lang)
        for lang in langs
    }
