"""Generic JSONL / Parquet training files: one record per row.

Fields: ``id`` (shared by the translations of one item), ``lang`` (a code from
:data:`mteb_hybrid.data.languages.LANGUAGES`), ``query``, ``positive`` and an optional
``negative`` (a hard negative in the same language as ``positive``). Other fields are ignored.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mteb_hybrid.trainers.records import (
    REQUIRED_FIELDS,
    TrainingDataError,
    TrainingRecord,
    check_record,
    record_error,
)

FORMATS = {".jsonl": "jsonl", ".parquet": "parquet"}


def _record_from_row(row: Any, source: str, unit: str, number: int) -> TrainingRecord:
    if not isinstance(row, dict):
        raise TrainingDataError(
            f"{source}: {unit} {number}: expected a JSON object with fields "
            f"{', '.join(REQUIRED_FIELDS)}, got {type(row).__name__}"
        )
    for field in REQUIRED_FIELDS:
        if row.get(field) is None:
            raise TrainingDataError(
                record_error(
                    source,
                    unit,
                    number,
                    field,
                    "is missing",
                    f"every record needs {', '.join(REQUIRED_FIELDS)} (negative is optional)",
                )
            )
    identifier = row["id"]
    if isinstance(identifier, bool) or not isinstance(identifier, (str, int)):
        raise TrainingDataError(
            record_error(
                source,
                unit,
                number,
                "id",
                f"is a {type(identifier).__name__}",
                "use a string or an integer",
            )
        )
    values = {field: row[field] for field in ("lang", "query", "positive")}
    for field, value in values.items():
        if not isinstance(value, str):
            raise TrainingDataError(
                record_error(
                    source, unit, number, field, f"is a {type(value).__name__}", "use a string"
                )
            )
    negative = row.get("negative")
    if negative is not None and not isinstance(negative, str):
        raise TrainingDataError(
            record_error(
                source,
                unit,
                number,
                "negative",
                f"is a {type(negative).__name__}",
                "use a string",
            )
        )
    return check_record(
        TrainingRecord(
            id=str(identifier),
            lang=values["lang"],
            query=values["query"],
            positive=values["positive"],
            negative=negative,
            source=source,
            row=number,
            unit=unit,
        )
    )


def iter_jsonl_records(path: str | os.PathLike[str]) -> Iterator[TrainingRecord]:
    """Records of one JSONL file (blank lines are skipped; rows are numbered by line)."""
    source = str(path)
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise TrainingDataError(
                    f"{source}: line {number}: not valid JSON ({error.msg}); "
                    "write one JSON object per line"
                ) from None
            yield _record_from_row(row, source, "line", number)


def iter_parquet_records(
    path: str | os.PathLike[str], batch_size: int = 10_000
) -> Iterator[TrainingRecord]:
    """Records of one Parquet file, read in batches (rows numbered from 1)."""
    import pyarrow.parquet as pq

    source = str(path)
    parquet = pq.ParquetFile(path)
    names = set(parquet.schema_arrow.names)
    missing = [field for field in REQUIRED_FIELDS if field not in names]
    if missing:
        raise TrainingDataError(
            record_error(
                source,
                "row",
                1,
                missing[0],
                "is missing (no such column)",
                f"the file needs columns {', '.join(REQUIRED_FIELDS)} (negative is optional)",
            )
        )
    columns = [*REQUIRED_FIELDS, *(["negative"] if "negative" in names else [])]
    number = 0
    for batch in parquet.iter_batches(batch_size=batch_size, columns=columns):
        for row in batch.to_pylist():
            number += 1
            yield _record_from_row(row, source, "row", number)


def tabular_files(location: str | os.PathLike[str], fmt: str | None = None) -> list[Path]:
    """The files of a JSONL/Parquet spec: the file itself, or a folder's matching files."""
    path = Path(location)
    if path.is_file():
        return [path]
    if path.is_dir():
        suffixes = [s for s, f in FORMATS.items() if fmt in (None, f)]
        files = sorted(p for p in path.iterdir() if p.suffix in suffixes)
        if files:
            return files
        raise TrainingDataError(f"{path}: no {' or '.join(suffixes)} files in this folder")
    raise TrainingDataError(f"{path}: no such file or folder")


def iter_tabular_records(
    location: str | os.PathLike[str], fmt: str | None = None
) -> Iterator[TrainingRecord]:
    """Records of a JSONL or Parquet file, or of every such file in a folder (sorted by name)."""
    for path in tabular_files(location, fmt):
        kind = fmt or FORMATS.get(path.suffix)
        if kind == "jsonl":
            yield from iter_jsonl_records(path)
        elif kind == "parquet":
            yield from iter_parquet_records(path)
        else:
            raise TrainingDataError(
                f"{path}: unknown training file type {path.suffix!r}; use .jsonl or .parquet"
            )
