"""One training record (an id's query and positive in one language) and its one-line checks.

Every loader yields :class:`TrainingRecord` objects; :func:`check_record` stops at the first bad
field with a :class:`TrainingDataError` that names the file, the row and the field.
"""

from __future__ import annotations

from dataclasses import dataclass

from mteb_hybrid.data.download import DataFileError
from mteb_hybrid.data.languages import LANGUAGES

REQUIRED_FIELDS = ("id", "lang", "query", "positive")
OPTIONAL_FIELDS = ("negative",)


class TrainingDataError(DataFileError):
    """Bad training input; the message is one line naming the file, the row and the field."""


@dataclass(frozen=True)
class TrainingRecord:
    """One parallel item in one language: ``query`` -> ``positive`` (and an optional ``negative``).

    ``source`` and ``row`` say where the record came from (a file and a 1-based row, line or
    question number, as ``unit`` names it) so that later checks can still point at it.
    """

    id: str
    lang: str
    query: str
    positive: str
    negative: str | None
    source: str
    row: int
    unit: str = "row"

    @property
    def where(self) -> str:
        """``"<file>: <unit> <row>"`` for error messages."""
        return f"{self.source}: {self.unit} {self.row}"


def record_error(source: str, unit: str, row: int, field: str, problem: str, fix: str) -> str:
    """The one-line message format shared by every loader."""
    return f"{source}: {unit} {row}: field {field!r} {problem}; {fix}"


def check_record(record: TrainingRecord) -> TrainingRecord:
    """Raise :class:`TrainingDataError` on an empty field or an unknown language code."""
    for field in REQUIRED_FIELDS:
        value = getattr(record, field)
        if not isinstance(value, str) or not value.strip():
            raise TrainingDataError(
                record_error(
                    record.source,
                    record.unit,
                    record.row,
                    field,
                    "is empty" if isinstance(value, str) else f"is {type(value).__name__}",
                    "every record needs non-empty id, lang, query and positive",
                )
            )
    if record.lang not in LANGUAGES:
        raise TrainingDataError(
            record_error(
                record.source,
                record.unit,
                record.row,
                "lang",
                f"has unknown language code {record.lang!r}",
                f"use one of {', '.join(sorted(LANGUAGES))}",
            )
        )
    if record.negative is not None and (
        not isinstance(record.negative, str) or not record.negative.strip()
    ):
        raise TrainingDataError(
            record_error(
                record.source,
                record.unit,
                record.row,
                "negative",
                "is empty",
                "give a non-empty hard negative or leave the field out of every record",
            )
        )
    return record
