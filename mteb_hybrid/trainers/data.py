"""Load, validate and group training data: spec strings -> :class:`ParallelData`."""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence

from mteb_hybrid.trainers.parallel import ParallelData
from mteb_hybrid.trainers.sources.spec import DataSpec, iter_spec_records, parse_data_spec


def load_training_data(
    specs: str | Sequence[str],
    *,
    require_cross: bool,
    spill_dir: str | os.PathLike[str] | None = None,
) -> ParallelData:
    """Read every spec, check each record and the whole table; stop at the first bad input.

    ``require_cross``: every id needs two or more languages (cross-lingual batches asked for).
    ``spill_dir``: write the table to an Arrow file there instead of memory (large sources).
    """
    parsed: list[DataSpec] = [
        parse_data_spec(s) for s in ([specs] if isinstance(specs, str) else specs)
    ]
    records = itertools.chain.from_iterable(iter_spec_records(spec) for spec in parsed)
    data = ParallelData.from_records(
        records, description=[str(spec) for spec in parsed], spill_dir=spill_dir
    )
    return data.validate(require_cross=require_cross)
