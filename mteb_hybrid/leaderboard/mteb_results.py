"""The leaderboard's one door to mteb's result API: finding and parsing mteb result files.

mteb is imported inside each function, never at module level: ``import mteb`` (with torch)
takes about 4 s on two busy cores, which the rest of the leaderboard (``--help``, ``--check``'s
own process, the tables) does not pay. Only reading results pays it, once per process.

- :func:`cache_result_paths`: the result files of a cache root (the folder given to
  ``mteb.ResultCache``), as ``ResultCache.get_cache_paths`` lists them.
- :func:`read_task_result`: one result file as an ``mteb.results.TaskResult``
  (``TaskResult.from_disk``: validated splits, subsets, scores, task name, mteb version; bare
  ``NaN`` accepted; files older than mteb 1.11 converted).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


class TaskResultError(ValueError):
    """A file mteb cannot read as a TaskResult; the message is one line naming the file."""


def cache_result_paths(cache_root: Path) -> list[Path]:
    """Every result file under ``cache_root/results`` (``<model>/<revision>/<Task>.json``).

    mteb's own listing: no remote results, results without ``model_meta.json`` included
    (named from their folders), experiment folders (``<revision>/experiments/``) left out as
    ``ResultCache.load_results`` leaves them out by default.
    """
    from mteb import ResultCache

    cache = ResultCache(cache_root)
    paths = cache.get_cache_paths(
        require_model_meta=False, include_remote=False, load_experiments="no_experiments"
    )
    return sorted(paths)


def read_task_result(path: Path) -> Any:
    """The ``mteb.results.TaskResult`` in ``path``; :class:`TaskResultError` when mteb cannot
    read it (not JSON, not a TaskResult, a field missing or of the wrong type)."""
    from mteb.results import TaskResult

    try:
        return TaskResult.from_disk(path)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        # ValueError covers bad JSON and pydantic's ValidationError (its first error is named);
        # from_disk hands a file without mteb_version to mteb's pre-1.11 converter, which fails
        # with a KeyError or AttributeError on anything that is not such a file
        problem = _first_problem(error)
    raise TaskResultError(
        f"{path}: mteb cannot read it as a TaskResult ({problem}); pass only mteb result files "
        "(results/<model>/<revision>/<Task>.json) or rerun the evaluation that wrote it"
    )


def _first_problem(error: Exception) -> str:
    """One line: pydantic's first validation error (``field: message``), else the error."""
    errors = getattr(error, "errors", None)
    if callable(errors):
        first = errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ())) or "the file"
        return f"{where}: {first.get('msg')}"
    text = str(error).splitlines()[0] if str(error) else ""
    if isinstance(error, (KeyError, AttributeError)):
        return f"no mteb_version, and not a pre-1.11 result either: {type(error).__name__} {text}"
    return f"{type(error).__name__}: {text}"
