"""Chance levels: the expectation of rank distance (and of average precision) under a random
ranking.

Rank distance (language bias) of a pooled query is ``max - min`` over the languages with a relevant
document of that language's best rank (:func:`mteb_hybrid.evaluation.metrics.rank_distance`). If
the ranking were a uniformly random order of the query's ``N`` candidate documents, its
expectation depends only on ``N`` and on how many relevant documents each language has:

- one relevant document in each of ``k`` languages (XQuAD-R, MLQA-R): the ``k`` ranks are ``k``
  distinct uniform positions among ``N``, so ``E[max - min] = (k - 1)(N + 1)/(k + 1)``
  (XQuAD-R: ``k = 11``, ``N = 13,014`` gives 10,846.5);
- ``c_l`` relevant documents in language ``l`` (XM3600 captions): with ``K = sum c_l``,
  ``E[min] = (N + 1)/(K + 1)`` and, by inclusion-exclusion over the languages that have no
  document among the first ``t`` ranks, ``E[max_l best_l] = (N + 1) sum_{j>=1} -a_j/(j + 1)``
  where ``a_j`` is the coefficient of ``x^j`` in ``prod_l (1 - x^{c_l})``. This is exact and
  reduces to the formula above when every ``c_l = 1``; :func:`simulate_rank_distance` (a seeded
  Monte Carlo draw of random rankings) checks it in the tests.

``N`` is the query's pool size: every document of the pooled corpus, minus one when the query's
own text is a document there (``query_self_doc``: it is never retrieved, so it takes no rank among
the relevant ones). The evaluator stores, per pooled query, ``pool_size`` and
``relevant_per_language`` (the count in each collection language) in the per-query sidecar; older
sidecars lack them and get no chance level.

A column's chance level is the same average as the column (mean over a subset's queries, then the
macro over pooled subsets), and the normalised figure is ``rank distance / chance`` in percent:
100 means no better than a random ranking, 0 no language bias.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from fractions import Fraction

import numpy as np

POOL_SIZE = "pool_size"
RELEVANT_PER_LANGUAGE = "relevant_per_language"
CHANCE_FIELDS = (POOL_SIZE, RELEVANT_PER_LANGUAGE)


def expected_range_uniform(k: int, n: int) -> float:
    """``E[max - min]`` of ``k`` distinct uniform positions among ``1..n``: ``(k-1)(n+1)/(k+1)``."""
    if k < 1 or n < k:
        raise ValueError(f"need 1 <= k <= n positions, got k={k}, n={n}")
    return (k - 1) * (n + 1) / (k + 1)


@functools.lru_cache(maxsize=4096)
def _factor(counts: tuple[int, ...]) -> Fraction:
    """``E[rank distance] / (N + 1)`` for sorted positive per-language counts (exact)."""
    poly = [1]  # coefficients of prod_l (1 - x^{c_l}), exact integers
    for c in counts:
        grown = poly + [0] * c
        for j, a in enumerate(poly):
            grown[j + c] -= a
        poly = grown
    total = sum(counts)
    best_max = sum((Fraction(-a, j + 1) for j, a in enumerate(poly) if j >= 1 and a), Fraction(0))
    return best_max - Fraction(1, total + 1)


def expected_rank_distance(counts: Sequence[int], n: int) -> float:
    """Expected rank distance of a random ranking of ``n`` documents (exact).

    ``counts``: the number of relevant documents in each language (zeros are ignored: a language
    without a relevant document takes no part). ``nan`` when there is no relevant document.
    """
    positive = tuple(sorted(int(c) for c in counts if c > 0))
    if not positive:
        return float("nan")
    if sum(positive) > n:
        raise ValueError(f"{sum(positive)} relevant documents cannot fit among {n} ranked ones")
    return float((n + 1) * _factor(positive))


def expected_average_precision(relevant: int, n: int) -> float:
    """Expected average precision of a random ranking of ``n`` documents, ``relevant`` of them
    relevant (exact): ``H_n / n + (relevant - 1)(n - H_n) / (n (n - 1))``, ``H_n`` the n-th
    harmonic number.

    AP is the mean over the relevant documents ``i`` of ``#{relevant j ranked at or above i} /
    rank_i``; under a uniform ranking ``E[1 / rank_i] = H_n / n`` (the ``j = i`` term) and, for
    ``j != i``, ``E[1[rank_j < rank_i] / rank_i] = (n - H_n) / (n (n - 1))``. It is the chance
    level of mAP (one relevant among 204: 2.89%; 35 among 7,343: 0.59%).
    """
    if relevant < 1 or n < relevant:
        raise ValueError(f"need 1 <= relevant <= n documents, got relevant={relevant}, n={n}")
    harmonic = float(np.sum(1.0 / np.arange(1, n + 1)))
    pairs = (relevant - 1) * (n - harmonic) / (n * (n - 1)) if n > 1 else 0.0
    return harmonic / n + pairs


def simulate_rank_distance(
    counts: Sequence[int], n: int, draws: int = 20_000, seed: int = 0
) -> tuple[float, float]:
    """Monte Carlo ``(mean, standard error)`` of the rank distance of random rankings.

    Each draw puts the relevant documents at distinct uniform positions among ``1..n`` (a random
    permutation restricted to them), takes each language's best position and returns
    ``max - min``, exactly as the evaluator scores a ranking.
    """
    positive = [int(c) for c in counts if c > 0]
    total = sum(positive)
    if total == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    if total * total > 1.4 * n:  # distinct draws would often repeat: take a permutation's head
        positions = np.empty((draws, total), dtype=np.int64)
        step = max(1, 2_000_000 // n)
        for start in range(0, draws, step):
            keys = rng.random((min(step, draws - start), n))
            positions[start : start + len(keys)] = (
                np.argpartition(keys, total - 1, axis=1)[:, :total] + 1
            )
    else:
        positions = rng.integers(1, n + 1, size=(draws, total))
        todo = np.flatnonzero((np.diff(np.sort(positions, axis=1), axis=1) == 0).any(axis=1))
        while todo.size:  # distinct positions: redraw the rows with a repeated position
            positions[todo] = rng.integers(1, n + 1, size=(todo.size, total))
            ordered = np.sort(positions[todo], axis=1)
            todo = todo[(np.diff(ordered, axis=1) == 0).any(axis=1)]
    language = np.repeat(np.arange(len(positive)), positive)
    best = np.empty((draws, len(positive)), dtype=np.int64)
    for lang in range(len(positive)):
        best[:, lang] = positions[:, language == lang].min(axis=1)
    distance = (best.max(axis=1) - best.min(axis=1)).astype(np.float64)
    return float(distance.mean()), float(distance.std(ddof=1) / np.sqrt(draws))


def per_query_chance(relevant_per_language: np.ndarray, pool_size: np.ndarray) -> np.ndarray:
    """Expected rank distance of each query under a random ranking, ``(Q,)``.

    ``relevant_per_language``: ``(Q, L)`` counts of relevant documents per language;
    ``pool_size``: ``(Q,)`` documents each query is ranked among (``N``).
    """
    counts = np.rint(np.asarray(relevant_per_language, dtype=np.float64)).astype(np.int64)
    sizes = np.rint(np.asarray(pool_size, dtype=np.float64)).astype(np.int64)
    if counts.ndim != 2 or counts.shape[0] != sizes.shape[0]:
        raise ValueError(
            f"{RELEVANT_PER_LANGUAGE} must be (queries, languages) and {POOL_SIZE} (queries,): "
            f"got {counts.shape} and {sizes.shape}"
        )
    out = np.empty(len(sizes), dtype=np.float64)
    cache: dict[tuple[tuple[int, ...], int], float] = {}
    for q, (row, n) in enumerate(zip(counts, sizes, strict=True)):
        key = (tuple(sorted(int(c) for c in row if c > 0)), int(n))
        if key not in cache:
            cache[key] = expected_rank_distance(key[0], key[1])
        out[q] = cache[key]
    return out


def subset_chance(values: Mapping[str, np.ndarray]) -> np.ndarray | None:
    """Per-query chance level of one pooled subset of a sidecar, or ``None`` if not stored."""
    if not all(name in values for name in CHANCE_FIELDS):
        return None
    return per_query_chance(values[RELEVANT_PER_LANGUAGE], values[POOL_SIZE])


def sidecar_chance(
    sidecar: Mapping[str, Mapping[str, np.ndarray]] | None, subsets: Sequence[str]
) -> np.ndarray:
    """Mean chance level of each of ``subsets`` (``nan`` where unknown or not pooled), ``(S,)``."""
    out = np.full(len(subsets), np.nan)
    if sidecar is None:
        return out
    for s, name in enumerate(subsets):
        values = sidecar.get(name)
        if values is None or "rank_distance" not in values:
            continue
        chance = subset_chance(values)
        if chance is None or not chance.size:
            continue
        keep = np.isfinite(np.asarray(values["rank_distance"], dtype=np.float64))
        if keep.any():
            out[s] = float(chance[keep].mean())
    return out
