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


def per_query_path(result_json: str | os.PathLike[str]) -> Path:
    """Sidecar path of an mteb result file (``XQuADRRetrieval.json`` -> ``....per_query.npz``)."""
    path = Path(result_json)
    return path.with_name(path.name.removesuffix(".json") + SUFFIX)


def save_per_query(path: str | os.PathLike[str], results: dict[str, SubsetResult]) -> Path:
    """Write per-query values of every subset atomically; returns the path written."""
    path = Path(path)
    arrays: dict[str, np.ndarray] = {}
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
            subset, field = key.rsplit("/", 1)
            out.setdefault(subset, {})[field] = data[key]
    return out
