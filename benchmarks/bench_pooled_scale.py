"""Pooled scoring at XM3600 scale on CPU: the streamed exact evaluator against chunked topk.

Synthetic data with the shape of XM3600: 36 languages, 3,600 images, 261,375 captions (one per
image in bn, one or two in mi, two or three elsewhere), each caption a 384-d unit vector near its
image's centroid (plus a language component, so that languages cluster as real models make them).
Every caption is a query and a document, relevant to the other captions of its image, never to
itself. All 36 pooled subsets (``X-all``, 261,375 candidates each) are scored for a seeded sample
of ``--queries-per-language`` queries per language, by

* ours: :func:`mteb_hybrid.evaluation.evaluator.evaluate_subsets` -- exact ranks over the full
  ranking (mAP, nDCG@10, recall, MRR@10, rank distance), memory bounded by ``--max-chunk-mb``;
* topk: a plain chunked ``torch.topk`` (k = ``--k``) per query chunk with the same score budget.
  It cannot give exact full-ranking mAP (relevant captions below rank k count as never retrieved)
  nor the rank distance of queries with a language's best caption below rank k.

Each method runs in its own child process so that its peak RSS is its own; the RSS is sampled
every 20 ms during scoring and also read from ``getrusage``. Example (the figures in the note)::

    python benchmarks/bench_pooled_scale.py --queries-per-language 100

prints a table and writes ``--output`` (JSON) if given.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import threading
import time
from typing import Any

import numpy as np

N_LANGUAGES = 36
N_IMAGES = 3600
N_CAPTIONS = 261_375
DIM = 384
LANGS = [f"l{i:02d}" for i in range(N_LANGUAGES)]
BN, MI = 1, 20  # languages with one / one-or-two captions per image


def caption_counts(rng: np.random.Generator) -> np.ndarray:
    """``(images, languages)`` caption counts summing to exactly 261,375."""
    counts = np.full((N_IMAGES, N_LANGUAGES), 2, dtype=np.int64)
    counts[:, BN] = 1
    counts[:, MI] = 1
    mi_extra = rng.choice(N_IMAGES, size=int(0.3 * N_IMAGES), replace=False)
    counts[mi_extra, MI] = 2
    others = [j for j in range(N_LANGUAGES) if j not in (BN, MI)]
    needed = N_CAPTIONS - int(counts.sum())
    cells = rng.choice(N_IMAGES * len(others), size=needed, replace=False)
    counts[cells // len(others), np.array(others)[cells % len(others)]] += 1
    assert counts.sum() == N_CAPTIONS
    return counts


def synthetic(seed: int = 0):  # noqa: ANN201 - (collection, embeddings)
    """The collection (grouped by language) and float32 unit embeddings."""
    from mteb_hybrid.evaluation.collection import RetrievalCollection, relevant_within_items

    rng = np.random.default_rng(seed)
    counts = caption_counts(rng)
    # captions grouped by language, then image, then caption index
    lang_of = np.repeat(np.arange(N_LANGUAGES), counts.sum(axis=0))
    image_of = np.concatenate([np.repeat(np.arange(N_IMAGES), counts[:, j]) for j in range(36)])
    index_in = np.concatenate(
        [np.concatenate([np.arange(c) for c in counts[:, j]]) for j in range(N_LANGUAGES)]
    )
    ids = [f"{LANGS[j]}-{i:04d}-{k}" for j, i, k in zip(lang_of, image_of, index_in, strict=True)]
    centroids = rng.standard_normal((N_IMAGES, DIM), dtype=np.float32)
    lang_bias = rng.standard_normal((N_LANGUAGES, DIM), dtype=np.float32)
    emb = np.empty((N_CAPTIONS, DIM), dtype=np.float32)
    for start in range(0, N_CAPTIONS, 65536):
        stop = min(start + 65536, N_CAPTIONS)
        noise = rng.standard_normal((stop - start, DIM), dtype=np.float32)
        block = 0.55 * centroids[image_of[start:stop]] + 0.45 * lang_bias[lang_of[start:stop]]
        block += noise
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        emb[start:stop] = block
    relevant = relevant_within_items(image_of.tolist())
    collection = RetrievalCollection(
        languages=list(LANGS),
        doc_ids=ids,
        doc_texts=[""] * N_CAPTIONS,
        doc_langs=lang_of,
        query_ids=list(ids),
        query_texts=[""] * N_CAPTIONS,
        query_langs=lang_of.copy(),
        relevant=relevant,
        query_self_doc=np.arange(N_CAPTIONS),
    )
    return collection, emb


def sample_queries(collection: Any, per_language: int, seed: int = 42) -> np.ndarray:
    """A seeded sample of ``per_language`` queries in every language (as the tasks draw it)."""
    rng = np.random.default_rng(seed)
    picked = []
    for lang in collection.languages:
        indices = collection.queries_of(lang)
        picked.append(np.sort(rng.choice(indices, min(per_language, len(indices)), replace=False)))
    return np.concatenate(picked)


class RssSampler:
    """Peak resident set size, sampled from /proc every ``interval`` seconds in a thread."""

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def current() -> int:
        """Current RSS in bytes."""
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.current())
            time.sleep(self.interval)

    def __enter__(self) -> RssSampler:
        self.peak = self.current()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.current())


def run_ours(collection: Any, emb: np.ndarray, queries: np.ndarray, args: Any) -> dict[str, Any]:
    """All 36 pooled subsets with the streamed exact evaluator."""
    from mteb_hybrid.evaluation.collection import Subset
    from mteb_hybrid.evaluation.evaluator import evaluate_subsets
    from mteb_hybrid.evaluation.ranking import BYTES_PER_CELL, chunk_size_for
    from mteb_hybrid.runs import POOLED

    subsets = [Subset(f"{x}-all", x, POOLED) for x in collection.languages]
    budget = int(args.max_chunk_mb * 1024 * 1024)
    start = time.perf_counter()
    results = evaluate_subsets(
        collection,
        emb,
        emb,
        subsets,
        query_indices=queries,
        similarity="cosine",
        device="cpu",
        max_chunk_bytes=budget,
        progress=False,
    )
    seconds = time.perf_counter() - start
    chunk = chunk_size_for(len(collection.doc_ids), budget)
    means = _macro(results)
    return {
        "seconds": seconds,
        "queries_per_chunk": chunk,
        "largest_array_bytes": chunk * len(collection.doc_ids) * 8,
        "chunk_working_set_bytes": chunk * len(collection.doc_ids) * BYTES_PER_CELL,
        "scores": means,
    }


def _macro(results: dict[str, Any]) -> dict[str, float]:
    names = ("map", "ndcg_at_10", "recall_at_10", "recall_at_100", "mrr_at_10", "rank_distance")
    return {n: float(np.mean([r.scores[n] for r in results.values()])) for n in names}


def run_topk(collection: Any, emb: np.ndarray, queries: np.ndarray, args: Any) -> dict[str, Any]:
    """The baseline: per query chunk, all scores, then ``torch.topk(k)``; metrics from the top k."""
    import torch

    docs = torch.nn.functional.normalize(torch.from_numpy(emb), dim=1)
    n_docs = docs.shape[0]
    budget = int(args.max_chunk_mb * 1024 * 1024)
    chunk = max(1, budget // (n_docs * 4))
    doc_lang = collection.doc_langs
    per_lang: dict[int, list[dict[str, float]]] = {}
    covered = 0
    start = time.perf_counter()
    with torch.no_grad():
        for begin in range(0, len(queries), chunk):
            idx = queries[begin : begin + chunk]
            scores = docs[torch.from_numpy(idx)] @ docs.T
            scores[torch.arange(len(idx)), torch.from_numpy(idx)] = -math.inf  # self
            top = torch.topk(scores, args.k, dim=1).indices.numpy()
            del scores
            for row, query in enumerate(idx):
                values, full = _topk_metrics(top[row], collection.relevant[query], doc_lang, args.k)
                covered += full
                per_lang.setdefault(int(collection.query_langs[query]), []).append(values)
    seconds = time.perf_counter() - start
    names = per_lang[0][0].keys()
    macro = {
        n: float(np.nanmean([np.nanmean([v[n] for v in rows]) for rows in per_lang.values()]))
        for n in names
    }
    return {
        "seconds": seconds,
        "queries_per_chunk": chunk,
        "largest_array_bytes": chunk * n_docs * 4,
        "chunk_working_set_bytes": chunk * n_docs * 4 + chunk * args.k * 12,
        "scores": macro,
        "rank_distance_computable_share": covered / len(queries),
    }


def _topk_metrics(
    top: np.ndarray, relevant: np.ndarray, doc_lang: np.ndarray, k: int
) -> tuple[dict[str, float], bool]:
    rel = set(relevant.tolist())
    hits = np.array([d in rel for d in top.tolist()])
    ranks = np.flatnonzero(hits) + 1
    n_rel = len(rel)
    ap = float(np.sum(np.arange(1, len(ranks) + 1) / ranks) / n_rel)  # trec map with k cut-off
    dcg = float(np.sum(1.0 / np.log2(ranks[ranks <= 10] + 1)))
    idcg = float(np.sum(1.0 / np.log2(np.arange(1, min(n_rel, 10) + 1) + 1)))
    langs_needed = set(doc_lang[relevant].tolist())
    langs_found = {int(doc_lang[top[r - 1]]) for r in ranks}
    best = {}
    for r in ranks:
        best.setdefault(int(doc_lang[top[r - 1]]), r)
    full = langs_needed <= langs_found
    return (
        {
            "map": ap,
            "ndcg_at_10": dcg / idcg,
            "recall_at_10": float(np.sum(ranks <= 10) / n_rel),
            "recall_at_100": float(np.sum(ranks <= 100) / n_rel),
            "mrr_at_10": float(1.0 / ranks[0]) if len(ranks) and ranks[0] <= 10 else 0.0,
            "rank_distance": float(max(best.values()) - min(best.values())) if full else math.nan,
        },
        full,
    )


def child(args: argparse.Namespace) -> dict[str, Any]:
    """Build the data, then score with one method, measuring time and memory."""
    import torch

    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    collection, emb = synthetic(args.seed)
    queries = sample_queries(collection, args.queries_per_language)
    build_seconds = time.perf_counter() - start
    before = RssSampler.current()
    runner = run_ours if args.method == "ours" else run_topk
    with RssSampler() as sampler:
        out = runner(collection, emb, queries, args)
    out.update(
        method=args.method,
        build_seconds=build_seconds,
        queries=len(queries),
        documents=len(collection.doc_ids),
        embeddings_bytes=emb.nbytes,
        rss_before_scoring_bytes=before,
        peak_rss_scoring_bytes=sampler.peak,
        peak_rss_process_bytes=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    )
    return out


def main() -> None:
    """Run both methods in child processes and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queries-per-language", type=int, default=100)
    parser.add_argument("--max-chunk-mb", type=float, default=256)
    parser.add_argument("--k", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--method", choices=["ours", "topk", "both"], default="both")
    parser.add_argument("--output", default=None, help="write the results as JSON here")
    args = parser.parse_args()
    if args.method != "both":
        json.dump(child(args), sys.stdout)
        return
    results = {}
    for method in ("ours", "topk"):
        command = [sys.executable, __file__, "--method", method]
        for name in ("queries_per_language", "max_chunk_mb", "k", "threads", "seed"):
            command += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        results[method] = json.loads(done.stdout)
    _report(results, args)
    if args.output:
        with open(args.output, "w") as handle:
            json.dump(results, handle, indent=2)


def _report(results: dict[str, dict[str, Any]], args: argparse.Namespace) -> None:
    mib = 1024 * 1024
    ours, topk = results["ours"], results["topk"]
    print(
        f"{ours['documents']:,} captions x {ours['queries']:,} queries "
        f"({args.queries_per_language}/language), 36 pooled subsets, {args.threads} threads, "
        f"score budget {args.max_chunk_mb:g} MiB; data build {ours['build_seconds']:.1f} s"
    )
    print("| method | wall s | peak RSS MiB (scoring) | RSS before MiB | largest array MiB | "
          "chunk working set MiB | queries/chunk |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for name, r in results.items():
        print(
            f"| {name} | {r['seconds']:.1f} | {r['peak_rss_scoring_bytes'] / mib:.0f} | "
            f"{r['rss_before_scoring_bytes'] / mib:.0f} | {r['largest_array_bytes'] / mib:.1f} | "
            f"{r['chunk_working_set_bytes'] / mib:.1f} | {r['queries_per_chunk']} |"
        )
    print("| metric (macro over 36 pooled subsets) | ours (exact, full ranking) | topk k=1000 |")
    print("|---|---|---|")
    for metric, value in ours["scores"].items():
        print(f"| {metric} | {value:.6f} | {topk['scores'][metric]:.6f} |")
    print(f"topk: rank distance computable for {topk['rank_distance_computable_share']:.1%} "
          "of queries (every language's best caption within the top k)")  # fmt: skip


if __name__ == "__main__":
    main()
