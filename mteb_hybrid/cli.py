"""The ``mteb-hybrid`` command line: thin click glue over the Python API.

Subcommands import their heavy dependencies lazily, so ``mteb-hybrid --help`` starts fast.
"""

from __future__ import annotations

import importlib

import click

from mteb_hybrid.coverage_report import FORMATS as COVERAGE_FORMATS

# subcommand name -> "module:attribute" of a click command, imported on first use
_SUBCOMMANDS: dict[str, str] = {
    "train": "mteb_hybrid.trainers.cli:train",
    "table": "mteb_hybrid.leaderboard.cli:table",
    "leaderboard": "mteb_hybrid.leaderboard.cli:leaderboard",
    "sweep": "mteb_hybrid.sweep.cli:sweep",
    "run": "mteb_hybrid.mteb_cli:run",
    "encode": "mteb_hybrid.scale_cli:encode",
    "evaluate": "mteb_hybrid.scale_cli:evaluate",
}


class _LazyGroup(click.Group):
    """A click group whose subcommands live in other modules and load on demand."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(_SUBCOMMANDS))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in _SUBCOMMANDS:
            module_name, attribute = _SUBCOMMANDS[name].split(":")
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as error:
                if error.name and error.name.startswith("mteb_hybrid"):
                    return None
                raise
            return getattr(module, attribute)
        return super().get_command(ctx, name)


# -h as well as --help on the group and, inherited through click's context, on every subcommand
CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}


@click.group(cls=_LazyGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(package_name="mteb-hybrid")
def main() -> None:
    """Multilingual multi-setting retrieval for MTEB and hybrid-ratio training."""


@main.command("coverage")
@click.option("--model", "-m", required=True, help="Model folder or Hub id (its tokenizer only).")
@click.option("--task", "-t", required=True, help="One of our tasks, e.g. FloresRetrieval.")
@click.option(
    "--languages",
    "-l",
    default=None,
    help="Comma-separated language codes, ISO 639-3 or 2-letter (default: all).",
)
@click.option("--split", default=None, help="FloresRetrieval split (train, dev, test).")
@click.option(
    "--max-length", type=int, default=None, help="Truncation length (default: the model's)."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(COVERAGE_FORMATS),
    default="md",
    show_default=True,
    help="Output format.",
)
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None, help="Write here.")
def coverage_command(
    model: str,
    task: str,
    languages: str | None,
    split: str | None,
    max_length: int | None,
    fmt: str,
    output: str | None,
) -> None:
    """Tokenizer coverage per language: [UNK] share, tokens per character, truncated texts."""
    from mteb_hybrid.coverage import coverage_report
    from mteb_hybrid.coverage_report import render_coverage
    from mteb_hybrid.data.download import DataFileError

    options = {"split": split} if split else {}
    langs = [c.strip() for c in languages.split(",") if c.strip()] if languages else None
    try:
        report = coverage_report(model, task, languages=langs, max_length=max_length, **options)
    except (ValueError, DataFileError, OSError) as error:
        raise click.ClickException(str(error)) from None
    text = render_coverage(report, fmt)
    if output:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text)
        click.echo(f"wrote {output}")
    else:
        click.echo(text, nl=False)


@main.command("default-model")
def default_model() -> None:
    """Print the folder of the embedded default model (for ``mteb run -m``)."""
    from mteb_hybrid.default_model import DefaultModelMissing, default_model_path

    try:
        click.echo(default_model_path())
    except DefaultModelMissing as error:
        raise click.ClickException(str(error)) from None


if __name__ == "__main__":
    main()
