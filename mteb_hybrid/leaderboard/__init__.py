"""Leaderboards over mteb results folders: macro tables, bootstrap intervals, paired tests, plots.

Modules, one job each:

- :mod:`.results`: read mteb results folders (``<folder>/results/<model>/<revision>/<Task>.json``
  and our ``<Task>.per_query.npz`` sidecars) into a tidy table.
- :mod:`.aggregate`: the headline figures (macro averages per setting, language groups, worst
  language, spread across languages) as functions of subset scores.
- :mod:`.bootstrap`: paired resamples of parallel items (or queries), shared by every model.
- :mod:`.seed_stats`: seed-aware intervals and tests (items and training seeds), Holm or
  Benjamini-Hochberg across each table.
- :mod:`.chance`: the random-ranking expectation of rank distance (its chance level).
- :mod:`.board`: puts them together into a :class:`~.board.Leaderboard`.
- :mod:`.export` (with :mod:`.stats_export`): md / csv / tex / html / json.
- :mod:`.plots`: metric against ratio, ternary plot, language-pair heatmap (matplotlib).
- :mod:`.outputs`: the files: a bundle folder (README.md, exports, plots) or single plots.
- :mod:`.cli`: the ``mteb-hybrid leaderboard`` and ``table`` commands.

Importing this package is cheap (numpy only); matplotlib, mteb and torch are never imported here.
"""

from __future__ import annotations

__all__ = ["build_leaderboard", "load_results"]


def __getattr__(name: str):  # noqa: ANN202 - lazy re-exports
    if name == "load_results":
        from mteb_hybrid.leaderboard.results import load_results

        return load_results
    if name == "build_leaderboard":
        from mteb_hybrid.leaderboard.board import build_leaderboard

        return build_leaderboard
    raise AttributeError(name)
