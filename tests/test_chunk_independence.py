"""Exact ranks do not depend on the memory bound: real MiniLM embeddings with engineered near-ties.

A float32 GEMM rounds differently for different shapes, so scores computed one query at a time
and all at once can differ in the last bits and flip near-ties. The evaluator must give the same
ranks at every ``max_chunk_bytes``, and those ranks must be the exact ones: checked against a
reference from correctly rounded (``math.fsum``) dot products of the same float32 vectors.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from mteb_hybrid.evaluation.collection import build_collection
from mteb_hybrid.evaluation.evaluator import evaluate_subsets
from mteb_hybrid.evaluation.ranking import (
    BYTES_PER_CELL,
    chunk_bytes_from_env,
    chunk_size_for,
    iter_relevant_ranks,
    normalise_rows,
)

LANGS = ("en", "de", "ru")
SENTENCES_PER_LANG = 100
QUESTIONS_PER_LANG = 30


@pytest.fixture(scope="module")
def near_ties(shared_data, minilm_path):  # noqa: ANN001, ANN201 - (collection, query, doc emb)
    """An XQuAD-R slice (3 languages) encoded by the real MiniLM, plus engineered near-ties.

    For 12 relevant documents: an exact duplicate with a larger id and one with a smaller id (the
    same embedding row, as duplicate texts get), and two copies with one component moved by one
    float32 ulp up and down (scores within about 1e-9 of the original: below float32 resolution
    of the score, so the fast GEMM cannot order them).
    """
    from sentence_transformers import SentenceTransformer

    from mteb_hybrid.data.lareqa import load_lareqa

    files = load_lareqa("xquad-r", LANGS, data_dir=shared_data)
    docs, answers, queries = [], {}, []
    for lang in LANGS:
        kept = files[lang].sentences[:SENTENCES_PER_LANG]
        docs += [(s.id, lang, s.text) for s in kept]
        ids = {s.id for s in kept}
        for q in files[lang].questions:
            if q.answer_sentence_id in ids:
                answers.setdefault(q.id, []).append(q.answer_sentence_id)
    for lang in LANGS:
        chosen = [q for q in files[lang].questions if q.id in answers][:QUESTIONS_PER_LANG]
        queries += [(f"{lang}:{q.id}", lang, q.text) for q in chosen]
    relevant = {qid: answers[qid.split(":", 1)[1]] for qid, _, _ in queries}
    model = SentenceTransformer(minilm_path, device="cpu")
    model.max_seq_length = 64  # speed; the near-ties, not the quality, are under test
    doc_emb = model.encode([t for _, _, t in docs], batch_size=64, convert_to_numpy=True)
    query_emb = model.encode([t for _, _, t in queries], batch_size=64, convert_to_numpy=True)
    doc_emb, query_emb = doc_emb.astype(np.float32), query_emb.astype(np.float32)

    targets = sorted({d for rel in relevant.values() for d in rel})[:12]
    row_of = {doc_id: i for i, (doc_id, _, _) in enumerate(docs)}
    extra_docs, extra_rows = [], []
    for k, target in enumerate(targets):
        row = doc_emb[row_of[target]]
        lang = docs[row_of[target]][1]
        component = int(np.argmax(np.abs(row)))
        up, down = row.copy(), row.copy()
        up[component] = np.nextafter(up[component], np.float32(np.inf))
        down[component] = np.nextafter(down[component], np.float32(-np.inf))
        for doc_id, vector in (
            (f"zz-dup-{k}", row),
            (f"00-dup-{k}", row),
            (f"ulp-up-{k}", up),
            (f"ulp-down-{k}", down),
        ):
            extra_docs.append((doc_id, lang, docs[row_of[target]][2]))
            extra_rows.append(vector)
    docs += extra_docs
    doc_emb = np.concatenate([doc_emb, np.stack(extra_rows)])
    collection = build_collection(list(LANGS), docs, queries, relevant)
    order = np.array([row_of_all for row_of_all in _order_of(docs, collection.doc_ids)])
    return collection, query_emb, doc_emb[order]


def _order_of(docs: list[tuple[str, str, str]], doc_ids: list[str]) -> list[int]:
    """Rows of ``docs`` in the collection's document order (build_collection sorts by language)."""
    position = {doc_id: i for i, (doc_id, _, _) in enumerate(docs)}
    return [position[d] for d in doc_ids]


def _prepared(embeddings: np.ndarray, similarity: str) -> np.ndarray:
    """The float32 vectors the evaluator scores (cosine: its row-wise deterministic
    normalisation), for the references to be exact on the same vectors."""
    import torch

    tensor = torch.tensor(embeddings, dtype=torch.float32)
    if similarity == "cosine":
        tensor = normalise_rows(tensor)
    return tensor.numpy()


def _reference_ranks(collection, query_emb, doc_emb, similarity):  # noqa: ANN001, ANN202
    """(pooled, in-language) rank of every relevant document, from correctly rounded scores."""
    q = _prepared(query_emb, similarity).astype(np.float64)
    d = _prepared(doc_emb, similarity).astype(np.float64)
    ordinals = np.argsort(np.argsort(np.array(collection.doc_ids, dtype=object)))
    ranks = {}
    for i in range(len(collection.query_ids)):
        if similarity == "euclidean":  # ranked by the negative squared distance
            exact = np.array([-math.fsum(np.square(q[i] - row)) for row in d])
        else:
            exact = np.array([math.fsum(q[i] * row) for row in d])
        for r in collection.relevant[i]:
            beats = (exact > exact[r]) | ((exact == exact[r]) & (ordinals > ordinals[r]))
            same = collection.doc_langs == collection.doc_langs[r]
            ranks[(i, int(r))] = (1 + int(beats.sum()), 1 + int((beats & same).sum()))
    return ranks


def _ranks(collection, query_emb, doc_emb, similarity, max_chunk_bytes):  # noqa: ANN001, ANN202
    ranks = {}
    for chunk in iter_relevant_ranks(
        collection,
        query_emb,
        doc_emb,
        similarity=similarity,
        device="cpu",
        max_chunk_bytes=max_chunk_bytes,
        progress=False,
    ):
        for row, i in enumerate(chunk.query_indices):
            # a chunk holds a query's relevant documents in score order: compare the multiset
            for j in np.flatnonzero(chunk.rel_lang[row] >= 0):
                ranks.setdefault(int(i), []).append(
                    (int(chunk.rank_pooled[row, j]), int(chunk.rank_in_lang[row, j]))
                )
            assert len(ranks[int(i)]) == len(collection.relevant[i])
    return {i: sorted(v) for i, v in ranks.items()}


def _float32_ranks(collection, query_emb, doc_emb, similarity):  # noqa: ANN001, ANN202
    """Pooled ranks from plain float32 scores (one GEMM): what the fast path alone would give."""
    q, d = _prepared(query_emb, similarity), _prepared(doc_emb, similarity)
    if similarity == "euclidean":
        scores = -np.square(q[:, None, :] - d[None, :, :]).sum(axis=2)
    else:
        scores = q @ d.T
    ordinals = np.argsort(np.argsort(np.array(collection.doc_ids, dtype=object)))
    ranks = {}
    for i in range(len(collection.query_ids)):
        for r in collection.relevant[i]:
            s = scores[i]
            beats = (s > s[r]) | ((s == s[r]) & (ordinals > ordinals[r]))
            ranks[(i, int(r))] = 1 + int(beats.sum())
    return ranks


def _chunk_bounds(n_docs: int, n_queries: int) -> list[int]:
    """Memory bounds giving 1, 2, 3, 7, 16, 50 queries per chunk and all at once."""
    per_query = n_docs * BYTES_PER_CELL
    bounds = [1] + [k * per_query for k in (2, 3, 7, 16, 50)] + [10 * n_queries * per_query]
    assert chunk_size_for(n_docs, bounds[0]) == 1
    assert chunk_size_for(n_docs, bounds[-1]) >= n_queries
    return bounds


@pytest.mark.parametrize("similarity", ["cosine", "dot", "euclidean"])
def test_ranks_are_exact_at_every_chunk_size(near_ties, similarity: str) -> None:
    collection, query_emb, doc_emb = near_ties
    reference = _reference_ranks(collection, query_emb, doc_emb, similarity)
    expected: dict[int, list[tuple[int, int]]] = {}
    for (i, _), value in reference.items():
        expected.setdefault(i, []).append(value)
    expected = {i: sorted(v) for i, v in expected.items()}
    # the near-ties bite: plain float32 scores rank some relevant document differently
    fast = _float32_ranks(collection, query_emb, doc_emb, similarity)
    assert any(fast[key] != value[0] for key, value in reference.items())
    for bound in _chunk_bounds(len(collection.doc_ids), len(collection.query_ids)):
        got = _ranks(collection, query_emb, doc_emb, similarity, bound)
        assert got == expected, (similarity, bound)


@pytest.mark.parametrize("similarity", ["cosine", "dot", "euclidean"])
def test_scores_are_identical_at_every_chunk_size(near_ties, similarity: str) -> None:
    collection, query_emb, doc_emb = near_ties
    subsets = collection.default_subsets()
    runs = []
    for bound in _chunk_bounds(len(collection.doc_ids), len(collection.query_ids)):
        results = evaluate_subsets(
            collection,
            query_emb,
            doc_emb,
            subsets,
            similarity=similarity,
            device="cpu",
            max_chunk_bytes=bound,
            progress=False,
        )
        runs.append(
            {
                name: (r.scores, r.query_ids, {k: v.tolist() for k, v in r.per_query.items()})
                for name, r in results.items()
            }
        )
    for run in runs[1:]:
        assert run == runs[0]


def test_engineered_ties_follow_trec_eval() -> None:
    """Exact duplicates: the larger id first; 1-ulp copies: ordered by their exact scores even
    where float32 cannot tell them apart."""
    base = np.array([0.6, 0.8, 0.0], dtype=np.float32)
    up, down = base.copy(), base.copy()
    up[1] = np.nextafter(up[1], np.float32(1))  # exact score larger by about 0.8 ulp(0.8)
    down[0] = np.nextafter(down[0], np.float32(0))  # exact score smaller
    docs = [(i, "x", "") for i in ("a", "b", "c", "d", "e")]
    doc_emb = np.stack([base, base, up, down, np.array([0, 0, 1], np.float32)])
    # one query per relevant document, all with the same embedding
    queries = [(f"q{i}", "x", "") for i in "abcd"]
    query_emb = np.tile(base, (4, 1))
    collection = build_collection(["x"], docs, queries, {f"q{i}": [i] for i in "abcd"})
    (chunk,) = iter_relevant_ranks(
        collection, query_emb, doc_emb, similarity="dot", device="cpu", progress=False
    )
    # exact order: c (up) > b = a (tie: the larger id "b" first) > d (down) > e
    assert chunk.rank_pooled[:, 0].tolist() == [3.0, 2.0, 1.0, 4.0]
    assert chunk.rank_in_lang[:, 0].tolist() == [3.0, 2.0, 1.0, 4.0]


@pytest.mark.parametrize("value", ["0", "-3", "abc", "nan", "inf", ""])
def test_bad_chunk_bound_is_refused_naming_the_variable(value: str) -> None:
    with pytest.raises(ValueError, match="MTEB_HYBRID_CHUNK_MB") as error:
        chunk_bytes_from_env(value, "MTEB_HYBRID_CHUNK_MB")
    assert "\n" not in str(error.value)


def test_chunk_bound_in_mib() -> None:
    assert chunk_bytes_from_env("0.5", "V") == 512 * 1024
    assert chunk_bytes_from_env("256", "V") == 256 * 1024 * 1024
    with pytest.raises(ValueError, match="max_chunk_bytes"):
        chunk_size_for(100, 0)


@pytest.mark.parametrize("value", ["0", "-1", "abc"])
def test_task_refuses_a_bad_chunk_bound_from_the_environment(monkeypatch, value: str) -> None:
    from mteb_hybrid.env import OptionError
    from mteb_hybrid.tasks import build_task

    monkeypatch.setenv("MTEB_HYBRID_CHUNK_MB", value)
    with pytest.raises(OptionError, match=f"MTEB_HYBRID_CHUNK_MB='{value}'"):
        build_task("XQuADRRetrieval", languages=["en", "de"])
    monkeypatch.setenv("MTEB_HYBRID_CHUNK_MB", "0.25")
    assert build_task("XQuADRRetrieval", languages=["en", "de"]).max_chunk_bytes == 2**18
