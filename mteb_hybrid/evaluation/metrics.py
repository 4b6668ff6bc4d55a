"""Retrieval metrics from the exact ranks of each query's relevant documents.

Ranks are 1-based positions in the full ranking of the setting's corpus (no cut-off), so ``map`` is
exact average precision over the full ranking, as LAReQA defines it. Relevance is binary. Each
function takes a ``(n_queries, max_relevant)`` float array of ranks with ``inf`` where a padded or
out-of-corpus relevant document is absent, and returns one value per query (``nan`` for a query
with no relevant document in the corpus).
"""

from __future__ import annotations

import numpy as np

METRIC_NAMES = (
    "map",
    "ndcg_at_10",
    "recall_at_1",
    "recall_at_10",
    "recall_at_100",
    "mrr_at_10",
)


def per_query_metrics(ranks: np.ndarray) -> dict[str, np.ndarray]:
    """All :data:`METRIC_NAMES` per query from relevant-document ranks (``inf`` = absent)."""
    ranks = np.sort(np.asarray(ranks, dtype=np.float64), axis=1)
    n_rel = np.isfinite(ranks).sum(axis=1)
    has_rel = n_rel > 0
    safe_n = np.where(has_rel, n_rel, 1)
    position = np.arange(1, ranks.shape[1] + 1, dtype=np.float64)[None, :]
    finite = np.isfinite(ranks)
    precision_at_hit = np.where(finite, position / np.where(finite, ranks, 1.0), 0.0)
    scores = {"map": precision_at_hit.sum(axis=1) / safe_n}
    discount = np.where(ranks <= 10, 1.0 / np.log2(np.where(finite, ranks, 1.0) + 1.0), 0.0)
    ideal_positions = np.arange(1, 11, dtype=np.float64)
    ideal_gain = np.cumsum(1.0 / np.log2(ideal_positions + 1.0))
    idcg = ideal_gain[np.clip(n_rel, 1, 10) - 1]
    scores["ndcg_at_10"] = discount.sum(axis=1) / idcg
    for k in (1, 10, 100):
        scores[f"recall_at_{k}"] = (ranks <= k).sum(axis=1) / safe_n
    first = ranks[:, 0] if ranks.shape[1] else np.full(len(ranks), np.inf)
    scores["mrr_at_10"] = np.where(first <= 10, 1.0 / np.where(finite[:, 0], first, 1.0), 0.0)
    return {name: np.where(has_rel, value, np.nan) for name, value in scores.items()}


def rank_distance(pooled_ranks: np.ndarray, rel_langs: np.ndarray, n_languages: int) -> np.ndarray:
    """Language bias per query: max minus min, over languages, of each language's best rank.

    ``pooled_ranks`` are ranks in the pooled corpus (``inf`` = absent), ``rel_langs`` the language
    index of each relevant document (-1 = padding). A query whose relevant documents lie in fewer
    than two languages gets 0; a query with none gets ``nan``.
    """
    pooled_ranks = np.asarray(pooled_ranks, dtype=np.float64)
    best = np.full((pooled_ranks.shape[0], n_languages), np.inf)
    for lang in range(n_languages):
        in_lang = np.where(rel_langs == lang, pooled_ranks, np.inf)
        best[:, lang] = in_lang.min(axis=1) if in_lang.shape[1] else np.inf
    present = np.isfinite(best)
    highest = np.where(present, best, -np.inf).max(axis=1)
    lowest = np.where(present, best, np.inf).min(axis=1)
    return np.where(present.any(axis=1), highest - lowest, np.nan)


def mean_ignoring_nan(values: np.ndarray) -> float:
    """Mean over queries that have a value (``nan`` if none)."""
    values = np.asarray(values, dtype=np.float64)
    kept = values[~np.isnan(values)]
    return float(kept.mean()) if kept.size else float("nan")
