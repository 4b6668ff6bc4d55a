"""Write a :class:`~.board.Leaderboard` as markdown, csv, LaTeX, HTML or JSON.

Scores are shown x100 with 2 decimals (mteb's leaderboard convention), rank distance in ranks with
1 decimal. A cell reads ``79.20 ± 1.10†‡``: the value (mean over seeds), half the width of its 95%
seed-aware interval, and a mark per reference row it differs from after the table's correction
(see :mod:`.stats_export`); each reference gets a table of differences with their intervals.
csv and json carry every number in full (interval bounds, std over seeds, differences, raw and
corrected p).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mteb_hybrid.leaderboard.aggregate import METRIC_LABELS, Column
from mteb_hybrid.leaderboard.board import Cell, Leaderboard, PairMatrix, Row, Table
from mteb_hybrid.leaderboard.stats_export import (
    difference_body,
    difference_records,
    difference_title,
    marks,
    seeds_text,
    statistics_document,
    statistics_notes,
)
from mteb_hybrid.runs import BATCH_KINDS

FORMATS = ("md", "csv", "tex", "html", "json")
DAGGER = "†"
DASH = "–"


# -- numbers ----------------------------------------------------------------------------------
def _decimals(column: Column) -> int:
    return 2 if column.scale != 1.0 else 1


def _scaled(value: float | None, column: Column) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return value * column.scale


def format_value(value: float | None, column: Column) -> str:
    """``0.792`` -> ``"79.20"`` (``"–"`` for missing)."""
    scaled = _scaled(value, column)
    return DASH if scaled is None else f"{scaled:.{_decimals(column)}f}"


def format_cell(
    cell: Cell | None, column: Column, interval: str = "pm", table: Table | None = None
) -> str:
    """``"79.20 ± 1.10†"`` (``interval="brackets"``: ``"79.20 [78.1, 80.3]†"``); with ``table``
    one mark per reference row the cell differs from (else ``†`` for the baseline row)."""
    if cell is None:
        return DASH
    text = format_value(cell.value, column)
    if text == DASH:
        return text
    if cell.ci is not None and all(math.isfinite(v) for v in cell.ci):
        low, high = (v * column.scale for v in cell.ci)
        digits = _decimals(column)
        if interval == "brackets":
            text += f" [{low:.{digits - 1}f}, {high:.{digits - 1}f}]"
        else:
            text += f" ± {(high - low) / 2:.{digits}f}"
    if table is not None:
        text += marks(table, cell)
    elif cell.significant:
        text += DAGGER
    if cell.note:
        text += f" ({cell.note})"
    return text


def format_sd(cell: Cell | None, column: Column) -> str:
    """The std over seeds of a cell, or ``"–"``."""
    if cell is None or cell.seed_sd is None:
        return DASH
    return format_value(cell.seed_sd, column)


# -- table rows -------------------------------------------------------------------------------
def format_batch_types(row: Row) -> str:
    """Realised ``mono/cross/multi`` batches of a row's training runs: ``"20/20/20"`` when every
    seed trained the same counts, else each seed's (``"28/32/0; 26/34/0"``); ``"–"`` unknown."""
    texts = [
        DASH if c is None else "/".join(str(c[k]) for k in BATCH_KINDS) for c in row.batch_types
    ]
    if not texts or all(t == DASH for t in texts):
        return DASH
    return texts[0] if len(set(texts)) == 1 else "; ".join(texts)


def _has_batch_types(table: Table) -> bool:
    return any(c is not None for r in table.rows for c in r.batch_types)


def _has_seeds_column(table: Table) -> bool:
    return any(len(r.runs) > 1 or r.trained for r in table.rows)


def _key_headers(table: Table) -> list[str]:
    headers = ["model"]
    if any(r.ratio is not None for r in table.rows):
        headers.append("ratio m:c:x")
    if _has_seeds_column(table):
        headers.append("seeds")
    if _has_batch_types(table):
        headers.append("batches m/c/x")
    return headers


def _key_cells(table: Table, row: Row) -> list[str]:
    # a row's label is its model name, with @revision (or folder:) where the name is not unique
    model = row.label if row.ratio is None else _sweep_name(row)
    role = " (baseline)" if row.is_baseline else " (base model)" if row.is_base else ""
    cells = [model + role]
    if any(r.ratio is not None for r in table.rows):
        cells.append(row.ratio_text or DASH)
    if _has_seeds_column(table):
        cells.append(seeds_text(table, row))
    if _has_batch_types(table):
        cells.append(format_batch_types(row))
    return cells


def _sweep_name(row: Row) -> str:
    return f"sweep {row.runs[0].source}"


def table_body(
    table: Table, value: Callable[[Cell | None, Column], str]
) -> tuple[list[str], list[list[str]]]:
    """Headers and string rows of a table, cells written by ``value``."""
    headers = _key_headers(table) + [c.label for c in table.columns]
    body = [
        _key_cells(table, row) + [value(table.cell(row, c), c) for c in table.columns]
        for row in table.rows
    ]
    return headers, body


def notes(board: Leaderboard, table: Table) -> list[str]:
    """One line per figure that needs explaining, for the lines under a table."""
    keys = {c.key for c in table.columns}
    main = next((c for c in table.columns if c.kind in {"worst", "group", "language"}), None)
    metric = METRIC_LABELS.get(main.metric, main.metric) if main is not None else "mAP"
    lines = [
        "Settings: mono = query and corpus in the same language (X-X), cross = query X against "
        "a corpus in Y != X, multi = query X against the corpora of all languages pooled; each "
        "a macro average over its language pairs (multi: over query languages). Scores x100."
    ]
    dirty = board.metadata.get("dirty_runs") or []
    if dirty:
        lines.append(
            "⚠ Not from a clean commit (accepted with --allow-dirty; these runs cannot be "
            f"reproduced from a commit): {'; '.join(dirty)}."
        )
    if "rank_distance" in keys:
        lines.append(
            "rank dist. (robustness, lower is better): in the pooled setting, per query, the best "
            "rank of its answer in each language, max minus min across languages, averaged; 0 "
            "means every translation of the answer ranks together (no language bias)."
        )
    for column in table.columns:
        if column.kind == "group":
            lines.append(
                f"{column.label}: mean of the per-language {metric} of "
                f"{', '.join(column.languages)}; a language's score is the mean over every "
                "subset it takes part in (as query or corpus language, any setting)."
            )
    for column in table.columns:
        if column.kind == "gap":
            lines.append(
                f"{column.label}: the first group's mean {metric} minus the second's (robustness: "
                "how far the worse-served languages trail; lower is better)."
            )
    if "worst" in keys:
        lines.append(
            f"worst lang. (robustness): the lowest per-language {metric} (language in brackets; "
            "with several seeds, the mean of each seed's worst and the most frequent language)."
        )
    if "spread" in keys:
        lines.append(
            f"lang. spread (robustness, lower is better): standard deviation of the per-language "
            f"{metric} across languages; how unevenly the model serves its languages."
        )
    if _has_batch_types(table):
        schedules = sorted({s for r in table.rows for s in r.ratio_schedules if s})
        lines.append(
            "batches m/c/x: the mono / cross / multi training batches each run actually trained "
            "on (one figure when every seed's are equal, else one per seed); ratio schedule "
            f"{', '.join(schedules)} (exact: the counts equal the ratio's largest-remainder "
            "allocation of the steps; independent: each step's type drawn on its own)."
        )
    if any(len(r.runs) > 1 for r in table.rows):
        lines.append(
            "Rows with several seeds show the mean over seeds; the std over seeds (robustness to "
            "training randomness) is in its own table. seeds 'fixed': one checkpoint that was "
            "not trained here (no training randomness)."
        )
    lines.extend(statistics_notes(board, table))
    lines.extend(table.warnings)
    return lines


def extra_title(table: Table, label: str) -> str:
    """Title of a table beside the headline: per language, or the low-resource languages'
    own subsets."""
    if table.kind == "language":
        return f"{table.task}: per language ({label}, mean over every setting)"
    return (
        f"{table.task}: {table.kind} languages, each subset on its own ({label}; query→corpus "
        "language, all = the pooled corpus)"
    )


def _title(table: Table) -> str:
    kind = {"headline": "", "language": " — per language"}.get(table.kind, f" — {table.kind}")
    return f"{table.task} ({table.split}){kind}"


def _header_lines(board: Leaderboard) -> list[str]:
    lines = [f"Results: {', '.join(f'`{p}`' for p in board.sources.values())}."]
    if board.metadata.get("command"):
        lines.append(f"Table: `{board.metadata['command']}`")
    for name, info in board.metadata.get("sweeps", {}).items():
        lines.extend(sweep_provenance_lines(name, info))
    return lines


def sweep_provenance_lines(name: str, info: dict[str, Any]) -> list[str]:
    """What produced a sweep (its ``sweep.json``): the command, the summed run time and, when the
    sweep was run more than once (resumed or extended), every invocation with its own wall time."""
    lines = []
    if info.get("command"):
        lines.append(f"Sweep `{name}`: `{info['command']}`")
    if info.get("wall_time_s") is not None:
        lines.append(
            f"Sweep `{name}` wall time: {info['wall_time_s'] / 60:.1f} min "
            f"({_runs_done(info)}, device {info.get('device', '?')})."
        )
    invocations = info.get("invocations") or []
    if len(invocations) > 1:
        parts = []
        for number, run in enumerate(invocations, 1):
            elapsed = run.get("elapsed_s")
            took = f"{elapsed / 60:.1f} min" if elapsed is not None else "time unknown"
            state = ""
            if not run.get("finished"):  # a later invocation means this one ended early
                state = ", interrupted" if number < len(invocations) else ", running or interrupted"
            parts.append(
                f"({number}) {run.get('started', '?')}, {took}{state}: `{run.get('command', '?')}`"
            )
        lines.append(
            f"Sweep `{name}` was run {len(invocations)} times (a rerun resumes the sweep and adds "
            f"what is missing): {'; '.join(parts)}."
        )
    return lines


def _runs_done(info: dict[str, Any]) -> str:
    """``"15 runs done"``, or ``"15 of 22 planned runs done"`` for a sweep still under way."""
    done, planned = info.get("runs_done", "?"), info.get("runs_planned")
    if isinstance(done, int) and isinstance(planned, int) and planned > done:
        return f"{done} of {planned} planned runs done"
    return f"{done} runs done"


# -- formats ----------------------------------------------------------------------------------
@dataclass
class Section:
    """One table of the document: its heading level and title, cells, and lines under it."""

    level: int
    title: str
    headers: list[str]
    body: list[list[str]]
    notes: list[str]


def sections(board: Leaderboard, interval: str = "pm") -> list[Section]:
    """Every table in document order: per task the headline table (with its notes), the std over
    seeds, the per-language table and the language-pair tables."""
    out = []
    for table in board.tables:
        headers, body = table_body(table, lambda c, col, t=table: format_cell(c, col, interval, t))
        out.append(Section(2, _title(table), headers, body, notes(board, table)))
        out.extend(_difference_sections(board, table, 3))
        if any(len(r.runs) > 1 for r in table.rows):
            out.append(
                Section(3, f"{table.task}: std over seeds", *table_body(table, format_sd), [])
            )
        for extra in board.language_tables:
            if extra.task == table.task and extra.split == table.split:
                metric = extra.columns[0].metric if extra.columns else "map"
                label = METRIC_LABELS.get(metric, metric)
                headers, body = table_body(
                    extra, lambda c, col, t=extra: format_cell(c, col, interval, t)
                )
                title = extra_title(extra, label)
                lines = statistics_notes(board, extra) if extra.has_tests else []
                out.append(Section(3, title, headers, body, lines))
                out.extend(_difference_sections(board, extra, 4))
        if table.task in board.coverage:
            out.append(coverage_section(board.coverage[table.task]))
        for matrix in board.pair_matrices:
            if matrix.task == table.task and matrix.split == table.split:
                label = METRIC_LABELS.get(matrix.metric, matrix.metric)
                title = f"{table.task}: language pairs of {matrix.row} ({label} x100)"
                out.append(Section(3, title, *pair_body(matrix), []))
    return out


def coverage_section(report: dict[str, Any]) -> Section:
    """The tokenizer coverage of a task's languages (see :mod:`mteb_hybrid.coverage`)."""
    from mteb_hybrid.coverage_report import coverage_rows

    headers, body = coverage_rows(report)
    model = str(report["model"])
    title = f"{report['task']}: tokenizer coverage of {model}"
    note = (
        "Share of [UNK] tokens, tokens per character and share of texts cut at "
        f"{report['max_length']} tokens, over the task's distinct texts: where the tokenizer "
        "cannot see a language, no training ratio can help it."
    )
    return Section(3, title, headers, body, [note])


def _difference_sections(board: Leaderboard, table: Table, level: int) -> list[Section]:
    """One table per reference row: every row's difference to it with its interval."""
    if not table.has_tests or board.settings is None:
        return []
    headers = _key_headers(table) + [c.label for c in table.columns]
    confidence = board.settings.confidence
    return [
        Section(
            level,
            difference_title(table, role, label, confidence),
            headers,
            difference_body(table, role, label, _key_cells),
            [],
        )
        for role, label in table.references
    ]


def to_markdown(board: Leaderboard, interval: str = "pm") -> str:
    """A markdown document: header, then per task the table, its notes and extra tables."""
    from tabulate import tabulate

    out = ["# Leaderboard", ""]
    for line in _header_lines(board):
        out += [line, ""]
    for section in sections(board, interval):
        out += [f"{'#' * section.level} {section.title}", ""]
        out += [
            tabulate(
                section.body, headers=section.headers, tablefmt="github", disable_numparse=True
            ),
            "",
        ]
        if section.notes:
            out += [f"- {line}" for line in section.notes] + [""]
    return "\n".join(out).rstrip() + "\n"


def pair_body(matrix: PairMatrix) -> tuple[list[str], list[list[str]]]:
    """Query language (rows) x corpus language (columns; ``all`` = pooled), x100."""
    headers = ["query \\ corpus", *matrix.corpus_langs]
    body = []
    for i, lang in enumerate(matrix.query_langs):
        values = [f"{v * 100:.2f}" if math.isfinite(v) else DASH for v in matrix.values[i]]
        body.append([lang, *values])
    return headers, body


def to_records(board: Leaderboard) -> list[dict[str, Any]]:
    """One flat record per (table, row, column), numbers on the displayed scale."""
    records = []
    for table in [*board.tables, *board.language_tables]:
        for row in table.rows:
            for column in table.columns:
                cell = table.cell(row, column)
                if cell is None:
                    continue
                ci = cell.ci or (math.nan, math.nan)
                records.append(
                    {
                        "task": table.task,
                        "split": table.split,
                        "table": table.kind,
                        "row": row.label,
                        "model": row.model,
                        "ratio": row.ratio_text,
                        "seeds": " ".join(str(s) for s in row.seeds),
                        "batch_types": format_batch_types(row),
                        "n_runs": cell.n_runs,
                        "baseline": row.is_baseline,
                        "base_model": row.is_base,
                        "column": column.key,
                        "label": column.label,
                        "metric": column.metric,
                        "value": _round(_scaled(cell.value, column)),
                        "ci_low": _round(_scaled(ci[0], column)),
                        "ci_high": _round(_scaled(ci[1], column)),
                        "seed_sd": _round(_scaled(cell.seed_sd, column)),
                        "conditional": cell.conditional,
                        "note": cell.note or "",
                    }
                )
                for key, value in difference_records(table, cell).items():
                    if key.startswith("diff_"):
                        value = _round(_scaled(value, column))
                    elif key.startswith("p_"):
                        value = _round(value, 6)
                    records[-1][key] = value
    return records


def _round(value: float | None, digits: int = 4) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), digits)


def to_csv(board: Leaderboard) -> str:
    """Long-format csv: one line per (task, table, row, column)."""
    records = to_records(board)
    buffer = io.StringIO()
    fields = list(records[0]) if records else ["task", "row", "column", "value"]
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for record in records:
        writer.writerow({k: "" if v is None else v for k, v in record.items()})
    return buffer.getvalue()


def to_json(board: Leaderboard) -> str:
    """Plain JSON: settings, per table its columns, notes and cells (``null`` for missing)."""
    settings = board.settings
    document = {
        "sources": board.sources,
        "baseline": board.baseline,
        "alpha": board.alpha,
        "bootstrap": None
        if settings is None
        else {
            "n_resamples": settings.n_resamples,
            "seed": settings.seed,
            "unit": settings.unit,
            "confidence": settings.confidence,
        },
        "base": board.base,
        "inference": {
            "correction": board.inference.correction,
            "seed_variance": board.inference.seed_variance,
            "resolution": board.inference.resolution,
        },
        "scale": "scores x100; rank distance in ranks",
        "metadata": board.metadata,
        "tables": [
            {
                "task": table.task,
                "split": table.split,
                "kind": table.kind,
                "groups": table.groups,
                "columns": [
                    {
                        "key": c.key,
                        "label": c.label,
                        "metric": c.metric,
                        "kind": c.kind,
                        "setting": c.setting,
                        "languages": list(c.languages),
                        "lower_is_better": c.lower_is_better,
                    }
                    for c in table.columns
                ],
                "notes": notes(board, table) if table.kind == "headline" else [],
                "statistics": statistics_document(board, table),
            }
            for table in [*board.tables, *board.language_tables]
        ],
        "cells": to_records(board),
        "pairs": [
            {
                "task": m.task,
                "split": m.split,
                "row": m.row,
                "metric": m.metric,
                "query_langs": m.query_langs,
                "corpus_langs": m.corpus_langs,
                "values": [[_round(v * 100) for v in line] for line in m.values.tolist()],
            }
            for m in board.pair_matrices
        ],
        "coverage": board.coverage,
    }
    return json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def _latex(text: str) -> str:
    return (
        text.replace("±", r"$\pm$")
        .replace(DAGGER, r"$^\dagger$")
        .replace("‡", r"$^\ddagger$")
        .replace("§", r"\S{}")
        .replace("·", r"$\cdot$")
        .replace("↓", r"$\downarrow$")
        .replace(DASH, "--")
    )


def to_latex(board: Leaderboard, interval: str = "pm") -> str:
    """A LaTeX fragment: one booktabs table per section, its notes as the caption."""
    from tabulate import tabulate

    out = []
    for section in sections(board, interval):
        tex = tabulate(
            section.body, headers=section.headers, tablefmt="latex_booktabs", disable_numparse=True
        )
        caption = " ".join([section.title + ".", *section.notes])
        caption = caption.replace("\\", "").replace("_", r"\_").replace("%", r"\%")
        caption = caption.replace("#", r"\#").replace("&", r"\&")
        caption = caption.replace("<", "$<$").replace(">", "$>$").replace("!=", r"$\neq$")
        out += [
            r"\begin{table}[t]",
            r"\centering",
            r"\small",
            _latex(tex),
            rf"\caption{{{_latex(caption)}}}",
            r"\end{table}",
            "",
        ]
    return "\n".join(out)


# The page reads at 1280 px without horizontal scrolling: a compact font, header cells and the
# row labels wrap; a table wider than the page (a per-language table of 36 languages) scrolls
# inside itself instead of widening the page. Everything is inline: the page is one file.
HTML_STYLE = (
    "<style>"
    "body{font:14px/1.4 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#222;"
    "max-width:1240px;margin:16px auto;padding:0 12px}"
    "h1{font-size:22px}h2{font-size:18px;margin-top:28px}h3{font-size:15px}"
    "table{border-collapse:collapse;font-size:12.5px;margin:6px 0;display:block;"
    "max-width:100%;overflow-x:auto}"
    "th,td{padding:3px 6px;border:1px solid #ccc;vertical-align:top}"
    "td{white-space:nowrap}td:first-child{white-space:normal;min-width:9em;max-width:17em;"
    "overflow-wrap:anywhere}"
    "th{background:#f2f2f2;white-space:normal;cursor:pointer;user-select:none}"
    "th:hover{background:#e6e6e6}"
    "th[aria-sort=ascending]::after{content:' \\25B2'}"
    "th[aria-sort=descending]::after{content:' \\25BC'}"
    "tbody tr:nth-child(even){background:#fafafa}"
    "ul{font-size:13px;color:#444;margin-top:4px}li{margin:2px 0}"
    "</style>"
)
# Click a column header to sort its table (again: the other way). Cells sort by their leading
# number ("79.20 ± 1.10†" by 79.20); cells without one ("–") go last, in text order.
HTML_SORT_SCRIPT = """<script>
document.addEventListener("DOMContentLoaded", function () {
  function key(row, col) {
    var cell = row.cells[col], text = cell ? cell.textContent.trim() : "";
    var number = parseFloat(text.replace(/\u2212/g, "-"));
    return isNaN(number) ? {n: null, t: text} : {n: number, t: text};
  }
  document.querySelectorAll("table").forEach(function (table) {
    var head = table.tHead, body = table.tBodies[0];
    if (!head || !body) return;
    Array.prototype.forEach.call(head.rows[0].cells, function (th, col) {
      th.title = "Sort by this column";
      th.addEventListener("click", function () {
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        Array.prototype.forEach.call(head.rows[0].cells, function (other) {
          other.removeAttribute("aria-sort");
        });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = key(a, col), y = key(b, col), order;
          if (x.n === null || y.n === null) {
            if (x.n !== null) return -1;
            if (y.n !== null) return 1;
            order = x.t.localeCompare(y.t);
          } else {
            order = x.n - y.n;
          }
          return ascending ? order : -order;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  });
});
</script>"""


def to_html(board: Leaderboard, interval: str = "pm") -> str:
    """A standalone HTML page: every section's table with its notes under it; columns sort on a
    click (inline script), and the page reads at 1280 px without horizontal scrolling."""
    import html

    from tabulate import tabulate

    parts = [
        "<!DOCTYPE html>",
        '<html><head><meta charset="utf-8"><title>Leaderboard</title>',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        HTML_STYLE,
        HTML_SORT_SCRIPT,
        "</head><body>",
        "<h1>Leaderboard</h1>",
        *[f"<p>{html.escape(line)}</p>" for line in _header_lines(board)],
    ]
    for section in sections(board, interval):
        parts.append(f"<h{section.level}>{html.escape(section.title)}</h{section.level}>")
        parts.append(
            tabulate(section.body, headers=section.headers, tablefmt="html", disable_numparse=True)
        )
        if section.notes:
            parts.append("<ul>")
            parts += [f"<li>{html.escape(line)}</li>" for line in section.notes]
            parts.append("</ul>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def render(board: Leaderboard, fmt: str, interval: str = "pm") -> str:
    """The leaderboard in one of :data:`FORMATS`."""
    if fmt == "md":
        return to_markdown(board, interval)
    if fmt == "csv":
        return to_csv(board)
    if fmt == "tex":
        return to_latex(board, interval)
    if fmt == "html":
        return to_html(board, interval)
    if fmt == "json":
        return to_json(board)
    raise ValueError(f"format {fmt!r}: use one of {', '.join(FORMATS)}")
