"""``mteb-hybrid run ...``: mteb's own ``mteb run`` with our tasks registered first.

The second door to the tasks from the command line: the ``.pth`` start-up hook stays the default
(plain ``mteb run`` finds the tasks), but where ``.pth`` files are not processed (``python -S``,
some embedded or frozen interpreters, a future CPython that drops ``import`` lines in ``.pth``
files, ``MTEB_HYBRID_AUTOREGISTER=0``) this command registers the tasks explicitly and hands every
argument, unchanged, to mteb's CLI: ``mteb-hybrid run -m MODEL -t XQuADRRetrieval`` is
``mteb run -m MODEL -t XQuADRRetrieval``. ``mteb-hybrid run -h`` prints mteb's own help.
"""

from __future__ import annotations

import sys

import click


@click.command(
    "run",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
    add_help_option=False,
)
@click.argument("mteb_args", nargs=-1, type=click.UNPROCESSED)
def run(mteb_args: tuple[str, ...]) -> None:
    """mteb's `mteb run` with our tasks registered; every argument goes to it unchanged."""
    run_mteb(["run", *mteb_args])


def run_mteb(argv: list[str]) -> None:
    """Register the tasks and the local-model support, then run mteb's CLI on ``argv``."""
    from mteb.cli import main as mteb_main

    from mteb_hybrid.registration import register

    register()
    saved = sys.argv
    sys.argv = ["mteb", *argv]
    try:
        mteb_main()
    finally:
        sys.argv = saved
