"""``mteb-hybrid leaderboard``: tables (md, csv, tex, html, json) and plots from mteb results.

``mteb-hybrid table RESULTS`` is an alias (the README's quick start ends with it): the markdown
table of one results folder, with every leaderboard option.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from mteb_hybrid.data.languages import either_iso3
from mteb_hybrid.leaderboard.bootstrap import RESAMPLE_UNITS
from mteb_hybrid.leaderboard.seed_stats import CORRECTIONS, SEED_VARIANCES
from mteb_hybrid.provenance import command_line

FORMATS = ("md", "csv", "tex", "html", "json")
SUFFIX_FORMATS = {".md": "md", ".csv": "csv", ".tex": "tex", ".html": "html", ".json": "json"}


def _format_from_suffix(output: Path | None) -> str:
    """The format an ``-o`` file's suffix names (md without -o or suffix); refuse other suffixes,
    so that a table never lands in a file whose name promises another format."""
    if output is None or not output.suffix:
        return "md"
    fmt = SUFFIX_FORMATS.get(output.suffix.lower())
    if fmt is None:
        raise click.BadParameter(
            f"{output}: no leaderboard format writes {output.suffix} files; name the file "
            f"{', '.join(SUFFIX_FORMATS)} or give --format",
            param_hint="-o",
        )
    return fmt


def _parse_groups(values: tuple[str, ...]) -> dict[str, list[str]] | None:
    if not values:
        return None
    groups: dict[str, list[str]] = {}
    for value in values:
        name, sep, langs = value.partition("=")
        codes = [either_iso3(c) for c in langs.split(",") if c.strip()]
        if not sep or not name.strip() or not codes:
            raise click.BadParameter(
                f"{value!r}: expected NAME=code,code (ISO 639-3 or 2-letter), "
                "e.g. low-resource=ben,swa,tel",
                param_hint="--group",
            )
        groups[name.strip()] = codes
    return groups


def _task_names(*values: str) -> tuple[str, ...]:
    """Task names from ``--tasks``/``--task`` values, each comma-separated or repeated."""
    return tuple(name.strip() for value in values for name in value.split(",") if name.strip())


def _parse_trained_on(value: str | None) -> list[str] | str | None:
    """``"mlqa-r"`` stays a name; ``"en,de"`` becomes ISO 639-3 codes."""
    if not value:
        return None
    if "," not in value and (len(value) > 3 or "-" in value):
        return value
    from mteb_hybrid.leaderboard.results import to_iso3

    return [to_iso3(code.strip()) for code in value.split(",") if code.strip()]


@click.command("leaderboard")
@click.argument("results", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default=None,
    help="Output format (default: from the -o suffix, else md).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write here instead of standard output.",
)
@click.option(
    "--tasks", "tasks", multiple=True, help="Only these tasks, comma-separated or repeated."
)
@click.option("--task", "task_alias", multiple=True, hidden=True, help="Same as --tasks.")
@click.option("--split", default="test", show_default=True, help="The mteb split to read.")
@click.option(
    "--metrics",
    default="map,ndcg_at_10",
    show_default=True,
    help="Metrics of the setting columns; the first is also used for the language "
    "figures (groups, worst language, spread, per-language table).",
)
@click.option(
    "--baseline",
    default="auto",
    show_default=True,
    help="Row the tests compare against: a row label, model name or ratio such as "
    "1:0:0; 'auto' = the 1:0:0 row if there is one; 'none' = no such row.",
)
@click.option(
    "--base",
    "base_row",
    default="auto",
    show_default=True,
    help="The untrained base model's row, the second reference of the tests: a row label or "
    "model name; 'auto' = the sweep's base run (else the one row outside a sweep's folder); "
    "'none' = no such row.",
)
@click.option(
    "--bootstrap",
    "n_resamples",
    type=int,
    default=1000,
    show_default=True,
    help="Least number of resamples (items and seeds); raised per table until the smallest "
    "attainable p 1/(B+1) is at most alpha/(10 m) for its m tests. 0 = no intervals, no tests.",
)
@click.option(
    "--bootstrap-seed", type=int, default=0, show_default=True, help="Seed of the resampling."
)
@click.option(
    "--resample-unit",
    type=click.Choice(RESAMPLE_UNITS),
    default="auto",
    show_default=True,
    help="item = parallel question (all its translations together), query = query id, "
    "subset = each subset on its own; auto = item for XQuAD-R, MLQA-R, XM3600, FLORES, else query.",
)
@click.option(
    "--confidence",
    type=float,
    default=0.95,
    show_default=True,
    help="Confidence level of the intervals.",
)
@click.option(
    "--alpha",
    type=float,
    default=0.05,
    show_default=True,
    help="Significance level of the tests, corrected together across each table.",
)
@click.option(
    "--correction",
    type=click.Choice(CORRECTIONS),
    default="holm",
    show_default=True,
    help="Multiplicity correction across every test of a table: holm (family-wise error) or "
    "bh (Benjamini-Hochberg, false discovery rate).",
)
@click.option(
    "--seed-variance",
    type=click.Choice(SEED_VARIANCES),
    default="row",
    show_default=True,
    help="row = each trained row's own std over seeds (t with seeds-1 df); pooled = one seed "
    "variance pooled over the trained rows (more df; assumes similar seed noise across ratios).",
)
@click.option(
    "--interval",
    type=click.Choice(["pm", "brackets"]),
    default="pm",
    show_default=True,
    help="Show intervals as '79.20 ± 1.10' or '79.20 [78.1, 80.3]'.",
)
@click.option(
    "--group",
    "groups",
    multiple=True,
    help="Language group NAME=code,code (ISO 639-3 or 2-letter, shown as ISO 639-3); "
    "replaces the task's groups.",
)
@click.option(
    "--trained-on",
    default=None,
    help="Training data of the models (mlqa-r, xquad-r, a task name, or codes en,de) "
    "for the unseen-language group; default: read from the models' training metadata.",
)
@click.option("--per-language", is_flag=True, help="Add the per-language table.")
@click.option(
    "--pairs",
    multiple=True,
    help="Add the query x corpus language table of this row ('all' for every row).",
)
@click.option(
    "--plot",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="PNG: each headline figure against the batch-type ratio.",
)
@click.option(
    "--ternary",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="PNG: each headline figure over the mono:cross:multi simplex.",
)
@click.option(
    "--heatmap",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="PNG: query x corpus language heatmap of one row (--heatmap-model).",
)
@click.option(
    "--bundle",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write a leaderboard folder: README.md (table, notes, plots), leaderboard.csv/.json/"
    ".tex/.html, ratio.png, ternary.png and a heatmap per row (for leaderboards/<name>/).",
)
@click.option(
    "--heatmap-model",
    default=None,
    help="Row label or model name for --heatmap (default: the baseline row, else the first row).",
)
@click.option(
    "--allow-dirty",
    is_flag=True,
    help="With --bundle: accept runs made on a modified (+dirty) tree; they are flagged in the "
    "table notes. Without it such a bundle is refused.",
)
@click.option(
    "--check",
    "check",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="Recompute this bundle from its recorded command and inputs (run from the folder it was "
    "made in) and exit 1 if any table or plot differs from the committed files.",
)
def leaderboard(
    results: tuple[Path, ...],
    fmt: str | None,
    output: Path | None,
    tasks: tuple[str, ...],
    task_alias: tuple[str, ...],
    split: str,
    metrics: str,
    baseline: str,
    base_row: str,
    n_resamples: int,
    bootstrap_seed: int,
    resample_unit: str,
    confidence: float,
    alpha: float,
    correction: str,
    seed_variance: str,
    interval: str,
    groups: tuple[str, ...],
    trained_on: str | None,
    per_language: bool,
    pairs: tuple[str, ...],
    plot: Path | None,
    ternary: Path | None,
    heatmap: Path | None,
    bundle: Path | None,
    heatmap_model: str | None,
    allow_dirty: bool,
    check: Path | None,
) -> None:
    """Leaderboard of one or more mteb results folders (RESULTS...).

    Rows are models; models of an `mteb-hybrid sweep` are grouped per ratio (mean and std over
    seeds). Columns: mono / cross / multi macro mAP and nDCG@10, rank distance with its chance
    level, language groups (low-resource, unseen), worst language, spread across languages; each
    with a 95% seed-aware interval (items and seeds) and paired tests against the baseline row
    (1:0:0) and the untrained base model, corrected across the table.
    """
    from mteb_hybrid.leaderboard.board import build_leaderboard
    from mteb_hybrid.leaderboard.bootstrap import BootstrapSettings
    from mteb_hybrid.leaderboard.bundle_inputs import bundle_command, snapshot_inputs
    from mteb_hybrid.leaderboard.export import render
    from mteb_hybrid.leaderboard.outputs import write_bundle, write_plots
    from mteb_hybrid.leaderboard.results import ResultsError, load_results
    from mteb_hybrid.leaderboard.seed_stats import InferenceSettings

    tasks = _task_names(*tasks, *task_alias)
    started = time.perf_counter()
    if check is not None:
        _check(check)
        return
    if not results:
        raise click.UsageError("give RESULTS (mteb results folders or files), or --check BUNDLE")
    if fmt is None:
        fmt = _format_from_suffix(output)
    try:
        settings = (
            BootstrapSettings(n_resamples, bootstrap_seed, resample_unit, confidence)
            if n_resamples > 0
            else None
        )
        dirty: list[str] = []
        if bundle is not None:
            snapshots, dirty = snapshot_inputs(results, bundle, allow_dirty=allow_dirty)
            results = tuple(bundle / snapshot for snapshot in snapshots)
        result = load_results(results, split=split)
        wanted_pairs = list(pairs)
        board = build_leaderboard(
            result,
            tasks=tasks or None,
            split=split,
            baseline=baseline,
            settings=settings,
            alpha=alpha,
            groups=_parse_groups(groups),
            metrics=[m.strip() for m in metrics.split(",") if m.strip()],
            per_language=per_language or bundle is not None,
            pairs=wanted_pairs,
            trained_on=_parse_trained_on(trained_on),
            base=base_row,
            inference=InferenceSettings(correction=correction, seed_variance=seed_variance),
        )
    except (ResultsError, ValueError) as error:
        raise click.ClickException(str(error)) from None
    if dirty:
        board.metadata["dirty_runs"] = dirty
    if not board.tables:
        raise click.ClickException(
            f"no results with split {split!r} in {', '.join(map(str, results))}"
        )
    command = command_line(click.get_current_context())
    if bundle is not None:
        command = bundle_command(command, [r.relative_to(bundle) for r in results])
        board.sources = {
            label: Path(path).relative_to(bundle).as_posix()
            for label, path in ((label, Path(path)) for label, path in board.sources.items())
        }
    board.metadata["command"] = command
    if bundle is not None:
        images = write_bundle(board, result, bundle, interval, split)
        click.echo(
            f"wrote {bundle}/ (README.md, leaderboard.csv/json/tex/html, {len(images)} plots)",
            err=True,
        )
        if output is None:
            click.echo(f"leaderboard built in {time.perf_counter() - started:.1f} s", err=True)
            return
    text = render(board, fmt, interval)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)
    try:
        notes = write_plots(
            board,
            result,
            plot=plot,
            ternary=ternary,
            heatmap=heatmap,
            heatmap_model=heatmap_model,
            split=split,
        )
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    for note in notes:
        click.echo(note, err=True)
    click.echo(f"leaderboard built in {time.perf_counter() - started:.1f} s", err=True)


def _check(bundle: Path) -> None:
    """``--check``: recompute a bundle and report every difference (exit 1 on any)."""
    from mteb_hybrid.leaderboard.check import BundleCheckError, check_bundle

    try:
        problems = check_bundle(bundle)
    except BundleCheckError as error:
        raise click.ClickException(str(error)) from None
    if problems:
        for line in problems:
            click.echo(f"{bundle}: {line}", err=True)
        raise click.exceptions.Exit(1)
    click.echo(f"{bundle}: every table and plot recomputed identically from its inputs", err=True)


table = click.Command(
    name="table",
    callback=leaderboard.callback,
    params=leaderboard.params,
    help=(
        "Print the mono / cross / multi macro table of a results folder (markdown, with 95% "
        "bootstrap intervals). Same options as `mteb-hybrid leaderboard`."
    ),
    short_help="Mono / cross / multi macro table of a results folder.",
)
