"""What defines a sweep: :class:`SweepConfig`, and :func:`make_config` from command-line values."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mteb_hybrid.runs import Ratio
from mteb_hybrid.sweep.plan import (
    DEFAULT_RATIOS,
    PlanError,
    RunSpec,
    parse_ratios,
    parse_seeds,
    plan_runs,
    simplex_grid,
)

# data spec kinds whose location may be a local path (see mteb_hybrid.trainers.sources.spec)
_LOCAL_SPEC_KINDS = {"lareqa", "jsonl", "parquet", "mmarco"}


@dataclass
class SweepConfig:
    """Everything that defines a sweep.

    ``train_options``: ``TrainConfig`` fields shared by every run (``max_steps``, ``batch_size``,
    ``max_seq_length``, ``save_steps``, ...). ``task_options``: keyword arguments of the
    multi-setting tasks (``queries_per_language``, ``languages``). ``torchrun``: processes per
    training run through torchrun (0: train in this process). ``keep_checkpoints``: keep a run's
    checkpoints once its model is saved (default: delete them; only an unfinished training needs
    them).
    """

    base_model: str
    train_data: list[str]
    ratios: list[Ratio]
    seeds: list[int]
    tasks: list[str]
    output: Path
    train_options: dict[str, Any] = field(default_factory=dict)
    task_options: dict[str, Any] = field(default_factory=dict)
    eval_batch_size: int = 32
    include_base: bool = True
    torchrun: int = 0
    keep_checkpoints: bool = False

    def runs(self) -> list[RunSpec]:
        """The planned runs in order."""
        return plan_runs(self.ratios, self.seeds, self.include_base)

    def train_identity(self) -> dict[str, Any]:
        """What decides a trained model besides ratio and seed (must match on a rerun)."""
        return {
            "base_model": self.base_model,
            "train_data": list(self.train_data),
            "train_options": dict(sorted(self.train_options.items())),
        }

    def train_data_digest(self) -> str:
        """Content digest of the training data (computed once per sweep): a rerun whose files
        changed at the same paths is refused, like one with other settings."""
        cached = self.__dict__.get("_train_data_digest")
        if cached is None:
            from mteb_hybrid.data.digest import content_digest

            cached = self.__dict__["_train_data_digest"] = content_digest(self.train_data)
        return cached

    def eval_identity(self) -> dict[str, Any]:
        """What decides the evaluation scores besides the model (must match on a rerun)."""
        return {"task_options": dict(sorted(self.task_options.items()))}

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON configuration."""
        data = asdict(self)
        data["output"] = str(self.output)
        data["ratios"] = [Ratio.parse(r).text() for r in self.ratios]
        return data


def check_no_training_split_evaluated(config: SweepConfig) -> None:
    """Refuse, in one line, a sweep that trains on a SIB-200 split and evaluates on that split."""
    if "FloresRetrieval" in config.tasks:
        from mteb_hybrid.data.flores import SPLIT_ENV, refuse_evaluating_training_split

        split = config.task_options.get("split") or os.environ.get(SPLIT_ENV) or "test"
        refuse_evaluating_training_split(config.train_data, split, "sweep")


def make_config(
    *,
    base_model: str,
    train_data: list[str],
    tasks: list[str],
    output: Path,
    ratios: str | None = None,
    grid_step: float | None = None,
    seeds: str = "0",
    train_options: dict[str, Any] | None = None,
    train_option_pairs: Sequence[str] = (),
    queries_per_language: int | None = None,
    languages: str | None = None,
    **settings: Any,
) -> SweepConfig:
    """A :class:`SweepConfig` from the values of ``mteb-hybrid sweep``.

    ``ratios`` (``"1:0:0,0.5:0.5:0"``) or ``grid_step``, ``seeds`` (``"0,1"`` or ``"0-2"``),
    ``tasks`` (names, each possibly comma-separated), ``languages`` (``"en,de"``),
    ``train_option_pairs`` (``"warmup=0.05"``: more ``train_options``, values read as JSON).
    Local paths (base model, data specs, output) become absolute, so ``run.json`` holds wherever
    the sweep is rerun from. ``settings``: the other :class:`SweepConfig` fields. Raises
    :class:`PlanError`.
    """
    if ratios and grid_step:
        raise PlanError("give --ratios or --grid-step, not both")
    ratio_list = simplex_grid(grid_step) if grid_step else parse_ratios(ratios or DEFAULT_RATIOS)
    task_options: dict[str, Any] = {}
    if queries_per_language:
        task_options["queries_per_language"] = queries_per_language
    if languages:
        task_options["languages"] = [c.strip() for c in languages.split(",") if c.strip()]
    return SweepConfig(
        base_model=str(Path(base_model).resolve()) if Path(base_model).is_dir() else base_model,
        train_data=[absolute_spec(s) for s in train_data],
        ratios=ratio_list,
        seeds=parse_seeds(seeds),
        tasks=[t.strip() for item in tasks for t in item.split(",") if t.strip()],
        output=Path(output).resolve(),
        train_options={**(train_options or {}), **parse_option_pairs(train_option_pairs)},
        task_options=task_options,
        **settings,
    )


def parse_option_pairs(values: Sequence[str]) -> dict[str, Any]:
    """``["warmup=0.05", "prompts=true"]`` -> ``{"warmup": 0.05, "prompts": True}``."""
    options: dict[str, Any] = {}
    for value in values:
        key, sep, raw = value.partition("=")
        if not sep or not key.strip():
            raise PlanError(
                f"--train-option {value!r}: expected KEY=VALUE with a TrainConfig field, "
                "e.g. warmup=0.05"
            )
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = raw
        options[key.strip().replace("-", "_")] = parsed
    return options


def absolute_spec(spec: str) -> str:
    """Make a plain local path absolute (so run.json stays valid from any directory)."""
    kind, sep, rest = spec.partition(":")
    if sep and kind in _LOCAL_SPEC_KINDS:
        location, qsep, query = rest.partition("?")
        if location and Path(location).exists():
            return f"{kind}:{Path(location).resolve()}{qsep}{query}"
        return spec
    location, qsep, query = spec.partition("?")
    if Path(location).exists():
        return f"{Path(location).resolve()}{qsep}{query}"
    return spec
