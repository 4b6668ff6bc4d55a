"""This evaluator against stock mteb retrieval on the same XQuAD-R subsets, side by side.

Both paths run in child processes of this one script (so each peak RSS is its own), with the same
model and the same subsets:

* ours: ``XQuADRRetrieval.evaluate`` -- every distinct text encoded once, all subsets scored
  exactly from one embedding table in one streamed pass;
* stock: mteb's ``AbsTaskRetrieval`` per subset, each with its own corpus, ``k_values`` raised to
  the corpus size so that ``map_at_<N>`` is exact full-ranking mAP.

Example (what the figures in the issue note came from)::

    MTEB_HYBRID_DATA=../shared/data python benchmarks/bench_evaluator_vs_stock.py \\
        --languages en,de,zh,ar --queries-per-language 200
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from typing import Any


def _count_encodes(model: Any) -> dict[str, int]:
    counter = {"texts": 0}
    original = model.encode

    def encode(inputs, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        counter["texts"] += len(inputs.dataset)
        return original(inputs, *args, **kwargs)

    model.encode = encode
    return counter


def _task(args: argparse.Namespace):  # noqa: ANN202
    from mteb_hybrid.tasks import XQuADRRetrieval

    return XQuADRRetrieval(
        languages=args.languages.split(","), queries_per_language=args.queries_per_language
    )


def run_ours(args: argparse.Namespace) -> dict[str, Any]:
    """Evaluate every subset with the multi-setting evaluator."""
    import mteb

    model = mteb.get_model(args.model)
    counter = _count_encodes(model)
    task = _task(args)
    start = time.perf_counter()
    scores = task.evaluate(model, "test", encode_kwargs={"batch_size": args.batch_size})
    wall = time.perf_counter() - start
    return {
        "wall_s": wall,
        "texts_encoded": counter["texts"],
        "scores": {k: {"map": v["map"], "ndcg_at_10": v["ndcg_at_10"]} for k, v in scores.items()},
    }


def run_stock(args: argparse.Namespace) -> dict[str, Any]:
    """Evaluate every subset with mteb's own retrieval path, one corpus per subset."""
    import mteb
    from mteb.abstasks.retrieval import AbsTaskRetrieval

    from mteb_hybrid.tasks import XQuADRRetrieval

    class StockSubset(AbsTaskRetrieval):
        # XQuAD-R's own metadata, as one single-subset task scored by mteb's stock evaluator
        metadata = XQuADRRetrieval.metadata.model_copy(
            update={
                "name": "XQuADRStockSubset",
                "description": "One XQuAD-R subset through mteb's stock retrieval evaluator.",
                "eval_langs": ["eng-Latn"],
                "main_score": "ndcg_at_10",
            }
        )

    model = mteb.get_model(args.model)
    counter = _count_encodes(model)
    source = _task(args)
    source.load_data()
    scores, failures = {}, {}
    start = time.perf_counter()
    for name in source.hf_subsets:
        split = source.stock_split(name)
        n_docs = len(split["corpus"])
        task = StockSubset()
        task.k_values = (1, 10, 100, n_docs)
        task._top_k = n_docs
        task.dataset = {"default": {"test": split}}
        task.data_loaded = True
        try:
            result = task.evaluate(model, "test", encode_kwargs={"batch_size": args.batch_size})
        except MemoryError as error:
            failures[name] = f"MemoryError at {n_docs} documents x {len(split['queries'])} queries"
            print(error, file=sys.stderr)
            continue
        values = result["default"]
        scores[name] = {"map": values[f"map_at_{n_docs}"], "ndcg_at_10": values["ndcg_at_10"]}
    wall = time.perf_counter() - start
    return {
        "wall_s": wall,
        "texts_encoded": counter["texts"],
        "scores": scores,
        "failures": failures,
    }


def child(args: argparse.Namespace) -> None:
    """Run one path and print its figures as one JSON line."""
    result = run_ours(args) if args.path == "ours" else run_stock(args)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps(result))


def parent(args: argparse.Namespace) -> None:
    """Run both paths in turn and print the comparison."""
    results = {}
    for path in ("ours", "stock"):
        command = [sys.executable, __file__, "--path", path] + [
            f"--{k.replace('_', '-')}={v}"
            for k, v in vars(args).items()
            if k != "path" and v is not None
        ]
        done = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy())
        line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
        if line is None:
            print(done.stderr[-3000:], file=sys.stderr)
            raise SystemExit(f"{path} path failed (exit {done.returncode})")
        results[path] = json.loads(line[len("RESULT ") :])
    ours, stock = results["ours"], results["stock"]
    common = sorted(set(ours["scores"]) & set(stock["scores"]))
    worst = {
        metric: max(abs(ours["scores"][s][metric] - stock["scores"][s][metric]) for s in common)
        for metric in ("map", "ndcg_at_10")
    }
    print(
        f"subsets compared: {len(common)} ({args.languages}, "
        f"queries/lang={args.queries_per_language or 'all'})"
    )
    print(f"{'':14}{'ours':>12}{'stock':>12}{'stock/ours':>12}")
    for key, fmt in (("wall_s", "{:.1f}"), ("texts_encoded", "{:d}"), ("peak_rss_mb", "{:.0f}")):
        a, b = ours[key], stock[key]
        print(f"{key:14}{fmt.format(a):>12}{fmt.format(b):>12}{b / a:>12.2f}")
    print(
        f"max |ours - stock| map={worst['map']:.2e} ndcg_at_10={worst['ndcg_at_10']:.2e} "
        f"(agree within 1e-4: {all(v <= 1e-4 for v in worst.values())})"
    )
    for name, reason in stock.get("failures", {}).items():
        print(f"stock failed on {name}: {reason}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--languages", default="ar,de,el,en,es,hi,ru,th,tr,vi,zh")
    parser.add_argument("--queries-per-language", type=int, default=None)
    parser.add_argument("--model", default=None, help="model name or folder (default MiniLM)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--path", choices=["ours", "stock"], default=None)
    args = parser.parse_args()
    if args.model is None:
        from mteb_hybrid.default_model import default_model_path

        args.model = default_model_path()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    child(args) if args.path else parent(args)


if __name__ == "__main__":
    main()
