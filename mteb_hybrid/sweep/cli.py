"""``mteb-hybrid sweep``: train and evaluate every (ratio, seed); rerun to resume."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import click

from mteb_hybrid.sweep.plan import DEFAULT_RATIOS, PlanError
from mteb_hybrid.trainers.options import given_train_options, with_train_options

EPILOG = """\b
Examples:
  mteb-hybrid sweep --base-model ./minilm --train-data mlqa-r \\
      --ratios 1:0:0,0:1:0,0:0:1,0.5:0.5:0,0.34:0.33:0.33 --seeds 0,1 \\
      --tasks XQuADRRetrieval --max-steps 200 --batch-size 32 --max-seq-length 64 \\
      --queries-per-language 200 --output sweeps/mlqa-to-xquad
  mteb-hybrid sweep ... --grid-step 0.25          (15 ratios over the simplex)
  mteb-hybrid sweep ... --torchrun 4              (each training run on 4 GPUs)
  mteb-hybrid leaderboard sweeps/mlqa-to-xquad -o board.md --plot board.png
\b
Rerun the same command to resume: finished runs are skipped, an interrupted run continues
from its latest checkpoint (--save-steps), the results go to OUTPUT/results.
"""


@click.command("sweep", epilog=EPILOG)
@click.option(
    "--ratios",
    default=None,
    metavar="M:C:X,...",
    help="Batch-type weights mono:cross:multi, normalised to sum to 1, comma-separated "
    f"[{DEFAULT_RATIOS}].",
)
@click.option(
    "--grid-step",
    type=float,
    default=None,
    help="Instead of --ratios: every ratio on the simplex in steps of this (1/n).",
)
@click.option("--seeds", default="0", show_default=True, help="Seeds, e.g. 0,1,2 or 0-2.")
@click.option(
    "--tasks",
    "tasks",
    multiple=True,
    help="mteb task names, comma-separated or repeated (ours and built-in).  [required]",
)
@click.option("--task", "task_alias", multiple=True, hidden=True, help="Same as --tasks.")
@click.option(
    "--output",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Sweep folder (runs, models, mteb results).",
)
@with_train_options(sweep=True)
@click.option(
    "--train-option",
    "train_option",
    multiple=True,
    metavar="KEY=VALUE",
    help="A TrainConfig field without an option, e.g. dataloader_num_workers=2 (repeatable).",
)
@click.option(
    "--queries-per-language",
    type=int,
    default=None,
    help="Evaluate a seeded subsample of N queries per language (our tasks).",
)
@click.option(
    "--languages",
    default=None,
    help="Restrict our tasks' collections to these languages: ISO 639-3 or 2-letter codes, "
    "e.g. eng,deu,spa or en,de,es.",
)
@click.option(
    "--eval-batch-size",
    type=int,
    default=32,
    show_default=True,
    help="Texts per encoding batch in the evaluation.",
)
@click.option(
    "--base/--no-base",
    "include_base",
    default=True,
    show_default=True,
    help="Also evaluate the untrained base model (the leaderboard's reference row).",
)
@click.option(
    "--torchrun",
    type=int,
    default=0,
    show_default=True,
    help="Train each run through torchrun with N processes (GPUs); 0 = in process.",
)
@click.option(
    "--keep-checkpoints",
    is_flag=True,
    help="Keep each run's checkpoints after its model is saved (default: delete).",
)
@click.option("--keep-going", is_flag=True, help="Record a failed run and go on to the next.")
@click.option("--dry-run", is_flag=True, help="Print the planned runs and their state; no work.")
def sweep(
    ratios: str | None,
    grid_step: float | None,
    seeds: str,
    tasks: tuple[str, ...],
    task_alias: tuple[str, ...],
    output: Path,
    train_option: tuple[str, ...],
    queries_per_language: int | None,
    languages: str | None,
    eval_batch_size: int,
    include_base: bool,
    torchrun: int,
    keep_checkpoints: bool,
    keep_going: bool,
    dry_run: bool,
    **trainer: Any,
) -> None:
    """Train and evaluate a model for every (ratio, seed); resumable by rerunning.

    Every run trains BASE_MODEL on TRAIN_DATA with one mono:cross:multi batch ratio and one seed,
    then evaluates it on TASKS through the mteb loop into OUTPUT/results. Read the results with
    `mteb-hybrid leaderboard OUTPUT`.
    """
    from mteb_hybrid.provenance import command_line
    from mteb_hybrid.sweep.config import make_config
    from mteb_hybrid.sweep.runner import run_sweep
    from mteb_hybrid.sweep.state import SweepError, sweep_status
    from mteb_hybrid.sweep.training import check_options
    from mteb_hybrid.trainers.normalised import normalised_notes

    tasks = (*tasks, *task_alias)
    if not tasks:
        raise click.UsageError("Missing option '--tasks': name the mteb tasks to evaluate on")
    train_options = given_train_options(trainer)
    try:
        config = make_config(
            base_model=train_options.pop("base_model"),
            train_data=train_options.pop("train_data"),
            tasks=list(tasks),
            output=output,
            ratios=ratios,
            grid_step=grid_step,
            seeds=seeds,
            train_options=train_options,
            train_option_pairs=train_option,
            queries_per_language=queries_per_language,
            languages=languages,
            eval_batch_size=eval_batch_size,
            include_base=include_base,
            torchrun=torchrun,
            keep_checkpoints=keep_checkpoints,
        )
    except PlanError as error:
        raise click.BadParameter(str(error)) from None
    for note in normalised_notes(ratios):
        click.echo(note, err=True)
    if dry_run:
        states = {r["run_id"]: r.get("status") for r in sweep_status(config.output)}
        for spec in config.runs():
            click.echo(
                f"{spec.run_id:24s} {spec.ratio_text or 'base model':18s} "
                f"{states.get(spec.run_id, 'pending')}"
            )
        return
    if "save_steps" not in config.train_options:
        click.echo(
            "note: no --save-steps: an interrupted run restarts its training from step 0", err=True
        )
    try:
        check_options(config)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="trainer options") from None
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.setLevel(logging.WARNING)
    command = command_line(click.get_current_context())
    try:
        outcomes = run_sweep(config, command=command, keep_going=keep_going, echo=click.echo)
    except SweepError as error:
        raise click.ClickException(str(error)) from None
    done = sum(o.action == "done" for o in outcomes)
    skipped = sum(o.action == "skipped" for o in outcomes)
    failed = [o.run_id for o in outcomes if o.action == "failed"]
    click.echo(
        f"sweep {config.output}: {done} run(s) done now, {skipped} already done"
        + (f", failed: {', '.join(failed)}" if failed else "")
    )
    if failed:
        sys.exit(1)
