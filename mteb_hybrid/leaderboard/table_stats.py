"""A table's statistics: chance columns beside rank distance, seed-aware intervals and tests.

:func:`with_chance` states each rank-distance column's random-ranking expectation
(:mod:`.chance`) in its label and adds the normalised column (rank distance / chance, per run).
:func:`infer` resamples the table's figures (:mod:`.bootstrap`, paired items shared by every row),
adds the seed level (:mod:`.seed_stats`), and fills every cell's interval and its differences to
the reference rows, the tests corrected together across the table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from mteb_hybrid.leaderboard import seed_stats
from mteb_hybrid.leaderboard.aggregate import Column, Layout, column_value
from mteb_hybrid.leaderboard.bootstrap import (
    BootstrapSettings,
    PairedBootstrap,
    percentile_interval,
)
from mteb_hybrid.leaderboard.chance import sidecar_chance
from mteb_hybrid.leaderboard.seed_stats import Difference, FamilySummary, InferenceSettings

if TYPE_CHECKING:  # board imports this module
    from mteb_hybrid.leaderboard.board import Row, Table


def references(rows: Sequence[Row]) -> list[tuple[str, str]]:
    """``(role, row label)`` of the rows every other row is compared with: the baseline row
    (``--baseline``, 1:0:0 by default) first, then the untrained base model."""
    out = []
    baseline = next((r for r in rows if r.is_baseline), None)
    base = next((r for r in rows if r.is_base), None)
    if baseline is not None:
        out.append(("baseline", baseline.label))
    if base is not None and base is not baseline:
        out.append(("base", base.label))
    return out


def with_chance(
    table: Table,
    layout: Layout,
    sidecars: Sequence[dict | None],
    divisors: dict[str, np.ndarray],
) -> list[Column]:
    """State the chance level of rank distance and add the normalised column beside it."""
    columns: list[Column] = []
    for column in table.columns:
        if column.metric != "rank_distance" or column.chance_normalised:
            columns.append(column)
            continue
        chance = np.array(
            [column_value(column, layout, sidecar_chance(car, layout.subsets)) for car in sidecars]
        )
        known = chance[np.isfinite(chance)]
        if not known.size:
            table.warnings.append(
                f"{table.task}: no chance level for rank distance (sidecars written before "
                "pool_size/relevant_per_language were stored; re-evaluate to get it)"
            )
            columns.append(column)
            continue
        low, high = float(known.min()), float(known.max())
        table.chance = {"rank_distance": float(known.mean()), "min": low, "max": high}
        text = f"{low:,.0f}" if round(low) == round(high) else f"{low:,.0f}-{high:,.0f}"
        columns.append(replace(column, label=f"{column.label} (chance {text})"))
        normalised = Column(
            key=f"{column.key}_chance",
            label="RD/chance % ↓",
            metric=column.metric,
            kind=column.kind,
            setting=column.setting,
            languages=column.languages,
            lower_is_better=True,
            scale=100.0,
            chance_normalised=True,
        )
        divisors[normalised.key] = chance
        columns.append(normalised)
    return columns


def infer(
    table: Table,
    layout: Layout,
    groups: list[list[int]],
    sidecars: Sequence[dict | None],
    settings: BootstrapSettings,
    alpha: float,
    inference: InferenceSettings,
    divisors: dict[str, np.ndarray],
) -> None:
    """Seed-aware intervals of every cell and the table's tests against its reference rows."""
    rows, columns = table.rows, table.columns
    labels = [r.label for r in rows]
    pairs = [
        (r, labels.index(ref), role)
        for role, ref in table.references
        for r in range(len(rows))
        if labels[r] != ref
    ]
    references = {label for _, label in table.references}
    tested_columns = [c for c in columns if not c.chance_normalised]
    first = _first(pairs)
    duplicate = {  # (row, reference) pairs that are another pair the other way round
        (r, ref) for r, ref, _ in pairs if labels[r] in references and (r, ref) not in first
    }
    n_planned = len(tested_columns) * (len(pairs) - len(duplicate))
    n_resamples = seed_stats.required_resamples(
        n_planned,
        alpha,
        inference.resolution,
        minimum=settings.n_resamples,
        maximum=max(inference.max_resamples, settings.n_resamples),
    )
    boot = PairedBootstrap(
        sidecars, layout.subsets, replace(settings, n_resamples=n_resamples), task=table.task
    )
    table.resample_unit = boot.unit
    dropped = {s: n for s, n in boot.dropped.items() if n}
    if dropped:
        table.warnings.append(
            f"{table.task}: models were scored on different queries; intervals use the "
            f"{sum(len(boot.common_ids[s]) for s in dropped)} shared queries of "
            f"{len(dropped)} subsets"
        )
    observed, item_samples, interaction = seed_stats.item_resamples(
        boot, layout, columns, groups, divisors
    )
    specs = [seed_stats.RowSpec(tuple(g), row.trained) for row, g in zip(rows, groups, strict=True)]
    name = f"{table.task}/{table.kind}"
    draws = seed_stats.SeedDraws(n_resamples, settings.seed, name)
    differences: list[Difference] = []
    conditional: set[str] = set()
    for c, column in enumerate(columns):
        result = seed_stats.column_inference(
            observed[c], item_samples[c], specs, draws, inference.seed_variance, interaction[c]
        )
        for r, row in enumerate(rows):
            cell = table.cells[(row.label, column.key)]
            samples = result.samples[r]
            if np.isfinite(samples).sum() >= 2:
                cell.ci = percentile_interval(samples, settings.confidence)
                table.has_ci = True
            cell.conditional = bool(result.conditional[r])
            if cell.conditional and cell.ci is not None:
                conditional.add(row.label)
        for r, ref, _role in pairs:
            diff = seed_stats.difference(result, r, ref, labels[ref], settings.confidence)
            diff.tested = not column.chance_normalised and (r, ref) not in duplicate
            table.cells[(labels[r], column.key)].diffs[labels[ref]] = diff
            differences.append(diff)
    rejected = seed_stats.correct_family(differences, alpha, inference.correction)
    tested = sum(1 for d in differences if d.tested and d.p_adj is not None)
    for column in columns:  # untested differences repeat the test they duplicate
        source = _tested_column(columns, column)
        for r, ref, _role in pairs:
            diff = table.cells[(labels[r], column.key)].diffs[labels[ref]]
            if diff.tested:
                continue
            if (r, ref) in duplicate:
                twin = table.cells[(labels[ref], source.key)].diffs[labels[r]]
            else:
                twin = table.cells[(labels[r], source.key)].diffs[labels[ref]]
            diff.p, diff.p_adj, diff.significant = twin.p, twin.p_adj, twin.significant
    if table.references:
        first = table.references[0][1]
        for row in rows:
            for column in columns:
                cell = table.cells[(row.label, column.key)]
                diff = cell.diffs.get(first)
                if diff is not None:
                    cell.p, cell.p_adj, cell.significant = diff.p, diff.p_adj, diff.significant
    table.has_tests = tested > 0
    table.inference = FamilySummary(
        n_tests=tested,
        n_resamples=n_resamples,
        alpha=alpha,
        correction=inference.correction,
        seed_variance=inference.seed_variance,
        n_significant=rejected,
        conditional_rows=[r.label for r in rows if r.label in conditional],
        capped=n_resamples
        < seed_stats.required_resamples(n_planned, alpha, inference.resolution, maximum=10**12),
    )


def _first(pairs: Sequence[tuple[int, int, str]]) -> set[tuple[int, int]]:
    """The ``(row, reference)`` pairs of the first reference that lists them."""
    seen: set[tuple[int, int]] = set()
    for r, ref, _ in pairs:
        if (ref, r) not in seen:
            seen.add((r, ref))
    return seen


def _tested_column(columns: Sequence[Column], column: Column) -> Column:
    """The column whose test a chance-normalised column repeats (else the column itself)."""
    if not column.chance_normalised:
        return column
    return next(c for c in columns if c.key == column.key.removesuffix("_chance"))
