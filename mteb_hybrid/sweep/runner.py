"""Run a sweep: for every (ratio, seed) train, then evaluate through mteb; resumable.

Layout of the output folder::

    OUT/sweep.json                 config, commands run, runs done, summed wall time
    OUT/.sweep.lock                held while a sweep runs (a second one on OUT is refused)
    OUT/runs/<run id>/run.json     ratio, seed, config, package versions, status, timings
    OUT/runs/<run id>/run.log      the run's log
    OUT/runs/<run id>/model/       the trained model (checkpoints in model/checkpoints/)
    OUT/results/<model>/<rev>/     mteb's results (+ per-query sidecars), for the leaderboard

A run goes ``pending -> training -> trained -> evaluating -> done``; ``run.json`` is rewritten
atomically at each step. On a rerun, ``done`` runs are skipped (their files are not touched), a
run interrupted in training resumes from its latest checkpoint, one interrupted in evaluation is
evaluated again (mteb skips the tasks already written). So a crash loses at most the part of the
run in progress since its last checkpoint. A run whose ``run.json`` records another configuration
is refused rather than mixed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import platform
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mteb_hybrid.files import read_json, write_json_atomic
from mteb_hybrid.runs import CHECKPOINTS, RUN_FILE, SWEEP_FILE, Ratio
from mteb_hybrid.sweep.plan import RunSpec, plan_runs

logger = logging.getLogger(__name__)

LOCK_FILE = ".sweep.lock"
STATUSES = ("pending", "training", "trained", "evaluating", "done")
VERSION_PACKAGES = (
    "mteb-hybrid",
    "mteb",
    "sentence-transformers",
    "transformers",
    "torch",
    "numpy",
    "datasets",
)


class SweepError(RuntimeError):
    """A sweep that cannot go on as asked; the message says why and what to do."""


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

    def eval_identity(self) -> dict[str, Any]:
        """What decides the evaluation scores besides the model (must match on a rerun)."""
        return {"task_options": dict(sorted(self.task_options.items()))}

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON configuration."""
        data = asdict(self)
        data["output"] = str(self.output)
        data["ratios"] = [Ratio.parse(r).text() for r in self.ratios]
        return data


def fingerprint(data: dict[str, Any]) -> str:
    """Short stable hash of a JSON-able dict."""
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# -- files ------------------------------------------------------------------------------------
def read_state(path: Path) -> dict[str, Any] | None:
    """A ``run.json`` / ``sweep.json`` object, or ``None`` if the file is missing."""
    if not path.is_file():
        return None
    data = read_json(path, error=SweepError, fix="delete it to redo that run")
    return data if isinstance(data, dict) else None


@contextlib.contextmanager
def sweep_lock(output: Path) -> Iterator[None]:
    """Hold ``OUT/.sweep.lock`` (released by the OS if the process dies)."""
    import fcntl

    output.mkdir(parents=True, exist_ok=True)
    path = output / LOCK_FILE
    with open(path, "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise SweepError(
                f"{output} is in use by a running sweep ({holder}); wait for it or use another "
                "--output"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {platform.node()}")
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)


def package_versions() -> dict[str, Any]:
    """Python, platform, package versions and the git commit of the source tree."""
    from mteb_hybrid.provenance import package_versions as installed

    versions = installed(VERSION_PACKAGES, keep_missing=True)
    python = versions.pop("python")
    return {"python": python, "platform": platform.platform(), **versions, "git": _git_state()}


def _git_state() -> str | None:
    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{commit}{'+dirty' if dirty else ''}" if commit else None


def device_description() -> str:
    """``"cpu (2 cores)"`` or the CUDA devices' names."""
    cores = os.cpu_count()
    try:
        import torch
    except ImportError:
        return f"cpu ({cores} cores)"
    if torch.cuda.is_available():
        names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        return f"cuda: {', '.join(names)}"
    return f"cpu ({cores} cores)"


# -- the sweep --------------------------------------------------------------------------------
TrainFn = Callable[..., dict[str, Any]]
EvaluateFn = Callable[..., dict[str, Any]]


@dataclass
class RunOutcome:
    """What happened to one run in this invocation."""

    run_id: str
    action: str  # "skipped", "done", "failed"
    wall_time_s: float = 0.0
    error: str | None = None


def check_no_training_split_evaluated(config: SweepConfig) -> None:
    """Refuse, in one line, a sweep that trains on a SIB-200 split and evaluates on that split."""
    if "FloresRetrieval" in config.tasks:
        from mteb_hybrid.data.flores import SPLIT_ENV, refuse_evaluating_training_split

        split = config.task_options.get("split") or os.environ.get(SPLIT_ENV) or "test"
        refuse_evaluating_training_split(config.train_data, split, "sweep")


def write_coverage_reports(config: SweepConfig, echo: Callable[[str], None] = print) -> None:
    """The base model's tokenizer coverage of each of our tasks, once, for the leaderboard
    (``<output>/coverage/<Task>.json``); a failure is reported and the sweep goes on."""
    from mteb_hybrid.coverage import COVERAGE_DIR, coverage_report, write_coverage_report
    from mteb_hybrid.groups import TASK_LANGUAGES

    for task in config.tasks:
        if task not in TASK_LANGUAGES or (config.output / COVERAGE_DIR / f"{task}.json").is_file():
            continue
        options = dict(config.task_options)
        options.pop("queries_per_language", None)
        languages = [c for c in options.pop("languages", None) or () if c in TASK_LANGUAGES[task]]
        try:
            report = coverage_report(
                config.base_model,
                task,
                languages=languages or None,
                max_length=config.train_options.get("max_seq_length"),
                **options,
            )
        except Exception as error:  # noqa: BLE001 - coverage is an extra, never a blocker
            echo(f"  tokenizer coverage of {task} not measured: {error}")
            continue
        echo(f"  tokenizer coverage of {task}: {write_coverage_report(config.output, report)}")


def run_sweep(
    config: SweepConfig,
    *,
    command: str | None = None,
    train_fn: TrainFn | None = None,
    evaluate_fn: EvaluateFn | None = None,
    keep_going: bool = False,
    echo: Callable[[str], None] = print,
) -> list[RunOutcome]:
    """Run (or finish) every run of the sweep; returns one outcome per planned run.

    ``train_fn`` / ``evaluate_fn`` replace :func:`mteb_hybrid.sweep.training.train_run` and
    :func:`mteb_hybrid.sweep.evaluation.evaluate_model` (tests). ``keep_going``: a failed run is
    recorded and the next one starts (default: stop at the first failure).
    """
    measure_coverage = evaluate_fn is None
    if train_fn is None:
        from mteb_hybrid.sweep.training import train_run as train_fn
    if evaluate_fn is None:
        from mteb_hybrid.sweep.evaluation import evaluate_model as evaluate_fn
    check_no_training_split_evaluated(config)
    output = Path(config.output)
    outcomes: list[RunOutcome] = []
    with sweep_lock(output):
        runs = config.runs()
        check_existing_runs(config, runs)
        versions = package_versions()
        started = time.time()
        _update_sweep_file(config, command, versions, started=started)
        if measure_coverage:
            write_coverage_reports(config, echo)
        for index, spec in enumerate(runs, start=1):
            echo(f"[{index}/{len(runs)}] {spec.run_id}")
            try:
                outcome = run_one(spec, config, versions, train_fn, evaluate_fn, echo)
            except SweepError:
                raise
            except Exception as error:  # noqa: BLE001 - recorded, then re-raised unless keep_going
                _mark_failed(output / "runs" / spec.run_id, error)
                outcomes.append(RunOutcome(spec.run_id, "failed", error=str(error)))
                _update_sweep_file(config, command, versions, started=started)
                if not keep_going:
                    raise
                echo(f"  failed: {error}")
                continue
            outcomes.append(outcome)
            _update_sweep_file(config, command, versions, started=started)
        _update_sweep_file(config, command, versions, started=started, finished=True)
    return outcomes


def run_one(
    spec: RunSpec,
    config: SweepConfig,
    versions: dict[str, Any],
    train_fn: TrainFn,
    evaluate_fn: EvaluateFn,
    echo: Callable[[str], None] = print,
) -> RunOutcome:
    """Bring one run to ``done``: skip, train (or resume), evaluate, mark done atomically."""
    output = Path(config.output)
    run_dir = output / "runs" / spec.run_id
    run_file = run_dir / RUN_FILE
    info = read_state(run_file)
    train_fp = fingerprint(config.train_identity())
    eval_fp = fingerprint(config.eval_identity())
    if info is not None:
        _check_same_config(info, config, train_fp, eval_fp, run_file)
    else:
        info = _new_run_info(spec, config, versions, train_fp, eval_fp)
    evaluated: dict[str, Any] = info.setdefault("results", {})
    missing_tasks = [
        t for t in config.tasks if t not in evaluated or not Path(evaluated[t]).is_file()
    ]
    if info["status"] == "done" and not missing_tasks:
        echo(f"  done already ({info.get('finished')}), skipped")
        return RunOutcome(spec.run_id, "skipped")

    started = time.time()
    with _run_log(run_dir):
        model_dir = run_dir / "model"
        if spec.is_base:
            model_path = _base_model_for_evaluation(config, model_dir)
            info["eval_max_seq_length"] = config.train_options.get("max_seq_length")
        else:
            model_path = str(model_dir)
        if not spec.is_base and info["status"] not in {"trained", "evaluating", "done"}:
            _train(spec, config, info, run_file, model_dir, train_fn, echo)
        if missing_tasks:
            info["status"] = "evaluating"
            info["attempts"]["evaluate"] += 1
            write_json_atomic(run_file, info)
            echo(f"  evaluating {', '.join(missing_tasks)}")
            t0 = time.time()
            evaluation = evaluate_fn(
                model_path,
                missing_tasks,
                cache_dir=output,
                task_options=config.task_options,
                batch_size=config.eval_batch_size,
            )
            info["timings"]["evaluate_s"] = round(
                info["timings"].get("evaluate_s", 0.0) + time.time() - t0, 1
            )
            info["model"] = {
                "name": evaluation["model"],
                "revision": evaluation["revision"],
                "path": model_path,
            }
            evaluated.update(evaluation["results"])
        info["status"] = "done"
        info["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        info["error"] = None
        write_json_atomic(run_file, info)
    wall = time.time() - started
    echo(f"  done in {wall:.0f} s")
    return RunOutcome(spec.run_id, "done", wall_time_s=wall)


def _base_model_for_evaluation(config: SweepConfig, folder: Path) -> str:
    """The base model as the trained ones are evaluated: at the sweep's ``max_seq_length``.

    A local base model gets a mirror folder (``runs/base/<name>-len<N>``: links to its files, its
    ``sentence_bert_config.json`` rewritten), so its results carry their own name and revision and
    never pass for the base model at its native length. A Hub name is evaluated as it is.
    """
    from mteb_hybrid.local_models import is_local_model_dir, local_model_name

    length = config.train_options.get("max_seq_length")
    if not length or not is_local_model_dir(config.base_model):
        return config.base_model
    source = Path(config.base_model).resolve()
    name = local_model_name(source).split("/", 1)[1]
    folder = folder.parent / f"{name}-len{int(length)}"
    if folder.exists():
        shutil.rmtree(folder)
    for file in sorted(source.rglob("*")):
        relative = file.relative_to(source)
        if not file.is_file() or {CHECKPOINTS, ".git"}.intersection(relative.parts):
            continue
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if relative.as_posix() != "sentence_bert_config.json":
            target.symlink_to(file)
    settings_file = source / "sentence_bert_config.json"
    settings = json.loads(settings_file.read_text()) if settings_file.is_file() else {}
    settings["max_seq_length"] = int(length)
    (folder / "sentence_bert_config.json").write_text(json.dumps(settings, indent=2) + "\n")
    return str(folder)


def _train(
    spec: RunSpec,
    config: SweepConfig,
    info: dict[str, Any],
    run_file: Path,
    model_dir: Path,
    train_fn: TrainFn,
    echo: Callable[[str], None],
) -> None:
    from mteb_hybrid.sweep.training import latest_checkpoint, model_is_saved

    if info["status"] == "training" and model_is_saved(model_dir):
        echo("  model was saved before the interruption; training not repeated")
    else:
        checkpoint = latest_checkpoint(model_dir)
        resume = checkpoint is not None
        echo(
            f"  training ratio {spec.ratio_text} seed {spec.seed}"
            + (f", resuming from {checkpoint.name}" if checkpoint else "")
        )
        info["status"] = "training"
        info["attempts"]["train"] += 1
        write_json_atomic(run_file, info)
        t0 = time.time()
        summary = train_fn(
            spec,
            base_model=config.base_model,
            train_data=config.train_data,
            options=config.train_options,
            model_dir=model_dir,
            resume=resume,
            torchrun=config.torchrun,
            log_file=run_file.parent / "run.log",
        )
        info["timings"]["train_s"] = round(
            info["timings"].get("train_s", 0.0) + time.time() - t0, 1
        )
        info.setdefault("training", {}).update(summary)
        if resume:
            info["training"].setdefault("resumed", []).append(str(checkpoint))
    info["status"] = "trained"
    write_json_atomic(run_file, info)
    if not config.keep_checkpoints:
        from mteb_hybrid.sweep.training import remove_checkpoints

        remove_checkpoints(model_dir)


def _new_run_info(
    spec: RunSpec, config: SweepConfig, versions: dict[str, Any], train_fp: str, eval_fp: str
) -> dict[str, Any]:
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
            _check_same_config(info, config, train_fp, eval_fp, run_file)


def _check_same_config(
    info: dict[str, Any], config: SweepConfig, train_fp: str, eval_fp: str, run_file: Path
) -> None:
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
    if info.get("eval_fingerprint") != eval_fp:
        old, new = info.get("task_options") or {}, config.task_options
        problems += [k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
    if problems:
        raise SweepError(
            f"{run_file} was produced with other settings ({', '.join(problems)} differ); "
            "rerun with the same settings, or use another --output for the new ones"
        )


def _mark_failed(run_dir: Path, error: BaseException) -> None:
    run_file = run_dir / RUN_FILE
    info = read_state(run_file)
    if info is None:
        return
    info["error"] = f"{type(error).__name__}: {error}"
    info["failed_in"] = info.get("status")
    write_json_atomic(run_file, info)


@contextlib.contextmanager
def _run_log(run_dir: Path) -> Iterator[None]:
    run_dir.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(run_dir / "run.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.INFO)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        handler.close()


def sweep_status(output: Path) -> list[dict[str, Any]]:
    """``run.json`` of every run folder under ``OUT/runs`` (sorted by run id)."""
    runs = []
    for run_file in sorted((Path(output) / "runs").glob(f"*/{RUN_FILE}")):
        info = read_state(run_file)
        if info is not None:
            runs.append(info)
    return runs


def _update_sweep_file(
    config: SweepConfig,
    command: str | None,
    versions: dict[str, Any],
    *,
    started: float,
    finished: bool = False,
) -> None:
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
