"""What a trained model folder records about its training.

``mteb_hybrid_training.json`` beside the model holds base model, ratio, data specs and sizes,
seed, steps, the ratio schedule and the batch types the run trained on (``batch_types``: global
batches of each type in the steps actually run), every setting and the losses; the model card
(``README.md``) gets a short section with the same facts.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from mteb_hybrid.runs import TRAINING_METADATA

CARD_MARKER = "## mteb-hybrid training"


def batch_types_drawn(sampler: Any, global_steps: int) -> dict[str, int]:
    """Global batches of each type in the first ``global_steps`` steps (from the plan)."""
    return sampler.batch_type_counts(global_steps)


def _versions() -> dict[str, str | None]:
    from mteb_hybrid.provenance import package_versions

    return package_versions(
        ("mteb-hybrid", "sentence-transformers", "transformers", "torch"), keep_missing=False
    )


def _card_section(meta: dict[str, Any]) -> str:
    data = meta["data"]["train"]
    languages = ", ".join(data["languages"])
    rows = [
        ("base model", f"`{meta['base_model']}`"),
        ("batch ratio mono : cross : multi", meta["ratio_text"]),
        ("language choice", meta["language_sampling"]),
        ("training data", "; ".join(f"`{s}`" for s in meta["data"]["train_specs"])),
        ("ids / (id, language) rows", f"{data['ids']} / {data['rows']}"),
        ("languages", languages),
        ("seed", str(meta["seed"])),
        ("steps (epochs)", f"{meta['steps']} ({meta['epochs']:.3g})"),
        ("batch size x processes", f"{meta['batch_size']} x {meta['world_size']}"),
        (
            f"batch types trained ({meta['ratio_schedule']} schedule)",
            ", ".join(f"{k} {v}" for k, v in meta["batch_types"].items()),
        ),
        ("loss", meta["loss"]),
        ("mean training loss", f"{meta['train_loss']:.4f}" if meta["train_loss"] else "n/a"),
    ]
    if meta.get("best_validation_loss") is not None:
        rows.append(("best validation loss", f"{meta['best_validation_loss']:.4f}"))
    table = "\n".join(f"| {k} | {v} |" for k, v in rows)
    return (
        f"\n\n{CARD_MARKER}\n\n"
        "Fine-tuned with hybrid batches (monolingual, cross-lingual and multilingual batches "
        "drawn by ratio) by `mteb-hybrid train`; the full record is in "
        f"`{TRAINING_METADATA}`.\n\n| | |\n|---|---|\n{table}\n\n"
        "Evaluate with `mteb run -m <this folder> -t XQuADRRetrieval` "
        "(with mteb-hybrid installed).\n"
    )


def write_training_metadata(
    output_dir: str | Path,
    *,
    config: Any,
    result: Any,
    sampler: Any,
    train_data: Any,
    validation: Any = None,
    resumed_from: str | None = None,
) -> dict[str, Any]:
    """Write ``mteb_hybrid_training.json`` and the model-card section; return the metadata."""
    output = Path(output_dir)
    ratio = config.batch_ratio
    meta: dict[str, Any] = {
        "base_model": config.base_model,
        "ratio": {"mono": ratio.mono, "cross": ratio.cross, "multi": ratio.multi},
        "ratio_text": str(ratio),
        "ratio_schedule": sampler.ratio_schedule,
        "language_sampling": config.language_sampling,
        "temperature": config.temperature,
        "data": {
            "train_specs": list(config.train_data),
            "train": train_data.summary(),
            "validation_specs": list(config.validation_data),
            "validation_fraction": config.validation_fraction,
            "validation": validation.summary() if validation is not None else None,
        },
        "seed": config.seed,
        "steps": result.global_step,
        "epochs": result.epoch,
        "batch_size": config.batch_size,
        "world_size": sampler.world_size,
        "global_batch_size": sampler.global_batch_size,
        "steps_per_epoch": sampler.steps_per_epoch,
        "planned_steps": sampler.total_steps,
        "batch_types": batch_types_drawn(sampler, result.global_step),
        "loss": config.loss,
        "train_loss": result.train_loss,
        "best_validation_loss": result.best_validation_loss,
        "wall_time_s": round(result.wall_time_s, 1),
        "resumed_from": resumed_from,
        "settings": config.to_dict(),
        "versions": _versions(),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    card = output / "README.md"
    text = card.read_text(encoding="utf-8") if card.is_file() else ""
    if CARD_MARKER in text:
        text = text[: text.index(CARD_MARKER)].rstrip()
    card.write_text(text + _card_section(meta), encoding="utf-8")
    # written last: its presence means the model folder is complete
    (output / TRAINING_METADATA).write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
    return meta
