"""Exact streaming scoring of a corpus that never sits in memory: 10M x 384 float16 on disk.

Two steps, each a subcommand:

``generate``
    writes ``--shards`` shards of ``--shard-rows`` random unit vectors (``--dim`` wide, float16,
    ``shard_XX.npy`` written chunk by chunk through ``np.lib.format.open_memmap``, so writing never
    holds a shard in memory), ``--queries`` float32 query vectors and the relevance
    (``meta.json``). Languages are aligned to shards (shard ``s`` is language
    ``s * languages // shards``); each query has 1-2 relevant documents, the first in its own
    language, the second (half of the queries) in any language, all within the first
    ``--relevant-rows`` rows of their shard, so that a run on a prefix of every shard keeps every
    query's relevance and every language. A query is its relevant documents' mean plus noise
    (cosine to it drawn in 0.05..0.6), so relevant ranks spread from 1 to deep in the ranking.

``score``
    builds the :class:`RetrievalCollection` (10M ids: its time and memory are reported), maps the
    shards (``np.load(mmap_mode="r")``, optionally only their first ``--rows-per-shard`` rows) as
    :class:`~mteb_hybrid.evaluation.blocks.DocumentBlocks`, and runs
    :func:`mteb_hybrid.evaluation.evaluator.evaluate_subsets` over every mono, cross and pooled
    subset for the first ``--queries`` queries at ``--max-chunk-mb``. It samples the process's
    memory every 20 ms from ``/proc/self/status``: anonymous RSS (what the process holds) and
    file-backed RSS (page-cache pages of the mapped shards, shared and reclaimable), and reports
    the peaks against the chunk budget plus the collection's constant cost, with the wall and CPU
    time, the time per shard (from the scorer's slice reads of each shard) and the (query,
    document) pairs scored per second per core. ``--check`` also scores the same data as one
    float32 array and fails unless every subset's scores are equal (use it on a small prefix);
    ``--in-memory`` is the baseline that loads the corpus as one float32 array first.

Example (the figures in the report; scratch data outside the repository)::

    nice -n 10 python benchmarks/bench_streaming_scale.py generate --out /work/scratch-bench/s10m
    nice -n 10 python benchmarks/bench_streaming_scale.py score --out /work/scratch-bench/s10m \\
        --queries 200 --threads 2
    # a documented subset: the first 100,000 rows of each shard (1M documents), 2,000 queries
    nice -n 10 python benchmarks/bench_streaming_scale.py score --out /work/scratch-bench/s10m \\
        --rows-per-shard 100000 --queries 2000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

MIB = 1024 * 1024
WRITE_ROWS = 65_536  # rows generated and written at a time (96 MiB of float32 at 384 dims)


def shard_path(out: Path, shard: int) -> Path:
    """The file of shard ``shard``."""
    return out / f"shard_{shard:02d}.npy"


def _unit(rows: np.ndarray) -> np.ndarray:
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    return rows


def generate(args: argparse.Namespace) -> None:
    """Write the shards (chunked memmaps), the queries and ``meta.json``; shards already complete
    (their ``.done`` marker present) are kept, so an interrupted run resumes."""
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.shards % args.languages:
        sys.exit(f"--shards {args.shards} must be a multiple of --languages {args.languages}")
    start = time.perf_counter()
    for shard in range(args.shards):
        path = shard_path(out, shard)
        done = path.with_suffix(".done")
        if done.exists():
            continue
        t0 = time.perf_counter()
        rng = np.random.default_rng([args.seed, shard])
        array = np.lib.format.open_memmap(
            path, mode="w+", dtype=np.float16, shape=(args.shard_rows, args.dim)
        )
        for begin in range(0, args.shard_rows, WRITE_ROWS):
            stop = min(begin + WRITE_ROWS, args.shard_rows)
            array[begin:stop] = _unit(rng.standard_normal((stop - begin, args.dim), np.float32))
        array.flush()
        del array
        done.touch()
        print(f"shard {shard}: {time.perf_counter() - t0:.1f} s", flush=True)
    rng = np.random.default_rng([args.seed, 10_000])
    shard_lang = np.arange(args.shards) * args.languages // args.shards
    query_lang = rng.integers(0, args.languages, size=args.queries)
    relevant: list[list[list[int]]] = []  # per query: [[shard, row], ...]
    for lang in query_lang:
        own = rng.choice(np.flatnonzero(shard_lang == lang))
        rels = [[int(own), int(rng.integers(args.relevant_rows))]]
        if rng.random() < 0.5:
            other = [int(rng.integers(args.shards)), int(rng.integers(args.relevant_rows))]
            if other != rels[0]:
                rels.append(other)
        relevant.append(rels)
    shards = [np.load(shard_path(out, s), mmap_mode="r") for s in range(args.shards)]
    queries = np.empty((args.queries, args.dim), dtype=np.float32)
    for i, rels in enumerate(relevant):
        centre = _unit(np.mean([shards[s][r] for s, r in rels], axis=0, dtype=np.float32)[None])
        noise = _unit(rng.standard_normal((1, args.dim), np.float32))
        cosine = rng.uniform(0.05, 0.6)
        queries[i] = _unit(cosine * centre + np.sqrt(1 - cosine**2) * noise)[0]
    np.save(out / "queries.npy", queries)
    meta = {
        "shards": args.shards,
        "shard_rows": args.shard_rows,
        "dim": args.dim,
        "languages": [f"l{j}" for j in range(args.languages)],
        "shard_lang": shard_lang.tolist(),
        "relevant_rows": args.relevant_rows,
        "query_lang": query_lang.tolist(),
        "relevant": relevant,
        "seed": args.seed,
    }
    (out / "meta.json").write_text(json.dumps(meta))
    size = sum(shard_path(out, s).stat().st_size for s in range(args.shards))
    print(
        f"{args.shards} x {args.shard_rows:,} x {args.dim} float16 = {size / 1e9:.2f} GB on disk, "
        f"{args.queries:,} queries; {time.perf_counter() - start:.0f} s"
    )


class MemorySampler:
    """Peaks of the process's anonymous and file-backed RSS, sampled from /proc every 20 ms."""

    FIELDS = ("RssAnon", "RssFile", "VmRSS", "VmHWM")

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self.peak = dict.fromkeys(self.FIELDS, 0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @classmethod
    def read(cls) -> dict[str, int]:
        """The current values in bytes."""
        values = {}
        with open("/proc/self/status") as handle:
            for line in handle:
                name, _, rest = line.partition(":")
                if name in cls.FIELDS:
                    values[name] = int(rest.split()[0]) * 1024
        return values

    def _sample(self) -> None:
        for name, value in self.read().items():
            self.peak[name] = max(self.peak[name], value)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            time.sleep(self.interval)

    def __enter__(self) -> MemorySampler:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


def build_collection(meta: dict[str, Any], rows: int, n_queries: int):  # noqa: ANN201
    """The collection over the first ``rows`` rows of every shard and the first ``n_queries``
    queries: ``d000000000``-style ids (string order = row order), empty texts (one shared empty
    string), languages by shard, relevance mapped to the reduced corpus."""
    from mteb_hybrid.evaluation.collection import RetrievalCollection

    n_docs = meta["shards"] * rows
    relevant = [
        np.array(sorted(s * rows + r for s, r in rels), dtype=np.int64)
        for rels in meta["relevant"][:n_queries]
    ]
    return RetrievalCollection(
        languages=meta["languages"],
        doc_ids=[f"d{i:09d}" for i in range(n_docs)],
        doc_texts=[""] * n_docs,
        doc_langs=np.repeat(np.asarray(meta["shard_lang"], dtype=np.int64), rows),
        query_ids=[f"q{i:06d}" for i in range(n_queries)],
        query_texts=[""] * n_queries,
        query_langs=np.asarray(meta["query_lang"][:n_queries], dtype=np.int64),
        relevant=relevant,
    )


class TimedShard(np.ndarray):
    """A shard's memmap that logs ``(time, shard)`` when a slice of it is read (the scorer reads
    windows as slices): the scoring pass's time per shard, measured without touching the scorer.
    Arrays derived from it log nothing."""

    log: list[tuple[float, int]] | None = None
    shard: int = -1

    def __array_finalize__(self, obj: object) -> None:
        self.log = None

    def __getitem__(self, key: Any) -> Any:
        if self.log is not None and isinstance(key, slice):
            self.log.append((time.perf_counter(), self.shard))
        return super().__getitem__(key)


def timed_shard(path: Path, rows: int, shard: int, log: list[tuple[float, int]]) -> TimedShard:
    """The first ``rows`` rows of the shard at ``path``, memory-mapped, logging into ``log``."""
    array = np.load(path, mmap_mode="r")[:rows].view(TimedShard)
    array.log, array.shard = log, shard
    return array


def shard_passes(log: list[tuple[float, int]], end: float) -> list[list[float]]:
    """Per pass over the shards (a pass starts when the shard index goes down), the seconds from
    entering each shard to entering the next (the last: to ``end`` or the next pass)."""
    passes: list[list[tuple[float, int]]] = []
    for t, shard in log:
        if not passes or shard < passes[-1][-1][1]:
            passes.append([])
        if not passes[-1] or passes[-1][-1][1] != shard:
            passes[-1].append((t, shard))
    out = []
    for i, entries in enumerate(passes):
        stop = passes[i + 1][0][0] if i + 1 < len(passes) else end
        times = [t for t, _ in entries] + [stop]
        out.append([b - a for a, b in zip(times, times[1:], strict=False)])
    return out


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def score(args: argparse.Namespace) -> None:
    """Score the on-disk shards with the streaming evaluator and print the measurements."""
    import torch

    from mteb_hybrid.evaluation.blocks import DocumentBlocks
    from mteb_hybrid.evaluation.evaluator import evaluate_subsets

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    meta = json.loads((out / "meta.json").read_text())
    rows = args.rows_per_shard or meta["shard_rows"]
    if rows < meta["relevant_rows"] or rows > meta["shard_rows"]:
        sys.exit(f"--rows-per-shard must lie in {meta['relevant_rows']}..{meta['shard_rows']}")
    n_queries = min(args.queries, len(meta["relevant"]))
    rss_imports = MemorySampler.read()
    t0 = time.perf_counter()
    collection = build_collection(meta, rows, n_queries)
    collection_seconds = time.perf_counter() - t0
    rss_collection = MemorySampler.read()
    log: list[tuple[float, int]] = []
    blocks = DocumentBlocks(
        tuple(timed_shard(shard_path(out, s), rows, s, log) for s in range(meta["shards"]))
    )
    if args.in_memory:  # the baseline: the whole corpus as one float32 array in memory
        blocks = DocumentBlocks(
            (np.concatenate([np.asarray(b, np.float32) for b in blocks.blocks]),)
        )
    documents = blocks.blocks[0] if args.in_memory else blocks
    queries = np.load(out / "queries.npy")[:n_queries]
    subsets = collection.default_subsets()
    budget = int(args.max_chunk_mb * MIB)
    cpu0, t0 = _cpu_seconds(), time.perf_counter()
    with MemorySampler() as sampler:
        results = evaluate_subsets(
            collection,
            queries,
            documents,
            subsets,
            max_chunk_bytes=budget,
            device=args.device,
            progress=False,
        )
    end = time.perf_counter()
    seconds, cpu = end - t0, _cpu_seconds() - cpu0
    passes = shard_passes([(t - t0, shard) for t, shard in log], end - t0)
    n_docs = blocks.n_docs
    pairs = n_docs * n_queries
    report = {
        "documents": n_docs,
        "shards": meta["shards"],
        "rows_per_shard": rows,
        "queries": n_queries,
        "subsets": len(subsets),
        "dim": meta["dim"],
        "threads": args.threads,
        "mode": "in-memory float32 array" if args.in_memory else "streamed memmap shards",
        "budget_bytes": budget,
        "embeddings_on_disk_bytes": n_docs * meta["dim"] * 2,
        "collection_seconds": collection_seconds,
        "rss_after_imports": rss_imports,
        "rss_after_collection": rss_collection,
        "peak_during_scoring": sampler.peak,
        "ru_maxrss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "scoring_wall_seconds": seconds,
        "scoring_cpu_seconds": cpu,
        "wall_seconds_per_shard": seconds / meta["shards"],
        "passes_over_shards_seconds_per_shard": passes,
        "pairs": pairs,
        "pairs_per_wall_second": pairs / seconds,
        "pairs_per_cpu_second": pairs / cpu,
        "pooled_map_macro": float(
            np.mean([r.scores["map"] for r in results.values() if r.subset.setting == "multi"])
        ),
    }
    if args.check:
        report["check"] = _check(collection, queries, blocks, subsets, budget, results)
    _print(report)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    if report.get("check", "").startswith("DIFFERENT"):
        sys.exit(1)


def _check(collection, queries, blocks, subsets, budget, results) -> str:  # noqa: ANN001
    """The in-memory evaluator on one float32 array must give the same scores."""
    from mteb_hybrid.evaluation.evaluator import evaluate_subsets

    whole = np.concatenate([np.asarray(b, dtype=np.float32) for _, b in blocks])
    reference = evaluate_subsets(
        collection, queries, whole, subsets, max_chunk_bytes=budget, device="cpu", progress=False
    )
    for name, ref in reference.items():
        if ref.scores != results[name].scores:
            return f"DIFFERENT in {name}: {ref.scores} vs {results[name].scores}"
    return f"equal scores in all {len(reference)} subsets"


def _print(r: dict[str, Any]) -> None:
    peak = r["peak_during_scoring"]
    constant = r["rss_after_collection"]["RssAnon"]
    print(
        f"{r['documents']:,} documents ({r['shards']} shards x {r['rows_per_shard']:,} rows, "
        f"{r['dim']} dims, float16, {r['embeddings_on_disk_bytes'] / 1e9:.2f} GB on disk) x "
        f"{r['queries']:,} queries, {r['subsets']} subsets, {r['threads']} threads, budget "
        f"{r['budget_bytes'] / MIB:g} MiB; {r['mode']}"
    )
    rows = [
        ("collection build s", f"{r['collection_seconds']:.1f}"),
        ("anon RSS after imports MiB", f"{r['rss_after_imports']['RssAnon'] / MIB:.0f}"),
        ("anon RSS after collection MiB (constant)", f"{constant / MIB:.0f}"),
        ("peak anon RSS scoring MiB", f"{peak['RssAnon'] / MIB:.0f}"),
        ("peak anon RSS - constant MiB", f"{(peak['RssAnon'] - constant) / MIB:.0f}"),
        (
            "file-backed RSS after collection MiB (libraries)",
            f"{r['rss_after_collection']['RssFile'] / MIB:.0f}",
        ),
        (
            "peak file-backed RSS MiB (libraries + mapped shard pages)",
            f"{peak['RssFile'] / MIB:.0f}",
        ),
        ("peak VmHWM MiB (anon + file)", f"{peak['VmHWM'] / MIB:.0f}"),
        ("scoring wall s", f"{r['scoring_wall_seconds']:.1f}"),
        ("scoring CPU s", f"{r['scoring_cpu_seconds']:.1f}"),
        ("wall s per shard (scoring wall / shards)", f"{r['wall_seconds_per_shard']:.1f}"),
    ]
    for i, times in enumerate(r["passes_over_shards_seconds_per_shard"]):
        rows.append(
            (
                f"pass {i + 1} over the shards: s per shard (mean, min, max; {len(times)} shards)",
                f"{np.mean(times):.1f}, {np.min(times):.1f}, {np.max(times):.1f}",
            )
        )
    rows += [
        ("pairs / wall s", f"{r['pairs_per_wall_second']:.3g}"),
        ("pairs / CPU s (per core)", f"{r['pairs_per_cpu_second']:.3g}"),
        ("pooled mAP (macro)", f"{r['pooled_map_macro']:.4f}"),
    ]
    if "check" in r:
        rows.append(("check vs in-memory evaluator", r["check"]))
    print("| measure | value |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


def main() -> None:
    """Parse the subcommand and run it."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="write the synthetic shards, queries and relevance")
    gen.add_argument("--out", required=True, help="scratch folder (not in the repository)")
    gen.add_argument("--shards", type=int, default=10)
    gen.add_argument("--shard-rows", type=int, default=1_000_000)
    gen.add_argument("--dim", type=int, default=384)
    gen.add_argument("--queries", type=int, default=2000)
    gen.add_argument("--languages", type=int, default=5)
    gen.add_argument("--relevant-rows", type=int, default=4096)
    gen.add_argument("--seed", type=int, default=0)
    run = sub.add_parser("score", help="score the shards with the streaming evaluator")
    run.add_argument("--out", required=True, help="the folder `generate` wrote")
    run.add_argument("--queries", type=int, default=2000, help="the first N queries")
    run.add_argument("--rows-per-shard", type=int, default=0, help="prefix of each shard; 0 all")
    run.add_argument("--max-chunk-mb", type=float, default=256)
    run.add_argument("--threads", type=int, default=2)
    run.add_argument("--device", default="cpu")
    run.add_argument(
        "--in-memory",
        action="store_true",
        help="baseline: concatenate the shards into one float32 array first (holds the corpus)",
    )
    run.add_argument("--check", action="store_true", help="compare with the in-memory evaluator")
    run.add_argument("--json", default=None, help="write the measurements here")
    args = parser.parse_args()
    if args.command == "generate":
        generate(args)
    else:
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        score(args)


if __name__ == "__main__":
    main()
