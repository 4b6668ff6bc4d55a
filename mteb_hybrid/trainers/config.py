"""Training settings: one dataclass that the Python API, the CLI and the metadata share."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from mteb_hybrid.files import read_json, write_json_atomic
from mteb_hybrid.runs import DEFAULT_RATIO, Ratio, RatioError
from mteb_hybrid.trainers.schedule import RATIO_SCHEDULES
from mteb_hybrid.trainers.weights import LANGUAGE_SAMPLING

LOSSES = ("mnrl", "cached-mnrl")
PRECISIONS = ("fp32", "bf16", "fp16")

# settings that decide which batches a run sees: a resumed run must match them
DATA_ORDER_KEYS = (
    "train_data",
    "ratio",
    "ratio_schedule",
    "language_sampling",
    "temperature",
    "batch_size",
    "seed",
    "validation_data",
    "validation_fraction",
)


class TrainConfigError(ValueError):
    """An invalid or inconsistent setting; the message says which and how to fix it."""


@dataclass
class TrainConfig:
    """Everything one training run needs. Defaults follow the hybrid-batch paper where it has one.

    ``ratio_schedule``: ``exact`` (the run's batch-type counts equal the ratio's largest-remainder
    allocation of its steps) or ``independent`` (each step's type drawn on its own); see
    :mod:`mteb_hybrid.trainers.schedule`.
    ``warmup``: a fraction of the steps when below 1, else a number of steps. ``max_steps``
    overrides ``epochs``. ``save_steps``: a checkpoint every N steps under ``<output>/checkpoints``.
    ``resume``: ``"latest"`` or a checkpoint folder. ``overwrite``: allow an ``output_dir`` that
    is the base model's folder or holds a different finished model. Early stopping needs
    validation data (``validation_data`` specs, or ``validation_fraction`` of the training ids
    held out).
    """

    base_model: str
    train_data: list[str]
    output_dir: str
    ratio: str = DEFAULT_RATIO
    ratio_schedule: str = "exact"
    language_sampling: str = "uniform"
    temperature: float = 1.0
    learning_rate: float = 3e-5
    weight_decay: float = 0.01
    batch_size: int = 32
    epochs: float = 1.0
    max_steps: int | None = None
    warmup: float = 0.1
    max_seq_length: int | None = None
    prompts: bool = False
    query_prompt: str = "Query: "
    passage_prompt: str = "Passage: "
    loss: str = "mnrl"
    scale: float = 20.0
    mini_batch_size: int = 32
    gather_across_devices: bool = False
    precision: str = "fp32"
    gradient_checkpointing: bool = False
    seed: int = 0
    save_steps: int | None = None
    save_total_limit: int | None = 2
    resume: str | None = None
    validation_data: list[str] = field(default_factory=list)
    validation_fraction: float = 0.0
    eval_steps: int | None = None
    early_stopping_patience: int | None = None
    early_stopping_threshold: float = 0.0
    logging_steps: int = 10
    dataloader_num_workers: int = 0
    model_name: str | None = None
    overwrite: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.train_data, str):
            self.train_data = [self.train_data]
        if isinstance(self.validation_data, str):
            self.validation_data = [self.validation_data]
        self.check()

    @property
    def batch_ratio(self) -> Ratio:
        """The parsed ``ratio``."""
        return Ratio.parse(self.ratio)

    @property
    def has_validation(self) -> bool:
        """Whether a validation loss is computed."""
        return bool(self.validation_data) or self.validation_fraction > 0

    def check(self) -> None:
        """Raise :class:`TrainConfigError` on the first invalid setting."""
        try:
            self.ratio = str(Ratio.parse(self.ratio))
        except RatioError as error:
            raise TrainConfigError(str(error)) from None
        if not self.train_data:
            raise TrainConfigError("no --train-data given")
        checks = [
            (
                self.ratio_schedule in RATIO_SCHEDULES,
                f"--ratio-schedule must be one of {', '.join(RATIO_SCHEDULES)}",
            ),
            (
                self.language_sampling in LANGUAGE_SAMPLING,
                f"--language-sampling must be one of {', '.join(LANGUAGE_SAMPLING)}",
            ),
            (self.temperature > 0, "--temperature must be positive"),
            (self.loss in LOSSES, f"--loss must be one of {', '.join(LOSSES)}"),
            (self.precision in PRECISIONS, f"--precision must be one of {', '.join(PRECISIONS)}"),
            (self.batch_size >= 2, "--batch-size must be at least 2 (in-batch negatives)"),
            (self.learning_rate > 0, "--lr must be positive"),
            (self.epochs > 0, "--epochs must be positive"),
            (self.max_steps is None or self.max_steps > 0, "--max-steps must be positive"),
            (
                self.warmup >= 0 and (self.warmup < 1 or float(self.warmup).is_integer()),
                "--warmup is a fraction below 1 or a whole number of steps",
            ),
            (
                self.max_seq_length is None or self.max_seq_length > 0,
                "--max-seq-length must be positive",
            ),
            (self.mini_batch_size > 0, "--mini-batch-size must be positive"),
            (self.save_steps is None or self.save_steps > 0, "--save-steps must be positive"),
            (0 <= self.validation_fraction < 1, "--validation-fraction must be in [0, 1)"),
            (
                not (self.validation_data and self.validation_fraction),
                "give --validation-data or --validation-fraction, not both",
            ),
            (
                self.early_stopping_patience is None or self.has_validation,
                "--early-stopping-patience needs --validation-data or --validation-fraction",
            ),
            (self.eval_steps is None or self.eval_steps > 0, "--eval-steps must be positive"),
            (
                self.early_stopping_threshold >= 0,
                "--early-stopping-threshold must be non-negative",
            ),
            (self.logging_steps > 0, "--logging-steps must be positive"),
        ]
        for ok, message in checks:
            if not ok:
                raise TrainConfigError(message)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON settings."""
        return asdict(self)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the settings as JSON (what ``python -m mteb_hybrid.trainers`` reads)."""
        write_json_atomic(path, self.to_dict())
        return Path(path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> TrainConfig:
        """The settings written by :meth:`save`, checked."""
        data = read_json(path, error=TrainConfigError, fix="write it with TrainConfig.save")
        if not isinstance(data, dict):
            raise TrainConfigError(f"{path}: expected a JSON object of TrainConfig fields")
        unknown = sorted(set(data) - {item.name for item in fields(cls)})
        if unknown:
            raise TrainConfigError(
                f"{path}: unknown setting(s) {', '.join(unknown)}; use TrainConfig's fields"
            )
        return cls(**data)

    def data_order(self) -> dict[str, Any]:
        """The settings that decide the batch sequence (compared on ``--resume``).

        Under the exact schedule the run's length decides it too (the ratio is allocated over
        the run's steps), so ``schedule_steps`` (``max_steps``, else ``epochs``) is added.
        """
        values = self.to_dict()
        order = {key: values[key] for key in DATA_ORDER_KEYS}
        if self.ratio_schedule == "exact":
            order["schedule_steps"] = (
                {"max_steps": self.max_steps} if self.max_steps else {"epochs": self.epochs}
            )
        return order
