"""Training steps per second: HybridBatchSampler vs sentence-transformers' NO_DUPLICATES.

Same data (XQuAD-R by default), same model, same loss (MultipleNegativesRankingLoss), same batch
size. The default ``--method interleaved`` builds one trainer per sampler and steps them
alternately (next batch from the trainer's dataloader, forward, backward, optimizer step), so both
see the same machine load; the rate is 1 / median step time. ``--method runs`` instead times
whole ``trainer.train()`` runs, alternating A B B A ..., and compares their medians (fine on an
idle machine, noisy on a shared one). The target is hybrid / no_duplicates >= 0.97 (exit status 1
when below).

    python benchmarks/bench_train_sampler.py                       # tiny offline model
    python benchmarks/bench_train_sampler.py --model minilm --steps 20 --batch-size 32
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from bench_train_common import (
    DEFAULT_DATA,
    compare,
    compare_steps,
    interleaved_steps,
    load_data,
    report,
    resolve_model,
    timed_run,
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny", help="tiny | minilm | a model folder")
    parser.add_argument("--data", default=f"lareqa:{DEFAULT_DATA}", help="training data spec")
    parser.add_argument("--method", choices=("interleaved", "runs"), default="interleaved")
    parser.add_argument("--steps", type=int, default=200, help="timed steps per sampler (run)")
    parser.add_argument("--warmup", type=int, default=10, help="untimed steps per sampler (run)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per sampler (--method runs)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-seq-length", type=int, default=64)
    parser.add_argument("--ratio", default="0.5:0.5:0")
    parser.add_argument("--threshold", type=float, default=0.97)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (1 avoids spin-waiting on a busy box)"
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)

    pairs, plain, texts = load_data(args.data)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model_path = resolve_model(args.model, texts, work)
        if args.method == "interleaved":
            times = interleaved_steps(
                model_path=model_path, pairs=pairs, plain=plain, steps=args.steps,
                warmup=args.warmup, batch_size=args.batch_size,
                max_seq_length=args.max_seq_length, ratio=args.ratio, output_dir=work / "out",
            )  # fmt: skip
            result = compare_steps(times)
        runs = []
        for repeat in range(args.repeats if args.method == "runs" else 0):
            order = ("hybrid", "no_duplicates") if repeat % 2 == 0 else ("no_duplicates", "hybrid")
            for which in order:
                run = timed_run(
                    which=which, model_path=model_path, pairs=pairs, plain=plain,
                    steps=args.steps, warmup=args.warmup, batch_size=args.batch_size,
                    max_seq_length=args.max_seq_length, ratio=args.ratio, output_dir=work / "out",
                )  # fmt: skip
                print(f"run {repeat + 1} {which}: {run.steps_per_s:.3f} steps/s", flush=True)
                runs.append(run)
    if args.method == "runs":
        result = compare(runs)
    setup = {
        "method": args.method, "model": args.model, "data": args.data,
        "batch_size": args.batch_size,
        "steps": args.steps, "warmup": args.warmup,
        "repeats": args.repeats if args.method == "runs" else 1,
        "max_seq_length": args.max_seq_length, "ratio": args.ratio,
        "threads": torch.get_num_threads(),
    }  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps({"setup": setup, **result}, indent=2))
    return report(result, args.threshold, setup)


if __name__ == "__main__":
    raise SystemExit(main())
