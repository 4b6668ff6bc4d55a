"""Batch-type ratio (mono : cross : multi) and language-choice weights.

Batch types, with LAReQA's names in brackets:

- ``mono`` [X-X-mono]: the whole batch in one language X, query and passage both in X.
- ``cross`` [X-Y]: every pair has query language != passage language, drawn per pair.
- ``multi`` [X-X]: every pair same-language, languages mixed across the batch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

BATCH_KINDS = ("mono", "cross", "multi")
LANGUAGE_SAMPLING = ("uniform", "proportional", "temperature")


@dataclass(frozen=True)
class BatchRatio:
    """Probabilities of the three batch types; always normalised to sum to 1."""

    mono: float
    cross: float
    multi: float

    def __post_init__(self) -> None:
        values = (self.mono, self.cross, self.multi)
        if any(not math.isfinite(v) or v < 0 for v in values) or sum(values) <= 0:
            raise ValueError(
                f"batch ratio {values} must be three non-negative numbers with a positive sum "
                "(mono:cross:multi, e.g. 0.5:0.5:0)"
            )
        total = sum(values)
        object.__setattr__(self, "mono", self.mono / total)
        object.__setattr__(self, "cross", self.cross / total)
        object.__setattr__(self, "multi", self.multi / total)

    @classmethod
    def parse(cls, value: str | Sequence[float] | BatchRatio) -> BatchRatio:
        """Parse ``"A:B:C"`` (mono:cross:multi), a 3-sequence or a :class:`BatchRatio`."""
        if isinstance(value, BatchRatio):
            return value
        if isinstance(value, str):
            parts = value.split(":")
            try:
                numbers = [float(p) for p in parts]
            except ValueError:
                numbers = []
            if len(numbers) != 3:
                raise ValueError(
                    f"--ratio {value!r}: expected three numbers mono:cross:multi, e.g. 0.5:0.5:0"
                )
            return cls(*numbers)
        numbers = [float(v) for v in value]
        if len(numbers) != 3:
            raise ValueError(f"ratio {value!r}: expected three numbers (mono, cross, multi)")
        return cls(*numbers)

    def as_tuple(self) -> tuple[float, float, float]:
        """``(mono, cross, multi)`` probabilities."""
        return (self.mono, self.cross, self.multi)

    def __str__(self) -> str:
        return ":".join(f"{v:g}" for v in self.as_tuple())


def language_weights(
    counts: Mapping[str, int], strategy: str = "uniform", temperature: float = 1.0
) -> dict[str, float]:
    """Probability of choosing each language, from the number of items it has.

    ``uniform`` (the hybrid-batch paper): equal for every language with data. ``proportional``:
    proportional to the counts. ``temperature``: proportional to ``count ** (1 / temperature)``
    (1 is proportional, larger values flatten towards uniform, as in XLM-R's sampling).
    """
    if strategy not in LANGUAGE_SAMPLING:
        raise ValueError(
            f"language sampling {strategy!r}: use one of {', '.join(LANGUAGE_SAMPLING)}"
        )
    if strategy == "temperature" and not (temperature > 0 and math.isfinite(temperature)):
        raise ValueError(f"temperature {temperature!r} must be a positive number")
    languages = [lang for lang, n in counts.items() if n > 0]
    if not languages:
        raise ValueError("no language has any training data")
    raw = np.array([counts[lang] for lang in languages], dtype=np.float64)
    if strategy == "uniform":
        raw = np.ones_like(raw)
    elif strategy == "temperature":
        raw = raw ** (1.0 / temperature)
    raw /= raw.sum()
    return {lang: float(p) for lang, p in zip(languages, raw, strict=True)}
