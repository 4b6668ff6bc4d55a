"""Seed-aware inference: intervals and tests that include training randomness.

A trained row of a leaderboard is a training recipe (a batch-type ratio) run with ``m`` seeds; its
figure is the mean over its seeds of each run's figure on the evaluated queries. Whether one ratio
beats another is a question about the recipe, so the uncertainty has two crossed sources: which
queries were evaluated (items) and which training runs happened to be drawn (seeds). Every
interval and test here combines both, in ``B`` resamples of two levels:

1. **Items** (non-parametric, paired): a resample of the parallel items (all translations of a
   question drawn together, see :mod:`.bootstrap`), the same for every run of every row, so two
   rows are compared on the same resampled items; each run's figure is recomputed on it and
   averaged over the row's seeds. This covers the items and, averaged over the seeds, the
   run-specific noise of each item (the item-by-seed interaction).
2. **Seeds** (parametric): a Student ``t`` draw for the seed mean. For a row's own interval,
   ``s/sqrt(m) * t(m - 1)``; for the difference of two rows, ``sqrt(V) * t(df)`` with
   ``V = s_a^2/m_a + s_b^2/m_b`` and the Welch-Satterthwaite ``df`` (the Welch test's reference
   distribution); against a fixed checkpoint only the trained side counts (``t(m - 1)``).
   ``s^2`` is the row's between-seed variance of the figure **net of the interaction part**,
   which the item level already covers: ``s^2 = max(0, var_seeds - v)`` with
   ``v = sum_i var_b(f_i - f_mean) / (m - 1)``, the item-resampling variance of each run's
   deviation from its row's seed mean (the seed effects cancel in it).

The resampled difference is ``D* = (item-resampled difference of seed means) + seed draw``; its
percentile interval is the interval shown for the difference, and the two-sided p-value is
``(1 + #{|D* - D| >= |D|}) / (B + 1)`` (the resamples shifted to the null). A row's own interval
is the percentile interval of its own resamples.

Checked by simulation (tests/test_leaderboard_seed_stats.py), at nominal 5% with 3 seeds per
row: the false-positive rate stays near 5% whether seed noise, item-by-seed noise or both
dominate, and a shift of 4 seed standard deviations is found most of the time; the old
query-only bootstrap (seeds ignored) rejects a true null most of the time when seed noise
dominates, and a plain bootstrap over 3 seeds (variance shrunk by ``(m-1)/m``, normal tails)
about 3 times too often. Without the interaction correction the test is far too conservative
(about 1% instead of 5%) when item-by-seed noise dominates; with independent per-row ``t`` draws
(Behrens-Fisher) instead of Welch's ``df`` it was about 0.5% at 3 seeds.

Rows without training randomness: the untrained base model, or any other single checkpoint that
is not a sweep ratio, is a fixed model (no seed level). A trained row with a single seed has no
seed variance: its seed part is 0 and its interval and tests are **conditional on that
checkpoint** (flagged in the tables). ``seed_variance="pooled"`` pools the (net) seed variance
over the table's trained rows instead (``df = sum(m_r - 1)``): more power when the seed noise is
similar across ratios, and single-seed rows then borrow it (stated in the notes).

Multiplicity: every test of a table (each row against each reference row, every column) forms
one family, adjusted by Holm (family-wise error) or Benjamini-Hochberg (false discovery rate).
``B`` is raised until the smallest attainable p-value ``1/(B+1)`` is at most
``alpha / (resolution * m)`` for the ``m`` tests of the table (``resolution = 10`` by default).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from mteb_hybrid.leaderboard.aggregate import Column, Layout, column_values
from mteb_hybrid.leaderboard.bootstrap import (
    PairedBootstrap,
    holm,
    paired_p_value,
    percentile_interval,
)

CORRECTIONS = ("holm", "bh")
SEED_VARIANCES = ("row", "pooled")
RESOLUTION = 10.0
MAX_RESAMPLES = 200_000
CORRECTION_NAMES = {"holm": "Holm", "bh": "Benjamini-Hochberg"}


@dataclass(frozen=True)
class InferenceSettings:
    """How tests are corrected, how seed variance is modelled, how many resamples at least.

    ``resolution``: ``B`` is raised so that ``1/(B+1) <= alpha/(resolution * m)`` (0 = never
    raised); ``max_resamples`` caps the raise.
    """

    correction: str = "holm"
    seed_variance: str = "row"
    resolution: float = RESOLUTION
    max_resamples: int = MAX_RESAMPLES

    def __post_init__(self) -> None:
        if self.correction not in CORRECTIONS:
            raise ValueError(f"correction {self.correction!r}: use one of {', '.join(CORRECTIONS)}")
        if self.seed_variance not in SEED_VARIANCES:
            raise ValueError(
                f"seed variance {self.seed_variance!r}: use one of {', '.join(SEED_VARIANCES)}"
            )
        if self.resolution < 0:
            raise ValueError("resolution must be >= 0 (0 = keep the given number of resamples)")


def required_resamples(
    n_tests: int,
    alpha: float,
    resolution: float = RESOLUTION,
    minimum: int = 0,
    maximum: int = MAX_RESAMPLES,
) -> int:
    """Resamples ``B`` (a multiple of 1000) with ``1/(B+1) <= alpha/(resolution * n_tests)``.

    Never below ``minimum`` nor above ``maximum`` (unless ``minimum`` is).
    """
    if n_tests <= 0 or resolution <= 0:
        return minimum
    need = math.ceil(resolution * n_tests / alpha) - 1
    need = math.ceil(need / 1000) * 1000
    return max(minimum, min(need, maximum))


def benjamini_hochberg(p_values: Sequence[float]) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (``nan`` entries are left out and stay ``nan``)."""
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full_like(p, np.nan)
    valid = np.flatnonzero(np.isfinite(p))
    m = valid.size
    if m == 0:
        return out
    order = valid[np.argsort(p[valid], kind="stable")]
    scaled = p[order] * m / np.arange(1, m + 1)
    out[order] = np.minimum(1.0, np.minimum.accumulate(scaled[::-1])[::-1])
    return out


def adjust(p_values: Sequence[float], method: str) -> np.ndarray:
    """Adjusted p-values by ``"holm"`` or ``"bh"``."""
    if method == "holm":
        return holm(p_values)
    if method == "bh":
        return benjamini_hochberg(p_values)
    raise ValueError(f"correction {method!r}: use one of {', '.join(CORRECTIONS)}")


@dataclass(frozen=True)
class RowSpec:
    """A row as the inference sees it: its runs (indices on the run axis) and whether its runs
    are seeds of a training recipe (``random``) or one fixed checkpoint."""

    runs: tuple[int, ...]
    random: bool


class SeedDraws:
    """Seeded standard draws of the seed level, shared by every figure of one table.

    :meth:`t` gives ``B`` Student ``t`` draws with ``df`` degrees of freedom (any positive
    real) for a named stream (a row, or a pair of rows), the same for every figure: the normal
    part is drawn once per stream, the chi-square part once per stream and ``df``.
    """

    def __init__(self, n_resamples: int, seed: int = 0, name: str = "") -> None:
        self.n_resamples, self.seed, self.name = n_resamples, seed, name
        self._z: dict[str, np.ndarray] = {}
        self._scale: dict[tuple[str, float], np.ndarray] = {}

    def t(self, stream: str, df: float) -> np.ndarray:
        """``(B,)`` Student ``t`` draws with ``df`` degrees of freedom for ``stream``."""
        if stream not in self._z:
            rng = _rng(self.seed, f"{self.name}\x00{stream}\x00z")
            self._z[stream] = rng.standard_normal(self.n_resamples)
        key = (stream, round(float(df), 9))
        if key not in self._scale:
            rng = _rng(self.seed, f"{self.name}\x00{stream}\x00chi2\x00{key[1]!r}")
            self._scale[key] = np.sqrt(key[1] / rng.chisquare(key[1], self.n_resamples))
        return self._z[stream] * self._scale[key]


def _rng(seed: int, name: str) -> np.random.Generator:
    digest = hashlib.sha256(f"{seed}\x00seed-level\x00{name}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


@dataclass
class ColumnInference:
    """One figure of every row: observed value, item resamples, the seed level and its draws.

    ``item_samples``: ``(n_rows, B)`` seed means on the item resamples; ``samples``: the same
    plus each row's own seed draw (for its interval); ``seed_sd``: the std over seeds used
    (0 for a fixed model, ``nan`` when unknown); ``seed_var``: the variance of the row's seed
    mean, ``s^2/m`` (0 without a seed level); ``df``: its degrees of freedom (0: none);
    ``conditional``: a trained row whose seed variance is unknown (one seed), so its inference
    is conditional on its checkpoint.
    """

    values: np.ndarray
    item_samples: np.ndarray
    samples: np.ndarray
    seed_sd: np.ndarray
    seed_var: np.ndarray
    df: np.ndarray
    conditional: np.ndarray
    draws: SeedDraws
    pooled: bool = False


def column_inference(
    run_observed: np.ndarray,
    row_item_samples: np.ndarray,
    rows: Sequence[RowSpec],
    draws: SeedDraws,
    seed_variance: str = "row",
    interaction: np.ndarray | None = None,
) -> ColumnInference:
    """Each row's value, its item resamples and its seed level (see the module docstring).

    ``run_observed``: ``(R,)`` each run's figure on the evaluated queries; ``row_item_samples``:
    ``(n_rows, B)`` each row's seed mean on ``B`` item resamples shared by every row;
    ``interaction``: ``(n_rows,)`` the part of each row's between-seed variance that the item
    level already covers (:func:`interaction_variance`), subtracted from it (default none).
    """
    n_rows = len(rows)
    values = np.full(n_rows, np.nan)
    seed_sd = np.full(n_rows, np.nan)
    df = np.zeros(n_rows)
    counts = np.zeros(n_rows, dtype=np.int64)
    for r, row in enumerate(rows):
        observed = np.asarray(run_observed, dtype=np.float64)[list(row.runs)]
        values[r] = observed.mean() if observed.size else np.nan
        finite = observed[np.isfinite(observed)]
        counts[r] = finite.size
        if not row.random:
            seed_sd[r] = 0.0
        elif finite.size >= 2:
            seed_sd[r], df[r] = float(np.std(finite, ddof=1)), finite.size - 1
    if interaction is not None:  # the seed component net of the item-by-seed interaction
        net = np.nan_to_num(seed_sd) ** 2 - np.nan_to_num(np.asarray(interaction, np.float64))
        seed_sd = np.where(df > 0, np.sqrt(np.maximum(net, 0.0)), seed_sd)
    pooled = seed_variance == "pooled"
    trained = [r for r, row in enumerate(rows) if row.random]
    if pooled and trained:
        pooled_df = float(df[trained].sum())
        if pooled_df > 0:
            total = float(np.sum(df[trained] * np.nan_to_num(seed_sd[trained]) ** 2))
            for r in trained:
                if counts[r] >= 1:
                    seed_sd[r], df[r] = math.sqrt(total / pooled_df), pooled_df
    conditional = np.zeros(n_rows, dtype=bool)
    conditional[trained] = df[trained] == 0
    seed_var = np.where(df > 0, np.nan_to_num(seed_sd) ** 2 / np.maximum(counts, 1), 0.0)
    item = np.asarray(row_item_samples, dtype=np.float64)
    samples = item.copy()
    for r in trained:
        if df[r] > 0:
            samples[r] += math.sqrt(seed_var[r]) * draws.t(f"row{r}", df[r])
    return ColumnInference(values, item, samples, seed_sd, seed_var, df, conditional, draws, pooled)


def seed_level(inference: ColumnInference, row: int, reference: int) -> tuple[float, float]:
    """Variance and degrees of freedom of the seed part of ``row - reference``.

    Per row (Welch-Satterthwaite): ``V = s_a^2/m_a + s_b^2/m_b`` over the sides with a seed
    level, ``df = V^2 / sum((s^2/m)^2/(m - 1))``. Pooled: ``V`` from the pooled variance and its
    degrees of freedom (the difference is then exactly ``t``). ``(0, 0)`` without a seed level.
    """
    sides = [i for i in (row, reference) if inference.df[i] > 0]
    variance = float(sum(inference.seed_var[i] for i in sides))
    if not sides or variance <= 0:
        return 0.0, 0.0
    if inference.pooled:
        return variance, float(inference.df[sides[0]])
    denominator = sum(inference.seed_var[i] ** 2 / inference.df[i] for i in sides)
    return variance, float(variance**2 / denominator)


@dataclass
class Difference:
    """A row minus a reference row on one figure, with its seed-aware interval and test.

    ``p_adj``/``significant``: after the table's multiplicity correction. ``conditional``: either
    side is a trained row with one seed (the test does not cover that row's training randomness).
    ``tested``: counted in the table's family (``False`` for a figure that repeats another's test).
    """

    reference: str
    value: float
    ci: tuple[float, float] | None = None
    p: float | None = None
    p_adj: float | None = None
    significant: bool = False
    conditional: bool = False
    tested: bool = True


def difference(
    inference: ColumnInference, row: int, reference: int, label: str, confidence: float = 0.95
) -> Difference:
    """``row - reference`` of one figure: value, percentile interval and two-sided p-value.

    The resamples are the item-resampled difference (the same items for both rows) plus the seed
    part ``sqrt(V) * t_df`` of :func:`seed_level`, drawn for this pair of rows.
    """
    value = float(inference.values[row] - inference.values[reference])
    samples = inference.item_samples[row] - inference.item_samples[reference]
    variance, df = seed_level(inference, row, reference)
    if variance > 0:
        low, high = sorted((row, reference))
        sign = 1.0 if row < reference else -1.0
        samples = samples + sign * math.sqrt(variance) * inference.draws.t(f"pair{low}-{high}", df)
    conditional = bool(inference.conditional[row] or inference.conditional[reference])
    if np.isfinite(samples).sum() < 2 or not math.isfinite(value):
        return Difference(label, value, conditional=conditional)
    return Difference(
        label,
        value,
        ci=percentile_interval(samples, confidence),
        p=paired_p_value(samples, value),
        conditional=conditional,
    )


@dataclass
class FamilySummary:
    """What the notes say about a table's tests."""

    n_tests: int = 0
    n_resamples: int = 0
    alpha: float = 0.05
    correction: str = "holm"
    seed_variance: str = "row"
    n_significant: int = 0
    conditional_rows: list[str] = field(default_factory=list)
    capped: bool = False

    @property
    def threshold(self) -> float:
        """The strictest corrected threshold (the first step of Holm or BH): ``alpha / m``."""
        return self.alpha / self.n_tests if self.n_tests else float("nan")

    @property
    def smallest_p(self) -> float:
        """The smallest attainable p-value, ``1/(B+1)``."""
        return 1.0 / (self.n_resamples + 1) if self.n_resamples else float("nan")


def correct_family(differences: Sequence[Difference], alpha: float, method: str) -> int:
    """Adjust the tested differences of one table together, in place; returns the rejections."""
    tested = [d for d in differences if d.tested and d.p is not None and math.isfinite(d.p)]
    adjusted = adjust([d.p for d in tested], method)
    for d, p_adj in zip(tested, adjusted, strict=True):
        d.p_adj = float(p_adj)
        d.significant = bool(p_adj < alpha)
    return sum(d.significant for d in tested)


def deviation_sums(
    run_samples: np.ndarray, groups: Sequence[Sequence[int]]
) -> tuple[np.ndarray, np.ndarray]:
    """Per run, ``(sum_b d, sum_b d^2)`` of ``d = f_i(w_b) - mean_j f_j(w_b)``, its figure minus
    its row's seed mean on the same item resample (``0`` for rows of one run), ``(R,)`` each."""
    run_samples = np.asarray(run_samples, dtype=np.float64)
    first = np.zeros(run_samples.shape[0])
    second = np.zeros(run_samples.shape[0])
    for group in groups:
        if len(group) < 2:
            continue
        index = list(group)
        deviation = run_samples[index] - run_samples[index].mean(axis=0)
        first[index] = np.nansum(deviation, axis=1)
        second[index] = np.nansum(deviation**2, axis=1)
    return first, second


def interaction_from_sums(
    first: np.ndarray, second: np.ndarray, n_resamples: int, groups: Sequence[Sequence[int]]
) -> np.ndarray:
    """The item-by-seed interaction part of each row's between-seed variance, ``(n_rows,)``.

    The seed effects cancel in ``d`` (they do not change with the items), so the variance of
    ``d`` over item resamples is the run-specific item noise, ``(1 - 1/m) v`` for independent
    runs; the between-seed variance ``s^2`` of the row holds ``v`` of it on top of the seed
    variance: ``v = sum_i var_b(d_i) / (m - 1)``.
    """
    variance = (second - first**2 / n_resamples) / max(n_resamples - 1, 1)
    out = np.zeros(len(groups))
    for r, group in enumerate(groups):
        if len(group) >= 2:
            out[r] = float(np.sum(variance[list(group)])) / (len(group) - 1)
    return out


def interaction_variance(run_samples: np.ndarray, groups: Sequence[Sequence[int]]) -> np.ndarray:
    """:func:`interaction_from_sums` from every run's figure on ``B`` item resamples ``(R, B)``."""
    first, second = deviation_sums(run_samples, groups)
    return interaction_from_sums(first, second, np.asarray(run_samples).shape[1], groups)


def row_means(samples: np.ndarray, groups: Sequence[Sequence[int]]) -> np.ndarray:
    """``(R, ...)`` run values to ``(n_rows, ...)`` row means over each row's runs."""
    return np.stack([samples[list(g)].mean(axis=0) for g in groups])


def item_resamples(
    boot: PairedBootstrap,
    layout: Layout,
    columns: Sequence[Column],
    groups: Sequence[Sequence[int]],
    divisors: dict[str, np.ndarray] | None = None,
    max_cells: int = 12_000_000,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every column's figure per run on the aligned queries, and per row on the item resamples.

    Returns ``observed (C, R)``, ``row_samples (C, n_rows, B)`` (float32; each row's mean
    over its runs of the run's figure on each resample) and ``interaction (C, n_rows)`` (see
    :func:`interaction_from_sums`). Resamples are processed in chunks so
    that at most ``max_cells`` resampled subset means are held at once. ``divisors``: per column
    key, ``(R,)`` values each run's figure is divided by (the chance level).
    """
    divisors = divisors or {}
    metrics = sorted({c.metric for c in columns})
    n_runs, n_subsets = len(boot.sidecars), len(boot.subsets)
    total = boot.settings.n_resamples
    step = int(max(50, min(1000, max_cells // max(1, n_runs * n_subsets * len(metrics)))))
    observed = np.full((len(columns), n_runs), np.nan)
    out = np.full((len(columns), len(groups), total), np.nan, dtype=np.float32)
    first = np.zeros((len(columns), n_runs))
    second = np.zeros((len(columns), n_runs))
    by_metric = {m: [c for c, column in enumerate(columns) if column.metric == m] for m in metrics}
    for start in range(0, total, step):
        stop = min(total, start + step)
        for metric, members in by_metric.items():
            point, resampled = boot.subset_means(metric, start, stop)
            chosen = [columns[c] for c in members]
            figures = column_values(chosen, layout, resampled)  # each (R, b)
            if start == 0:
                points = column_values(chosen, layout, point)
            for c, column, figure in zip(members, chosen, figures, strict=True):
                if start == 0:
                    observed[c] = points[members.index(c)]
                if column.key in divisors:
                    divisor = np.asarray(divisors[column.key], dtype=np.float64)
                    figure = figure / divisor[:, None]
                    if start == 0:
                        observed[c] = observed[c] / divisor
                out[c, :, start:stop] = row_means(figure, groups)
                sums = deviation_sums(figure, groups)
                first[c] += sums[0]
                second[c] += sums[1]
    interaction = np.stack(
        [interaction_from_sums(first[c], second[c], total, groups) for c in range(len(columns))]
    )
    return observed, out, interaction
