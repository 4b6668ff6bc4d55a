"""Hybrid-batch training: mono / cross / multi batches by ratio, for sentence-transformers.

Importing this package is cheap; the names below load their modules (and torch) on first use.

- :class:`HybridBatchSampler` (``.sampler``): the batch sampler.
- :func:`load_training_data` (``.data``), :func:`build_pair_dataset` (``.pairs``): the data.
- :class:`TrainConfig` (``.config``), :func:`train` (``.trainer``): the training API.
- :class:`Ratio` (:mod:`mteb_hybrid.runs`): the mono : cross : multi batch ratio.
- :func:`build_tiny_model` (``.tiny_model``): an offline toy model for tests.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "BatchPlan": "mteb_hybrid.trainers.sampler",
    "HybridBatchSampler": "mteb_hybrid.trainers.sampler",
    "ParallelData": "mteb_hybrid.trainers.parallel",
    "Ratio": "mteb_hybrid.runs",
    "TrainConfig": "mteb_hybrid.trainers.config",
    "TrainConfigError": "mteb_hybrid.trainers.config",
    "TrainResult": "mteb_hybrid.trainers.trainer",
    "TrainingDataError": "mteb_hybrid.trainers.records",
    "TrainingRecord": "mteb_hybrid.trainers.records",
    "build_pair_dataset": "mteb_hybrid.trainers.pairs",
    "build_tiny_model": "mteb_hybrid.trainers.tiny_model",
    "load_training_data": "mteb_hybrid.trainers.data",
    "train": "mteb_hybrid.trainers.trainer",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
