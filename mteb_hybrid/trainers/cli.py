"""``mteb-hybrid train``: click glue over :func:`mteb_hybrid.trainers.trainer.train`.

Heavy imports (torch, sentence-transformers) happen only when the command runs.
"""

from __future__ import annotations

import logging
from typing import Any

import click

from mteb_hybrid.trainers.config import TrainConfig, TrainConfigError
from mteb_hybrid.trainers.normalised import normalised_notes
from mteb_hybrid.trainers.options import given_train_options, with_train_options

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
@with_train_options()
def train(**options: Any) -> None:
    """Fine-tune a sentence-transformers model with hybrid (mono/cross/multi) batches."""
    from mteb_hybrid.data.download import DataFileError

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    try:
        given = given_train_options(options)
        config = TrainConfig(**given)
        for note in normalised_notes(given.get("ratio")):
            click.echo(note, err=True)
        from mteb_hybrid.trainers.trainer import train as run_training

        result = run_training(config)
    except (TrainConfigError, DataFileError) as error:
        raise click.ClickException(str(error)) from None
    click.echo(result.summary())
