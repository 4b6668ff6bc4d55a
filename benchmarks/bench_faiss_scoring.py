"""The scoring step three ways on the same data: torch GEMM + topk, faiss IndexFlatIP, faiss IVF.

Issue 14 asks whether faiss earns its place next to the torch scorer. For each corpus size in
``--sizes`` the script draws random unit vectors (``--dim`` wide, float32, seeded) for the
documents and ``--queries`` queries, and times, with ``--threads`` threads each:

* ``torch rows``: per query chunk (``--budget-mb`` of float32 scores) ``q @ D.T`` over all
  documents, then ``torch.topk(k)`` (the in-memory evaluator's order: the corpus is read once per
  query chunk);
* ``torch tiles``: per window of documents (``--budget-mb`` of scores for all queries)
  ``Q @ D_w.T``, then the window's top k merged into the running top k (the streaming scorer's
  order: the corpus is read once, the queries stay in cache);

  for both, the GEMM and the topk are timed apart, since the exact evaluator needs every score (a
  relevant document's rank counts the documents above it over the whole corpus) and so pays for
  the GEMM anyway; topk is the extra cost of a run file's top k;
* ``faiss flat``: ``IndexFlatIP`` (exact inner product top-k): add, then search all queries;
  its top-k is checked against torch's (overlap, should be 1 up to float ties);
* ``faiss IVF``: ``IndexIVFFlat`` (inner product, ``--nlist`` lists, default ``sqrt(n)``):
  train, add, then search at each ``--nprobe``; its recall@k against the exact top-k is measured
  on ``--recall-sample`` queries. Uniform random unit vectors have no cluster structure, the
  worst case for IVF recall; ``--clusters C`` draws documents and queries around ``C`` random
  centroids instead (each a centroid plus noise of equal norm), closer to real embeddings.

Wall and CPU seconds (``getrusage``, all threads) are reported per step; on a shared machine the
CPU seconds are the steadier figure. Without faiss installed the script says so and times torch
only. Example (the figures in the report)::

    nice -n 10 python benchmarks/bench_faiss_scoring.py --sizes 100000,1000000 --queries 2000 \\
        --threads 2 --json /work/scratch-bench/faiss.json
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

MIB = 1024 * 1024


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(function: Callable[[], Any]) -> tuple[Any, dict[str, float]]:
    """``function()`` with its wall and CPU seconds."""
    wall, cpu = time.perf_counter(), _cpu()
    value = function()
    return value, {"wall": time.perf_counter() - wall, "cpu": _cpu() - cpu}


def _add(total: dict[str, float], part: dict[str, float]) -> None:
    for key, value in part.items():
        total[key] = total.get(key, 0.0) + value


def unit_vectors(
    n: int, dim: int, rng: np.random.Generator, centroids: np.ndarray | None = None
) -> np.ndarray:
    """``n`` random unit vectors, float32, built in blocks; with ``centroids``, each is a random
    centroid plus isotropic noise of the same norm (clustered, as real embeddings are)."""
    out = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, 65_536):
        block = rng.standard_normal((min(65_536, n - start), dim), dtype=np.float32)
        if centroids is not None:
            block /= math.sqrt(dim)
            block += centroids[rng.integers(len(centroids), size=len(block))]
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[start : start + len(block)] = block
    return out


def torch_topk(docs: np.ndarray, queries: np.ndarray, k: int, budget: int) -> dict[str, Any]:
    """``rows``: per query chunk, ``q @ D.T`` over all documents then ``topk`` (the shape of the
    in-memory evaluator). The top-k indices and the two steps' times."""
    import torch

    d = torch.from_numpy(docs)
    chunk = max(1, budget // (4 * len(docs)))
    gemm: dict[str, float] = {}
    topk: dict[str, float] = {}
    top = np.empty((len(queries), k), dtype=np.int64)
    with torch.no_grad():
        for start in range(0, len(queries), chunk):
            q = torch.from_numpy(queries[start : start + chunk])
            scores, t = timed(lambda q=q: q @ d.T)
            _add(gemm, t)
            idx, t = timed(lambda s=scores: torch.topk(s, k, dim=1).indices.numpy())
            _add(topk, t)
            top[start : start + len(idx)] = idx
            del scores
    return {"top": top, "gemm": gemm, "topk": topk, "tile": [min(chunk, len(queries)), len(docs)]}


def torch_tiled(docs: np.ndarray, queries: np.ndarray, k: int, budget: int) -> dict[str, Any]:
    """``tiles``: per window of documents, all queries ``Q @ D_w.T`` (the documents read once,
    the queries stay in cache: the streaming scorer's order), then ``topk`` of the window merged
    with the running top k. The top-k indices and the two steps' times."""
    import torch

    q = torch.from_numpy(queries)
    window = max(k, budget // (4 * len(queries)))
    gemm: dict[str, float] = {}
    topk: dict[str, float] = {}
    best_values = torch.full((len(queries), k), -math.inf)
    best_index = torch.zeros((len(queries), k), dtype=torch.int64)
    with torch.no_grad():
        for start in range(0, len(docs), window):
            d = torch.from_numpy(docs[start : start + window])
            scores, t = timed(lambda d=d: q @ d.T)
            _add(gemm, t)

            def merge(scores: torch.Tensor = scores, start: int = start) -> None:
                values, index = torch.topk(scores, min(k, scores.shape[1]), dim=1)
                values = torch.cat([best_values, values], dim=1)
                index = torch.cat([best_index, index + start], dim=1)
                keep_values, keep = torch.topk(values, k, dim=1)
                best_values.copy_(keep_values)
                best_index.copy_(index.gather(1, keep))

            _, t = timed(merge)
            _add(topk, t)
            del scores
    return {
        "top": best_index.numpy(),
        "gemm": gemm,
        "topk": topk,
        "tile": [len(queries), min(window, len(docs))],
    }


def recall(found: np.ndarray, exact: np.ndarray) -> float:
    """Mean share of each exact top-k row found in the same row of ``found``."""
    k = exact.shape[1]
    return float(
        np.mean(
            [len(set(f.tolist()) & set(e.tolist())) / k for f, e in zip(found, exact, strict=True)]
        )
    )


def faiss_flat(faiss: Any, docs: np.ndarray, queries: np.ndarray, k: int) -> dict[str, Any]:
    """``IndexFlatIP``: add and exact search."""
    index = faiss.IndexFlatIP(docs.shape[1])
    _, add = timed(lambda: index.add(docs))
    (_, top), search = timed(lambda: index.search(queries, k))
    return {"top": top, "add": add, "search": search}


def faiss_ivf(
    faiss: Any,
    docs: np.ndarray,
    queries: np.ndarray,
    k: int,
    nlist: int,
    nprobes: list[int],
) -> dict[str, Any]:
    """``IndexIVFFlat``: train (faiss samples at most 256 points per list), add, search per
    nprobe."""
    quantizer = faiss.IndexFlatIP(docs.shape[1])
    index = faiss.IndexIVFFlat(quantizer, docs.shape[1], nlist, faiss.METRIC_INNER_PRODUCT)
    sample = docs[np.random.default_rng(1).permutation(len(docs))[: 256 * nlist]]
    _, train = timed(lambda: index.train(sample))
    _, add = timed(lambda: index.add(docs))
    searches = {}
    for nprobe in nprobes:
        index.nprobe = nprobe
        (_, top), search = timed(lambda: index.search(queries, k))
        searches[nprobe] = {"top": top, "search": search}
    return {"train": train, "add": add, "searches": searches, "nlist": nlist}


def bench_size(n_docs: int, args: argparse.Namespace, faiss: Any) -> dict[str, Any]:
    """All methods on one corpus size; the top-k arrays are dropped from the returned figures."""
    rng = np.random.default_rng([args.seed, n_docs])
    centroids = unit_vectors(args.clusters, args.dim, rng) if args.clusters else None
    docs = unit_vectors(n_docs, args.dim, rng, centroids)
    queries = unit_vectors(args.queries, args.dim, rng, centroids)
    sample = np.sort(rng.choice(args.queries, min(args.recall_sample, args.queries), False))
    budget = int(args.budget_mb * MIB)
    out: dict[str, Any] = {"documents": n_docs, "queries": args.queries}
    exact = None
    for name, method in (("torch_rows", torch_topk), ("torch_tiles", torch_tiled)):
        run = method(docs, queries, args.k, budget)
        top = run.pop("top")
        if exact is None:
            exact = top
        else:
            run["overlap_with_rows"] = recall(top, exact)
        out[name] = run
        print(f"  {name}: {_fmt(run['gemm'])} GEMM + {_fmt(run['topk'])} topk", flush=True)
    if faiss is None:
        return out
    flat = faiss_flat(faiss, docs, queries, args.k)
    flat["overlap_with_torch"] = recall(flat.pop("top"), exact)
    out["faiss_flat"] = flat
    print(f"  faiss flat: {_fmt(flat['search'])} search", flush=True)
    if args.no_ivf:
        return out
    nlist = args.nlist or max(1, int(round(math.sqrt(n_docs))))
    ivf = faiss_ivf(faiss, docs, queries, args.k, nlist, args.nprobe)
    for nprobe, run in ivf["searches"].items():
        top = run.pop("top")
        run["recall_at_k_sample"] = recall(top[sample], exact[sample])
        print(f"  ivf nprobe={nprobe}: {_fmt(run['search'])}, recall "
              f"{run['recall_at_k_sample']:.3f}", flush=True)  # fmt: skip
    ivf["recall_sample"] = len(sample)
    out["faiss_ivf"] = ivf
    return out


def _fmt(t: dict[str, float]) -> str:
    return f"{t['wall']:.1f} s wall / {t['cpu']:.1f} s CPU"


def report(results: list[dict[str, Any]], args: argparse.Namespace, has_faiss: bool) -> None:
    """Markdown tables of times and ratios (faiss / torch)."""
    data = f"around {args.clusters} centroids" if args.clusters else "uniform"
    print(
        f"\n{args.queries:,} queries ({data}), {args.dim} dims, k={args.k}, "
        f"{args.threads} threads, "
        f"torch score chunk {args.budget_mb:g} MiB; wall s / CPU s"
    )
    header = "| documents | torch GEMM | torch topk | torch GEMM+topk |"
    if has_faiss:
        header += " faiss flat search / torch (wall, CPU) |"
    print(header.replace("| documents |", "| documents | torch order (queries x docs per tile) |"))
    print("|" + "---|" * (header.count(" |") + 1))
    for r in results:
        for name in ("torch_rows", "torch_tiles"):
            t = r[name]
            both = _total(t)
            line = (
                f"| {r['documents']:,} | {name[6:]} ({t['tile'][0]:,} x {t['tile'][1]:,}) | "
                f"{_pair(t['gemm'])} | {_pair(t['topk'])} | {_pair(both)} |"
            )
            if has_faiss:
                f = r["faiss_flat"]["search"]
                line += f" {f['wall'] / both['wall']:.2f}, {f['cpu'] / both['cpu']:.2f} |"
            print(line)
    if has_faiss:
        print("\n| documents | faiss flat add | faiss flat search | flat top-k = torch top-k |")
        print("|---|---|---|---|")
        for r in results:
            f = r["faiss_flat"]
            print(
                f"| {r['documents']:,} | {_pair(f['add'])} | {_pair(f['search'])} | "
                f"{f['overlap_with_torch']:.4f} |"
            )
    for r in results:
        print(
            f"torch tiles top-k = torch rows top-k at {r['documents']:,}: "
            f"{r['torch_tiles']['overlap_with_rows']:.4f}"
        )
    if not any("faiss_ivf" in r for r in results):
        return
    print("\n| documents | IVF nlist | train | add | nprobe | search | recall@k (sample) | "
          "IVF train+add+search / best torch GEMM+topk (wall, CPU) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for r in (r for r in results if "faiss_ivf" in r):
        ivf = r["faiss_ivf"]
        both = min((_total(r[name]) for name in ("torch_rows", "torch_tiles")), key=_cpu_of)
        for nprobe, run in ivf["searches"].items():
            cost = {
                key: ivf["train"][key] + ivf["add"][key] + run["search"][key]
                for key in ("wall", "cpu")
            }
            print(
                f"| {r['documents']:,} | {ivf['nlist']} | {_pair(ivf['train'])} | "
                f"{_pair(ivf['add'])} | {nprobe} | {_pair(run['search'])} | "
                f"{run['recall_at_k_sample']:.3f} ({ivf['recall_sample']} q) | "
                f"{cost['wall'] / both['wall']:.2f}, {cost['cpu'] / both['cpu']:.2f} |"
            )


def _total(t: dict[str, Any]) -> dict[str, float]:
    return {key: t["gemm"][key] + t["topk"][key] for key in ("wall", "cpu")}


def _cpu_of(t: dict[str, float]) -> float:
    return t["cpu"]


def _pair(t: dict[str, float]) -> str:
    return f"{t['wall']:.1f} / {t['cpu']:.1f}"


def main() -> None:
    """Parse the options, run every size and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000", help="corpus sizes, comma-separated")
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--budget-mb", type=float, default=256, help="torch score chunk bound")
    parser.add_argument("--nlist", type=int, default=0, help="IVF lists; 0: sqrt(documents)")
    parser.add_argument("--nprobe", default="8,64,256", help="IVF lists probed, comma-separated")
    parser.add_argument("--recall-sample", type=int, default=200)
    parser.add_argument(
        "--clusters", type=int, default=0, help="draw around this many centroids; 0: uniform"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-ivf", action="store_true", help="skip the IVF index")
    parser.add_argument("--json", default=None, help="write the figures here")
    args = parser.parse_args()
    args.nprobe = [int(x) for x in args.nprobe.split(",")]
    import torch

    torch.set_num_threads(args.threads)
    try:
        import faiss
    except ImportError:
        faiss = None
        print(
            "faiss is not installed (pip install faiss-cpu): timing torch only, no comparison.",
            flush=True,
        )
    else:
        faiss.omp_set_num_threads(args.threads)
    results = []
    for size in (int(s) for s in args.sizes.split(",")):
        print(f"{size:,} documents x {args.queries:,} queries", flush=True)
        results.append(bench_size(size, args, faiss))
    report(results, args, faiss is not None)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
