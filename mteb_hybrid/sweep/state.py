"""A sweep's state on disk: a ``run.json`` per run, ``sweep.json``, the lock, and the fingerprints
that keep a rerun from mixing settings.

A run goes ``pending -> training -> trained -> evaluating -> done``; ``run.json`` is rewritten
atomically at each step. A run whose ``run.json`` records another configuration is refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mteb_hybrid.files import read_json, write_json_atomic
from mteb_hybrid.provenance import device_description
from mteb_hybrid.runs import RUN_FILE, SWEEP_FILE, run_states
from mteb_hybrid.sweep.config import SweepConfig
from mteb_hybrid.sweep.plan import RunSpec

LOCK_FILE = ".sweep.lock"
LOCK_HOLDER_FILE = ".sweep.lock.holder"
STATUSES = ("pending", "training", "trained", "evaluating", "done")


class SweepError(RuntimeError):
    """A sweep that cannot go on as asked; the message says why and what to do."""


def fingerprint(data: dict[str, Any]) -> str:
    """Short stable hash of a JSON-able dict."""
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def read_state(path: Path) -> dict[str, Any] | None:
    """A ``run.json`` / ``sweep.json`` object, or ``None`` if the file is missing."""
    if not path.is_file():
        return None
    data = read_json(path, error=SweepError, fix="delete it to redo that run")
    return data if isinstance(data, dict) else None


@contextlib.contextmanager
def sweep_lock(output: Path) -> Iterator[None]:
    """Hold ``OUT/.sweep.lock`` through :mod:`filelock` (POSIX and Windows; the OS releases it if
    the process dies); who holds it is written beside it, to ``OUT/.sweep.lock.holder``."""
    from filelock import FileLock, Timeout

    output.mkdir(parents=True, exist_ok=True)
    holder_file = output / LOCK_HOLDER_FILE
    lock = FileLock(str(output / LOCK_FILE), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        try:
            holder = holder_file.read_text(encoding="utf-8").strip()
        except OSError:
            holder = ""
        raise SweepError(
            f"{output} is in use by a running sweep ({holder or 'another process'}); wait for it "
            "or use another --output"
        ) from None
    try:
        holder_file.write_text(f"pid {os.getpid()} on {platform.node()}", encoding="utf-8")
        yield
    finally:
        holder_file.unlink(missing_ok=True)
        lock.release()


def new_run_info(
    spec: RunSpec, config: SweepConfig, versions: dict[str, Any], train_fp: str, eval_fp: str
) -> dict[str, Any]:
    """The ``run.json`` of a run not started yet."""
    return {
        "run_id": spec.run_id,
        "kind": "base" if spec.is_base else "train",
        "ratio": list(spec.ratio) if spec.ratio is not None else None,
        "ratio_text": spec.ratio_text,
        "seed": spec.seed,
        "status": "pending",
        "base_model": config.base_model,
        "train_data": list(config.train_data),
        "train_options": dict(config.train_options),
        "task_options": dict(config.task_options),
        "tasks": list(config.tasks),
        "torchrun": config.torchrun,
        "train_fingerprint": train_fp,
        "train_data_digest": config.train_data_digest(),
        "eval_fingerprint": eval_fp,
        "versions": versions,
        "device": device_description(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "attempts": {"train": 0, "evaluate": 0},
        "timings": {},
        "results": {},
    }


def check_existing_runs(config: SweepConfig, runs: list[RunSpec]) -> None:
    """Refuse up front if any existing run folder records other settings."""
    train_fp = fingerprint(config.train_identity())
    eval_fp = fingerprint(config.eval_identity())
    for spec in runs:
        run_file = Path(config.output) / "runs" / spec.run_id / RUN_FILE
        info = read_state(run_file)
        if info is not None:
            check_same_config(info, config, train_fp, eval_fp, run_file)


def check_same_config(
    info: dict[str, Any], config: SweepConfig, train_fp: str, eval_fp: str, run_file: Path
) -> None:
    """Refuse a ``run.json`` whose settings differ from the sweep's (by their fingerprints)."""
    problems = []
    if info.get("kind") == "base" and info.get("base_model") != config.base_model:
        problems.append("base_model")
    if info.get("kind") == "train" and info.get("train_fingerprint") != train_fp:
        old = {
            "base_model": info.get("base_model"),
            "train_data": info.get("train_data"),
            **(info.get("train_options") or {}),
        }
        new = {
            "base_model": config.base_model,
            "train_data": config.train_data,
            **config.train_options,
        }
        problems += [k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
    recorded = info.get("train_data_digest")  # absent in runs made before it was recorded
    if info.get("kind") == "train" and recorded and recorded != config.train_data_digest():
        problems.append("train_data content (a file changed at the same path)")
    if info.get("eval_fingerprint") != eval_fp:
        old, new = info.get("task_options") or {}, config.task_options
        problems += [k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
    if problems:
        raise SweepError(
            f"{run_file} was produced with other settings ({', '.join(problems)} differ); "
            "rerun with the same settings, or use another --output for the new ones"
        )


def mark_failed(run_dir: Path, error: BaseException) -> None:
    """Record the error and the step it stopped in (the run is retried on the next invocation)."""
    run_file = run_dir / RUN_FILE
    info = read_state(run_file)
    if info is None:
        return
    info["error"] = f"{type(error).__name__}: {error}"
    info["failed_in"] = info.get("status")
    write_json_atomic(run_file, info)


def sweep_status(output: Path) -> list[dict[str, Any]]:
    """``run.json`` of every run folder under ``OUT/runs`` (sorted by run id)."""
    return run_states(output, error=SweepError)


def update_sweep_file(
    config: SweepConfig,
    command: str | None,
    versions: dict[str, Any],
    *,
    started: float,
    finished: bool = False,
) -> None:
    """Rewrite ``sweep.json``: config, this invocation's time, every run's status, wall time."""
    output = Path(config.output)
    path = output / SWEEP_FILE
    data = read_state(path) or {"created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "invocations": []}
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started))
    invocations = data.setdefault("invocations", [])
    if not invocations or invocations[-1].get("started") != stamp:
        invocations.append({"command": command, "started": stamp, "versions": versions})
    invocations[-1]["elapsed_s"] = round(time.time() - started, 1)
    invocations[-1]["finished"] = finished
    runs = sweep_status(output)
    planned = {spec.run_id for spec in config.runs()}
    data.update(
        {
            "command": command or data.get("command"),
            "config": config.to_dict(),
            "device": device_description(),
            "runs": {r["run_id"]: r.get("status") for r in runs},
            "runs_planned": len(planned),
            "runs_done": sum(1 for r in runs if r.get("status") == "done"),
            "wall_time_s": round(sum(sum((r.get("timings") or {}).values()) for r in runs), 1),
        }
    )
    write_json_atomic(path, data)
