"""A leaderboard's files: a bundle folder (README.md with its plots, csv / json / tex / html) and
the PNG plots asked for one by one. Each function returns what it wrote, for the caller to report.
"""

from __future__ import annotations

import re
from pathlib import Path

from mteb_hybrid.leaderboard.board import Leaderboard, Row, Table, pair_matrix
from mteb_hybrid.leaderboard.results import ResultSet


def per_task_path(path: Path, task: str, several: bool) -> Path:
    """``board.png`` -> ``board-<task>.png`` when a leaderboard has several tasks."""
    return path.with_name(f"{path.stem}-{task}{path.suffix}") if several else path


def _has_sweep_rows(table: Table) -> bool:
    return any(r.ratio is not None for r in table.rows)


def write_bundle(
    board: Leaderboard, result: ResultSet, folder: Path, interval: str = "pm", split: str = "test"
) -> list[Path]:
    """Everything a ``leaderboards/<name>/`` folder holds: README.md (the markdown table with
    the plots linked), leaderboard.csv/json/tex/html, ratio and ternary plots of sweep rows and a
    language-pair heatmap per row. Returns the plots written."""
    from mteb_hybrid.leaderboard import plots
    from mteb_hybrid.leaderboard.export import render

    folder.mkdir(parents=True, exist_ok=True)
    several = len(board.tables) > 1
    images: list[tuple[str, Path]] = []
    for table in board.tables:
        if _has_sweep_rows(table):
            path = plots.plot_vs_ratio(
                table, per_task_path(folder / "ratio.png", table.task, several)
            )
            images.append((f"{table.task}: figures against the ratio", path))
            path = plots.plot_ternary(
                table, per_task_path(folder / "ternary.png", table.task, several)
            )
            images.append((f"{table.task}: figures over the simplex", path))
        for row in table.rows:
            matrix = pair_matrix(result.select(table.task, split), row, table.task, split)
            name = re.sub(r"[^A-Za-z0-9_.-]+", "_", row.label).strip("_")
            path = plots.plot_heatmap(matrix, folder / "heatmaps" / f"{table.task}-{name}.png")
            images.append((f"{table.task}: language pairs of {row.label}", path))
    text = render(board, "md", interval)
    text += "\n## Plots\n\n" + "\n".join(
        f"![{title}]({path.relative_to(folder).as_posix()})\n" for title, path in images
    )
    (folder / "README.md").write_text(text, encoding="utf-8")
    for fmt in ("csv", "json", "tex", "html"):
        (folder / f"leaderboard.{fmt}").write_text(render(board, fmt, interval), encoding="utf-8")
    return [path for _, path in images]


def _heatmap_row(table: Table, model: str | None) -> Row:
    """The row a heatmap shows: the one labelled or named ``model``, else the baseline row."""
    if not model:
        return next((r for r in table.rows if r.is_baseline), table.rows[0])
    chosen = next((r for r in table.rows if model in {r.label, r.model}), None)
    if chosen is None:
        labels = ", ".join(r.label for r in table.rows)
        raise ValueError(f"--heatmap-model {model!r} matches no row; rows are: {labels}")
    return chosen


def write_plots(
    board: Leaderboard,
    result: ResultSet,
    *,
    plot: Path | None = None,
    ternary: Path | None = None,
    heatmap: Path | None = None,
    heatmap_model: str | None = None,
    split: str = "test",
) -> list[str]:
    """Write the PNGs asked for (one per task where there are several tasks); returns one line
    per file written or skipped."""
    if not (plot or ternary or heatmap):
        return []
    from mteb_hybrid.leaderboard import plots

    several = len(board.tables) > 1
    notes: list[str] = []
    for table in board.tables:
        if plot:
            if not _has_sweep_rows(table):
                notes.append(f"{table.task}: no sweep rows (ratio); --plot skipped")
            else:
                written = plots.plot_vs_ratio(table, per_task_path(plot, table.task, several))
                notes.append(f"wrote {written}")
        if ternary and _has_sweep_rows(table):
            written = plots.plot_ternary(table, per_task_path(ternary, table.task, several))
            notes.append(f"wrote {written}")
        if heatmap:
            row = _heatmap_row(table, heatmap_model)
            matrix = pair_matrix(result.select(table.task, split), row, table.task, split)
            written = plots.plot_heatmap(matrix, per_task_path(heatmap, table.task, several))
            notes.append(f"wrote {written}")
    return notes
