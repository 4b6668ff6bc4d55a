"""Build a leaderboard: rows per model (per ratio for sweeps), headline figures, intervals, tests.

A row is one model, or for sweep models one ratio with its seeds. Each figure of a row is the mean
over its seeds of each run's figure (see :mod:`.aggregate`). Its 95% interval and its differences
to the reference rows (the ``--baseline`` row, 1:0:0 by default, and the untrained base model)
come from the seed-aware two-level resampling of :mod:`.seed_stats`: parallel items resampled
together for every row (:mod:`.bootstrap`), and the row's seed mean drawn from its seed spread.
Every test of a table is corrected together (Holm or Benjamini-Hochberg). Rank distance carries
its random-ranking expectation and a normalised column beside it (:mod:`.chance`).
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from mteb_hybrid.leaderboard import table_stats
from mteb_hybrid.leaderboard.aggregate import (
    Column,
    Layout,
    column_value,
    focus_columns,
    gap_groups,
    headline_columns,
    language_columns,
    language_groups,
    worst_language,
)
from mteb_hybrid.leaderboard.bootstrap import BootstrapSettings
from mteb_hybrid.leaderboard.results import ModelRun, ResultSet, RunKey, SubsetScores
from mteb_hybrid.leaderboard.seed_stats import Difference, FamilySummary, InferenceSettings
from mteb_hybrid.runs import POOLED, Ratio, RatioError

logger = logging.getLogger(__name__)

DEFAULT_BASELINE_RATIO = Ratio(1.0, 0.0, 0.0)
DEFAULT_SETTINGS = BootstrapSettings()
DEFAULT_INFERENCE = InferenceSettings()
# the group whose languages get their own table, one column per subset (X→eng, eng→X, X→all)
FOCUS_GROUP = "low-resource"


@dataclass
class Row:
    """One row: a model, or one ratio of a sweep with its seeds."""

    label: str
    model: str
    runs: list[RunKey]
    ratio: Ratio | None = None
    seeds: list[int] = field(default_factory=list)
    is_baseline: bool = False
    batch_types: list[dict[str, int] | None] = field(default_factory=list)
    ratio_schedules: list[str | None] = field(default_factory=list)
    is_base: bool = False

    @property
    def trained(self) -> bool:
        """A sweep ratio: its runs are seeds of a training recipe (training randomness counts)."""
        return self.ratio is not None

    @property
    def ratio_text(self) -> str:
        """``"0.5:0.5:0"`` or ``""``."""
        return self.ratio.text() if self.ratio is not None else ""


@dataclass
class Cell:
    """One figure of one row, on the metric's own scale (0-1 for scores, ranks for distance).

    ``ci``: the seed-aware interval (items and seeds); ``seed_sd``: the std over seeds (``None``
    below 2 seeds); ``diffs``: per reference row label, the difference to it with its interval
    and test (:class:`~.seed_stats.Difference`); ``p``/``p_adj``/``significant``: the test
    against the first reference (the baseline row), raw and corrected across the table;
    ``conditional``: a trained row with one seed (inference conditional on its checkpoint);
    ``note``: e.g. the worst language's code.
    """

    value: float
    ci: tuple[float, float] | None = None
    seed_sd: float | None = None
    n_runs: int = 1
    p: float | None = None
    p_adj: float | None = None
    significant: bool = False
    note: str | None = None
    diffs: dict[str, Difference] = field(default_factory=dict)
    conditional: bool = False


@dataclass
class Table:
    """A table of one task and split: rows x columns of :class:`Cell`."""

    task: str
    split: str
    kind: str
    columns: list[Column]
    rows: list[Row]
    cells: dict[tuple[str, str], Cell]
    groups: dict[str, list[str]] = field(default_factory=dict)
    has_ci: bool = False
    has_tests: bool = False
    resample_unit: str | None = None
    warnings: list[str] = field(default_factory=list)
    references: list[tuple[str, str]] = field(default_factory=list)
    inference: FamilySummary | None = None
    chance: dict[str, float] | None = None

    def cell(self, row: Row | str, column: Column | str) -> Cell | None:
        """The cell of a row label and column key."""
        row_label = row if isinstance(row, str) else row.label
        key = column if isinstance(column, str) else column.key
        return self.cells.get((row_label, key))


@dataclass
class PairMatrix:
    """One row's metric for every (query language, corpus language) pair of a task."""

    task: str
    split: str
    row: str
    metric: str
    query_langs: list[str]
    corpus_langs: list[str]
    values: np.ndarray


@dataclass
class Leaderboard:
    """All tables built from one :class:`ResultSet`."""

    tables: list[Table]
    settings: BootstrapSettings | None
    alpha: float
    baseline: str | None
    sources: dict[str, str]
    base: str | None = None
    inference: InferenceSettings = DEFAULT_INFERENCE
    # tables beside a task's headline: the low-resource languages' subsets, the per-language table
    language_tables: list[Table] = field(default_factory=list)
    pair_matrices: list[PairMatrix] = field(default_factory=list)
    metadata: dict = field(default_factory=dict)
    # task -> tokenizer coverage report, shown beside the task's per-language tables
    coverage: dict[str, dict] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
def make_rows(
    result: ResultSet, baseline: str | None = "auto", base: str | None = "auto"
) -> list[Row]:
    """Group runs into rows and mark the baseline row and the untrained base model's row.

    Sweep runs (named by ratio and seed) of one family make one row, labelled by the ratio; other
    models are one row each, labelled by their name (with ``@revision`` where a name has several).
    Labels stay unique across results folders by a ``folder:`` prefix where needed.
    ``baseline``: ``"auto"`` (the 1:0:0 row, if any), ``None``/``"none"``, or a row label, model
    name or ratio (``"1:0:0"``). ``base``: ``"auto"`` (the sweep's ``base`` run, else the one
    row outside the sweep in a results folder that holds a sweep), ``None``/``"none"``, or a row
    label or model name.
    """
    groups: dict[tuple[str, str], list[ModelRun]] = {}
    for run in result.runs.values():
        family = run.family if run.ratio is not None else run.key.model
        groups.setdefault((run.key.source, family or run.key.model), []).append(run)
    revisions: dict[str, set[str]] = {}
    for run in result.runs.values():
        revisions.setdefault(run.key.model, set()).add(run.key.revision)
    rows: list[Row] = []
    for (_source, family), runs in groups.items():
        first = runs[0]
        if first.ratio is not None:
            by_seed = sorted(
                _latest_per_seed(runs), key=lambda r: r.seed if r.seed is not None else -1
            )
            label = first.ratio.text()
            rows.append(
                Row(
                    label,
                    family,
                    [r.key for r in by_seed],
                    first.ratio,
                    [r.seed for r in by_seed if r.seed is not None],
                    batch_types=[r.batch_types for r in by_seed],
                    ratio_schedules=[r.ratio_schedule for r in by_seed],
                )
            )
        else:
            for run in runs:
                label = run.key.model
                if len(revisions[run.key.model]) > 1:
                    label += f"@{run.key.revision}"
                rows.append(
                    Row(
                        label,
                        run.key.model,
                        [run.key],
                        batch_types=[run.batch_types],
                        ratio_schedules=[run.ratio_schedule],
                    )
                )
    _dedupe_labels(rows)
    rows.sort(key=_row_order)
    _mark_baseline(rows, baseline)
    _mark_base(result, rows, base)
    return rows


def _mark_base(result: ResultSet, rows: list[Row], base: str | None) -> None:
    """Mark the untrained base model's row (the second reference of the tests)."""
    if base is None or str(base).lower() == "none":
        return
    if base != "auto":
        chosen = [r for r in rows if base in {r.label, r.model}]
        if not chosen:
            labels = ", ".join(r.label for r in rows)
            raise ValueError(f"--base {base!r} matches no row; rows are: {labels}")
        chosen[0].is_base = True
        return
    fixed = [r for r in rows if not r.trained]
    marked = [
        r
        for r in fixed
        if any((result.runs[k].run_info or {}).get("kind") == "base" for k in r.runs)
    ]
    if not marked:
        swept = {r.runs[0].source for r in rows if r.trained}
        for source in swept:
            alone = [r for r in fixed if r.runs[0].source == source]
            if len(alone) == 1:
                marked.append(alone[0])
    if len(marked) == 1:
        marked[0].is_base = True


def _latest_per_seed(runs: list[ModelRun]) -> list[ModelRun]:
    """One run per seed: where a seed has several revisions (a run redone), the newest results."""
    chosen: dict[int | None, ModelRun] = {}
    for run in runs:
        current = chosen.get(run.seed)
        if current is not None:
            logger.warning(
                "%s seed %s has results of revisions %s and %s; using the newer",
                run.family,
                run.seed,
                current.key.revision,
                run.key.revision,
            )
        if current is None or _newest(run) > _newest(current):
            chosen[run.seed] = run
    return list(chosen.values())


def _newest(run: ModelRun) -> float:
    times = [p.stat().st_mtime for p in run.result_files.values() if p.exists()]
    return max(times, default=0.0)


def _dedupe_labels(rows: list[Row]) -> None:
    counts = Counter(row.label for row in rows)
    for row in rows:
        if counts[row.label] > 1:
            row.label = f"{row.runs[0].source}:{row.label}"
    counts = Counter(row.label for row in rows)
    for row in rows:
        if counts[row.label] > 1:
            row.label = f"{row.label}@{row.runs[0].revision}"


def _row_order(row: Row) -> tuple:
    if row.ratio is None:
        return (0, row.runs[0].source, row.label)
    return (1, row.runs[0].source, -row.ratio[0], -row.ratio[1], -row.ratio[2], row.label)


def _mark_baseline(rows: list[Row], baseline: str | None) -> None:
    if baseline is None or str(baseline).lower() == "none":
        return
    chosen: Row | None = None
    if baseline == "auto":
        candidates = [
            r for r in rows if r.ratio is not None and r.ratio.close_to(DEFAULT_BASELINE_RATIO)
        ]
        chosen = candidates[0] if candidates else None
    else:
        for row in rows:
            if baseline in {row.label, row.model, row.ratio_text} or (
                row.ratio is not None and _ratio_matches(baseline, row.ratio)
            ):
                chosen = row
                break
        if chosen is None:
            labels = ", ".join(r.label for r in rows)
            raise ValueError(f"--baseline {baseline!r} matches no row; rows are: {labels}")
    if chosen is not None:
        chosen.is_baseline = True


def _ratio_matches(text: str, ratio: Ratio) -> bool:
    try:
        return ratio.close_to(Ratio.parse(text))
    except RatioError:
        return False


# ---------------------------------------------------------------------------------------------
def build_leaderboard(
    result: ResultSet,
    *,
    tasks: Sequence[str] | None = None,
    split: str = "test",
    baseline: str | None = "auto",
    settings: BootstrapSettings | None = DEFAULT_SETTINGS,
    alpha: float = 0.05,
    groups: Mapping[str, Sequence[str]] | None = None,
    metrics: Sequence[str] = ("map", "ndcg_at_10"),
    per_language: bool = False,
    pairs: Sequence[str] = (),
    trained_on: Sequence[str] | str | None = None,
    base: str | None = "auto",
    inference: InferenceSettings = DEFAULT_INFERENCE,
) -> Leaderboard:
    """Every table for the chosen tasks: per task the headline table, the ``low-resource``
    group's table (each of its languages' own subsets: ``X→eng``, ``eng→X``, ``X→all``) where the
    task has that group, and with ``per_language`` the per-language table.

    ``settings=None`` skips the resampling (no intervals, no tests); ``settings.n_resamples`` is
    the least number of resamples, raised per table as ``inference`` asks (see
    :mod:`.seed_stats`). ``base``: the untrained base model's row (see :func:`make_rows`), tested
    against besides the baseline row. ``groups`` overrides the
    task's language groups (``{"low-resource": ["ben", ...]}``). ``pairs``: row labels (or
    ``"all"``) whose language-pair matrices to add. ``trained_on``: the training languages or
    dataset (for the ``unseen`` group); default: read from the trained models' metadata.
    """
    rows = make_rows(result, baseline, base)
    chosen_tasks = list(tasks) if tasks else result.tasks
    missing = [t for t in chosen_tasks if t not in result.tasks]
    if missing:
        raise ValueError(
            f"no results for task(s) {', '.join(missing)}; found {', '.join(result.tasks)}"
        )
    board = Leaderboard(
        tables=[],
        settings=settings,
        alpha=alpha,
        baseline=next((r.label for r in rows if r.is_baseline), None),
        sources={k: str(v) for k, v in result.sources.items()},
        metadata={"sweeps": dict(result.sweeps)} if result.sweeps else {},
        coverage={t: r for t, r in result.coverage.items() if t in chosen_tasks},
        base=next((r.label for r in rows if r.is_base), None),
        inference=inference,
    )
    for task in chosen_tasks:
        scores = result.select(task, split)
        if not scores:
            logger.warning("task %s has no %r split; skipped", task, split)
            continue
        task_rows = [r for r in rows if any(s.run in set(r.runs) for s in scores)]
        layout = Layout.from_scores(scores)
        task_groups = (
            dict(groups)
            if groups is not None
            else task_language_groups(result, task, task_rows, layout, trained_on)
        )
        columns = headline_columns(
            layout,
            task_groups,
            metrics=metrics,
            has_rank_distance=any("rank_distance" in s.scores for s in scores),
            gap=gap_groups(task),
        )
        table = _build_table(
            result,
            task,
            split,
            "headline",
            layout,
            columns,
            task_rows,
            scores,
            settings,
            alpha,
            inference,
        )
        table.groups = {k: list(v) for k, v in task_groups.items()}
        board.tables.append(table)
        focus = focus_columns(layout, task_groups.get(FOCUS_GROUP, ()), metrics[0])
        if focus:
            board.language_tables.append(
                _build_table(
                    result,
                    task,
                    split,
                    FOCUS_GROUP,
                    layout,
                    focus,
                    task_rows,
                    scores,
                    settings,
                    alpha,
                    inference,
                )
            )
        if per_language:
            board.language_tables.append(
                _build_table(
                    result,
                    task,
                    split,
                    "language",
                    layout,
                    language_columns(layout, metrics[0]),
                    task_rows,
                    scores,
                    settings,
                    alpha,
                    inference,
                )
            )
        for label in pairs:
            for row in task_rows:
                if label in {"all", row.label, row.model}:
                    board.pair_matrices.append(pair_matrix(scores, row, task, split, metrics[0]))
    return board


def task_language_groups(
    result: ResultSet,
    task: str,
    rows: Sequence[Row],
    layout: Layout,
    trained_on: Sequence[str] | str | None = None,
) -> dict[str, list[str]]:
    """The task's groups, plus ``unseen`` (languages no trained row was trained on)."""
    if trained_on is None:
        seen: set[str] = set()
        for row in rows:
            for key in row.runs:
                seen.update(result.runs[key].trained_languages or ())
        trained_on = sorted(seen) or None
    groups = language_groups(task, trained_on)
    if trained_on is not None and "unseen" not in groups and not isinstance(trained_on, str):
        known = set(trained_on)
        unseen = [lang for lang in layout.languages if lang not in known]
        if unseen:
            groups["unseen"] = unseen
    return groups


def _partial_runs(
    task: str, layout: Layout, rows: Sequence[Row], by_run: dict[RunKey, list[SubsetScores]]
) -> list[str]:
    """One warning per run scored on only part of the table's subsets: its averages cover
    fewer subsets than the other rows' and are not comparable with them."""
    notes = []
    for row in rows:
        for key in row.runs:
            have = {item.subset for item in by_run.get(key, [])}
            missing = [name for name in layout.subsets if name not in have]
            if missing:
                shown = ", ".join(missing[:6]) + (", ..." if len(missing) > 6 else "")
                notes.append(
                    f"{task}: PARTIAL RESULT {row.label} ({key}) holds {len(have)} of "
                    f"{len(layout.subsets)} subsets (missing {shown}); its averages cover only "
                    "those and are not comparable with the other rows: evaluate it on all"
                )
    return notes


def _build_table(
    result: ResultSet,
    task: str,
    split: str,
    kind: str,
    layout: Layout,
    columns: list[Column],
    rows: list[Row],
    scores: list[SubsetScores],
    settings: BootstrapSettings | None,
    alpha: float,
    inference: InferenceSettings = DEFAULT_INFERENCE,
) -> Table:
    runs = [key for row in rows for key in row.runs]
    run_index = {key: i for i, key in enumerate(runs)}
    groups = [[run_index[k] for k in row.runs] for row in rows]
    by_run: dict[RunKey, list[SubsetScores]] = {}
    for item in scores:
        by_run.setdefault(item.run, []).append(item)
    metrics = sorted({c.metric for c in columns})
    points = {m: np.stack([layout.vector(by_run.get(k, []), m) for k in runs]) for m in metrics}
    has_distance = any(c.metric == "rank_distance" for c in columns)
    sidecars = (
        [result.per_query(key, task) for key in runs]
        if settings is not None or has_distance
        else [None] * len(runs)
    )
    table = Table(task, split, kind, columns, rows, {})
    divisors: dict[str, np.ndarray] = {}
    if has_distance:
        columns = table_stats.with_chance(table, layout, sidecars, divisors)
        table.columns = columns
    table.references = table_stats.references(rows)
    table.warnings.extend(_partial_runs(task, layout, rows, by_run))

    for column in columns:
        run_values = column_value(column, layout, points[column.metric])  # (R,)
        if column.key in divisors:
            run_values = run_values / divisors[column.key]
        for row, idx in zip(rows, groups, strict=True):
            values = run_values[idx]
            finite = values[np.isfinite(values)]
            cell = Cell(
                value=float(finite.mean()) if finite.size else math.nan,
                seed_sd=float(np.std(finite, ddof=1)) if finite.size > 1 else None,
                n_runs=len(idx),
            )
            if column.kind == "worst":
                langs = [worst_language(column, layout, points[column.metric][i]) for i in idx]
                counts = Counter(lang for lang in langs if lang)
                cell.note = counts.most_common(1)[0][0] if counts else None
            table.cells[(row.label, column.key)] = cell

    if settings is None:
        return table
    if not any(car is not None for car in sidecars):
        table.warnings.append(
            f"{task}: no per-query sidecars (<Task>.per_query.npz): no intervals or tests"
        )
        return table
    missing = [str(k) for k, car in zip(runs, sidecars, strict=True) if car is None]
    if missing:
        table.warnings.append(
            f"{task}: no per-query scores for {', '.join(missing)}: no interval or test"
        )
    table_stats.infer(table, layout, groups, sidecars, settings, alpha, inference, divisors)
    return table


def pair_matrix(
    scores: Sequence[SubsetScores], row: Row, task: str, split: str, metric: str = "map"
) -> PairMatrix:
    """Query language x corpus language (``all`` = pooled) of one row, averaged over its seeds."""
    mine = [s for s in scores if s.run in set(row.runs) and s.setting in {"mono", "cross", "multi"}]
    query_langs = sorted({s.query_lang for s in mine})
    corpus_langs = sorted({s.corpus_lang for s in mine if s.corpus_lang != POOLED})
    if any(s.corpus_lang == POOLED for s in mine):
        corpus_langs.append(POOLED)
    sums = np.zeros((len(query_langs), len(corpus_langs)))
    counts = np.zeros_like(sums)
    for s in mine:
        value = s.metric(metric)
        if np.isfinite(value):
            i, j = query_langs.index(s.query_lang), corpus_langs.index(s.corpus_lang)
            sums[i, j] += value
            counts[i, j] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        values = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return PairMatrix(task, split, row.label, metric, query_langs, corpus_langs, values)
