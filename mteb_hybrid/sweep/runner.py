"""Run a sweep: for every (ratio, seed) train, then evaluate through mteb; resumable.

Layout of the output folder::

    OUT/sweep.json                 config, commands run, runs done, summed wall time
    OUT/.sweep.lock                held while a sweep runs (a second one on OUT is refused)
    OUT/runs/<run id>/run.json     ratio, seed, config, package versions, status, timings
    OUT/runs/<run id>/run.log      the run's log
    OUT/runs/<run id>/model/       the trained model (checkpoints in model/checkpoints/)
    OUT/results/<model>/<rev>/     mteb's results (+ per-query sidecars), for the leaderboard

A run goes ``pending -> training -> trained -> evaluating -> done`` (:mod:`.state` keeps
``run.json``). On a rerun, ``done`` runs are skipped (their files are not touched), a run
interrupted in training resumes from its latest checkpoint, one interrupted in evaluation is
evaluated again (mteb skips the tasks already written). So a crash loses at most the part of the
run in progress since its last checkpoint. A run whose ``run.json`` records another configuration
is refused rather than mixed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mteb_hybrid.files import write_json_atomic
from mteb_hybrid.provenance import software_record
from mteb_hybrid.runs import RUN_FILE
from mteb_hybrid.sweep.config import SweepConfig, check_no_training_split_evaluated
from mteb_hybrid.sweep.logs import run_log
from mteb_hybrid.sweep.plan import RunSpec
from mteb_hybrid.sweep.state import (
    SweepError,
    check_existing_runs,
    check_same_config,
    fingerprint,
    mark_failed,
    new_run_info,
    read_state,
    sweep_lock,
    update_sweep_file,
)

# installed versions recorded in run.json and sweep.json
VERSION_PACKAGES = (
    "mteb-hybrid",
    "mteb",
    "sentence-transformers",
    "transformers",
    "torch",
    "numpy",
    "datasets",
)


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


def write_coverage_reports(config: SweepConfig, echo: Callable[[str], None] = print) -> None:
    """The base model's tokenizer coverage of each of our tasks, once, for the leaderboard
    (``<output>/coverage/<Task>.json``); a failure is reported and the sweep goes on."""
    from mteb_hybrid.coverage import coverage_report
    from mteb_hybrid.coverage_report import COVERAGE_DIR, write_coverage_report
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
        versions = software_record(VERSION_PACKAGES)
        started = time.time()
        update_sweep_file(config, command, versions, started=started)
        if measure_coverage:
            write_coverage_reports(config, echo)
        for index, spec in enumerate(runs, start=1):
            echo(f"[{index}/{len(runs)}] {spec.run_id}")
            try:
                outcome = run_one(spec, config, versions, train_fn, evaluate_fn, echo)
            except SweepError:
                raise
            except Exception as error:  # noqa: BLE001 - recorded, then re-raised unless keep_going
                mark_failed(output / "runs" / spec.run_id, error)
                outcomes.append(RunOutcome(spec.run_id, "failed", error=str(error)))
                update_sweep_file(config, command, versions, started=started)
                if not keep_going:
                    raise
                echo(f"  failed: {error}")
                continue
            outcomes.append(outcome)
            update_sweep_file(config, command, versions, started=started)
        update_sweep_file(config, command, versions, started=started, finished=True)
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
        check_same_config(info, config, train_fp, eval_fp, run_file)
    else:
        info = new_run_info(spec, config, versions, train_fp, eval_fp)
    evaluated: dict[str, Any] = info.setdefault("results", {})
    missing_tasks = [
        t for t in config.tasks if t not in evaluated or not Path(evaluated[t]).is_file()
    ]
    if info["status"] == "done" and not missing_tasks:
        echo(f"  done already ({info.get('finished')}), skipped")
        return RunOutcome(spec.run_id, "skipped")

    started = time.time()
    with run_log(run_dir):
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

    A local base model gets a mirror folder (``runs/base/<name>-len<N>``, see
    :func:`mteb_hybrid.local_models.mirror_with_max_length`); a Hub name is evaluated as it is.
    """
    from mteb_hybrid.local_models import is_local_model_dir, mirror_with_max_length

    length = config.train_options.get("max_seq_length")
    if not length or not is_local_model_dir(config.base_model):
        return config.base_model
    return str(mirror_with_max_length(config.base_model, folder.parent, int(length)))


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
