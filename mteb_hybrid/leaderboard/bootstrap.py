"""Paired bootstrap over queries: confidence intervals, tests against a baseline, Holm.

One set of resamples is drawn per task and shared by every model, so that the difference of two
models is computed on the same resampled queries (a paired bootstrap). A resample assigns each
*resampling unit* a count (how often it was drawn, with replacement); a subset's resampled mean is
then the count-weighted mean of its queries' values: one matrix product per group of subsets that
share their queries, for every model at once.

Resampling units (``unit``):

- ``item``: the parallel item. Query ids ``"de-56bf..."`` lose their language prefix (and a
  caption index: XM3600's ``"de-<image>-1"`` becomes the image), so the German, English, ...
  versions of one question are drawn together, in every subset. Subsets that share queries
  (``eng-eng``, ``eng-deu``, ``eng-all``) and parallel questions are strongly correlated; drawing
  them together keeps that correlation in the macro averages' intervals.
- ``query``: the query id, drawn together in every subset where it occurs.
- ``subset``: queries drawn independently within each subset (ignores the correlation between
  subsets, so intervals of macro averages come out too narrow for parallel data).
- ``auto`` (default): ``item`` for tasks with parallel ids (:data:`PARALLEL_TASKS`), else ``query``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

RESAMPLE_UNITS = ("auto", "item", "query", "subset")
RESAMPLE_CHUNK = 1000  # resamples drawn (and seeded) together
# tasks whose query ids are parallel across languages ("<lang>-<item>"): "auto" uses "item"
PARALLEL_TASKS = frozenset(
    {"XQuADRRetrieval", "MLQARRetrieval", "XM3600Retrieval", "FloresRetrieval"}
)
_PREFIX = re.compile(r"^([a-z]{2,3})-(.+)$")
_CAPTION_INDEX = re.compile(r"-\d+$")


@dataclass(frozen=True)
class BootstrapSettings:
    """How many resamples, the seed, the resampling unit and the confidence level."""

    n_resamples: int = 1000
    seed: int = 0
    unit: str = "auto"
    confidence: float = 0.95

    def unit_for(self, task: str) -> str:
        """The resampling unit used for ``task`` (resolves ``auto``)."""
        if self.unit != "auto":
            return self.unit
        return "item" if task in PARALLEL_TASKS else "query"

    def __post_init__(self) -> None:
        if self.unit not in RESAMPLE_UNITS:
            raise ValueError(
                f"resampling unit {self.unit!r}: use one of {', '.join(RESAMPLE_UNITS)}"
            )
        if self.n_resamples < 10:
            raise ValueError("use at least 10 bootstrap resamples (1000 for a report)")
        if not 0 < self.confidence < 1:
            raise ValueError("confidence must lie between 0 and 1, e.g. 0.95")


def _language_codes() -> set[str]:
    from mteb_hybrid.data.languages import LANGUAGES

    return set(LANGUAGES) | {iso for iso, _ in LANGUAGES.values()}


def cluster_keys(query_ids: Sequence[str], unit: str, subset: str) -> list[str]:
    """The resampling unit of each query id."""
    if unit == "subset":
        return [f"{subset}\x00{q}" for q in query_ids]
    if unit == "query":
        return [str(q) for q in query_ids]
    codes = _language_codes()
    keys = []
    for q in query_ids:
        match = _PREFIX.match(str(q))
        if match and match.group(1) in codes:
            keys.append(_CAPTION_INDEX.sub("", match.group(2)) or match.group(2))
        else:
            keys.append(str(q))
    return keys


def _seed_for(seed: int, block: str) -> np.random.Generator:
    digest = hashlib.sha256(f"{seed}\x00{block}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def resample_counts(n_units: int, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """``(B, n)`` float32 counts: how often each of ``n`` units is drawn in each resample."""
    draws = rng.integers(0, n_units, size=(n_resamples, n_units))
    offsets = (np.arange(n_resamples) * n_units)[:, None]
    counts = np.bincount((draws + offsets).ravel(), minlength=n_resamples * n_units)
    return counts.reshape(n_resamples, n_units).astype(np.float32)


class PairedBootstrap:
    """Shared resamples of one task's queries for several models.

    Args:
        sidecars: per model, its per-query values ``{subset: {"query_ids": ..., metric: ...}}``
            (``None`` when the model has none: its resamples are ``nan``).
        subsets: the subsets to resample, in the order of the returned axes.
        settings: see :class:`BootstrapSettings`.
        task: the task's name (resolves the ``auto`` resampling unit).

    Queries are aligned by id: a subset is resampled over the queries that every model with values
    for it has (normally all of them).
    """

    def __init__(
        self,
        sidecars: Sequence[dict[str, dict[str, np.ndarray]] | None],
        subsets: Sequence[str],
        settings: BootstrapSettings | None = None,
        task: str = "",
    ) -> None:
        self.settings = settings or BootstrapSettings()
        self.unit = self.settings.unit_for(task)
        if self.unit == "auto":
            self.unit = "query"
        self.sidecars = list(sidecars)
        self.subsets = list(subsets)
        self.common_ids: dict[str, np.ndarray] = {}
        self.rows: dict[str, list[np.ndarray | None]] = {}
        self.dropped: dict[str, int] = {}
        self._align()
        self._counts: dict[tuple[str, int], np.ndarray] = {}
        self._n_units: dict[str, int] = {}
        self._values: dict[str, list[tuple]] = {}
        self._unit_index: dict[str, np.ndarray] = {}
        self._block: dict[str, str] = {}
        self._draw()

    def _align(self) -> None:
        for subset in self.subsets:
            id_lists = [
                np.asarray(car[subset]["query_ids"]).astype(str)
                for car in self.sidecars
                if car is not None and subset in car
            ]
            if not id_lists:
                self.common_ids[subset] = np.array([], dtype=str)
                self.rows[subset] = [None] * len(self.sidecars)
                continue
            common = id_lists[0]
            for ids in id_lists[1:]:
                common = common[np.isin(common, ids)]
            self.dropped[subset] = max(len(ids) for ids in id_lists) - len(common)
            self.common_ids[subset] = common
            rows: list[np.ndarray | None] = []
            for car in self.sidecars:
                if car is None or subset not in car:
                    rows.append(None)
                    continue
                ids = np.asarray(car[subset]["query_ids"]).astype(str)
                order = np.argsort(ids, kind="stable")
                position = order[np.searchsorted(ids, common, sorter=order)]
                rows.append(position)
            self.rows[subset] = rows

    def _draw(self) -> None:
        blocks: dict[str, dict[str, int]] = {}
        for subset in self.subsets:
            block = subset if self.unit == "subset" else "all"
            keys = cluster_keys(self.common_ids[subset].tolist(), self.unit, subset)
            universe = blocks.setdefault(block, {})
            index = np.array([universe.setdefault(k, len(universe)) for k in keys], dtype=np.int64)
            self._unit_index[subset] = index
            self._block[subset] = block
        self._n_units = {block: max(len(universe), 1) for block, universe in blocks.items()}

    def _chunk_counts(self, block: str, chunk: int) -> np.ndarray:
        """Counts of resamples ``[chunk * RESAMPLE_CHUNK, ...)`` of one block, seeded by the chunk
        (so the first resamples are the same whatever ``n_resamples`` is)."""
        key = (block, chunk)
        if key not in self._counts:
            for old in [k for k in self._counts if k[1] != chunk]:
                del self._counts[old]  # keep one chunk per block in memory
            start = chunk * RESAMPLE_CHUNK
            size = min(RESAMPLE_CHUNK, self.settings.n_resamples - start)
            rng = _seed_for(self.settings.seed, f"{block}\x00{chunk}")
            self._counts[key] = resample_counts(self._n_units[block], size, rng)
        return self._counts[key]

    def counts(self, block: str, start: int, stop: int) -> np.ndarray:
        """``(stop - start, n_units)`` counts of resamples ``start`` to ``stop`` of one block."""
        parts = []
        for chunk in range(start // RESAMPLE_CHUNK, (stop - 1) // RESAMPLE_CHUNK + 1):
            offset = chunk * RESAMPLE_CHUNK
            counts = self._chunk_counts(block, chunk)
            low, high = max(start, offset) - offset, min(stop, offset + len(counts)) - offset
            parts.append(counts[low:high])
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def _prepared(self, metric: str) -> list[tuple]:
        """Per group of subsets with the same queries: ``(block, unit index, values (n, K) with
        0 for nan, finite mask (n, K), model of each column, subset of each column)``, float32,
        built once per metric."""
        if metric in self._values:
            return self._values[metric]
        groups: dict[tuple[str, bytes], list[int]] = {}
        for s, subset in enumerate(self.subsets):
            if self.common_ids[subset].size:
                key = (self._block[subset], self._unit_index[subset].tobytes())
                groups.setdefault(key, []).append(s)
        prepared = []
        for (block, _), members in groups.items():
            columns, rows, subsets = [], [], []
            for s in members:
                for r, positions in enumerate(self.rows[self.subsets[s]]):
                    car = self.sidecars[r]
                    if positions is None or car is None or metric not in car[self.subsets[s]]:
                        continue
                    columns.append(np.asarray(car[self.subsets[s]][metric], np.float64)[positions])
                    rows.append(r)
                    subsets.append(s)
            if not columns:
                continue
            values = np.stack(columns, axis=1)  # (n, K)
            finite = np.isfinite(values)
            prepared.append(
                (
                    block,
                    self._unit_index[self.subsets[members[0]]],
                    np.where(finite, values, 0.0).astype(np.float32),
                    finite.astype(np.float32),
                    np.array(rows, dtype=np.int64),
                    np.array(subsets, dtype=np.int64),
                )
            )
        self._values[metric] = prepared
        return prepared

    def subset_means(
        self, metric: str, start: int = 0, stop: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(observed (R, S), resampled (R, b, S) float32)`` means of ``metric``; ``nan`` if
        unavailable.

        ``observed`` is the mean over the aligned queries (equal to mteb's figure when every model
        has the same queries). ``start``/``stop`` select resamples (default all ``B``), so that
        many resamples can be processed in chunks.
        """
        stop = self.settings.n_resamples if stop is None else stop
        n_models, n_subsets = len(self.sidecars), len(self.subsets)
        b = stop - start
        observed = np.full((n_models, n_subsets), np.nan)
        flat = np.full((b, n_models * n_subsets), np.nan, dtype=np.float32)
        for block, index, clean, finite, rows, subsets in self._prepared(metric):
            weights = self.counts(block, start, stop)[:, index]  # (b, n)
            numerator = weights @ clean
            if finite.all():  # the usual case: every query has a value
                denominator = weights.sum(axis=1, keepdims=True)
            else:
                denominator = weights @ finite
            with np.errstate(invalid="ignore", divide="ignore"):
                means = np.where(denominator > 0, numerator / denominator, np.nan)
                point = clean.sum(axis=0, dtype=np.float64) / finite.sum(axis=0)
            flat[:, rows * n_subsets + subsets] = means
            observed[rows, subsets] = point
        resampled = flat.reshape(b, n_models, n_subsets).transpose(1, 0, 2)
        return observed, resampled


def percentile_interval(samples: np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of 1-d ``samples`` (``nan`` resamples ignored)."""
    finite = samples[np.isfinite(samples)]
    if finite.size < 2:
        return (float("nan"), float("nan"))
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(finite, [tail, 100 - tail])
    return float(low), float(high)


def paired_p_value(diff_samples: np.ndarray, observed_diff: float) -> float:
    """Two-sided paired bootstrap p-value of a difference against 0.

    The resampled differences, shifted by the observed one, stand for the null distribution:
    ``p = (1 + #{|d_b - d| >= |d|}) / (1 + B)``.
    """
    finite = diff_samples[np.isfinite(diff_samples)]
    if finite.size == 0 or not np.isfinite(observed_diff):
        return float("nan")
    extreme = np.abs(finite - observed_diff) >= abs(observed_diff) - 1e-12
    return float((1 + extreme.sum()) / (1 + finite.size))


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (``nan`` entries are left out and stay ``nan``)."""
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full_like(p, np.nan)
    valid = np.flatnonzero(np.isfinite(p))
    m = valid.size
    if m == 0:
        return out
    order = valid[np.argsort(p[valid], kind="stable")]
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out
