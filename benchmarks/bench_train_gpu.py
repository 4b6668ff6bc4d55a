"""GPU training benchmark: bf16 MiniLM, HybridBatchSampler vs NO_DUPLICATES, steps/s and memory.

Needs a CUDA GPU; without one it prints why and exits with status 0, so it can sit in any run.

    python benchmarks/bench_train_gpu.py --batch-size 128 --steps 100
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from bench_train_common import DEFAULT_DATA, compare, load_data, report, resolve_model, timed_run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="minilm", help="minilm | tiny | a model folder")
    parser.add_argument("--data", default=f"lareqa:{DEFAULT_DATA}", help="training data spec")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--max-seq-length", type=int, default=128)
    parser.add_argument("--ratio", default="0.5:0.5:0")
    parser.add_argument("--no-bf16", dest="bf16", action="store_false")
    parser.add_argument("--threshold", type=float, default=0.97)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    import torch

    if not torch.cuda.is_available():
        print("bench_train_gpu: no CUDA GPU visible; nothing to measure (skipped).")
        return 0
    bf16 = args.bf16 and torch.cuda.is_bf16_supported()
    pairs, plain, texts = load_data(args.data)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model_path = resolve_model(args.model, texts, work)
        runs = []
        for repeat in range(args.repeats):
            order = ("hybrid", "no_duplicates") if repeat % 2 == 0 else ("no_duplicates", "hybrid")
            for which in order:
                run = timed_run(
                    which=which, model_path=model_path, pairs=pairs, plain=plain,
                    steps=args.steps, warmup=args.warmup, batch_size=args.batch_size,
                    max_seq_length=args.max_seq_length, ratio=args.ratio, bf16=bf16,
                    output_dir=work / "out",
                )  # fmt: skip
                print(
                    f"run {repeat + 1} {which}: {run.steps_per_s:.3f} steps/s, "
                    f"peak {run.peak_memory_mb:.0f} MiB",
                    flush=True,
                )
                runs.append(run)
    result = compare(runs)
    setup = {
        "model": args.model, "gpu": torch.cuda.get_device_name(), "bf16": bf16,
        "batch_size": args.batch_size, "steps": args.steps, "warmup": args.warmup,
        "repeats": args.repeats, "max_seq_length": args.max_seq_length, "ratio": args.ratio,
    }  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps({"setup": setup, **result}, indent=2))
    return report(result, args.threshold, setup)


if __name__ == "__main__":
    raise SystemExit(main())
