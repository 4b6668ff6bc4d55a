"""The pair dataset the trainer sees: every (id, query language, passage language) combination.

It stores only integers per pair (``group``, ``query_lang``, ``passage_lang``, ``query_row``,
``passage_row``); a ``set_transform`` turns a fetched batch into the text columns ``query``,
``positive`` (and ``negative``, taken from the passage row, so a hard negative stays with its
pair in the passage's language). The integer columns never reach the data collator, and the
:class:`~mteb_hybrid.trainers.sampler.HybridBatchSampler` reads them to plan its batches.
Texts live once, in the parallel table, however many language pairs point at them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from mteb_hybrid.trainers.parallel import ParallelData

GROUP = "group"
QUERY_LANG = "query_lang"
PASSAGE_LANG = "passage_lang"
QUERY_ROW = "query_row"
PASSAGE_ROW = "passage_row"
PAIR_COLUMNS = (GROUP, QUERY_LANG, PASSAGE_LANG, QUERY_ROW, PASSAGE_ROW)


class TextColumn:
    """Random access to a (possibly memory-mapped, many-chunk) string column without copying it.

    ``ChunkedArray.take`` concatenates the chunks on every call; this looks rows up chunk by chunk.
    """

    def __init__(self, column: pa.ChunkedArray) -> None:
        self.chunks = list(column.chunks)
        self.offsets = np.cumsum([0] + [len(chunk) for chunk in self.chunks])

    def take(self, rows: Any) -> list[str]:
        """The texts of the given table rows, in order."""
        rows = np.asarray(rows, dtype=np.int64)
        which = np.searchsorted(self.offsets, rows, side="right") - 1
        return [
            self.chunks[c][int(r - self.offsets[c])].as_py()
            for c, r in zip(which, rows, strict=True)
        ]


class PairTexts:
    """``set_transform`` callable: integer pair columns -> ``query``/``positive``/``negative``."""

    def __init__(self, table: pa.Table) -> None:
        self.query = TextColumn(table.column("query"))
        self.positive = TextColumn(table.column("positive"))
        self.negative = (
            TextColumn(table.column("negative")) if "negative" in table.column_names else None
        )

    def __call__(self, batch: dict[str, list[Any]]) -> dict[str, list[str]]:
        query_rows = batch[QUERY_ROW]
        passage_rows = batch[PASSAGE_ROW]
        out = {
            "query": self.query.take(query_rows),
            "positive": self.positive.take(passage_rows),
        }
        if self.negative is not None:
            out["negative"] = self.negative.take(passage_rows)
        return out


def pair_arrays(data: ParallelData) -> dict[str, np.ndarray]:
    """The integer columns: for each id, all (query language, passage language) combinations.

    Pairs are ordered by id (first appearance), then query language, then passage language.
    """
    order = np.lexsort((data.lang_index, data.group))  # rows grouped by id, languages sorted
    sizes = np.bincount(data.group, minlength=data.num_ids).astype(np.int64)
    row_start = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    pair_sizes = sizes * sizes
    pair_start = np.concatenate(([0], np.cumsum(pair_sizes)[:-1]))
    group = np.repeat(np.arange(data.num_ids, dtype=np.int64), pair_sizes)
    local = np.arange(int(pair_sizes.sum()), dtype=np.int64) - pair_start[group]
    n = sizes[group]
    query_row = order[row_start[group] + local // n]
    passage_row = order[row_start[group] + local % n]
    return {
        GROUP: group.astype(np.int32),
        QUERY_LANG: data.lang_index[query_row].astype(np.int64),
        PASSAGE_LANG: data.lang_index[passage_row].astype(np.int64),
        QUERY_ROW: query_row.astype(np.int64),
        PASSAGE_ROW: passage_row.astype(np.int64),
    }


def build_pair_dataset(data: ParallelData) -> Any:
    """A ``datasets.Dataset`` of all language pairs of ``data``, yielding texts when indexed.

    Rows have ``query``, ``positive`` (and ``negative``) when read; ``with_format("numpy")``
    shows the integer columns. Language columns are ``ClassLabel``s naming the language codes.
    """
    from datasets import ClassLabel, Dataset, DatasetInfo, Features, Value
    from datasets.table import InMemoryTable

    names = list(data.languages)
    features = Features(
        {
            GROUP: Value("int32"),
            QUERY_LANG: ClassLabel(names=names),
            PASSAGE_LANG: ClassLabel(names=names),
            QUERY_ROW: Value("int64"),
            PASSAGE_ROW: Value("int64"),
        }
    )
    arrays = pair_arrays(data)
    table = pa.table({name: pa.array(values) for name, values in arrays.items()})
    dataset = Dataset(
        InMemoryTable(table.cast(features.arrow_schema)), info=DatasetInfo(features=features)
    )
    dataset.set_transform(PairTexts(data.table))
    return dataset
