"""``mteb-hybrid encode`` / ``mteb-hybrid evaluate``: a task's corpus encoded into on-disk shards
by one process or many (``torchrun``, one node or several), then scored from the shards.

Click glue over :func:`mteb_hybrid.tasks.sharded_encoding.encode_task_documents` and mteb's own
``mteb.evaluate``. The options become the ``MTEB_HYBRID_SHARD_*`` values, so the store these
commands fill is the one ``mteb run`` reads with the same values::

    torchrun --nproc-per-node 8 -m mteb_hybrid.cli encode -m MODEL -t MIRACLMultilingualRetrieval \\
        --shards /data/shards
    torchrun --nnodes 4 --nproc-per-node 8 --rdzv-backend c10d --rdzv-endpoint HOST:29500 \\
        -m mteb_hybrid.cli evaluate -m MODEL -t MIRACLMultilingualRetrieval --shards /shared/shards

``evaluate`` encodes the missing shards first (every rank), then every rank scores its share of
the query chunks (:mod:`mteb_hybrid.evaluation.spread`) and rank 0 writes mteb's result JSON (with
the per-query sidecars) under ``--output-folder``; it always scores afresh (the shards are reused).
"""

from __future__ import annotations

import os
from typing import Any

import click

from mteb_hybrid.env import OneLineError
from mteb_hybrid.evaluation.shards import DTYPES

_OPTIONS = [
    click.option("--model", "-m", required=True, help="Model folder or mteb model name."),
    click.option("--task", "-t", required=True, help="One of our tasks, e.g. XM3600Retrieval."),
    click.option(
        "--shards",
        type=click.Path(file_okay=False),
        default=None,
        help="Root folder of the shard stores, seen by every node "
        "(default $MTEB_HYBRID_SHARD_DIR, else ~/.cache/mteb_hybrid/shards).",
    ),
    click.option(
        "--languages", "-l", default=None, help="Comma-separated language codes (default: all)."
    ),
    click.option("--data-dir", default=None, help="Folder holding the task's dataset files."),
    click.option(
        "--option",
        "task_options",
        multiple=True,
        metavar="KEY=VALUE",
        help="A task option, e.g. corpus=full (MIRACL), full_cross_matrix=true (XM3600).",
    ),
    click.option(
        "--batch-size",
        type=int,
        default=32,
        show_default=True,
        help="Texts per encoding batch, per process.",
    ),
    click.option(
        "--dtype",
        type=click.Choice(DTYPES),
        default=None,
        help="Shard dtype (default $MTEB_HYBRID_SHARD_DTYPE, else float16).",
    ),
    click.option(
        "--shard-size",
        type=click.IntRange(min=1),
        default=None,
        help="Rows per shard (default $MTEB_HYBRID_SHARD_SIZE, else 100000).",
    ),
]


EPILOG = """\b
One process (GPU or CPU):   mteb-hybrid encode -m MODEL -t TASK --shards DIR
Several GPUs:   torchrun --nproc-per-node 8 -m mteb_hybrid.cli encode ...
Several nodes:  torchrun --nnodes 4 --nproc-per-node 8 --rdzv-backend c10d
                --rdzv-endpoint HOST:29500 --rdzv-id JOB -m mteb_hybrid.cli encode ...
                (DIR on a file system every node sees)
A killed run resumes: the same command encodes the missing shards only.
"""


def _with_options(command: Any) -> Any:
    for option in reversed(_OPTIONS):
        command = option(command)
    return command


def _task_options(pairs: tuple[str, ...]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r}: expected KEY=VALUE", param_hint="--option")
        lowered = value.lower()
        options[key] = {"true": True, "false": False}.get(lowered, value)
    return options


def _prepare(options: dict[str, Any]) -> tuple[Any, Any, Any]:
    """Set the shard values, join the process group, load the model and build the task."""
    from mteb_hybrid.registration import register
    from mteb_hybrid.tasks.sharded_encoding import (
        SHARD_DIR_ENV,
        SHARD_DTYPE_ENV,
        SHARD_SIZE_ENV,
        join_process_group,
        shard_root,
    )

    for env, value in (
        (SHARD_DIR_ENV, options["shards"]),
        (SHARD_DTYPE_ENV, options["dtype"]),
        (SHARD_SIZE_ENV, options["shard_size"]),
    ):
        if value is not None:
            os.environ[env] = str(value)
    # `evaluate` scores through mteb: a set root sends the task to the store whatever its size
    os.environ[SHARD_DIR_ENV] = str(shard_root())
    from mteb_hybrid.tasks import TASKS, task_class

    cls = task_class(options["task"])
    if cls is None:
        names = ", ".join(known.metadata.name for known in TASKS)
        raise click.BadParameter(f"{options['task']!r}: use one of {names}", param_hint="--task")
    task_options = _task_options(options["task_options"])
    if options["languages"]:
        task_options["languages"] = [c.strip() for c in options["languages"].split(",")]
    if options["data_dir"]:
        task_options["data_dir"] = options["data_dir"]
    register()
    try:
        task = cls(**task_options)
    except ValueError as error:  # a language or option the task refuses
        raise click.BadParameter(str(error), param_hint="--languages / --option") from None
    workers = join_process_group()
    model = _load_model(options["model"])
    return workers, model, task


def _load_model(name: str) -> Any:
    """The mteb model of a folder or a name, on this rank's GPU under torchrun."""
    import mteb
    import torch

    from mteb_hybrid.local_models import is_local_model_dir, local_model_meta

    meta = local_model_meta(name) if is_local_model_dir(name) else mteb.get_model_meta(name)
    device = None
    if torch.cuda.is_available() and os.environ.get("LOCAL_RANK") is not None:
        device = f"cuda:{int(os.environ['LOCAL_RANK'])}"
    return meta.load_model(device=device)


def _encode(options: dict[str, Any]) -> tuple[Any, Any, Any]:
    from mteb_hybrid.tasks.sharded_encoding import encode_task_documents

    workers, model, task = _prepare(options)
    outcome = encode_task_documents(
        model, task, encode_kwargs={"batch_size": options["batch_size"]}, workers=workers
    )
    click.echo(outcome.summary, err=True)
    return outcome, model, task


@click.command("encode", epilog=EPILOG)
@_with_options
def encode(**options: Any) -> None:
    """Encode a task's documents into its shard store (resumable; torchrun shares the work)."""
    from mteb_hybrid.tasks.sharded_encoding import leave_process_group

    try:
        outcome, _, _ = _encode(options)
    except OneLineError as error:
        raise click.ClickException(str(error)) from None
    finally:
        leave_process_group()
    if outcome.rank == 0:
        click.echo(str(outcome.store.folder))


@click.command("evaluate", epilog=EPILOG)
@_with_options
@click.option(
    "--output-folder",
    type=click.Path(file_okay=False),
    default="results",
    show_default=True,
    help="mteb result cache the scores are written to.",
)
def evaluate(output_folder: str, **options: Any) -> None:
    """Encode the missing shards (every rank), then score the task from them: every rank scores
    its share of the query chunks, rank 0 writes the results."""
    import mteb

    from mteb_hybrid.tasks.sharded_encoding import leave_process_group

    try:
        outcome, model, task = _encode(options)
        # every rank takes part in the scoring (the scorer shares the query chunks out and gathers
        # them back), so every rank runs the evaluation; only rank 0 keeps a result cache, and it
        # always scores afresh, so that no rank waits in a collective another skipped on a hit
        mteb.evaluate(
            model,
            [task],
            cache=mteb.ResultCache(output_folder) if outcome.rank == 0 else None,
            overwrite_strategy="always",
            encode_kwargs={"batch_size": options["batch_size"]},
            show_progress_bar=outcome.rank == 0,
        )
    except OneLineError as error:
        raise click.ClickException(str(error)) from None
    finally:
        leave_process_group()
    if outcome.rank != 0:
        return
    meta = model.mteb_model_meta
    cache = mteb.ResultCache(output_folder)
    click.echo(
        cache.get_task_result_path(
            task_name=task.metadata.name, model_name=meta.name, model_revision=meta.revision
        )
    )
