"""Chance level of rank distance: closed form, exact formula, Monte Carlo, real collections.

The evaluator's stored inputs (pool size, relevant documents per language) are checked against
an independent count from the collection, and random embeddings (a random ranking) are checked
to score the chance level on the real XQuAD-R collection.
"""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pytest

from mteb_hybrid.leaderboard.chance import (
    expected_average_precision,
    expected_range_uniform,
    expected_rank_distance,
    per_query_chance,
    sidecar_chance,
    simulate_rank_distance,
)


def _collection_inputs(collection, query_indices=None) -> tuple[np.ndarray, np.ndarray]:
    """Per query: relevant documents per language and pool size, counted from the collection."""
    indices = range(len(collection.query_ids)) if query_indices is None else query_indices
    counts = np.array(
        [
            np.bincount(
                collection.doc_langs[collection.relevant[i]], minlength=len(collection.languages)
            )
            for i in indices
        ]
    )
    pool = np.array(
        [len(collection.doc_ids) - (collection.query_self_doc[i] >= 0) for i in indices]
    )
    return counts, pool


def _macro_chance(collection) -> float:
    """The task figure: mean over each query language's queries, then over query languages."""
    counts, pool = _collection_inputs(collection)
    chance = per_query_chance(counts, pool)
    return float(
        np.mean(
            [chance[collection.query_langs == i].mean() for i in range(len(collection.languages))]
        )
    )


def test_closed_form_matches_monte_carlo() -> None:
    """XQuAD-R's pool: 11 languages, one answer each, 13,014 documents."""
    closed = expected_range_uniform(11, 13_014)
    assert closed == pytest.approx(10 * 13_015 / 12)  # 10,845.8
    assert expected_rank_distance([1] * 11, 13_014) == pytest.approx(closed, rel=1e-12)
    mean, se = simulate_rank_distance([1] * 11, 13_014, draws=20_000, seed=0)
    assert abs(mean - closed) < 4 * se and se < 0.005 * closed


@pytest.mark.parametrize(
    "counts,n",
    [((2, 1, 3, 2), 500), ((1, 2) * 18, 8_000), ((4, 1), 60), ((1, 1, 1), 3)],
)
def test_several_documents_per_language_exact_formula_matches_monte_carlo(counts, n) -> None:
    """Each language's best rank first (XM3600 captions): exact formula vs seeded simulation."""
    exact = expected_rank_distance(counts, n)
    mean, se = simulate_rank_distance(counts, n, draws=20_000, seed=1)
    assert abs(mean - exact) < 4 * se + 1e-9, (exact, mean, se)
    if all(c == 1 for c in counts):
        assert exact == pytest.approx(expected_range_uniform(len(counts), n))


def test_exact_formula_by_enumerating_every_ranking() -> None:
    """N = 7 documents, languages with 2, 1 and 1 relevant: all 840 placements, exactly."""
    counts, n = (2, 1, 1), 7
    owner = [0, 0, 1, 2]
    total, placements = Fraction(0), 0
    for positions in itertools.permutations(range(1, n + 1), len(owner)):
        best = {}
        for lang, position in zip(owner, positions, strict=True):
            best[lang] = min(best.get(lang, n + 1), position)
        total += max(best.values()) - min(best.values())
        placements += 1
    assert placements == 840
    assert expected_rank_distance(counts, n) == pytest.approx(float(total / placements), abs=1e-12)


def test_degenerate_cases() -> None:
    assert expected_rank_distance([3, 0, 0], 100) == 0.0  # one language: no distance
    assert np.isnan(expected_rank_distance([0, 0], 100))
    with pytest.raises(ValueError, match="cannot fit"):
        expected_rank_distance([5, 5], 9)
    with pytest.raises(ValueError, match="relevant_per_language"):
        per_query_chance(np.ones(3), np.ones(3))


def test_self_document_changes_the_pool_by_one() -> None:
    """A query whose own text is in the pool is ranked among N - 1 documents."""
    counts = np.array([[1, 1, 1], [1, 1, 1], [2, 0, 1]])
    chance = per_query_chance(counts, np.array([100, 99, 100]))
    assert chance[0] - chance[1] == pytest.approx(2 / 4)  # (k-1)/(k+1) per document
    assert chance[2] == pytest.approx(expected_rank_distance([2, 1], 100))


def test_sidecar_chance_needs_the_stored_inputs() -> None:
    car = {
        "eng-all": {
            "query_ids": np.array(["en-1", "en-2"]),
            "rank_distance": np.array([10.0, np.nan], dtype=np.float32),
            "pool_size": np.array([99.0, 99.0], dtype=np.float32),
            "relevant_per_language": np.array([[1, 1], [1, 1]], dtype=np.float32),
        },
        "deu-all": {"query_ids": np.array(["de-1"]), "rank_distance": np.array([3.0])},
        "eng-eng": {"query_ids": np.array(["en-1"]), "map": np.array([1.0])},
    }
    out = sidecar_chance(car, ["eng-all", "deu-all", "eng-eng", "spa-all"])
    assert out[0] == pytest.approx(expected_range_uniform(2, 99))
    assert np.isnan(out[1:]).all()  # an old sidecar, not pooled, absent


def test_real_lareqa_collections(shared_data) -> None:
    """The task figures from the real relevance structure: XQuAD-R (k = 11 for every query,
    N = 13,014) and MLQA-R (2 to 7 languages per question; 11,806 as the issue states)."""
    from mteb_hybrid.tasks.lareqa_collection import lareqa_collection
    from mteb_hybrid.tasks.mlqa_r import MLQARRetrieval
    from mteb_hybrid.tasks.xquad_r import XQuADRRetrieval

    xquad = lareqa_collection("xquad-r", list(XQuADRRetrieval.LANGUAGES), shared_data)
    assert len(xquad.doc_ids) == 13_014
    assert _macro_chance(xquad) == pytest.approx(expected_range_uniform(11, 13_014))
    mlqa = lareqa_collection("mlqa-r", list(MLQARRetrieval.LANGUAGES), shared_data)
    counts, _ = _collection_inputs(mlqa)
    assert set((counts > 0).sum(axis=1)) > {2, 3} and (counts <= 1).all()
    assert _macro_chance(mlqa) == pytest.approx(11_806.3, abs=0.5)


def test_evaluator_stores_the_inputs_and_random_rankings_sit_at_chance(shared_data) -> None:
    """Random embeddings rank the pool uniformly at random: their mean rank distance on the real
    XQuAD-R collection (40 questions per language) is the chance level, within 4 standard
    errors; the stored inputs equal an independent count from the collection."""
    from mteb_hybrid.evaluation.collection import POOLED, Subset
    from mteb_hybrid.evaluation.evaluator import evaluate_subsets
    from mteb_hybrid.tasks.lareqa_collection import lareqa_collection
    from mteb_hybrid.tasks.xquad_r import XQuADRRetrieval

    collection = lareqa_collection("xquad-r", list(XQuADRRetrieval.LANGUAGES), shared_data)
    rng = np.random.default_rng(0)
    chosen = np.concatenate([collection.queries_of(lang)[:40] for lang in collection.languages])
    queries = rng.normal(size=(len(collection.query_ids), 16)).astype(np.float32)
    documents = rng.normal(size=(len(collection.doc_ids), 16)).astype(np.float32)
    subsets = [Subset(f"{lang}-all", lang, POOLED) for lang in collection.languages]
    results = evaluate_subsets(
        collection, queries, documents, subsets, query_indices=chosen, progress=False
    )
    distances, chances = [], []
    for subset in subsets:
        result = results[subset.name]
        index = [collection.query_ids.index(q) for q in result.query_ids]
        counts, pool = _collection_inputs(collection, index)
        np.testing.assert_array_equal(result.per_query["relevant_per_language"], counts)
        np.testing.assert_array_equal(result.per_query["pool_size"], pool)
        distances.append(result.per_query["rank_distance"])
        chances.append(per_query_chance(counts, pool))
    distances, chance = np.concatenate(distances), np.concatenate(chances)
    se = distances.std(ddof=1) / np.sqrt(distances.size)
    assert abs(distances.mean() - chance.mean()) < 4 * se
    assert chance.mean() == pytest.approx(expected_range_uniform(11, 13_014))


def test_xm3600_captions_self_document_and_several_per_language(monkeypatch) -> None:
    """XM3600 layout: a caption is its own query (removed from its ranking: N - 1) and an image
    has one or two captions per language; each configuration's exact figure matches a seeded
    simulation of that configuration."""
    from mteb_hybrid.data.xm3600 import load_xm3600
    from mteb_hybrid.evaluation.collection import POOLED, Subset
    from mteb_hybrid.evaluation.evaluator import evaluate_subsets
    from mteb_hybrid.tasks.xm3600 import xm3600_collection
    from tests.test_xm3600_helpers import XM3600_FIXTURE

    monkeypatch.setenv("MTEB_HYBRID_VERIFY", "0")
    collection = xm3600_collection(load_xm3600(data_dir=XM3600_FIXTURE, source="official"))
    rng = np.random.default_rng(0)
    embeddings = rng.normal(size=(len(collection.doc_ids), 8)).astype(np.float32)
    subsets = [Subset(f"{lang}-all", lang, POOLED) for lang in collection.languages[:6]]
    results = evaluate_subsets(collection, embeddings, embeddings, subsets, progress=False)
    configurations = set()
    for subset in subsets:
        result = results[subset.name]
        index = [collection.query_ids.index(q) for q in result.query_ids]
        counts, pool = _collection_inputs(collection, index)
        assert (pool == len(collection.doc_ids) - 1).all()
        np.testing.assert_array_equal(result.per_query["relevant_per_language"], counts)
        np.testing.assert_array_equal(result.per_query["pool_size"], pool)
        for row, n in zip(counts, pool, strict=True):
            configurations.add((tuple(sorted(row[row > 0])), int(n)))
    assert any(max(c) > 1 for c, _ in configurations)  # several captions in some language
    for counts, n in sorted(configurations)[:4]:
        mean, se = simulate_rank_distance(counts, n, draws=20_000, seed=2)
        assert abs(expected_rank_distance(counts, n) - mean) < 4 * se


@pytest.mark.parametrize(("relevant", "n"), [(1, 204), (35, 7_343), (3, 40), (10, 10)])
def test_expected_average_precision_matches_pytrec_eval_on_random_rankings(relevant, n) -> None:
    """The closed form against pytrec_eval's AP of seeded random rankings (an independent
    implementation; 272 to 2,000 rankings), within 4 standard errors."""
    import pytrec_eval

    rng = np.random.default_rng(relevant + n)
    queries = min(2_000, 2_000_000 // n)  # at most 2M ranked documents in all
    qrels = {f"q{d}": {f"d{i}": 1 for i in range(relevant)} for d in range(queries)}
    run = {}
    for query in qrels:
        order = rng.permutation(n)
        run[query] = {f"d{doc}": float(n - rank) for rank, doc in enumerate(order)}
    scores = pytrec_eval.RelevanceEvaluator(qrels, {"map"}).evaluate(run)
    ap = np.array([scores[q]["map"] for q in qrels])
    expected = expected_average_precision(relevant, n)
    assert abs(ap.mean() - expected) <= 4 * ap.std(ddof=1) / np.sqrt(ap.size) + 1e-12
    if relevant == n:
        assert expected == pytest.approx(1.0)


def test_expected_average_precision_by_enumerating_every_ranking() -> None:
    """Exact: the mean AP over all 5! rankings of 5 documents with 2 relevant."""
    aps = []
    for order in itertools.permutations(range(5)):
        ranks = sorted(order.index(doc) + 1 for doc in (0, 1))
        aps.append(np.mean([(k + 1) / rank for k, rank in enumerate(ranks)]))
    assert expected_average_precision(2, 5) == pytest.approx(np.mean(aps), abs=1e-12)
    with pytest.raises(ValueError, match="relevant"):
        expected_average_precision(0, 5)
