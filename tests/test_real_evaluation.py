"""The multi-setting evaluator on real XQuAD-R with the real MiniLM, against pytrec_eval."""

from __future__ import annotations

import numpy as np
import pytest
import pytrec_eval

from mteb_hybrid.tasks import XQuADRRetrieval

LANGS = ["de", "en"]
SUBSETS = ["eng-eng", "deu-deu", "eng-deu", "deu-eng", "eng-all", "deu-all"]
PAIRS = {
    "map": "map",
    "ndcg_at_10": "ndcg_cut_10",
    "recall_at_10": "recall_10",
    "recall_at_100": "recall_100",
}


@pytest.fixture(scope="module")
def evaluated(shared_data, minilm_path):
    import mteb

    model = mteb.get_model(minilm_path)
    task = XQuADRRetrieval(data_dir=shared_data, languages=LANGS, queries_per_language=60)
    scores = task.evaluate(
        model, "test", encode_kwargs={"batch_size": 64, "show_progress_bar": False}
    )
    return model, task, scores


def _reference(task, subset_name: str, query_emb, doc_emb):
    """pytrec_eval over the full ranking of the subset's own corpus (mteb's stock layout)."""
    split = task.stock_split(subset_name)
    corpus_ids = split["corpus"]["id"]
    doc_rows = [task.collection.doc_ids.index(d) for d in corpus_ids]
    query_rows = [task.collection.query_ids.index(q) for q in split["queries"]["id"]]
    scores = query_emb[query_rows] @ doc_emb[doc_rows].T
    run = {
        qid: dict(zip(corpus_ids, map(float, row), strict=True))
        for qid, row in zip(split["queries"]["id"], scores, strict=True)
    }
    evaluator = pytrec_eval.RelevanceEvaluator(split["relevant_docs"], set(PAIRS.values()))
    per_query = evaluator.evaluate(run)
    return {
        ours: float(np.mean([v[ref] for v in per_query.values()])) for ours, ref in PAIRS.items()
    }


def test_subsets_and_query_counts(evaluated) -> None:
    _, task, scores = evaluated
    assert sorted(scores) == sorted(SUBSETS)
    assert all(s["num_queries"] == 60 for s in scores.values())
    assert all(s["main_score"] == s["map"] for s in scores.values())
    # an English model: English monolingual beats cross-lingual
    assert scores["eng-eng"]["map"] > scores["eng-deu"]["map"] > 0.1
    # pooled: 2 relevant sentences per question; rank distance is a positive mean
    assert scores["eng-all"]["rank_distance"] > 0


def test_matches_pytrec_eval_exactly_on_the_same_embeddings(evaluated) -> None:
    """Same embedding table, full run dicts: pytrec_eval and our streamed ranks agree exactly."""
    from mteb_hybrid.tasks.encoding import encode_collection

    model, task, scores = evaluated
    query_emb, doc_emb, counts = encode_collection(
        model,
        task.collection,
        task_metadata=task.metadata,
        hf_split="test",
        hf_subset="eng-eng",
        encode_kwargs={"batch_size": 64, "show_progress_bar": False},
        query_indices=task.query_indices(),
    )
    assert counts["queries_encoded"] == 120
    assert counts["documents_encoded"] <= len(task.collection.doc_ids)
    for name in SUBSETS:
        for metric, value in _reference(task, name, query_emb, doc_emb).items():
            assert scores[name][metric] == pytest.approx(value, abs=1e-6), (name, metric)


def test_matches_pytrec_eval_on_independent_embeddings(evaluated, minilm_path) -> None:
    """Reference embeddings straight from sentence-transformers, scored by pytrec_eval."""
    from sentence_transformers import SentenceTransformer

    _, task, scores = evaluated
    st = SentenceTransformer(minilm_path)
    col = task.collection
    doc_emb = st.encode(col.doc_texts, batch_size=64, normalize_embeddings=True)
    chosen = task.query_indices()
    query_emb = np.zeros((len(col.query_ids), doc_emb.shape[1]), dtype=np.float32)
    query_emb[chosen] = st.encode(
        [col.query_texts[i] for i in chosen], batch_size=64, normalize_embeddings=True
    )
    for name in SUBSETS:
        for metric, value in _reference(task, name, query_emb, doc_emb).items():
            assert scores[name][metric] == pytest.approx(value, abs=2e-3), (name, metric)
