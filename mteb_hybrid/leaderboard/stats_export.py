"""How the seed-aware statistics and chance levels read in the exports (used by :mod:`.export`).

- markers after a headline value: ``†`` differs from the baseline row (``--baseline``, 1:0:0 by
  default), ``‡`` differs from the untrained base model, after the table's correction;
- difference tables, one per reference row: ``+2.01 [0.52, 3.60]†`` is the row minus the
  reference (the paired quantity the test uses) with its seed-aware interval;
- ``§`` beside a row's seed count (and a difference): a trained row with one seed, whose interval
  and tests are conditional on that checkpoint;
- the notes state the method, the number of tests, the correction, the resamples, the smallest
  attainable p-value against the strictest corrected threshold, and the chance level.
"""

from __future__ import annotations

import math
from typing import Any

from mteb_hybrid.leaderboard.aggregate import Column
from mteb_hybrid.leaderboard.board import Cell, Leaderboard, Row, Table
from mteb_hybrid.leaderboard.seed_stats import CORRECTION_NAMES, Difference

MARKS = {"baseline": "†", "base": "‡"}
CONDITIONAL = "§"
DASH = "–"
ROLE_WORDS = {"baseline": "the baseline row", "base": "the untrained base model"}
UNIT_WORDS = {
    "item": "parallel items (all translations of a question drawn together)",
    "query": "query ids",
    "subset": "queries within each subset",
    None: "queries",
}


def _digits(column: Column) -> int:
    return 2 if column.scale != 1.0 else 1


def marks(table: Table, cell: Cell) -> str:
    """``"†‡"``: the references this cell's row differs from, after the table's correction."""
    out = ""
    for role, label in table.references:
        diff = cell.diffs.get(label)
        if diff is not None and diff.significant:
            out += MARKS[role]
    return out


def seeds_text(table: Table, row: Row) -> str:
    """The seeds column: the count, ``§`` for one seed of a trained row, ``fixed`` otherwise."""
    if not row.trained:
        return "fixed"
    conditional = any(
        (cell := table.cell(row, column)) is not None and cell.conditional
        for column in table.columns
    )
    return f"{len(row.runs)}{CONDITIONAL if conditional else ''}"


def format_difference(diff: Difference | None, column: Column, mark: str = "*") -> str:
    """``"+2.01 [0.52, 3.60]†"`` on the column's display scale (``"–"`` when missing)."""
    if diff is None or not math.isfinite(diff.value):
        return DASH
    digits = _digits(column)
    text = f"{diff.value * column.scale:+.{digits}f}"
    if diff.ci is not None and all(math.isfinite(v) for v in diff.ci):
        low, high = (v * column.scale for v in diff.ci)
        text += f" [{low:+.{digits}f}, {high:+.{digits}f}]"
    if diff.significant:
        text += mark
    if diff.conditional:
        text += CONDITIONAL
    return text


def difference_body(table: Table, role: str, label: str, key_cells) -> list[list[str]]:  # noqa: ANN001
    """Rows x columns of the differences to one reference row (``key_cells(table, row)`` first)."""
    body = []
    for row in table.rows:
        cells = []
        for column in table.columns:
            if row.label == label:
                cells.append("reference")
                continue
            cell = table.cell(row, column)
            diff = cell.diffs.get(label) if cell else None
            cells.append(format_difference(diff, column, MARKS[role]))
        body.append(key_cells(table, row) + cells)
    return body


def difference_title(table: Table, role: str, label: str, confidence: float) -> str:
    """Title of the difference table to one reference."""
    what = {"headline": "difference", "language": "per language: difference"}.get(
        table.kind, f"{table.kind} languages: difference"
    )
    return (
        f"{table.task}: {what} to {label} ({ROLE_WORDS[role]}), "
        f"row minus reference with its {confidence:.0%} seed-aware interval"
    )


def statistics_notes(board: Leaderboard, table: Table) -> list[str]:
    """The lines that explain the intervals, the tests and the chance level of a table."""
    lines: list[str] = []
    if table.chance is not None:
        lines.append(
            "chance (rank dist.): its expectation under a random ranking of this task and query "
            "set, per query from its pool size N (every pooled document, less the query's own "
            "text where that is one) and its relevant documents per language: (k - 1)(N + 1)/"
            "(k + 1) with one in each of k languages, an exact inclusion-exclusion formula with "
            "several; averaged like the column "
            f"(mean {table.chance['rank_distance']:,.1f}). RD/chance %: rank distance as a "
            "percentage of it, per run (100 = no better than a random ranking, 0 = no language "
            "bias); it repeats the rank-distance test."
        )
    settings, info = board.settings, table.inference
    if not table.has_ci or settings is None or info is None:
        return lines
    pooled = info.seed_variance == "pooled"
    level = (
        "the seed variance pooled over the table's trained rows"
        if pooled
        else "its own std over seeds"
    )
    lines.append(
        f"± (interval width): half the width of the {settings.confidence:.0%} seed-aware "
        f"interval, from {info.n_resamples:,} resamples (seed {settings.seed}) of two levels: "
        f"{UNIT_WORDS[table.resample_unit]}, the same resamples for every row, and for a "
        f"trained row its seed mean drawn as mean + s/sqrt(m)·t(m-1), s {level}. It covers "
        "which queries were sampled and which training runs were drawn; a fixed checkpoint "
        "(the base model) has no training randomness."
    )
    if info.conditional_rows:
        lines.append(
            f"{CONDITIONAL} (seeds column): one seed ({', '.join(info.conditional_rows)}): "
            "the row's interval and tests are conditional on that checkpoint; they do not "
            "cover training randomness."
        )
    if table.has_tests and table.references:
        refs = "; ".join(
            f"{MARKS[role]} differs from {label} ({ROLE_WORDS[role]})"
            for role, label in table.references
        )
        correction = CORRECTION_NAMES[info.correction]
        lines.append(
            f"{refs}: two-sided test of the difference (row minus reference, in the tables "
            "below with its interval and the same mark) on the same resampled items and seed "
            "draws, "
            "p = (1 + #{|D* - D| >= |D|})/(B + 1). "
            f"{info.n_tests} tests in this table (every row against each reference, every "
            f"column), {correction}-corrected together at alpha = {info.alpha:g}: strictest "
            f"corrected threshold alpha/m = {info.threshold:.1e}, smallest attainable p "
            f"1/(B + 1) = {info.smallest_p:.1e}; {info.n_significant} significant."
        )
        if info.smallest_p * 5 > info.threshold:
            lines.append(
                f"Warning: with {info.n_resamples:,} resamples the smallest attainable p is not "
                "well below the corrected threshold; raise --bootstrap."
            )
    elif board.settings is not None and not table.references:
        lines.append("No reference row (no 1:0:0 row, no base model, no --baseline): no tests.")
    return lines


def difference_records(table: Table, cell: Cell) -> dict[str, Any]:
    """Flat fields of a cell's differences for csv/json: ``diff_<role>``, its interval, ``p``,
    ``p_adj`` and ``significant`` per reference role (baseline, base)."""
    out: dict[str, Any] = {}
    for role in ("baseline", "base"):
        label = dict(table.references).get(role)
        diff = cell.diffs.get(label) if label else None
        ci = diff.ci if diff is not None and diff.ci else (math.nan, math.nan)
        out[f"reference_{role}"] = label or ""
        out[f"diff_{role}"] = diff.value if diff is not None else math.nan
        out[f"diff_{role}_low"] = ci[0]
        out[f"diff_{role}_high"] = ci[1]
        out[f"p_{role}"] = diff.p if diff is not None and diff.p is not None else math.nan
        out[f"p_adj_{role}"] = (
            diff.p_adj if diff is not None and diff.p_adj is not None else math.nan
        )
        out[f"significant_{role}"] = bool(diff is not None and diff.significant)
    return out


def statistics_document(board: Leaderboard, table: Table) -> dict[str, Any] | None:
    """The table's inference settings and chance level for the JSON export."""
    info = table.inference
    out: dict[str, Any] = {"chance": table.chance}
    if info is not None:
        out.update(
            method="two-level resampling: paired items, seed means from their spread (t)",
            references=[{"role": role, "row": label} for role, label in table.references],
            n_tests=info.n_tests,
            n_resamples=info.n_resamples,
            alpha=info.alpha,
            correction=info.correction,
            seed_variance=info.seed_variance,
            threshold=info.threshold if info.n_tests else None,
            smallest_p=info.smallest_p,
            n_significant=info.n_significant,
            conditional_rows=info.conditional_rows,
        )
    return out
