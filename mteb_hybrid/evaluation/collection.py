"""The data model the evaluator works on: queries and documents in many languages, one relevance.

Every setting (monolingual ``X-X``, cross-lingual ``X-Y``, pooled ``X-all``) is a view on the same
collection: queries of one language against the documents of one language or of all of them. The
relevant documents of a query in a setting are its relevant documents that lie in that setting's
corpus. So one embedding table and one pass over the score matrix serve every setting.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from mteb_hybrid.runs import POOLED


@dataclass(frozen=True)
class Subset:
    """One evaluated setting: queries of ``query_lang`` against the corpus of ``corpus_lang``.

    ``corpus_lang`` is a language code of the collection or :data:`POOLED` for every language.
    """

    name: str
    query_lang: str
    corpus_lang: str

    @property
    def setting(self) -> str:
        """``"mono"``, ``"cross"`` or ``"multi"`` (pooled)."""
        if self.corpus_lang == POOLED:
            return "multi"
        return "mono" if self.corpus_lang == self.query_lang else "cross"


@dataclass
class RetrievalCollection:
    """Queries and documents in several languages with query -> documents relevance.

    Documents are stored grouped by language (``doc_langs`` non-decreasing), which lets the
    evaluator treat each language's corpus as one contiguous slice.

    Attributes:
        languages: language codes; ``doc_langs``/``query_langs`` index into it.
        doc_ids, doc_texts, doc_langs: the documents.
        query_ids, query_texts, query_langs: the queries.
        relevant: per query, the indices of its relevant documents in every language.
        query_self_doc: per query, the index of a document that is the query itself (never
            retrieved: it is removed from the query's ranking), or -1.
        doc_titles: optional document titles.
        query_items: optional, per query, the id of the parallel item it belongs to (a question
            id shared by its translations, an image id shared by its captions); ``None`` when
            queries are not parallel across languages. ``queries_per_language`` subsamples a
            collection with items in parallel (:mod:`mteb_hybrid.evaluation.subsample`).
        metadata: free-form facts about the collection (dataset name, sizes).
    """

    languages: list[str]
    doc_ids: list[str]
    doc_texts: list[str]
    doc_langs: np.ndarray
    query_ids: list[str]
    query_texts: list[str]
    query_langs: np.ndarray
    relevant: list[np.ndarray]
    query_self_doc: np.ndarray | None = None
    doc_titles: list[str] | None = None
    metadata: dict = field(default_factory=dict)
    query_items: list[str] | None = None

    def __post_init__(self) -> None:
        self.doc_langs = np.asarray(self.doc_langs, dtype=np.int64)
        self.query_langs = np.asarray(self.query_langs, dtype=np.int64)
        if len(self.doc_ids) != len(self.doc_texts) or len(self.doc_ids) != len(self.doc_langs):
            raise ValueError("doc_ids, doc_texts and doc_langs must have the same length")
        if len(self.query_ids) != len(self.query_texts) or len(self.query_ids) != len(
            self.query_langs
        ):
            raise ValueError("query_ids, query_texts and query_langs must have the same length")
        if len(self.relevant) != len(self.query_ids):
            raise ValueError("relevant must have one entry per query")
        if self.query_items is not None and len(self.query_items) != len(self.query_ids):
            raise ValueError("query_items must have one entry per query (or be None)")
        if np.any(np.diff(self.doc_langs) < 0):
            raise ValueError("documents must be grouped by language (doc_langs non-decreasing)")
        if self.query_self_doc is None:
            self.query_self_doc = np.full(len(self.query_ids), -1, dtype=np.int64)
        self.query_self_doc = np.asarray(self.query_self_doc, dtype=np.int64)

    @property
    def lang_bounds(self) -> np.ndarray:
        """``(n_languages + 1,)`` offsets: documents of language ``i`` are ``[b[i], b[i+1])``."""
        return np.searchsorted(self.doc_langs, np.arange(len(self.languages) + 1), side="left")

    def queries_of(self, lang: str) -> np.ndarray:
        """Indices of the queries in ``lang``."""
        return np.flatnonzero(self.query_langs == self.languages.index(lang))

    def default_subsets(self, cross: bool = True, pooled: bool = True) -> list[Subset]:
        """Every mono pair, optionally every cross pair and every pooled subset."""
        subsets = []
        for q in self.languages:
            for c in self.languages:
                if q == c or cross:
                    subsets.append(Subset(f"{q}-{c}", q, c))
        if pooled:
            subsets.extend(Subset(f"{q}-{POOLED}", q, POOLED) for q in self.languages)
        return subsets


def relevant_within_items(items: Sequence[Hashable]) -> list[np.ndarray]:
    """Per text, the indices of the other texts of its item (never itself), sorted.

    For collections whose every text is a query and a document (XM3600 captions of one image,
    FLORES translations of one sentence); built with arrays, as XM3600 has 261,375 texts.
    """
    codes: dict[Hashable, int] = {}
    groups = np.array([codes.setdefault(item, len(codes)) for item in items], dtype=np.int64)
    relevant: list[np.ndarray] = [np.empty(0, dtype=np.int64)] * len(items)
    if not len(groups):
        return relevant
    order = np.argsort(groups, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(groups[order]) != 0])
    for members in np.split(order, starts[1:]):
        members = np.sort(members)
        for position, query in enumerate(members):
            relevant[query] = np.delete(members, position)
    return relevant


def build_collection(
    languages: Sequence[str],
    documents: Sequence[tuple[str, str, str]],
    queries: Sequence[tuple[str, str, str]],
    relevant: dict[str, Sequence[str]],
    *,
    query_self_doc: dict[str, str] | None = None,
    query_items: Mapping[str, str] | None = None,
) -> RetrievalCollection:
    """Build a :class:`RetrievalCollection` from ``(id, lang, text)`` rows and id-based relevance.

    Documents are sorted by language (stable), so callers need not pre-sort them.
    ``query_items``: query id -> parallel item id, for every query (parallel collections).
    """
    lang_index = {lang: i for i, lang in enumerate(languages)}
    order = sorted(range(len(documents)), key=lambda i: lang_index[documents[i][1]])
    docs = [documents[i] for i in order]
    doc_pos = {doc_id: i for i, (doc_id, _, _) in enumerate(docs)}
    if len(doc_pos) != len(docs):
        raise ValueError("document ids must be unique")
    rel = [
        np.array(sorted({doc_pos[d] for d in relevant.get(qid, ())}), dtype=np.int64)
        for qid, _, _ in queries
    ]
    self_doc = None
    if query_self_doc:
        self_doc = np.array(
            [doc_pos.get(query_self_doc.get(qid, ""), -1) for qid, _, _ in queries],
            dtype=np.int64,
        )
    items = None
    if query_items is not None:
        missing = [qid for qid, _, _ in queries if qid not in query_items]
        if missing:
            raise ValueError(
                f"query_items has no item for {len(missing)} queries (first: {missing[0]!r}); "
                "give every query its parallel item id"
            )
        items = [str(query_items[qid]) for qid, _, _ in queries]
    return RetrievalCollection(
        languages=list(languages),
        doc_ids=[d[0] for d in docs],
        doc_texts=[d[2] for d in docs],
        doc_langs=np.array([lang_index[d[1]] for d in docs], dtype=np.int64),
        query_ids=[q[0] for q in queries],
        query_texts=[q[2] for q in queries],
        query_langs=np.array([lang_index[q[1]] for q in queries], dtype=np.int64),
        relevant=rel,
        query_self_doc=self_doc,
        query_items=items,
    )


def content_digest(collection: RetrievalCollection) -> str:
    """Hex sha256 of everything in a collection that scores depend on (ids, texts, languages,
    relevance, self-documents, titles, parallel items): equal digests, equal data."""
    import hashlib

    digest = hashlib.sha256()

    def add(*parts: object) -> None:
        for part in parts:
            digest.update(str(part).encode("utf-8"))
            digest.update(b"\x1f")

    add("languages", *collection.languages)
    for name in ("doc_ids", "doc_texts", "query_ids", "query_texts"):
        add(name, *getattr(collection, name))
    add("doc_langs", *collection.doc_langs.tolist())
    add("query_langs", *collection.query_langs.tolist())
    add("relevant", *(",".join(map(str, sorted(r.tolist()))) for r in collection.relevant))
    if collection.query_self_doc is not None:
        add("self", *collection.query_self_doc.tolist())
    if collection.doc_titles is not None:
        add("titles", *collection.doc_titles)
    if collection.query_items is not None:
        add("items", *collection.query_items)
    return digest.hexdigest()
