"""Metrics and exact ranks against pytrec_eval and hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest
import pytrec_eval

from mteb_hybrid.evaluation.collection import build_collection
from mteb_hybrid.evaluation.evaluator import evaluate_subsets
from mteb_hybrid.evaluation.metrics import per_query_metrics, rank_distance

INF = np.inf


def test_average_precision_hand_computed() -> None:
    # relevant at ranks 1, 3 and 6: AP = (1/1 + 2/3 + 3/6) / 3
    values = per_query_metrics(np.array([[3.0, 1.0, 6.0]]))
    assert values["map"][0] == pytest.approx((1 + 2 / 3 + 3 / 6) / 3)
    assert values["recall_at_1"][0] == pytest.approx(1 / 3)
    assert values["recall_at_10"][0] == pytest.approx(1.0)
    assert values["mrr_at_10"][0] == pytest.approx(1.0)
    dcg = 1 / np.log2(2) + 1 / np.log2(4) + 1 / np.log2(7)
    idcg = 1 / np.log2(2) + 1 / np.log2(3) + 1 / np.log2(4)
    assert values["ndcg_at_10"][0] == pytest.approx(dcg / idcg)


def test_query_without_relevant_document_is_nan() -> None:
    values = per_query_metrics(np.array([[INF, INF], [2.0, INF]]))
    assert np.isnan(values["map"][0])
    assert values["map"][1] == pytest.approx(0.5)
    assert values["mrr_at_10"][1] == pytest.approx(0.5)


def test_rank_distance_takes_each_languages_best_rank() -> None:
    # language 0 has relevant docs at pooled ranks 4 and 9 (best 4), language 1 at 30, language 2
    # at 2: distance = max(4, 30, 2) - min(4, 30, 2) = 28.
    ranks = np.array([[4.0, 9.0, 30.0, 2.0], [5.0, INF, INF, INF]])
    langs = np.array([[0, 0, 1, 2], [1, -1, -1, -1]])
    distance = rank_distance(ranks, langs, n_languages=3)
    assert distance[0] == 28.0
    assert distance[1] == 0.0  # a single language: no spread


def _random_collection(seed: int = 0):
    rng = np.random.default_rng(seed)
    langs = ["a", "b", "c"]
    docs = [(f"{lang}-d{i:03d}", lang, f"t{lang}{i}") for lang in langs for i in range(40)]
    queries, relevant = [], {}
    for lang in langs:
        for i in range(15):
            qid = f"{lang}-q{i}"
            queries.append((qid, lang, "q"))
            relevant[qid] = [f"{m}-d{rng.integers(40):03d}" for m in langs]
            relevant[qid].append(f"{lang}-d{(i + 7) % 40:03d}")
    return build_collection(langs, docs, queries, relevant)


@pytest.mark.parametrize("similarity", ["dot", "cosine"])
def test_every_setting_matches_pytrec_eval_with_heavy_ties(similarity: str) -> None:
    """Small-integer embeddings make many exact ties: tie-breaking must match trec_eval's."""
    collection = _random_collection()
    rng = np.random.default_rng(1)
    # vectors of norm 1 or 2 (signed one-hot, or all entries +-1) times a power of two: every
    # cosine and dot product is exact in float32, so exact ties are the same for the reference
    basis = np.concatenate(
        [np.eye(4), -np.eye(4), np.array(np.meshgrid(*[[-1, 1]] * 4)).reshape(4, -1).T]
    )

    def draw(n: int) -> np.ndarray:
        scale = 2.0 ** rng.integers(0, 3, size=(n, 1))
        return (basis[rng.integers(len(basis), size=n)] * scale).astype(np.float32)

    doc_emb, query_emb = draw(len(collection.doc_ids)), draw(len(collection.query_ids))
    subsets = collection.default_subsets()
    # a tiny memory bound forces many chunks
    results = evaluate_subsets(
        collection,
        query_emb,
        doc_emb,
        subsets,
        similarity=similarity,
        progress=False,
        max_chunk_bytes=20_000,
    )
    q, d = query_emb.astype(np.float64), doc_emb.astype(np.float64)
    if similarity == "cosine":
        q = q / np.linalg.norm(q, axis=1, keepdims=True)
        d = d / np.linalg.norm(d, axis=1, keepdims=True)
    scores = q @ d.T
    pairs = {
        "map": "map",
        "ndcg_at_10": "ndcg_cut_10",
        "recall_at_1": "recall_1",
        "recall_at_10": "recall_10",
        "recall_at_100": "recall_100",
    }
    for subset in subsets:
        in_corpus = (
            np.ones(len(collection.doc_ids), bool)
            if subset.corpus_lang == "all"
            else collection.doc_langs == collection.languages.index(subset.corpus_lang)
        )
        qrels, run = {}, {}
        for q in collection.queries_of(subset.query_lang):
            rel = {collection.doc_ids[d]: 1 for d in collection.relevant[q] if in_corpus[d]}
            qrels[collection.query_ids[q]] = rel
            run[collection.query_ids[q]] = {
                collection.doc_ids[d]: float(scores[q, d]) for d in np.flatnonzero(in_corpus)
            }
        reference = pytrec_eval.RelevanceEvaluator(qrels, set(pairs.values())).evaluate(run)
        for ours, theirs in pairs.items():
            expected = np.mean([v[theirs] for v in reference.values()])
            assert results[subset.name].scores[ours] == pytest.approx(expected, abs=1e-9), (
                subset.name,
                ours,
            )


def test_self_document_is_removed_from_the_ranking() -> None:
    docs = [("a-0", "a", "x"), ("a-1", "a", "y"), ("a-2", "a", "z")]
    queries = [("a-0", "a", "x")]
    collection = build_collection(
        ["a"], docs, queries, {"a-0": ["a-2"]}, query_self_doc={"a-0": "a-0"}
    )
    # the query is identical to itself (score 1) and to nothing else; a-1 outscores a-2
    doc_emb = np.array([[1.0, 0.0], [0.8, 0.6], [0.6, 0.8]], dtype=np.float32)
    query_emb = np.array([[1.0, 0.0]], dtype=np.float32)
    subsets = collection.default_subsets()
    result = evaluate_subsets(collection, query_emb, doc_emb, subsets, progress=False)
    assert result["a-a"].scores["map"] == pytest.approx(0.5)  # rank 2, not 3
