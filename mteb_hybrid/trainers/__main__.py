"""``python -m mteb_hybrid.trainers CONFIG.json``: one training run from a saved ``TrainConfig``.

How the sweep launches a run under torchrun (``torchrun --nproc_per_node N -m
mteb_hybrid.trainers CONFIG.json``): every process reads the same settings from the file
(:meth:`~mteb_hybrid.trainers.config.TrainConfig.save`), so no command line mirrors them.
"""

from __future__ import annotations

import logging
import sys


def main(argv: list[str] | None = None) -> int:
    """Train from the JSON file named by the one argument; 1 with a one-line error on bad input."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m mteb_hybrid.trainers CONFIG.json", file=sys.stderr)
        return 2
    from mteb_hybrid.data.download import DataFileError
    from mteb_hybrid.trainers.config import TrainConfig, TrainConfigError

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    try:
        config = TrainConfig.load(args[0])
        from mteb_hybrid.trainers.trainer import train

        result = train(config)
    except (TrainConfigError, DataFileError) as error:
        print(f"Error: {error}", file=sys.stderr)
        return 1
    print(result.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
