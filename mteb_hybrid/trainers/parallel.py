"""The parallel training table: one row per (id, language), validated as a whole.

Records stream in from any source and are written in Arrow record batches, in memory or, with
``spill_dir``, to an Arrow IPC file that is then memory-mapped (for large sources such as
mMARCO). Whole-table checks (an (id, language) given twice; an id with a single language when
cross-lingual batches are asked for) are vectorised and still name the file and row.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mteb_hybrid.trainers.records import TrainingDataError, TrainingRecord, record_error

TEXT_FIELDS = ("id", "lang", "query", "positive")


def _schema(with_negative: bool) -> pa.Schema:
    fields = [pa.field(name, pa.string()) for name in TEXT_FIELDS]
    if with_negative:
        fields.append(pa.field("negative", pa.string()))
    fields += [pa.field("source", pa.int32()), pa.field("row", pa.int64())]
    return pa.schema(fields)


@dataclass
class ParallelData:
    """Validated parallel records: ``table`` has one row per (id, language).

    Columns: ``id``, ``lang``, ``query``, ``positive``, optional ``negative``, and ``source``
    (index into :attr:`sources`) and ``row`` for error messages. ``group`` numbers the ids
    (first-appearance order) and ``lang_index`` indexes :attr:`languages` (sorted codes).
    """

    table: pa.Table
    sources: list[tuple[str, str]]
    description: list[str] = field(default_factory=list)
    languages: list[str] = field(init=False)
    group: np.ndarray = field(init=False, repr=False)
    lang_index: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.table.num_rows == 0:
            where = ", ".join(self.description) or "the training data"
            raise TrainingDataError(f"{where}: no training records")
        ids = self.table.column("id").combine_chunks()
        self.group = pc.dictionary_encode(ids).indices.to_numpy(zero_copy_only=False)
        langs = self.table.column("lang")
        self.languages = sorted(pc.unique(langs).to_pylist())
        self.lang_index = (
            pc.index_in(langs, value_set=pa.array(self.languages)).to_numpy().astype(np.int16)
        )

    # ----------------------------------------------------------------------------- building
    @classmethod
    def from_records(
        cls,
        records: Iterable[TrainingRecord],
        *,
        description: Iterable[str] = (),
        spill_dir: str | os.PathLike[str] | None = None,
        batch_rows: int = 10_000,
    ) -> ParallelData:
        """Collect records (already field-checked by their source) into a table.

        All records must agree on having a ``negative`` or not. With ``spill_dir``, batches go to
        an Arrow file there instead of memory.
        """
        sources: dict[tuple[str, str], int] = {}
        columns: dict[str, list] = {}
        batches: list[pa.RecordBatch] = []
        schema: pa.Schema | None = None
        first: TrainingRecord | None = None
        writer = None
        spill_path: Path | None = None

        def flush() -> None:
            nonlocal writer, spill_path
            if not columns or not columns["id"]:
                return
            batch = pa.RecordBatch.from_pydict(columns, schema=schema)
            for values in columns.values():
                values.clear()
            if spill_dir is None:
                batches.append(batch)
                return
            if writer is None:
                Path(spill_dir).mkdir(parents=True, exist_ok=True)
                fd, name = tempfile.mkstemp(dir=spill_dir, prefix="parallel-", suffix=".arrow")
                os.close(fd)
                spill_path = Path(name)
                writer = pa.ipc.new_file(str(spill_path), schema)
            writer.write_batch(batch)

        for record in records:
            if first is None:
                first = record
                schema = _schema(record.negative is not None)
                columns = {name: [] for name in schema.names}
            if (record.negative is None) != (first.negative is None):
                has, lacks = (first, record) if record.negative is None else (record, first)
                raise TrainingDataError(
                    record_error(
                        lacks.source,
                        lacks.unit,
                        lacks.row,
                        "negative",
                        "is missing",
                        f"{has.where} has one; give every record a negative or none",
                    )
                )
            key = (record.source, record.unit)
            source = sources.setdefault(key, len(sources))
            for name in TEXT_FIELDS:
                columns[name].append(getattr(record, name))
            if "negative" in columns:
                columns["negative"].append(record.negative)
            columns["source"].append(source)
            columns["row"].append(record.row)
            if len(columns["id"]) >= batch_rows:
                flush()
        if first is None:
            raise TrainingDataError(f"{', '.join(description) or 'training data'}: no records")
        flush()
        if writer is not None:
            writer.close()
            table = pa.ipc.open_file(pa.memory_map(str(spill_path))).read_all()
            try:  # the mapping stays valid; the file goes when the process lets it go
                os.unlink(spill_path)
            except OSError:
                pass
        else:
            table = pa.Table.from_batches(batches, schema=schema)
        ordered = sorted(sources, key=sources.__getitem__)
        return cls(table=table, sources=ordered, description=list(description))

    # ----------------------------------------------------------------------------- properties
    @property
    def has_negatives(self) -> bool:
        """Whether every record carries a hard negative."""
        return "negative" in self.table.column_names

    @property
    def num_rows(self) -> int:
        """Number of (id, language) rows."""
        return self.table.num_rows

    @property
    def num_ids(self) -> int:
        """Number of distinct ids."""
        return int(self.group.max()) + 1

    def where(self, row: int) -> str:
        """``"<file>: <unit> <n>"`` of a table row."""
        source = self.table.column("source")[row].as_py()
        path, unit = self.sources[source]
        return f"{path}: {unit} {self.table.column('row')[row].as_py()}"

    def languages_per_id(self) -> np.ndarray:
        """Number of languages of each id (indexed by group)."""
        return np.bincount(self.group, minlength=self.num_ids)

    def language_counts(self) -> dict[str, int]:
        """Rows (ids) per language."""
        counts = np.bincount(self.lang_index, minlength=len(self.languages))
        return {lang: int(n) for lang, n in zip(self.languages, counts, strict=True)}

    def summary(self) -> dict:
        """Sizes for logs and metadata."""
        per_id = self.languages_per_id()
        return {
            "ids": self.num_ids,
            "rows": self.num_rows,
            "languages": self.language_counts(),
            "languages_per_id": {
                str(k): int(v) for k, v in zip(*np.unique(per_id, return_counts=True), strict=True)
            },
            "hard_negatives": self.has_negatives,
            "sources": self.description,
        }

    # ----------------------------------------------------------------------------- checks
    def validate(self, *, require_cross: bool) -> ParallelData:
        """Stop at an (id, language) given twice, or (``require_cross``) an id with one language."""
        key = self.group.astype(np.int64) * len(self.languages) + self.lang_index
        order = np.argsort(key, kind="stable")
        repeats = np.flatnonzero(key[order][1:] == key[order][:-1])
        if repeats.size:
            first, second = sorted((int(order[repeats[0]]), int(order[repeats[0] + 1])))
            identifier = self.table.column("id")[second].as_py()
            lang = self.table.column("lang")[second].as_py()
            raise TrainingDataError(
                f"{self.where(second)}: field 'lang': id {identifier!r} already has language "
                f"{lang!r} (at {self.where(first)}); give each id one record per language"
            )
        if require_cross:
            single = np.flatnonzero(self.languages_per_id()[self.group] < 2)
            if single.size:
                row = int(single[0])
                identifier = self.table.column("id")[row].as_py()
                lang = self.table.column("lang")[row].as_py()
                raise TrainingDataError(
                    f"{self.where(row)}: field 'id': id {identifier!r} has only language "
                    f"{lang!r} but the ratio asks for cross-lingual batches; add its translations, "
                    "drop it, or set the cross share of --ratio to 0"
                )
        return self

    # ----------------------------------------------------------------------------- splitting
    def take_ids(self, groups: np.ndarray) -> ParallelData:
        """The rows of the given ids (groups), in table order."""
        mask = np.isin(self.group, groups)
        table = self.table.filter(pa.array(mask))
        return ParallelData(table=table, sources=self.sources, description=self.description)

    def split_ids(self, fraction: float, seed: int) -> tuple[ParallelData, ParallelData]:
        """Hold out a fraction of the ids (all their languages), so translations never leak."""
        if not 0 < fraction < 1:
            raise ValueError(f"validation fraction {fraction} must be between 0 and 1")
        rng = np.random.default_rng([seed, 7919])
        groups = rng.permutation(self.num_ids)
        held = max(1, round(fraction * self.num_ids))
        if held >= self.num_ids:
            raise ValueError(f"validation fraction {fraction} leaves no training ids")
        return self.take_ids(np.sort(groups[held:])), self.take_ids(np.sort(groups[:held]))
