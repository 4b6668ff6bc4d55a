"""The ``mteb-hybrid`` command line: thin click glue over the Python API.

Subcommands import their heavy dependencies lazily, so ``mteb-hybrid --help`` starts fast.
"""

from __future__ import annotations

import importlib

import click

# subcommand name -> "module:attribute" of a click command, imported on first use
_SUBCOMMANDS: dict[str, str] = {
    "train": "mteb_hybrid.trainers.cli:train",
    "table": "mteb_hybrid.results_table:table",
    "leaderboard": "mteb_hybrid.leaderboard.cli:leaderboard",
    "sweep": "mteb_hybrid.sweep.cli:sweep",
    "default-model": "mteb_hybrid.default_model:default_model_command",
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


@click.group(cls=_LazyGroup)
@click.version_option(package_name="mteb-hybrid")
def main() -> None:
    """Multilingual multi-setting retrieval for MTEB and hybrid-ratio training."""


if __name__ == "__main__":
    main()
