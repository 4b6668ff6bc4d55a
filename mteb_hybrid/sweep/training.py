"""The sweep's one point of contact with the trainer (:mod:`mteb_hybrid.trainers`).

:func:`train_run` turns a run of the sweep into a ``TrainConfig`` and trains it, in this process or
through ``torchrun --nproc_per_node N -m mteb_hybrid.trainers <run>/train_config.json`` (every
process reads the serialized ``TrainConfig``). If the trainer's API changes, this file is the only
one to adapt.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mteb_hybrid.runs import CHECKPOINTS, TRAIN_CONFIG_FILE, TRAINING_METADATA
from mteb_hybrid.sweep.plan import RunSpec
from mteb_hybrid.trainers.checkpoints import discard_incomplete, newest_complete

if TYPE_CHECKING:
    from mteb_hybrid.sweep.config import SweepConfig
    from mteb_hybrid.trainers.config import TrainConfig

logger = logging.getLogger(__name__)


def latest_checkpoint(model_dir: Path) -> Path | None:
    """The newest complete checkpoint under ``<model_dir>/checkpoints``, if any; incomplete
    ones (interrupted while written) are deleted with a warning, so a rerun can start over."""
    folder = Path(model_dir) / CHECKPOINTS
    newest, _ = newest_complete(folder)
    discard_incomplete(folder)
    return newest


def remove_checkpoints(model_dir: Path) -> None:
    """Delete ``<model_dir>/checkpoints`` (a finished run no longer needs them)."""
    folder = Path(model_dir) / CHECKPOINTS
    if folder.is_dir():
        shutil.rmtree(folder)


def model_is_saved(model_dir: Path) -> bool:
    """Whether the trainer finished and saved the model (its metadata file is written last)."""
    return (Path(model_dir) / TRAINING_METADATA).is_file()


def run_config(
    spec: RunSpec,
    base_model: str,
    train_data: Sequence[str],
    options: dict[str, Any],
    model_dir: Path,
    resume: bool,
) -> TrainConfig:
    """The ``TrainConfig`` of one run (sweep-wide options plus ratio, seed, output)."""
    from mteb_hybrid.trainers.config import TrainConfig

    if spec.ratio is None or spec.seed is None:
        raise ValueError(f"run {spec.run_id} is not a training run")
    fields = {
        **options,
        "base_model": base_model,
        "train_data": list(train_data),
        "output_dir": str(model_dir),
        "ratio": spec.ratio,
        "seed": spec.seed,
        "resume": "latest" if resume else None,
        "model_name": options.get("model_name") or spec.run_id,
    }
    return TrainConfig(**fields)


def check_options(config: SweepConfig) -> None:
    """Validate the sweep's trainer options up front (a typo fails before the first run, not the
    fifth): a ``TrainConfig`` with them must build."""
    from mteb_hybrid.trainers.config import TrainConfig, TrainConfigError

    probe = {
        **config.train_options,
        "base_model": config.base_model,
        "train_data": list(config.train_data),
        "output_dir": str(Path(config.output) / "probe"),
    }
    try:
        TrainConfig(**probe)
    except TypeError as error:
        raise ValueError(f"unknown trainer option: {error}") from None
    except TrainConfigError as error:
        raise ValueError(str(error)) from None


def train_run(
    spec: RunSpec,
    *,
    base_model: str,
    train_data: Sequence[str],
    options: dict[str, Any],
    model_dir: Path,
    resume: bool,
    torchrun: int = 0,
    callbacks: list[Any] | None = None,
    log_file: Path | None = None,
) -> dict[str, Any]:
    """Train one run; returns a summary (steps, realised batch types, loss, wall time, resume).

    ``resume``: continue from the latest checkpoint under ``model_dir``. ``torchrun``: launch
    through ``torchrun --nproc_per_node N`` instead of in this process (``callbacks`` then unused);
    the processes read the run's ``TrainConfig`` from ``train_config.json`` beside ``model_dir``.
    """
    config = run_config(spec, base_model, train_data, options, model_dir, resume)
    resumed_from = str(latest_checkpoint(model_dir)) if resume else None
    if torchrun:
        config_file = config.save(Path(model_dir).parent / TRAIN_CONFIG_FILE)
        _torchrun(config_file, torchrun, log_file)
        meta = json.loads((Path(model_dir) / TRAINING_METADATA).read_text())
        return {
            "global_step": meta.get("steps"),
            "ratio_schedule": meta.get("ratio_schedule"),
            "batch_types": meta.get("batch_types"),
            "train_loss": meta.get("train_loss"),
            "trainer_wall_time_s": meta.get("wall_time_s"),
            "resumed_from": resumed_from,
            "processes": torchrun,
        }
    from mteb_hybrid.trainers.trainer import train

    result = train(config, callbacks=callbacks)
    return {
        "global_step": result.global_step,
        "ratio_schedule": result.metadata.get("ratio_schedule"),
        "batch_types": result.metadata.get("batch_types"),
        "train_loss": result.train_loss,
        "trainer_wall_time_s": round(result.wall_time_s, 1),
        "resumed_from": resumed_from,
        "processes": 1,
    }


def torchrun_command(config_file: Path, nproc: int) -> list[str]:
    """``torchrun --standalone --nproc_per_node N -m mteb_hybrid.trainers CONFIG.json``."""
    launcher = shutil.which("torchrun")
    head = [launcher] if launcher else [sys.executable, "-m", "torch.distributed.run"]
    module = ["-m", "mteb_hybrid.trainers", str(config_file)]
    return [*head, "--standalone", f"--nproc_per_node={nproc}", *module]


def _torchrun(config_file: Path, nproc: int, log_file: Path | None) -> None:
    command = torchrun_command(config_file, nproc)
    logger.info("launching: %s", " ".join(command))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if log_file is not None:
        with open(log_file, "a", encoding="utf-8") as handle:
            code = subprocess.call(command, stdout=handle, stderr=subprocess.STDOUT, env=env)
    else:
        code = subprocess.call(command, env=env)
    if code != 0:
        where = f"; see {log_file}" if log_file else ""
        raise RuntimeError(f"torchrun training exited with status {code}{where}")
