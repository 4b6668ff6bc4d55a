"""``mteb-hybrid table RESULTS``: the mono / cross / multi macro table of one results folder.

A thin alias of ``mteb-hybrid leaderboard RESULTS --format md`` (the README's quick start ends with
it); every leaderboard option still works.
"""

from __future__ import annotations

import click

from mteb_hybrid.leaderboard.cli import leaderboard

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
