"""Crash-safe checkpoints: a completion record written last, and the newest complete one found.

transformers writes ``checkpoint-N`` file by file; a kill during the write leaves a folder that
looks like a checkpoint but is not one. :func:`mark_checkpoints_complete` hooks the trainer's
save so that, once every file of ``checkpoint-N`` is written, the completion record
(:data:`~mteb_hybrid.runs.CHECKPOINT_COMPLETE`) is written atomically inside it, holding the step
and the training-loss sum so far (so a resumed run reports ``train_loss`` over all its steps).
:func:`newest_complete` skips folders without it.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from pathlib import Path
from typing import Any

from mteb_hybrid.files import write_json_atomic
from mteb_hybrid.runs import CHECKPOINT_COMPLETE, TRAINER_STATE_FILE

logger = logging.getLogger(__name__)

_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
# test hook: "STEP:SECONDS" pauses the write of checkpoint-STEP after its files, before its
# completion record (a window in which a kill leaves an incomplete checkpoint)
PAUSE_ENV = "MTEB_HYBRID_TEST_CHECKPOINT_PAUSE"
# key of the run file (TRAINER_STATE_FILE) saying its checkpoints carry completion markers
MARKERS_KEY = "checkpoint_markers"


def checkpoint_folders(folder: Path) -> list[tuple[int, Path]]:
    """``(step, path)`` of every ``checkpoint-N`` folder under ``folder``, oldest first."""
    if not folder.is_dir():
        return []
    found = [
        (int(m.group(1)), p)
        for p in folder.iterdir()
        if p.is_dir() and (m := _CHECKPOINT.match(p.name))
    ]
    return sorted(found)


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _legacy(folder: Path) -> bool:
    """Whether ``folder``'s checkpoints predate completion markers (their run file says so)."""
    run = _read(folder / TRAINER_STATE_FILE)
    return isinstance(run, dict) and not run.get(MARKERS_KEY)


def completion(checkpoint: Path) -> dict[str, Any] | None:
    """The completion record of ``checkpoint`` (step, loss sum), or ``None`` when incomplete.

    Checkpoints of a run started before markers existed count as complete when transformers'
    ``trainer_state.json`` (its last file) parses with their step; their loss sum is unknown.
    """
    match = _CHECKPOINT.match(checkpoint.name)
    if not match:
        return None
    step = int(match[1])
    record = _read(checkpoint / CHECKPOINT_COMPLETE)
    if isinstance(record, dict) and record.get("global_step") == step:
        return record
    if _legacy(checkpoint.parent):
        state = _read(checkpoint / "trainer_state.json")
        if isinstance(state, dict) and state.get("global_step") == step:
            return {"global_step": step, "loss_sum": None}
    return None


def newest_complete(folder: Path) -> tuple[Path | None, list[Path]]:
    """The newest complete checkpoint under ``folder`` and the incomplete ones newer than it."""
    incomplete: list[Path] = []
    for _step, path in reversed(checkpoint_folders(folder)):
        if completion(path) is not None:
            return path, incomplete
        incomplete.append(path)
    return None, incomplete


def discard_incomplete(folder: Path) -> list[Path]:
    """Delete every incomplete checkpoint under ``folder`` (one warning line each)."""
    removed = []
    for _step, path in checkpoint_folders(folder):
        if completion(path) is None:
            logger.warning("skipping incomplete checkpoint %s (interrupted while written)", path)
            shutil.rmtree(path)
            removed.append(path)
    return removed


def mark_checkpoints_complete(trainer: Any, checkpoints: Path) -> None:
    """Hook ``trainer``'s checkpoint save: after all of ``checkpoint-N`` is written, write its
    completion record (atomically, on the main process)."""
    original = trainer._save_checkpoint

    def save_then_mark(*args: Any, **kwargs: Any) -> Any:
        out = original(*args, **kwargs)
        step, _, seconds = (os.environ.get(PAUSE_ENV) or "").partition(":")
        if step and int(step) == trainer.state.global_step:
            import time

            time.sleep(float(seconds or 0))
        if trainer.args.should_save:
            step = trainer.state.global_step
            loss_sum = trainer._total_loss_scalar + float(trainer._tr_loss.item())
            write_json_atomic(
                checkpoints / f"checkpoint-{step}" / CHECKPOINT_COMPLETE,
                {"global_step": step, "loss_sum": loss_sum},
            )
        return out

    trainer._save_checkpoint = save_then_mark


def whole_run_loss(
    resumed_from: str | None, session_loss: float | None, global_step: int
) -> float | None:
    """``train_loss`` over every step of a run: the resumed checkpoint's loss sum plus this
    session's mean times its steps, over all steps (the session's mean when not resumed)."""
    if resumed_from is None or session_loss is None:
        return session_loss
    record = completion(Path(resumed_from))
    if record is None or record.get("loss_sum") is None or global_step <= 0:
        return session_loss
    start = int(record["global_step"])
    return (float(record["loss_sum"]) + session_loss * (global_step - start)) / global_step
