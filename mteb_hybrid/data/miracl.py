"""MIRACL dev (18 languages) in mteb's Hugging Face layout: corpus, queries and qrels per language.

The repositories ``mteb/MIRACLRetrievalHardNegatives`` (default: per query the pool of the top 250
passages of BM25, e5-multilingual-large and e5-mistral-instruct) and ``mteb/MIRACLRetrieval`` (the
full Wikipedia corpora) hold one config per language and part, split ``dev``:
``<lang>-corpus`` (``_id``, ``title``, ``text``), ``<lang>-queries`` (``_id``, ``text``) and
``<lang>-qrels`` (``query-id``, ``corpus-id``, ``score``), stored as ``<config>/dev-*.parquet``
and declared in the README's ``configs`` block -- the layout mteb's own ``MIRACLRetrieval`` reads.
A local mirror is looked up at ``<data folder>/<owner>/<name>`` (``$MTEB_HYBRID_DATA``), else the
pinned revision is loaded from the Hub.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

from mteb_hybrid.data.download import DataFileError, hub_source
from mteb_hybrid.env import env_choice

logger = logging.getLogger(__name__)

MIRACL_LANGUAGES: tuple[str, ...] = (
    "ar", "bn", "de", "en", "es", "fa", "fi", "fr", "hi", "id", "ja", "ko", "ru", "sw", "te",
    "th", "yo", "zh",
)  # fmt: skip
# corpus option -> (Hub repository, revision pinned by mteb 2.26)
MIRACL_REPOS: dict[str, tuple[str, str]] = {
    "hard-negatives": (
        "mteb/MIRACLRetrievalHardNegatives",
        "d7d94fa4b946cec4a27c84653aa0cf6b33f74a3c",
    ),
    "full": ("mteb/MIRACLRetrieval", "9c09abc13478308c27598f350e31d8f06b9b5481"),
}
SPLIT = "dev"
CORPUS_ENV = "MTEB_HYBRID_MIRACL_CORPUS"


@dataclass
class MiraclLanguage:
    """One language of MIRACL dev.

    Attributes:
        corpus: ``(id, title, text)`` per passage, in file order.
        queries: ``(id, text)`` per query that has at least one relevant passage.
        relevant: query id -> ids of its relevant passages (qrels score > 0), in file order.
        missing_relevant: relevant passage ids that the corpus lacks (dropped, counted).
    """

    lang: str
    corpus: list[tuple[str, str, str]]
    queries: list[tuple[str, str]]
    relevant: dict[str, list[str]]
    missing_relevant: int = 0
    stats: dict[str, int] = field(default_factory=dict)


def repo_for(corpus: str) -> tuple[str, str]:
    """``(repository, revision)`` of a corpus option (``"hard-negatives"`` or ``"full"``)."""
    if corpus not in MIRACL_REPOS:
        raise ValueError(f"unknown MIRACL corpus {corpus!r}: use one of {', '.join(MIRACL_REPOS)}")
    return MIRACL_REPOS[corpus]


def _read_config(
    source: str, config: str, columns: dict[str, tuple[str, ...]], *, local: bool, revision: str
) -> dict[str, list]:
    """Columns of one config's dev split; ``columns`` maps a name to accepted column names."""
    import datasets

    try:
        if local:  # stream a user's local files: no copy into the datasets cache
            dataset = datasets.load_dataset(source, config, split=SPLIT, streaming=True)
            rows = list(dataset)
            names = set(rows[0]) if rows else set(dataset.column_names or ())
        else:
            dataset = datasets.load_dataset(source, config, split=SPLIT, revision=revision)
            rows = None
            names = set(dataset.column_names)
    except (ValueError, FileNotFoundError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise DataFileError(
            f"{source}: cannot read config {config!r} split {SPLIT!r} ({reason}); expected mteb's "
            f"MIRACL layout (<lang>-corpus / -queries / -qrels configs in README.md)"
        ) from error
    out: dict[str, list] = {}
    for name, accepted in columns.items():
        column = next((c for c in accepted if c in names), None)
        if column is None:
            if name == "title":
                continue
            raise DataFileError(
                f"{source} config {config}: no column {' or '.join(map(repr, accepted))} "
                f"(has {', '.join(sorted(names)) or 'no rows'})"
            )
        values = [row[column] for row in rows] if rows is not None else list(dataset[column])
        if name != "title" and any(value is None for value in values):
            raise DataFileError(
                f"{source} config {config}: column {column!r} is missing or has empty values"
            )
        out[name] = values
    return out


def load_language(lang: str, source: str, *, local: bool, revision: str) -> MiraclLanguage:
    """Corpus, queries and positive qrels of one language."""
    corpus = _read_config(
        source,
        f"{lang}-corpus",
        {"id": ("_id", "id"), "title": ("title",), "text": ("text",)},
        local=local,
        revision=revision,
    )
    queries = _read_config(
        source,
        f"{lang}-queries",
        {"id": ("_id", "id"), "text": ("text",)},
        local=local,
        revision=revision,
    )
    qrels = _read_config(
        source,
        f"{lang}-qrels",
        {"query": ("query-id",), "doc": ("corpus-id",), "score": ("score",)},
        local=local,
        revision=revision,
    )
    doc_ids = [str(i) for i in corpus["id"]]
    titles = [t or "" for t in corpus.get("title", [""] * len(doc_ids))]
    in_corpus = set(doc_ids)
    if len(in_corpus) != len(doc_ids):
        raise DataFileError(f"{source} config {lang}-corpus: duplicate passage ids")
    relevant: dict[str, list[str]] = {}
    missing = 0
    for qid, did, score in zip(qrels["query"], qrels["doc"], qrels["score"], strict=True):
        if int(score) <= 0:
            continue
        if str(did) not in in_corpus:
            missing += 1
            continue
        relevant.setdefault(str(qid), []).append(str(did))
    if missing:
        logger.warning(
            "%s: %d relevant %s passages are not in the corpus; they are left out",
            source,
            missing,
            lang,
        )
    kept = [(str(q), t) for q, t in zip(queries["id"], queries["text"], strict=True)]
    stats = {"queries_in_file": len(kept), "passages": len(doc_ids)}
    kept = [(q, t) for q, t in kept if q in relevant]
    stats["queries_with_relevant"] = len(kept)
    return MiraclLanguage(
        lang=lang,
        corpus=list(zip(doc_ids, titles, corpus["text"], strict=True)),
        queries=kept,
        relevant=relevant,
        missing_relevant=missing,
        stats=stats,
    )


def load_miracl(
    languages: Sequence[str] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    corpus: str | None = None,
) -> dict[str, MiraclLanguage]:
    """MIRACL dev for ``languages`` (default all 18) from ``corpus`` (default hard negatives)."""
    corpus = corpus or env_choice(CORPUS_ENV, tuple(MIRACL_REPOS)) or "hard-negatives"
    repo, revision = repo_for(corpus)
    langs = list(languages) if languages is not None else list(MIRACL_LANGUAGES)
    unknown = [lang for lang in langs if lang not in MIRACL_LANGUAGES]
    if unknown:
        raise ValueError(
            f"MIRACL has no language {', '.join(unknown)}: "
            f"use some of {', '.join(MIRACL_LANGUAGES)}"
        )
    source, local = hub_source(repo, data_dir)
    return {lang: load_language(lang, source, local=local, revision=revision) for lang in langs}
