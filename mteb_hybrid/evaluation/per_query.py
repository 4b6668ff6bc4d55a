"""Per-query scores kept beside mteb's result JSON, compactly, for bootstrap statistics.

mteb's ``<Task>.json`` keeps only the means; the per-query values are written next to it as
``<Task>.per_query.npz`` (float32 arrays and query ids per subset), leaving mteb's format intact.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mteb_hybrid.files import atomic_write

if TYPE_CHECKING:  # the leaderboard reads sidecars without loading the evaluator
    from mteb_hybrid.evaluation.evaluator import SubsetResult

SUFFIX = ".per_query.npz"
REVISION_KEY = "__revision__"


class PerQueryMismatch(ValueError):
    """A sidecar that does not belong to the result JSON beside it (one line: both files, fix)."""


def per_query_path(result_json: str | os.PathLike[str]) -> Path:
    """Sidecar path of an mteb result file (``XQuADRRetrieval.json`` -> ``....per_query.npz``)."""
    path = Path(result_json)
    return path.with_name(path.name.removesuffix(".json") + SUFFIX)


def save_per_query(
    path: str | os.PathLike[str],
    results: dict[str, SubsetResult],
    revision: str | None = None,
) -> Path:
    """Write per-query values of every subset atomically; returns the path written.

    ``revision`` is the dataset revision of the result JSON written with it (our tasks' result
    identity), checked by :func:`check_against_result`.
    """
    path = Path(path)
    arrays: dict[str, np.ndarray] = {}
    if revision is not None:
        arrays[REVISION_KEY] = np.array(revision, dtype=str)
    for name, result in results.items():
        arrays[f"{name}/query_ids"] = np.array(result.query_ids, dtype=str)
        for metric, values in result.per_query.items():
            arrays[f"{name}/{metric}"] = np.asarray(values, dtype=np.float32)
    with atomic_write(path, "wb") as handle:
        np.savez_compressed(handle, **arrays)
    return path


def load_per_query(path: str | os.PathLike[str]) -> dict[str, dict[str, np.ndarray]]:
    """Read a sidecar: ``{subset: {"query_ids": ..., metric: values}}``."""
    out: dict[str, dict[str, np.ndarray]] = {}
    with np.load(path) as data:
        for key in data.files:
            if key == REVISION_KEY:
                continue
            subset, field = key.rsplit("/", 1)
            out.setdefault(subset, {})[field] = data[key]
    return out


def sidecar_revision(path: str | os.PathLike[str]) -> str | None:
    """The dataset revision a sidecar was written with (``None`` for sidecars before it)."""
    with np.load(path) as data:
        return str(data[REVISION_KEY]) if REVISION_KEY in data.files else None


def check_against_result(
    path: str | os.PathLike[str],
    sidecar: dict[str, dict[str, np.ndarray]],
    result: dict,
) -> None:
    """Raise :class:`PerQueryMismatch` unless a sidecar matches its result JSON (``result``, as
    read): the same dataset revision, every scored subset present, and each subset's
    ``num_queries`` equal to its number of per-query values."""
    path = Path(path)
    fix = "rerun the evaluation (the JSON and the per-query file were not written together)"
    revision = sidecar_revision(path)
    expected = result.get("dataset_revision")
    if revision is not None and expected is not None and revision != expected:
        raise PerQueryMismatch(
            f"{path}: written for dataset revision {revision}, but the result JSON beside it "
            f"has {expected}; {fix}"
        )
    for split_scores in (result.get("scores") or {}).values():
        for entry in split_scores:
            subset = entry.get("hf_subset")
            if subset not in sidecar:
                raise PerQueryMismatch(
                    f"{path}: no per-query values for subset {subset} of the result JSON; {fix}"
                )
            count = entry.get("num_queries")
            have = len(sidecar[subset].get("query_ids", ()))
            if count is not None and int(count) != have:
                raise PerQueryMismatch(
                    f"{path}: subset {subset} has {have} per-query values but the result JSON "
                    f"says num_queries {int(count)}; {fix}"
                )
