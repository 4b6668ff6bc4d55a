"""Score many retrieval settings of one collection from one embedding table."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from mteb_hybrid.evaluation.collection import RetrievalCollection, Subset
from mteb_hybrid.evaluation.metrics import (
    METRIC_NAMES,
    mean_ignoring_nan,
    per_query_metrics,
    rank_distance,
)
from mteb_hybrid.evaluation.ranking import (
    DEFAULT_MAX_CHUNK_BYTES,
    RankChunk,
    iter_relevant_ranks,
)
from mteb_hybrid.runs import POOLED

PER_QUERY_METRICS = ("map", "ndcg_at_10", "recall_at_10", "rank_distance")
# stored per pooled query for the chance level of rank distance (mteb_hybrid.leaderboard.chance):
# the documents it is ranked among and its relevant documents in each collection language
CHANCE_FIELDS = ("pool_size", "relevant_per_language")


@dataclass
class SubsetResult:
    """Scores of one subset: macro means and the per-query values they come from."""

    subset: Subset
    scores: dict[str, float]
    query_ids: list[str] = field(default_factory=list)
    per_query: dict[str, np.ndarray] = field(default_factory=dict)


def evaluate_subsets(
    collection: RetrievalCollection,
    query_embeddings,  # noqa: ANN001 - array-like
    doc_embeddings,  # noqa: ANN001 - array-like (n_docs, dim) or DocumentBlocks
    subsets: Sequence[Subset],
    *,
    query_indices: np.ndarray | None = None,
    similarity: str = "cosine",
    device: str | None = None,
    max_chunk_bytes: int = DEFAULT_MAX_CHUNK_BYTES,
    progress: bool = True,
) -> dict[str, SubsetResult]:
    """Exact full-ranking scores for every subset, in one streamed pass over the documents.

    ``doc_embeddings`` is one array or a :class:`~mteb_hybrid.evaluation.blocks.DocumentBlocks`
    (e.g. memmaps of on-disk shards, never loaded together): see
    :func:`~mteb_hybrid.evaluation.ranking.iter_relevant_ranks`, which also shares the queries
    among the processes of an initialised ``torch.distributed`` group (every process returns the
    same results). Queries without a relevant document in a subset's corpus are left out of that
    subset (as mteb does). ``query_indices`` restricts the queries (e.g. a subsample); default
    all.
    """
    allowed = None if query_indices is None else set(np.asarray(query_indices).tolist())
    by_lang: dict[str, list[Subset]] = {}
    for subset in subsets:
        by_lang.setdefault(subset.query_lang, []).append(subset)
    collected: dict[str, dict[str, list[np.ndarray]]] = {s.name: {} for s in subsets}
    ids: dict[str, list[str]] = {s.name: [] for s in subsets}
    lang_index = {lang: i for i, lang in enumerate(collection.languages)}
    # every query language in one pass over the documents (its queries together, in order)
    scored = []
    for query_lang in by_lang:
        indices = collection.queries_of(query_lang)
        if allowed is not None:
            indices = np.array([i for i in indices if i in allowed], dtype=np.int64)
        scored.append(indices)
    scored_indices = np.concatenate(scored) if scored else np.empty(0, dtype=np.int64)
    chunks = (
        iter_relevant_ranks(
            collection,
            query_embeddings,
            doc_embeddings,
            scored_indices,
            similarity=similarity,
            device=device,
            max_chunk_bytes=max_chunk_bytes,
            progress=progress,
        )
        if scored_indices.size
        else ()
    )
    for whole in chunks:
        chunk_langs = collection.query_langs[whole.query_indices]
        for lang_code in dict.fromkeys(chunk_langs.tolist()):
            chunk = whole.rows(chunk_langs == lang_code)
            for subset in by_lang[collection.languages[lang_code]]:
                if subset.corpus_lang == POOLED:
                    ranks = chunk.rank_pooled
                else:
                    ranks = np.where(
                        chunk.rel_lang == lang_index[subset.corpus_lang],
                        chunk.rank_in_lang,
                        np.inf,
                    )
                values = per_query_metrics(ranks)
                if subset.corpus_lang == POOLED:
                    values["rank_distance"] = rank_distance(
                        chunk.rank_pooled, chunk.rel_lang, len(collection.languages)
                    )
                    values.update(_chance_inputs(collection, chunk))
                keep = ~np.isnan(values["map"])
                for name, array in values.items():
                    collected[subset.name].setdefault(name, []).append(array[keep])
                ids[subset.name].extend(collection.query_ids[i] for i in chunk.query_indices[keep])
    results = {}
    for subset in subsets:
        per_query = {name: np.concatenate(parts) for name, parts in collected[subset.name].items()}
        names = METRIC_NAMES + (("rank_distance",) if subset.corpus_lang == POOLED else ())
        empty = np.array([])
        scores = {name: mean_ignoring_nan(per_query.get(name, empty)) for name in names}
        scores["num_queries"] = float(len(ids[subset.name]))
        results[subset.name] = SubsetResult(
            subset=subset,
            scores=scores,
            query_ids=ids[subset.name],
            per_query={
                k: v for k, v in per_query.items() if k in PER_QUERY_METRICS + CHANCE_FIELDS
            },
        )
    return results


def _chance_inputs(collection: RetrievalCollection, chunk: RankChunk) -> dict[str, np.ndarray]:
    """Per query of a pooled chunk: its pool size ``N`` (all documents, less its own text when
    that is one of them) and its number of relevant documents in each language ``(n, L)``."""
    n_langs = len(collection.languages)
    rows = np.repeat(np.arange(len(chunk.query_indices)), chunk.rel_lang.shape[1])
    langs = chunk.rel_lang.ravel()
    valid = langs >= 0
    counts = np.bincount(
        rows[valid] * n_langs + langs[valid], minlength=len(chunk.query_indices) * n_langs
    ).reshape(len(chunk.query_indices), n_langs)
    assert collection.query_self_doc is not None
    has_self = collection.query_self_doc[chunk.query_indices] >= 0
    pool = len(collection.doc_ids) - has_self.astype(np.int64)
    return {"pool_size": pool.astype(np.float64), "relevant_per_language": counts.astype(np.int16)}
