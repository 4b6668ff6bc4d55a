"""Batch-type schedules: which global step of a run gets a mono, a cross or a multi batch.

Two schedules (``TrainConfig.ratio_schedule``, ``mteb-hybrid train --ratio-schedule``):

- ``exact`` (default): the realised counts over the run *equal* the named ratio. The run's total
  step count ``T`` is apportioned to the three types by largest remainder (Hamilton): each type
  gets the floor of its quota ``share * T``, and the steps left over go to the largest fractional
  parts, ties to the type listed first (mono, cross, multi), so every seed gets the same counts.
  The ``T`` typed steps are laid out evenly over the run (each type's ``k``-th step at position
  ``(k + 1/2) / count``), which gives every full epoch its share to within two steps; each
  epoch's steps are then shuffled with a generator seeded by ``(seed, epoch)``.
- ``independent``: every step's type is drawn independently with the ratio's probabilities, so
  the realised counts are binomial around the ratio (the behaviour before ``exact`` existed).

What ``T`` is: the number of optimizer steps the trainer will run, as transformers computes it:
``max_steps`` when given, else ``ceil(epochs * steps_per_epoch)`` (see :func:`run_steps`). A
partial last epoch holds the run's last ``T mod steps_per_epoch`` typed steps first; the rest of
that epoch (never trained, since the trainer stops at ``T``) and any epoch past the run get an
exact allocation of their own steps. A run cut short (early stopping) trains a prefix of the
schedule: its realised counts are whatever that prefix holds, and the training metadata records
them. When ``T`` is unknown (``None``) every epoch is allocated exactly on its own.

Everything is a pure function of ``(ratio, T, steps per epoch, seed, epoch)``: every process of a
distributed run builds the identical sequence, and a resumed run replays the same schedule.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from mteb_hybrid.runs import BATCH_KINDS

RATIO_SCHEDULES = ("exact", "independent")
KINDS = len(BATCH_KINDS)  # mono, cross, multi
_SHUFFLE_STREAM = 2  # generator stream of the per-epoch shuffle, beside the sampler's 0 and 1


def largest_remainder(shares: Sequence[float], total: int) -> np.ndarray:
    """Whole counts summing to ``total`` in proportion to ``shares`` (Hamilton's method).

    Quotas are rounded to 9 decimals first, so float noise (``1/3 * 60``) neither loses a floor
    nor decides a tie; ties between equal remainders go to the earlier share.
    """
    if total < 0:
        raise ValueError(f"step count {total} must be non-negative")
    weights = np.asarray(shares, dtype=np.float64)
    if weights.ndim != 1 or np.any(weights < 0) or not weights.sum() > 0:
        raise ValueError(f"shares {list(shares)!r} must be non-negative with a positive sum")
    quotas = np.round(weights / weights.sum() * total, 9)
    counts = np.floor(quotas).astype(np.int64)
    remainders = np.round(quotas - counts, 9)
    left = total - int(counts.sum())
    order = sorted(range(len(counts)), key=lambda k: (-remainders[k], k))
    for k in order[:left]:
        counts[k] += 1
    return counts


def run_steps(max_steps: int | None, epochs: float | None, steps_per_epoch: int) -> int | None:
    """Optimizer steps of a run, as transformers' Trainer computes them (``None``: unknown).

    ``max_steps`` wins when positive; else ``ceil(epochs * steps_per_epoch)``.
    """
    if max_steps is not None and max_steps > 0:
        return int(max_steps)
    if epochs is not None and epochs > 0:
        return math.ceil(epochs * steps_per_epoch)
    return None


@lru_cache(maxsize=16)
def _spread(shares: tuple[float, ...], total: int) -> np.ndarray:
    """The ``total`` typed steps, each type's steps evenly spaced over the run (read-only)."""
    counts = largest_remainder(shares, total)
    kinds = np.repeat(np.arange(len(counts)), counts)
    positions = np.concatenate([(np.arange(c) + 0.5) / c for c in counts if c])
    spread = kinds[np.lexsort((kinds, positions))]
    spread.flags.writeable = False
    return spread


def epoch_kinds(
    shares: Sequence[float],
    epoch: int,
    steps_per_epoch: int,
    total_steps: int | None,
    seed: int,
) -> np.ndarray:
    """The batch type (0 mono, 1 cross, 2 multi) of every global step of one epoch (exact)."""
    shares = tuple(float(s) for s in shares)
    start = epoch * steps_per_epoch
    in_run = 0 if total_steps is None else max(0, min(steps_per_epoch, total_steps - start))
    rng = np.random.default_rng([seed, epoch, _SHUFFLE_STREAM])
    head = np.array(_spread(shares, total_steps)[start : start + in_run]) if in_run else None
    tail_counts = largest_remainder(shares, steps_per_epoch - in_run)
    tail = np.repeat(np.arange(len(tail_counts)), tail_counts)
    parts = []
    if head is not None:
        rng.shuffle(head)
        parts.append(head)
    rng.shuffle(tail)
    parts.append(tail)
    return np.concatenate(parts).astype(np.int64)


def independent_kinds(shares: Sequence[float], steps: int, rng: np.random.Generator) -> np.ndarray:
    """``steps`` batch types drawn independently with probabilities ``shares``."""
    return rng.choice(len(shares), size=steps, p=np.asarray(shares, dtype=np.float64))


def count_kinds(kinds: np.ndarray) -> tuple[int, int, int]:
    """``(mono, cross, multi)`` counts of an array of batch types."""
    counts = np.bincount(np.asarray(kinds, dtype=np.int64), minlength=KINDS)
    return int(counts[0]), int(counts[1]), int(counts[2])
