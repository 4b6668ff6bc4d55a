"""The streamed scorer against the evaluator before it, side by side on XQuAD-R's real collection.

The collection is the real XQuAD-R one (11 languages x 1,190 sentences, 13,090 questions, their
real relevance; ``--data-dir``, default ``../shared/data``); the embeddings are synthetic 384-d
vectors of that shape (an item component shared by a question and its answer sentences in every
language, a language component and noise), as the scoring cost depends on the shape only. Every
subset (mono, cross and pooled: 132) is scored by

* ``previous``: ``evaluate_subsets`` as it was at ``--baseline-rev`` (default ``f25650b``, the
  in-memory evaluator: all documents on the device, one pass per query language), loaded from git
  into this process;
* ``in-memory``: the current ``evaluate_subsets`` on the same float32 array (one window);
* ``shards-f32`` / ``shards-f16``: the current one on :class:`DocumentBlocks` of ``--shards``
  memmapped .npy files (float32; float16, compared with in-memory fed the same rounded vectors);
* ``windows``: the current one on the float16 shards with a bound that cuts the documents into
  about ``--windows`` windows (the streaming path proper).

Each runs ``--repeats`` times, alternately, in this process; the table gives the best wall time and
the best process CPU time (the steadier figure on a shared machine: use ``--threads 1`` there),
their ratios to ``previous`` and whether the subset means and per-query values equal the
reference run (``previous`` and the current evaluator normalise cosine vectors differently in the
last bit, so a few near-ties may differ between them: see the ranking module). Example (the
figures in the report)::

    python benchmarks/bench_streaming_scorer.py --threads 1 --repeats 2
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def load_previous(rev: str):  # noqa: ANN201 - the previous evaluate_subsets
    """``evaluate_subsets`` at ``rev``, with the ranking module of ``rev``, under private names."""

    def load(path: str, name: str, replace: tuple[str, str] | None = None) -> types.ModuleType:
        source = subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{rev}:{path}"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        if replace:
            source = source.replace(*replace)
        spec = importlib.util.spec_from_loader(name, loader=None)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up
        exec(compile(source, f"{rev}:{path}", "exec"), module.__dict__)  # noqa: S102
        return module

    load("mteb_hybrid/evaluation/ranking.py", "_previous_ranking")
    evaluator = load(
        "mteb_hybrid/evaluation/evaluator.py",
        "_previous_evaluator",
        ("mteb_hybrid.evaluation.ranking import", "_previous_ranking import"),
    )
    return evaluator.evaluate_subsets


def xquad_embeddings(collection, dim: int = 384, seed: int = 0):  # noqa: ANN001, ANN201
    """Synthetic (queries, documents) float32 vectors for the real collection's relevance."""
    rng = np.random.default_rng(seed)
    n_langs = len(collection.languages)
    item_of_doc = np.full(len(collection.doc_ids), -1)
    for query, relevant in enumerate(collection.relevant):
        item_of_doc[relevant] = query % 1190
    items = rng.standard_normal((1190 + 1, dim), dtype=np.float32)
    langs = rng.standard_normal((n_langs, dim), dtype=np.float32)
    docs = 0.5 * items[item_of_doc] + 0.5 * langs[collection.doc_langs]
    docs += rng.standard_normal(docs.shape, dtype=np.float32)
    q_items = np.array([item_of_doc[r[0]] if len(r) else -1 for r in collection.relevant])
    queries = 0.4 * items[q_items] + 0.3 * langs[collection.query_langs]
    queries += rng.standard_normal(queries.shape, dtype=np.float32)
    return queries.astype(np.float32), docs.astype(np.float32)


def outcome(results: dict) -> dict:
    """Subset means and per-query values, comparable with ``==`` (nan as a sentinel)."""
    return {
        name: (
            sorted((k, -7.0 if np.isnan(v) else v) for k, v in r.scores.items()),
            r.query_ids,
            {k: np.nan_to_num(v, nan=-7.0).tolist() for k, v in r.per_query.items()},
        )
        for name, r in results.items()
    }


def main() -> None:
    """Parse the options, build the data, time every variant, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--baseline-rev", default="f25650b")
    parser.add_argument("--max-chunk-mb", type=float, default=256)
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--windows", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    import torch

    from mteb_hybrid.evaluation.blocks import DocumentBlocks
    from mteb_hybrid.evaluation.evaluator import evaluate_subsets
    from mteb_hybrid.evaluation.ranking import BYTES_PER_WINDOW_VALUE
    from mteb_hybrid.tasks.lareqa_collection import lareqa_collection

    torch.set_num_threads(args.threads)
    languages = ["ar", "de", "el", "en", "es", "hi", "ru", "th", "tr", "vi", "zh"]
    collection = lareqa_collection("xquad-r", languages, args.data_dir)
    queries, docs = xquad_embeddings(collection)
    subsets = collection.default_subsets()
    bound = int(args.max_chunk_mb * 2**20)
    n_docs, dim = docs.shape
    window_bound = (n_docs // args.windows + 1) * dim * BYTES_PER_WINDOW_VALUE
    folder = Path(tempfile.mkdtemp(prefix="bench-streaming-"))
    shard_rows = np.array_split(np.arange(n_docs), args.shards)
    shards = {}
    for dtype in (np.float32, np.float16):
        blocks = []
        for k, rows in enumerate(shard_rows):
            path = folder / f"{dtype.__name__}-{k}.npy"
            np.save(path, docs[rows].astype(dtype))
            blocks.append(np.load(path, mmap_mode="r"))
        shards[dtype] = DocumentBlocks.of(blocks)
    rounded = docs.astype(np.float16).astype(np.float32)
    previous = load_previous(args.baseline_rev)

    def run(function, documents, max_bytes):  # noqa: ANN001, ANN202
        def call() -> dict:
            return function(
                collection,
                queries,
                documents,
                subsets,
                device="cpu",
                max_chunk_bytes=max_bytes,
                progress=False,
            )

        return call

    variants = {
        "previous": (run(previous, docs, bound), "previous"),
        "in-memory": (run(evaluate_subsets, docs, bound), "previous"),
        "shards-f32": (run(evaluate_subsets, shards[np.float32], bound), "in-memory"),
        "in-memory-f16": (run(evaluate_subsets, rounded, bound), "in-memory-f16"),
        "shards-f16": (run(evaluate_subsets, shards[np.float16], bound), "in-memory-f16"),
        "windows": (run(evaluate_subsets, shards[np.float16], window_bound), "in-memory-f16"),
    }
    best: dict[str, tuple[float, float]] = {}
    outcomes: dict[str, dict] = {}
    for _ in range(args.repeats):
        for label, (call, _) in variants.items():
            began, cpu = time.perf_counter(), time.process_time()
            outcomes[label] = outcome(call())
            took = (time.perf_counter() - began, time.process_time() - cpu)
            old = best.get(label, took)
            best[label] = (min(took[0], old[0]), min(took[1], old[1]))
    print(
        f"torch {torch.__version__}, {args.threads} threads, {len(collection.query_ids)} queries x "
        f"{n_docs} documents x {dim}, {len(subsets)} subsets, bound {args.max_chunk_mb} MiB, "
        f"windows bound {window_bound / 2**20:.2f} MiB, best of {args.repeats}"
    )
    base_wall, base_cpu = best["previous"]
    for label, (_, reference) in variants.items():
        wall, cpu = best[label]
        same = outcomes[label] == outcomes[reference]
        differing = ""
        if not same:
            a, b = outcomes[label], outcomes[reference]
            n_diff = sum(a[s][0] != b[s][0] for s in a)
            largest = max(
                abs(x[1] - y[1]) for s in a for x, y in zip(a[s][0], b[s][0], strict=True)
            )
            differing = f" ({n_diff}/{len(a)} subsets' means differ, by at most {largest:.1e})"
        print(
            f"{label:14s} wall {wall:7.2f} s x{wall / base_wall:.3f}  cpu {cpu:7.2f} s "
            f"x{cpu / base_cpu:.3f}  results vs {reference}: "
            f"{'identical' if same else 'DIFFERENT'}{differing}"
        )


if __name__ == "__main__":
    main()
