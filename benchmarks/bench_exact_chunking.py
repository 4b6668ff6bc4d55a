"""Cost of chunk-independent exact ranks: the current ranking and the previous one, side by side.

The previous implementation (fast float32 scores decide every comparison; exact float32 ties
re-counted) is loaded from git (``--baseline-rev``, default the house base ``f83923f``) into this
process next to the current :mod:`mteb_hybrid.evaluation.ranking`, which re-scores the documents
within a proven rounding bound of each relevant score canonically. Both stream the same queries
against the same documents at the same memory bound, alternately, ``--repeats`` times; the table
gives the best wall time, the peak RSS above the pre-run level (sampled every 20 ms), the ratio,
and how many (query, document) pairs the current path scored canonically. It also checks that the
two agree except where the old one was shape-dependent (counts relevant documents whose rank
differs).

Shapes (synthetic float32 unit vectors, clustered per parallel item and per language, as a real
encoder makes them):

* ``xquad``: XQuAD-R's pool, 11 languages x 1,183 sentences = 13,014 documents, 384 dims,
  ``--xquad-queries`` queries (default 2,000), each relevant to its item's 11 sentences;
* ``xm3600``: XM3600's pool from ``bench_pooled_scale.py`` (261,375 captions, 36 languages),
  ``--xm3600-per-language`` queries per language (default 5), relevant to their image's other
  captions, never to themselves.

Example (the figures in the report)::

    python benchmarks/bench_exact_chunking.py --threads 2
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import time
import types
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RANKING = "mteb_hybrid/evaluation/ranking.py"


def load_baseline(rev: str) -> types.ModuleType:
    """The ranking module as it was at ``rev``, imported under a private name."""
    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{rev}:{RANKING}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    spec = importlib.util.spec_from_loader("_ranking_baseline", loader=None)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    exec(compile(source, f"{rev}:{RANKING}", "exec"), module.__dict__)  # noqa: S102
    return module


def xquad_shaped(n_queries: int, seed: int = 0):  # noqa: ANN201 - (collection, q, d)
    """13,014 documents (11 x 1,183 parallel sentences) and ``n_queries`` queries."""
    from mteb_hybrid.evaluation.collection import RetrievalCollection

    n_langs, n_items, dim = 11, 1183, 384
    rng = np.random.default_rng(seed)
    items = rng.standard_normal((n_items, dim), dtype=np.float32)
    langs = rng.standard_normal((n_langs, dim), dtype=np.float32)
    lang_of = np.repeat(np.arange(n_langs), n_items)
    item_of = np.tile(np.arange(n_items), n_langs)
    docs = 0.5 * items[item_of] + 0.5 * langs[lang_of]
    docs += rng.standard_normal(docs.shape, dtype=np.float32)
    docs /= np.linalg.norm(docs, axis=1, keepdims=True)
    q_item = rng.integers(n_items, size=n_queries)
    q_lang = rng.integers(n_langs, size=n_queries)
    queries = 0.4 * items[q_item] + 0.3 * langs[q_lang]
    queries += rng.standard_normal(queries.shape, dtype=np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    relevant = [item + n_items * np.arange(n_langs, dtype=np.int64) for item in q_item]
    names = [f"l{j:02d}" for j in range(n_langs)]
    collection = RetrievalCollection(
        languages=names,
        doc_ids=[f"{names[j]}-{i:05d}" for j, i in zip(lang_of, item_of, strict=True)],
        doc_texts=[""] * len(lang_of),
        doc_langs=lang_of,
        query_ids=[f"q{i}" for i in range(n_queries)],
        query_texts=[""] * n_queries,
        query_langs=q_lang,
        relevant=relevant,
        query_self_doc=np.full(n_queries, -1),
    )
    return collection, queries.astype(np.float32), docs.astype(np.float32)


def xm3600_shaped(per_language: int):  # noqa: ANN201 - (collection, q, d, query indices)
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_pooled_scale import sample_queries, synthetic

    collection, emb = synthetic()
    return collection, emb, emb, sample_queries(collection, per_language)


def run_once(module: Any, collection: Any, q: np.ndarray, d: np.ndarray, indices, bound: int):  # noqa: ANN001
    """Stream every chunk; return (seconds, peak RSS above the start, ranks, canonical pairs)."""
    from bench_pooled_scale import RssSampler

    pairs = [0]
    original = getattr(module, "canonical_scores", None)
    if original is not None:

        def counting(a, b, similarity):  # noqa: ANN001, ANN202
            pairs[0] += len(a)
            return original(a, b, similarity)

        module.canonical_scores = counting
    ranks = []
    try:
        with RssSampler() as rss:
            start_rss = RssSampler.current()
            began = time.perf_counter()
            for chunk in module.iter_relevant_ranks(
                collection,
                q,
                d,
                indices,
                device="cpu",
                max_chunk_bytes=bound,
                progress=False,
            ):
                ranks.append(np.sort(chunk.rank_pooled, axis=1))
            seconds = time.perf_counter() - began
    finally:
        if original is not None:
            module.canonical_scores = original
    width = max(r.shape[1] for r in ranks)  # chunks differ in their widest relevant list
    ranks = [np.pad(r, ((0, 0), (0, width - r.shape[1])), constant_values=np.inf) for r in ranks]
    return seconds, rss.peak - start_rss, np.concatenate(ranks), pairs[0]


def compare(name: str, modules: dict[str, Any], data: tuple, bound: int, repeats: int) -> dict:
    """Alternate the implementations ``repeats`` times on one shape; print one table row each."""
    collection, q, d, indices = data
    best: dict[str, list] = {}
    for _ in range(repeats):
        for label, module in modules.items():
            seconds, peak, ranks, pairs = run_once(module, collection, q, d, indices, bound)
            old = best.get(label)
            best[label] = [
                min(seconds, old[0]) if old else seconds,
                max(peak, old[1]) if old else peak,
                ranks,
                pairs,
            ]
    base, new = best["previous"], best["current"]
    differing = int((base[2] != new[2]).sum())
    n_rel = int(np.isfinite(new[2]).sum())
    n_queries = len(indices) if indices is not None else len(collection.query_ids)
    print(
        f"{name:8s} {n_queries:6d} x {len(collection.doc_ids):7d}  "
        f"previous {base[0]:7.2f} s {base[1] / 2**20:7.0f} MiB | "
        f"current {new[0]:7.2f} s {new[1] / 2**20:7.0f} MiB | "
        f"time x{new[0] / base[0]:.3f}  canonical pairs {new[3]:,} "
        f"({new[3] / max(1, n_rel):.2f} per relevant)  ranks differing {differing}/{n_rel}"
    )
    return {"previous": base[:2], "current": new[:2], "pairs": new[3], "differing": differing}


def main() -> None:
    """Parse the options, build the shapes, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline-rev", default="f83923f")
    parser.add_argument("--xquad-queries", type=int, default=2000)
    parser.add_argument("--xm3600-per-language", type=int, default=5)
    parser.add_argument("--max-chunk-mb", type=float, default=256)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--shapes", nargs="+", default=["xquad", "xm3600"])
    args = parser.parse_args()

    import torch

    from mteb_hybrid.evaluation import ranking

    sys.path.insert(0, str(Path(__file__).parent))
    torch.set_num_threads(args.threads)
    modules = {"previous": load_baseline(args.baseline_rev), "current": ranking}
    bound = int(args.max_chunk_mb * 2**20)
    print(f"torch {torch.__version__}, {args.threads} threads, bound {args.max_chunk_mb} MiB")
    if "xquad" in args.shapes:
        collection, q, d = xquad_shaped(args.xquad_queries)
        compare("xquad", modules, (collection, q, d, None), bound, args.repeats)
    if "xm3600" in args.shapes:
        collection, q, d, indices = xm3600_shaped(args.xm3600_per_language)
        compare("xm3600", modules, (collection, q, d, indices), bound, args.repeats)


if __name__ == "__main__":
    main()
