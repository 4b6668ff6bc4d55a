"""The streamed scorer: document blocks (arrays, float16/float32 memmaps) give exactly the
in-memory evaluator's results, within a memory bound, in one process or split across two.

Every collection kind the tasks build is scored in memory (one array, the default bound) and
streamed over random block splits at several memory bounds, including one so small that every
window is :data:`~mteb_hybrid.evaluation.ranking.MIN_WINDOW_ROWS` rows and every query chunk one
query; identical documents sit on both sides of block and window boundaries, so trec_eval's tie
rule is exercised across blocks. float16 shards are compared with the in-memory evaluator fed the
same float16-rounded vectors.
"""

from __future__ import annotations

import ctypes
import pickle
import threading
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from mteb_hybrid.evaluation.blocks import DocumentBlocks
from mteb_hybrid.evaluation.collection import RetrievalCollection, relevant_within_items
from mteb_hybrid.evaluation.evaluator import evaluate_subsets
from mteb_hybrid.evaluation.ranking import (
    BYTES_PER_CELL,
    MIN_WINDOW_ROWS,
    chunk_size_for,
    window_rows_for,
)
from tests.test_xm3600_helpers import (
    MIRACL_FIXTURE,
    HashingEncoder,
    assert_matches_reference,
    embed_collection,
    reference_scores,
)


def _split(
    matrix: np.ndarray, cuts: list[int], tmp_path: Path | None, dtype: type = np.float32
) -> DocumentBlocks:
    """``matrix`` (cast to ``dtype``) cut at ``cuts``; every other block a memmap of an .npy file
    in ``tmp_path`` (when given), the others arrays in memory."""
    edges = [0, *sorted(set(cuts)), len(matrix)]
    blocks = []
    for number, (start, stop) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
        block = np.ascontiguousarray(matrix[start:stop], dtype=dtype)
        if tmp_path is not None and number % 2 == 0:
            path = tmp_path / f"shard-{dtype.__name__}-{start}-{stop}.npy"
            np.save(path, block)
            block = np.load(path, mmap_mode="r")
        blocks.append(block)
    return DocumentBlocks.of(blocks)


def _random_cuts(rng: np.random.Generator, n_docs: int, n_cuts: int, must: list[int]) -> list[int]:
    return sorted({*rng.choice(np.arange(1, n_docs), size=n_cuts, replace=False).tolist(), *must})


def _outcome(results: dict) -> dict:
    """Everything a result holds, in comparable form (exact equality, nan == nan)."""
    return {
        name: (
            {k: (None if np.isnan(v) else v) for k, v in r.scores.items()},
            r.query_ids,
            {k: np.nan_to_num(v, nan=-7.0).tolist() for k, v in r.per_query.items()},
        )
        for name, r in results.items()
    }


def _evaluate(collection, queries, documents, similarity, max_chunk_bytes, **kwargs):  # noqa: ANN001, ANN202
    return _outcome(
        evaluate_subsets(
            collection,
            queries,
            documents,
            collection.default_subsets(),
            similarity=similarity,
            device="cpu",
            max_chunk_bytes=max_chunk_bytes,
            progress=False,
            **kwargs,
        )
    )


def _assert_streaming_is_exact(
    collection: RetrievalCollection,
    queries: np.ndarray,
    documents: np.ndarray,
    similarity: str,
    bounds: list[int],
    tmp_path: Path,
    boundary_rows: list[int],
    **kwargs,
) -> None:
    """Streamed (random splits x bounds, float32 and float16 shards) == in memory."""
    rng = np.random.default_rng(len(documents))
    n_docs = len(documents)
    for dtype in (np.float32, np.float16):
        rounded = documents.astype(dtype).astype(np.float32)
        expected = _evaluate(collection, queries, rounded, similarity, 256 * 2**20, **kwargs)
        for bound in bounds:
            for trial in range(2):
                cuts = _random_cuts(rng, n_docs, 1 + 3 * trial, boundary_rows)
                blocks = _split(documents, cuts, tmp_path, dtype)
                got = _evaluate(collection, queries, blocks, similarity, bound, **kwargs)
                assert got == expected, (dtype.__name__, bound, cuts)


# -- collections of every kind ------------------------------------------------------------------


@pytest.fixture(scope="module")
def xquad(shared_data):  # noqa: ANN001, ANN201 - (collection, query emb, doc emb, query indices)
    """The real XQuAD-R collection in three languages (3 x 1,190 sentences), hashed trigram
    embeddings; a sentence is copied onto its neighbour at the block/window boundaries."""
    from mteb_hybrid.tasks.lareqa_collection import lareqa_collection

    collection = lareqa_collection("xquad-r", ["en", "de", "el"], shared_data)
    encoder = HashingEncoder(dim=48)
    queries, documents = embed_collection(collection, encoder)
    rng = np.random.default_rng(0)
    chosen = np.sort(rng.choice(len(collection.query_ids), size=90, replace=False))
    return collection, queries, documents, chosen


def test_real_xquad_streamed_equals_in_memory(xquad, tmp_path) -> None:
    collection, queries, documents, chosen = xquad
    documents = documents.copy()
    dim = documents.shape[1]
    rows = 256
    bound = rows * dim * 16  # 256-row windows, 27 queries per chunk: 14 windows x 4 chunks
    assert window_rows_for(len(documents), dim, bound) == rows
    assert chunk_size_for(rows, bound) == bound // (rows * BYTES_PER_CELL) == 27
    # exact duplicates straddling window boundaries and block cuts
    boundaries = [rows, 3 * rows, 1190]
    relevant = sorted({int(d) for i in chosen for d in collection.relevant[i]})
    for k, boundary in enumerate(boundaries):
        documents[boundary - 1] = documents[boundary] = documents[relevant[k]]
    _assert_streaming_is_exact(
        collection,
        queries,
        documents,
        "cosine",
        [bound, 7 * bound],
        tmp_path,
        boundaries,
        query_indices=chosen,
    )


def _flores_like(n_items: int = 60, langs: int = 4, seed: int = 1):  # noqa: ANN202
    """Every text a query and a document (its own text removed from its ranking), relevant to
    its item's translations; small integer vectors, so that many scores tie exactly, and some
    items identical across languages (as "Coffee is hot." in FLORES)."""
    rng = np.random.default_rng(seed)
    languages = [f"l{j}" for j in range(langs)]
    items = [f"s{i:03d}" for i in range(n_items)]
    ids = [f"{lang}-{item}" for lang in languages for item in items]
    vectors = rng.integers(0, 3, size=(langs, n_items, 8)).astype(np.float32)
    vectors[:, ::7] = vectors[0, ::7]  # identical in every language
    embeddings = vectors.reshape(langs * n_items, 8)
    item_of = [item for _ in languages for item in items]
    n = len(ids)
    collection = RetrievalCollection(
        languages=languages,
        doc_ids=ids,
        doc_texts=[""] * n,
        doc_langs=np.repeat(np.arange(langs), n_items),
        query_ids=ids,
        query_texts=[""] * n,
        query_langs=np.repeat(np.arange(langs), n_items),
        relevant=relevant_within_items(item_of),
        query_self_doc=np.arange(n),
        query_items=item_of,
    )
    return collection, embeddings


def test_flores_like_self_documents_and_ties(tmp_path) -> None:
    collection, embeddings = _flores_like()
    n_docs = len(embeddings)
    assert window_rows_for(n_docs, 8, 1) == MIN_WINDOW_ROWS and chunk_size_for(64, 1) == 1
    # identical vectors on both sides of each 64-row window boundary and of a block cut
    embeddings[MIN_WINDOW_ROWS - 1] = embeddings[MIN_WINDOW_ROWS]
    embeddings[2 * MIN_WINDOW_ROWS] = embeddings[2 * MIN_WINDOW_ROWS + 1]
    boundaries = [MIN_WINDOW_ROWS, 2 * MIN_WINDOW_ROWS + 1, 150]
    embeddings[149] = embeddings[150]
    _assert_streaming_is_exact(
        collection, embeddings, embeddings, "dot", [1, 40_000], tmp_path, boundaries
    )
    # and the streamed scores are pytrec_eval's (integer vectors: exact scores, real ties)
    blocks = _split(embeddings, [MIN_WINDOW_ROWS, 100, 150], tmp_path, np.float16)
    results = evaluate_subsets(
        collection,
        embeddings,
        blocks,
        collection.default_subsets(),
        similarity="dot",
        device="cpu",
        max_chunk_bytes=1,
        progress=False,
    )
    for name in ("l0-l1", "l2-l0", "l1-all", "l3-all"):
        subset = results[name].subset
        reference = reference_scores(
            collection, embeddings, embeddings, subset.query_lang, subset.corpus_lang
        )
        assert_matches_reference(results[name], reference, pooled=subset.corpus_lang == "all")


def test_miracl_like_mono_and_pooled(tmp_path) -> None:
    """The MIRACL fixture (18 languages, titles, no parallel items), every subset."""
    from mteb_hybrid.tasks.miracl import MIRACLMultilingualRetrieval

    task = MIRACLMultilingualRetrieval(data_dir=MIRACL_FIXTURE)
    task.load_data()
    collection = task.collection
    queries, documents = embed_collection(collection, HashingEncoder())
    assert collection.query_items is None and len(documents) == 144
    documents[63] = documents[64]  # a duplicate across the first window boundary
    for similarity in ("dot", "cosine", "euclidean"):
        _assert_streaming_is_exact(
            collection, queries, documents, similarity, [1, 30_000], tmp_path, [64, 100]
        )


# -- the memory bound ---------------------------------------------------------------------------


def _rss_anon() -> int:
    """Anonymous resident memory of this process (bytes): not the memmapped shards' pages."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no RssAnon in /proc/self/status")


def test_streaming_memory_stays_within_the_bound(tmp_path) -> None:
    """200,000 x 96 float16 vectors in 5 shards on disk (76.8 MB as float32): with a 1 MiB bound
    the traced numpy peak stays under the bound plus the per-document arrays and a constant, and
    the anonymous resident memory (torch's too) grows by far less than the corpus."""
    n_docs, dim, n_queries, langs = 200_000, 96, 60, 4
    rng = np.random.default_rng(3)
    paths = []
    for shard in range(5):
        path = tmp_path / f"shard-{shard}.npy"
        np.save(path, rng.standard_normal((n_docs // 5, dim)).astype(np.float16))
        paths.append(path)
    relevant = [rng.choice(n_docs, size=3, replace=False) for _ in range(n_queries)]
    collection = RetrievalCollection(
        languages=[f"l{j}" for j in range(langs)],
        doc_ids=[f"d{i:07d}" for i in range(n_docs)],
        doc_texts=[""] * n_docs,
        doc_langs=np.repeat(np.arange(langs), n_docs // langs),
        query_ids=[f"q{i}" for i in range(n_queries)],
        query_texts=[""] * n_queries,
        query_langs=np.arange(n_queries) % langs,
        relevant=relevant,
    )
    queries = rng.standard_normal((n_queries, dim)).astype(np.float32)
    bound = 2**20
    corpus_float32 = n_docs * dim * 4
    blocks = DocumentBlocks.of([np.load(p, mmap_mode="r") for p in paths])
    peak_anon, stop = [0], threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak_anon[0] = max(peak_anon[0], _rss_anon())
            time.sleep(0.002)

    # torch's import and first-call set-up are not the scorer's: done before measuring
    warm, warm_embeddings = _flores_like(n_items=10)
    _evaluate(warm, warm_embeddings, _split(warm_embeddings, [7], tmp_path), "cosine", bound)
    ctypes.CDLL("libc.so.6").malloc_trim(0)  # freed heap (the shards' making) back to the OS
    baseline = _rss_anon()
    sampler = threading.Thread(target=sample)
    tracemalloc.start()
    sampler.start()
    try:
        results = evaluate_subsets(
            collection,
            queries,
            blocks,
            collection.default_subsets(cross=False),
            device="cpu",
            max_chunk_bytes=bound,
            progress=False,
        )
        _, traced_peak = tracemalloc.get_traced_memory()
    finally:
        stop.set()
        sampler.join()
        tracemalloc.stop()
    assert results["l0-all"].scores["num_queries"] == n_queries // langs
    # numpy: the window buffer (float16, <= bound / 8), relevant rows, band pairs and results
    print(
        f"traced numpy peak {traced_peak / 2**20:.2f} MiB, anon RSS growth "
        f"{(peak_anon[0] - baseline) / 2**20:.2f} MiB, corpus {corpus_float32 / 2**20:.1f} MiB"
    )
    assert traced_peak < bound + 4 * 2**20, traced_peak
    # everything (torch's tiles and float32 windows included), sampled every 2 ms: the window
    # (<= bound) and a tile (<= bound) and a constant, not the corpus
    growth = peak_anon[0] - baseline
    assert growth < 3 * bound + 8 * 2**20 < corpus_float32 / 6, (growth, corpus_float32)

    # the same corpus held as one float32 array does cost its size: the check can fail
    tracemalloc.start()
    held = np.concatenate([np.asarray(b, dtype=np.float32) for b in blocks.blocks])
    _, held_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert held_peak >= corpus_float32 > 10 * (bound + 4 * 2**20)
    del held


# -- two processes ------------------------------------------------------------------------------


def _two_process_worker(rank: int, world: int, folder: str) -> None:
    """One gloo process: the FLORES-like collection from float16 shards, results pickled."""
    import torch.distributed as dist

    from mteb_hybrid.evaluation.spread import my_chunks

    dist.init_process_group(
        "gloo", init_method=f"file://{folder}/rendezvous", rank=rank, world_size=world
    )
    try:
        collection, embeddings = _flores_like()
        blocks = _split(embeddings, [50, 130], Path(folder) / f"rank{rank}", np.float16)
        results = _evaluate(collection, embeddings, blocks, "dot", 3000)
        share = my_chunks(7)
        (Path(folder) / f"rank{rank}.pkl").write_bytes(pickle.dumps((share, results)))
    finally:
        dist.destroy_process_group()


def test_two_gloo_processes_return_the_single_process_results(tmp_path) -> None:
    import torch.multiprocessing as mp

    collection, embeddings = _flores_like()
    blocks = _split(embeddings, [50, 130], None, np.float16)
    rows = window_rows_for(len(embeddings), 8, 3000)
    assert len(collection.query_ids) / chunk_size_for(rows, 3000) > 5  # chunks to share
    single = _evaluate(collection, embeddings, blocks, "dot", 3000)
    for rank in range(2):
        (tmp_path / f"rank{rank}").mkdir()
    mp.spawn(_two_process_worker, args=(2, str(tmp_path)), nprocs=2, join=True)
    for rank in range(2):
        share, results = pickle.loads((tmp_path / f"rank{rank}.pkl").read_bytes())
        assert share == list(range(rank, 7, 2))  # each process scored its own chunks
        assert results == single


# -- the pieces the exactness argument rests on -------------------------------------------------


def test_normalised_rows_do_not_depend_on_their_company() -> None:
    """A row normalised alone, among a few gathered rows or in a large window: the same bits
    (the canonical scores of a document and of its duplicate elsewhere then tie exactly)."""
    import torch

    from mteb_hybrid.evaluation.ranking import NORMALISED_NORM_MAX, normalise_rows

    rng = np.random.default_rng(5)
    matrix = (rng.standard_normal((4099, 385)) * rng.uniform(1e-3, 1e3, (4099, 1))).astype(
        np.float32
    )
    matrix[17] = 0.0
    whole = normalise_rows(torch.tensor(matrix)).numpy()
    assert not whole[17].any()
    for picked in ([3], [4098, 0, 5, 5], list(range(1, 4099, 7))):
        alone = normalise_rows(torch.tensor(matrix[picked])).numpy()
        np.testing.assert_array_equal(alone, whole[picked])
    norms = np.sqrt(np.einsum("ij,ij->i", whole, whole, dtype=np.float64))
    assert norms.max() <= NORMALISED_NORM_MAX and abs(norms[18:] - 1).max() < 1e-6


def test_a_matrix_of_the_wrong_length_is_refused_in_one_line() -> None:
    collection, embeddings = _flores_like(n_items=10)
    with pytest.raises(ValueError, match="39 rows but the collection has 40 documents") as error:
        _evaluate(collection, embeddings, _split(embeddings[:-1], [20], None), "dot", 10_000)
    assert "\n" not in str(error.value)
