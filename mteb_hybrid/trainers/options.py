"""The :class:`TrainConfig` fields as command-line options, declared once.

``mteb-hybrid train`` takes all of them with ``TrainConfig``'s defaults; ``mteb-hybrid sweep``
takes those a sweep shares between its runs (not ratio, seed, output or resume, which it sets per
run) with no defaults, so that only the options given reach its ``train_options``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

import click

from mteb_hybrid.trainers.config import LOSSES, PRECISIONS, TrainConfig
from mteb_hybrid.trainers.schedule import RATIO_SCHEDULES
from mteb_hybrid.trainers.weights import LANGUAGE_SAMPLING

F = TypeVar("F", bound=Callable[..., Any])

# set by the sweep for each run (from --ratios, --seeds and its run folders)
PER_RUN = frozenset({"ratio", "output_dir", "seed", "resume", "overwrite"})
# recorded in a sweep's train options even when not given (a sweep never mixes schedules)
SWEEP_RECORDS_DEFAULT = frozenset({"ratio_schedule"})


def _options(*entries: tuple[str, tuple[str, ...], dict[str, Any]]) -> dict[str, Any]:
    return {field: (names, settings) for field, names, settings in entries}


def _option(field: str, *names: str, **settings: Any) -> tuple[str, tuple[str, ...], dict]:
    return field, names, settings


# TrainConfig field -> (option names, click settings), in --help order
TRAIN_OPTIONS: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = _options(
    _option("base_model", "--base-model", required=True, help="Model id or folder to start from."),
    _option(
        "train_data", "--train-data", multiple=True, required=True, metavar="SPEC",
        help="Training data spec (see `mteb-hybrid train --help`); repeat to combine.",
    ),
    _option(
        "ratio", "--ratio", metavar="MONO:CROSS:MULTI",
        help="Batch-type weights, normalised to sum to 1 (0.5:0.6:0 trains 0.4545:0.5455:0; "
        "the hybrid-batch paper: 0.5:0.5:0).",
    ),
    _option(
        "ratio_schedule", "--ratio-schedule", type=click.Choice(RATIO_SCHEDULES),
        help="exact: the run's batch-type counts equal the ratio (largest remainder over its "
        "steps, shuffled per epoch); independent: each step's type drawn on its own (binomial "
        "counts). A sweep always records it in run.json, so it never mixes the two.",
    ),
    _option(
        "output_dir", "--output", required=True, type=click.Path(file_okay=False),
        help="Folder for the trained model (checkpoints go to OUTPUT/checkpoints).",
    ),
    _option(
        "language_sampling", "--language-sampling", type=click.Choice(LANGUAGE_SAMPLING),
        help="Language choice for mono batches (and per pair).",
    ),
    _option(
        "temperature", "--temperature", type=float,
        help="For --language-sampling temperature: weight = count ** (1/T).",
    ),
    _option("learning_rate", "--lr", type=float, help="Peak learning rate of AdamW."),
    _option("weight_decay", "--weight-decay", type=float, help="AdamW weight decay."),
    _option("batch_size", "--batch-size", type=int, help="Pairs per batch per process."),
    _option("epochs", "--epochs", type=float, help="Passes over the training pairs."),
    _option("max_steps", "--max-steps", type=int, help="Overrides --epochs."),
    _option(
        "warmup", "--warmup", type=float,
        help="Warm-up: a fraction of the steps (<1) or a number of steps.",
    ),
    _option(
        "max_seq_length", "--max-seq-length", type=int, help="Truncate texts to this many tokens."
    ),
    _option(
        "prompts", "--prompts/--no-prompts",
        help='Prefix queries with "Query: " and passages with "Passage: " (also at inference).',
    ),
    _option("query_prompt", "--query-prompt", help="Prefix of queries (with --prompts)."),
    _option("passage_prompt", "--passage-prompt", help="Prefix of passages (with --prompts)."),
    _option(
        "loss", "--loss", type=click.Choice(LOSSES),
        help="cached-mnrl: GradCache variant for batches larger than memory allows.",
    ),
    _option("mini_batch_size", "--mini-batch-size", type=int, help="Mini-batch of cached-mnrl."),
    _option(
        "scale", "--scale", type=float,
        help="Similarity scale (1 / temperature) of the InfoNCE loss.",
    ),
    _option(
        "gather_across_devices", "--gather-across-devices", is_flag=True,
        help="Use every process's batch as negatives (multi-GPU).",
    ),
    _option(
        "precision", "--precision", type=click.Choice(PRECISIONS),
        help="bf16 / fp16 need a CUDA GPU.",
    ),
    _option(
        "gradient_checkpointing", "--gradient-checkpointing", is_flag=True,
        help="Recompute activations in the backward pass: less memory, slower steps.",
    ),
    _option("seed", "--seed", type=int, help="Seed of sampler and training."),
    _option("save_steps", "--save-steps", type=int, help="Checkpoint every N steps."),
    _option(
        "save_total_limit", "--save-total-limit", type=int, help="Checkpoints kept (oldest go)."
    ),
    _option(
        "resume", "--resume", is_flag=False, flag_value="latest", metavar="[CHECKPOINT]",
        help="Continue from the latest checkpoint in OUTPUT/checkpoints, or the one given.",
    ),
    _option(
        "overwrite", "--overwrite", is_flag=True,
        help="Allow --output to be the base model's folder or to hold a different finished "
        "model (it is replaced).",
    ),
    _option(
        "validation_data", "--validation-data", multiple=True, metavar="SPEC",
        help="Held-out data spec for the validation loss.",
    ),
    _option(
        "validation_fraction", "--validation-fraction", type=float,
        help="Hold out this fraction of the training ids (all their languages) instead.",
    ),
    _option("eval_steps", "--eval-steps", type=int, help="Validation loss every N steps."),
    _option(
        "early_stopping_patience", "--early-stopping-patience", type=int,
        help="Stop after N evaluations without a better validation loss; keep the best.",
    ),
    _option(
        "early_stopping_threshold", "--early-stopping-threshold", type=float,
        help="A validation loss must improve by more than this to count as better.",
    ),
    _option("logging_steps", "--logging-steps", type=int, help="Log the loss every N steps."),
    _option("model_name", "--model-name", help="Name for the model card."),
)  # fmt: skip


def _defaults() -> dict[str, Any]:
    out = {}
    for item in dataclasses.fields(TrainConfig):
        if item.default is not dataclasses.MISSING:
            out[item.name] = item.default
        elif item.default_factory is not dataclasses.MISSING:
            out[item.name] = item.default_factory()
    return out


def with_train_options(*, sweep: bool = False) -> Callable[[F], F]:
    """Decorator adding the :data:`TRAIN_OPTIONS` to a click command.

    Args:
        sweep: leave out the per-run options (:data:`PER_RUN`) and give every other option the
            default ``None`` (an option not given stays unset) but those in
            :data:`SWEEP_RECORDS_DEFAULT`; else ``TrainConfig``'s defaults.
    """
    defaults = _defaults()

    def decorate(command: F) -> F:
        for name, (names, settings) in reversed(TRAIN_OPTIONS.items()):
            if sweep and name in PER_RUN:
                continue
            settings = dict(settings)
            if not settings.get("required"):
                unset = sweep and name not in SWEEP_RECORDS_DEFAULT
                settings["default"] = None if unset else defaults[name]
                settings.setdefault("show_default", not unset and defaults[name] is not None)
            command = click.option(*names, name, **settings)(command)
        return command

    return decorate


def given_train_options(values: dict[str, Any]) -> dict[str, Any]:
    """The ``TrainConfig`` fields among a command's parameters that were given (not ``None``,
    not an empty repeatable option), repeatable ones as lists."""
    out = {}
    for name in TRAIN_OPTIONS:
        value = values.get(name)
        if value is None or value == ():
            continue
        out[name] = list(value) if isinstance(value, tuple) else value
    return out
