"""``mteb-hybrid train``: click glue over :func:`mteb_hybrid.trainers.trainer.train`.

Heavy imports (torch, sentence-transformers) happen only when the command runs.
"""

from __future__ import annotations

import logging

import click

from mteb_hybrid.trainers.config import LOSSES, PRECISIONS, TrainConfig, TrainConfigError
from mteb_hybrid.trainers.schedule import RATIO_SCHEDULES
from mteb_hybrid.trainers.weights import LANGUAGE_SAMPLING

EPILOG = """\b
Data specs (--train-data, repeatable):
  /path/to/xquad-r  or  lareqa:/path/to/xquad-r?target=paragraph&langs=en,de
  xquad-r / mlqa-r  (checksummed local copy, cache or download)
  data.jsonl | data.parquet | folder of them  (fields id, lang, query, positive[, negative])
  mmarco:?langs=en,de,fr&max_ids=50000  (streams unicamp-dl/mmarco from the Hub)
\b
Multi-GPU: torchrun --nproc_per_node 4 -m mteb_hybrid.cli train ...
       or: accelerate launch -m mteb_hybrid.cli train ...
(--batch-size is per process; every step's global batch shares one type and language plan)
"""


@click.command(epilog=EPILOG)
@click.option("--base-model", required=True, help="Model id or folder to start from.")
@click.option(
    "--train-data",
    "train_data",
    multiple=True,
    required=True,
    metavar="SPEC",
    help="Training data spec (see below); repeat to combine.",
)
@click.option(
    "--ratio",
    default="0.5:0.5:0",
    show_default=True,
    metavar="MONO:CROSS:MULTI",
    help="Batch-type probabilities (the hybrid-batch paper: 0.5:0.5:0).",
)
@click.option(
    "--ratio-schedule",
    type=click.Choice(RATIO_SCHEDULES),
    default="exact",
    show_default=True,
    help="exact: the run's batch-type counts equal the ratio (largest remainder over its steps, "
    "shuffled per epoch); independent: each step's type drawn on its own (binomial counts).",
)
@click.option(
    "--output",
    "output_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Folder for the trained model (checkpoints go to OUTPUT/checkpoints).",
)
@click.option(
    "--language-sampling",
    type=click.Choice(LANGUAGE_SAMPLING),
    default="uniform",
    show_default=True,
    help="Language choice for mono batches (and per pair).",
)
@click.option(
    "--temperature",
    type=float,
    default=1.0,
    show_default=True,
    help="For --language-sampling temperature: weight = count ** (1/T).",
)
@click.option("--lr", "learning_rate", type=float, default=3e-5, show_default=True)
@click.option("--weight-decay", type=float, default=0.01, show_default=True)
@click.option(
    "--batch-size", type=int, default=32, show_default=True, help="Pairs per batch per process."
)
@click.option("--epochs", type=float, default=1.0, show_default=True)
@click.option("--max-steps", type=int, default=None, help="Overrides --epochs.")
@click.option(
    "--warmup",
    type=float,
    default=0.1,
    show_default=True,
    help="Warm-up: a fraction of the steps (<1) or a number of steps.",
)
@click.option(
    "--max-seq-length", type=int, default=None, help="Truncate texts to this many tokens."
)
@click.option(
    "--prompts/--no-prompts",
    default=False,
    show_default=True,
    help='Prefix queries with "Query: " and passages with "Passage: " (also at inference).',
)
@click.option("--query-prompt", default="Query: ", show_default=True)
@click.option("--passage-prompt", default="Passage: ", show_default=True)
@click.option(
    "--loss",
    type=click.Choice(LOSSES),
    default="mnrl",
    show_default=True,
    help="cached-mnrl: GradCache variant for batches larger than memory allows.",
)
@click.option(
    "--mini-batch-size", type=int, default=32, show_default=True, help="Mini-batch of cached-mnrl."
)
@click.option(
    "--scale",
    type=float,
    default=20.0,
    show_default=True,
    help="Similarity scale (1 / temperature) of the InfoNCE loss.",
)
@click.option(
    "--gather-across-devices",
    is_flag=True,
    help="Use every process's batch as negatives (multi-GPU).",
)
@click.option(
    "--precision",
    type=click.Choice(PRECISIONS),
    default="fp32",
    show_default=True,
    help="bf16 / fp16 need a CUDA GPU.",
)
@click.option("--gradient-checkpointing", is_flag=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--save-steps", type=int, default=None, help="Checkpoint every N steps.")
@click.option("--save-total-limit", type=int, default=2, show_default=True)
@click.option(
    "--resume",
    is_flag=False,
    flag_value="latest",
    default=None,
    metavar="[CHECKPOINT]",
    help="Continue from the latest checkpoint in OUTPUT/checkpoints, or the one given.",
)
@click.option(
    "--validation-data",
    multiple=True,
    metavar="SPEC",
    help="Held-out data spec for the validation loss.",
)
@click.option(
    "--validation-fraction",
    type=float,
    default=0.0,
    show_default=True,
    help="Hold out this fraction of the training ids (all their languages) instead.",
)
@click.option("--eval-steps", type=int, default=None, help="Validation loss every N steps.")
@click.option(
    "--early-stopping-patience",
    type=int,
    default=None,
    help="Stop after N evaluations without a better validation loss; keep the best.",
)
@click.option(
    "--early-stopping-threshold",
    type=float,
    default=0.0,
    show_default=True,
    help="A validation loss must improve by more than this to count as better.",
)
@click.option("--logging-steps", type=int, default=10, show_default=True)
@click.option("--model-name", default=None, help="Name for the model card.")
def train(**options: object) -> None:
    """Fine-tune a sentence-transformers model with hybrid (mono/cross/multi) batches."""
    from mteb_hybrid.data.download import DataFileError

    options["train_data"] = list(options["train_data"])
    options["validation_data"] = list(options["validation_data"])
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    try:
        config = TrainConfig(**options)
        from mteb_hybrid.trainers.trainer import train as run_training

        result = run_training(config)
    except (TrainConfigError, DataFileError) as error:
        raise click.ClickException(str(error)) from None
    click.echo(
        f"saved {result.output_dir} after {result.global_step} steps "
        f"({result.wall_time_s:.0f} s, mean training loss {result.train_loss or float('nan'):.4f})"
    )
