"""Language-choice weights of the batches (their types' ratio: :class:`mteb_hybrid.runs.Ratio`)."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

LANGUAGE_SAMPLING = ("uniform", "proportional", "temperature")


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
