"""Plots of a leaderboard (matplotlib, Agg backend; imported only when a plot is asked for).

- :func:`plot_vs_ratio`: one panel per headline figure, the figure against the share of each batch
  type (one line per type: mono, cross, multi), with the seed-aware intervals as error bars and
  models outside the sweep (the base model) as dashed horizontal lines.
- :func:`plot_ternary`: the figure over the mono/cross/multi simplex, one panel per figure.
- :func:`plot_heatmap`: query language x corpus language for one model.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from mteb_hybrid.leaderboard.aggregate import METRIC_LABELS, Column
from mteb_hybrid.leaderboard.board import PairMatrix, Table
from mteb_hybrid.runs import BATCH_KINDS

COLORS = {"mono": "tab:blue", "cross": "tab:orange", "multi": "tab:green"}


def _pyplot():  # noqa: ANN202 - matplotlib.pyplot
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _figure_columns(table: Table, keys: Sequence[str] | None) -> list[Column]:
    if keys:
        wanted = set(keys)
        return [c for c in table.columns if c.key in wanted or c.label in wanted]
    return [
        c for c in table.columns if not c.key.startswith("ndcg_at_10") and not c.chance_normalised
    ]


def _grid(n: int) -> tuple[int, int]:
    cols = min(3, max(1, n))
    return math.ceil(n / cols), cols


def plot_vs_ratio(
    table: Table, path: str | os.PathLike[str], columns: Sequence[str] | None = None
) -> Path:
    """Each headline figure against the share of each batch type; returns the PNG path."""
    plt = _pyplot()
    chosen = _figure_columns(table, columns)
    swept = [r for r in table.rows if r.ratio is not None]
    others = [r for r in table.rows if r.ratio is None]
    n_rows, n_cols = _grid(len(chosen))
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(4.2 * n_cols, 3.2 * n_rows), squeeze=False)
    for ax, column in zip(axes.flat, chosen, strict=False):
        for k, batch in enumerate(BATCH_KINDS):
            xs, ys, lows, highs = [], [], [], []
            for row in swept:
                cell = table.cell(row, column)
                if cell is None or not math.isfinite(cell.value):
                    continue
                assert row.ratio is not None
                xs.append(row.ratio[k])
                ys.append(cell.value * column.scale)
                low, high = cell.ci if cell.ci else (cell.value, cell.value)
                lows.append(cell.value * column.scale - low * column.scale)
                highs.append(high * column.scale - cell.value * column.scale)
            if not xs:
                continue
            x, y = np.array(xs), np.array(ys)
            ax.errorbar(
                x + (k - 1) * 0.012,
                y,
                yerr=[lows, highs],
                fmt="o",
                ms=3,
                alpha=0.45,
                color=COLORS[batch],
                capsize=2,
            )
            shares = np.unique(x)
            means = [y[x == s].mean() for s in shares]
            ax.plot(shares, means, "-", color=COLORS[batch], label=f"{batch} share")
        for i, row in enumerate(others):
            cell = table.cell(row, column)
            if cell is not None and math.isfinite(cell.value):
                ax.axhline(
                    cell.value * column.scale, ls="--", lw=1, color=f"C{7 + i % 3}", label=row.model
                )
        ax.set_title(column.label)
        ax.set_xlabel("share of batches of that type")
        ax.set_xlim(-0.05, 1.05)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(chosen) :]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    if handles:
        fig.legend(
            handles, labels, loc="lower center", ncol=min(len(labels), 5), fontsize=8, frameon=False
        )
    fig.suptitle(
        f"{table.task} ({table.split}): figures against the batch-type ratio (mean over seeds, "
        "95% seed-aware intervals of each value;\nthe paired tests in the table compare rows on "
        "the same queries and can separate rows whose intervals overlap)",
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0.06, 1, 0.93))
    return _save(fig, path)


def _ternary_xy(ratios: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Barycentric (mono, cross, multi) -> plane: mono at the bottom left, cross bottom right,
    multi at the top."""
    total = ratios.sum(axis=1, keepdims=True)
    r = ratios / total
    x = r[:, 1] + 0.5 * r[:, 2]
    y = (math.sqrt(3) / 2) * r[:, 2]
    return x, y


def plot_ternary(
    table: Table, path: str | os.PathLike[str], columns: Sequence[str] | None = None
) -> Path:
    """Each headline figure over the mono:cross:multi simplex (colour = value)."""
    plt = _pyplot()
    chosen = _figure_columns(table, columns)
    swept = [r for r in table.rows if r.ratio is not None]
    n_rows, n_cols = _grid(len(chosen))
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(4.2 * n_cols, 3.8 * n_rows), squeeze=False)
    corners = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, math.sqrt(3) / 2], [0.0, 0.0]])
    for ax, column in zip(axes.flat, chosen, strict=False):
        points = [
            (r.ratio, table.cell(r, column).value * column.scale)  # type: ignore[union-attr]
            for r in swept
            if table.cell(r, column) is not None and math.isfinite(table.cell(r, column).value)
        ]
        ax.plot(corners[:, 0], corners[:, 1], "k-", lw=0.8)
        for (cx, cy), name in zip(corners[:3], BATCH_KINDS, strict=True):
            ax.annotate(
                name,
                (cx, cy),
                textcoords="offset points",
                ha="center",
                fontsize=8,
                # the top corner's name sits above its value label
                xytext=(0, -12 if cy == 0 else 17),
            )
        if points:
            ratios = np.array([p[0] for p in points], dtype=np.float64)
            values = np.array([p[1] for p in points])
            x, y = _ternary_xy(ratios)
            cmap = "viridis_r" if column.lower_is_better else "viridis"
            if len(points) >= 3 and np.ptp(x) > 0 and np.ptp(y) > 0:
                ax.tricontourf(x, y, values, levels=12, cmap=cmap, alpha=0.6)
            scatter = ax.scatter(x, y, c=values, cmap=cmap, s=40, edgecolors="k", zorder=3)
            for xi, yi, v in zip(x, y, values, strict=True):
                ax.annotate(
                    f"{v:.1f}",
                    (xi, yi),
                    textcoords="offset points",
                    xytext=(0, 6),
                    ha="center",
                    fontsize=7,
                )
            fig.colorbar(scatter, ax=ax, shrink=0.7)
        ax.set_title(column.label)
        ax.set_aspect("equal")
        # room inside the axes for the corner names and value labels, clear of the title
        ax.set_xlim(-0.12, 1.12)
        ax.set_ylim(-0.12, math.sqrt(3) / 2 + 0.22)
        ax.axis("off")
    for ax in list(axes.flat)[len(chosen) :]:
        ax.axis("off")
    fig.suptitle(f"{table.task} ({table.split}) over the mono:cross:multi simplex", fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def plot_heatmap(matrix: PairMatrix, path: str | os.PathLike[str]) -> Path:
    """Query language (rows) x corpus language (columns, ``all`` = pooled) of one model, x100."""
    plt = _pyplot()
    values = matrix.values * 100
    n_q, n_c = values.shape
    fig, ax = plt.subplots(figsize=(max(5.0, 1.8 + 0.55 * n_c), max(3.6, 1.4 + 0.5 * n_q)))
    image = ax.imshow(
        values,
        cmap="viridis",
        vmin=np.nanmin(values) if values.size else 0,
        vmax=np.nanmax(values) if values.size else 1,
        aspect="auto",
    )
    ax.set_xticks(range(n_c), matrix.corpus_langs, rotation=45, ha="right")
    ax.set_yticks(range(n_q), matrix.query_langs)
    ax.set_xlabel("corpus language (all = pooled)")
    ax.set_ylabel("query language")
    finite = values[np.isfinite(values)]
    middle = (finite.min() + finite.max()) / 2 if finite.size else 0
    for i in range(n_q):
        for j in range(n_c):
            if math.isfinite(values[i, j]):
                ax.text(
                    j,
                    i,
                    f"{values[i, j]:.1f}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if values[i, j] < middle else "black",
                )
    label = METRIC_LABELS.get(matrix.metric, matrix.metric)
    fig.colorbar(image, ax=ax, shrink=0.8, label=f"{label} x100")
    ax.set_title(f"{matrix.task}: {matrix.row}", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def _save(fig, path: str | os.PathLike[str]) -> Path:  # noqa: ANN001 - matplotlib Figure
    import matplotlib.pyplot as plt

    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
