"""``mteb-hybrid leaderboard``: tables (md, csv, tex, html, json) and plots from mteb results."""

from __future__ import annotations

import re
import shlex
import sys
import time
from pathlib import Path

import click

from mteb_hybrid.leaderboard.bootstrap import RESAMPLE_UNITS
from mteb_hybrid.leaderboard.seed_stats import CORRECTIONS, SEED_VARIANCES

FORMATS = ("md", "csv", "tex", "html", "json")
SUFFIX_FORMATS = {".md": "md", ".csv": "csv", ".tex": "tex", ".html": "html", ".json": "json"}


def command_line(ctx: click.Context, program: str = "mteb-hybrid") -> str:
    """The command as typed, rebuilt from the options given on the command line (for records)."""
    from click.core import ParameterSource

    words = [program, ctx.info_name or ""]
    arguments: list[str] = []
    for param in ctx.command.params:
        name = param.name or ""
        if ctx.get_parameter_source(name) not in (ParameterSource.COMMANDLINE, None):
            continue
        value = ctx.params.get(name)
        if isinstance(param, click.Argument):
            arguments += [str(v) for v in (value if isinstance(value, tuple) else (value,))]
            continue
        if ctx.get_parameter_source(name) is None:
            continue
        option = max(param.opts, key=len)
        if isinstance(param, click.Option) and param.is_flag:
            if param.secondary_opts and not value:
                option = max(param.secondary_opts, key=len)
            words.append(option)
        elif isinstance(value, tuple):
            for item in value:
                words += [option, str(item)]
        else:
            words += [option, str(value)]
    return shlex.join([*words, *arguments])


def _parse_groups(values: tuple[str, ...]) -> dict[str, list[str]] | None:
    if not values:
        return None
    groups: dict[str, list[str]] = {}
    for value in values:
        name, sep, langs = value.partition("=")
        codes = [c.strip() for c in langs.split(",") if c.strip()]
        if not sep or not name.strip() or not codes:
            raise click.BadParameter(
                f"{value!r}: expected NAME=code,code (ISO 639-3), e.g. low-resource=ben,swa,tel",
                param_hint="--group",
            )
        groups[name.strip()] = codes
    return groups


def _parse_trained_on(value: str | None) -> list[str] | str | None:
    """``"mlqa-r"`` stays a name; ``"en,de"`` becomes ISO 639-3 codes."""
    if not value:
        return None
    if "," not in value and (len(value) > 3 or "-" in value):
        return value
    from mteb_hybrid.leaderboard.results import _to_iso3

    return [_to_iso3(code.strip()) for code in value.split(",") if code.strip()]


def _per_task(path: Path, task: str, several: bool) -> Path:
    return path.with_name(f"{path.stem}-{task}{path.suffix}") if several else path


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
@click.option("--task", "tasks", multiple=True, help="Only these tasks (repeatable).")
@click.option("--split", default="test", show_default=True)
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
@click.option("--bootstrap-seed", type=int, default=0, show_default=True)
@click.option(
    "--resample-unit",
    type=click.Choice(RESAMPLE_UNITS),
    default="auto",
    show_default=True,
    help="item = parallel question (all its translations together), query = query id, "
    "subset = each subset on its own; auto = item for XQuAD-R, MLQA-R, XM3600, else query.",
)
@click.option("--confidence", type=float, default=0.95, show_default=True)
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
    help="Language group NAME=code,code (ISO 639-3); replaces the task's groups.",
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
    from mteb_hybrid.leaderboard.export import render
    from mteb_hybrid.leaderboard.results import ResultsError, load_results
    from mteb_hybrid.leaderboard.seed_stats import InferenceSettings

    started = time.perf_counter()
    if check is not None:
        _check(check)
        return
    if not results:
        raise click.UsageError("give RESULTS (mteb results folders or files), or --check BUNDLE")
    if fmt is None:
        fmt = SUFFIX_FORMATS.get(output.suffix.lower(), "md") if output else "md"
    try:
        settings = (
            BootstrapSettings(n_resamples, bootstrap_seed, resample_unit, confidence)
            if n_resamples > 0
            else None
        )
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
    if not board.tables:
        raise click.ClickException(
            f"no results with split {split!r} in {', '.join(map(str, results))}"
        )
    board.metadata["command"] = command_line(click.get_current_context())
    if bundle is not None:
        _bundle(board, result, bundle, interval, split)
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
    _plots(board, result, plot, ternary, heatmap, heatmap_model, split)
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


def _bundle(board, result, folder: Path, interval: str, split: str) -> None:  # noqa: ANN001
    """Everything a ``leaderboards/<name>/`` folder holds, with the plots linked from README.md."""
    from mteb_hybrid.leaderboard import plots
    from mteb_hybrid.leaderboard.board import pair_matrix
    from mteb_hybrid.leaderboard.export import render

    folder.mkdir(parents=True, exist_ok=True)
    several = len(board.tables) > 1
    images: list[tuple[str, Path]] = []
    for table in board.tables:
        if any(r.ratio is not None for r in table.rows):
            path = plots.plot_vs_ratio(table, _per_task(folder / "ratio.png", table.task, several))
            images.append((f"{table.task}: figures against the ratio", path))
            path = plots.plot_ternary(table, _per_task(folder / "ternary.png", table.task, several))
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
    click.echo(
        f"wrote {folder}/ (README.md, leaderboard.csv/json/tex/html, {len(images)} plots)", err=True
    )


def _plots(board, result, plot, ternary, heatmap, heatmap_model, split) -> None:  # noqa: ANN001
    """Write the requested PNGs (one per task when there are several tasks)."""
    if not (plot or ternary or heatmap):
        return
    from mteb_hybrid.leaderboard import plots
    from mteb_hybrid.leaderboard.board import pair_matrix

    several = len(board.tables) > 1
    for table in board.tables:
        if plot:
            if not any(r.ratio is not None for r in table.rows):
                click.echo(f"{table.task}: no sweep rows (ratio); --plot skipped", err=True)
            else:
                written = plots.plot_vs_ratio(table, _per_task(plot, table.task, several))
                click.echo(f"wrote {written}", err=True)
        if ternary and any(r.ratio is not None for r in table.rows):
            written = plots.plot_ternary(table, _per_task(ternary, table.task, several))
            click.echo(f"wrote {written}", err=True)
        if heatmap:
            rows = table.rows
            chosen = (
                next(
                    (r for r in rows if heatmap_model in {r.label, r.model}),
                    None,
                )
                if heatmap_model
                else next((r for r in rows if r.is_baseline), rows[0])
            )
            if chosen is None:
                labels = ", ".join(r.label for r in rows)
                raise click.ClickException(
                    f"--heatmap-model {heatmap_model!r} matches no row; rows are: {labels}"
                )
            matrix = pair_matrix(result.select(table.task, split), chosen, table.task, split)
            written = plots.plot_heatmap(matrix, _per_task(heatmap, table.task, several))
            click.echo(f"wrote {written}", err=True)


if __name__ == "__main__":  # pragma: no cover
    leaderboard(sys.argv[1:])
