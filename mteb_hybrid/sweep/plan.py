"""What a sweep runs: batch-type ratios (mono:cross:multi) x seeds, in order.

A ratio is three non-negative shares that sum to 1 (``"1:1:0"`` is normalised to 0.5:0.5:0). A run
is named by :func:`mteb_hybrid.runs.run_id` (``r0.50-0.50-0.00_s1``); the same name is the trained
model's folder name. The base model is evaluated once, as run ``base``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from mteb_hybrid.runs import BASE_RUN_ID, Ratio, RatioError, run_id

DEFAULT_RATIOS = "1:0:0,0:1:0,0:0:1,0.5:0.5:0,0.34:0.33:0.33"


class PlanError(ValueError):
    """A malformed ``--ratios`` / ``--seeds`` / ``--grid-step`` value; the message says the fix."""


@dataclass(frozen=True)
class RunSpec:
    """One run of a sweep: a training run (ratio and seed) or the untrained base model."""

    run_id: str
    ratio: Ratio | None
    seed: int | None

    @property
    def is_base(self) -> bool:
        """Whether this run only evaluates the base model."""
        return self.ratio is None

    @property
    def ratio_text(self) -> str | None:
        """``"0.5:0.5:0"`` (at most 4 decimals), ``None`` for the base model."""
        return None if self.ratio is None else self.ratio.text()


def parse_ratio(text: str) -> Ratio:
    """One ``--ratios`` item: ``"0.5:0.5:0"`` -> ``Ratio(0.5, 0.5, 0.0)``."""
    try:
        return Ratio.parse(text)
    except RatioError as error:
        raise PlanError(f"--ratios item {text.strip()!r}: {error}") from None


def parse_ratios(text: str) -> list[Ratio]:
    """A comma-separated list of ratios; empty items and duplicates (equal run-id tags,
    2 decimals) refused."""
    items = text.split(",")
    if not text.strip():
        raise PlanError("--ratios is empty: give e.g. 1:0:0,0:1:0,0.5:0.5:0")
    empty = [n for n, item in enumerate(items, 1) if not item.strip()]
    if empty:
        raise PlanError(
            f"--ratios {text!r}: item {empty[0]} is empty; remove the extra comma "
            "(e.g. 1:0:0,0:1:0)"
        )
    ratios = [parse_ratio(item) for item in items]
    seen: dict[str, str] = {}
    for item, ratio in zip([i for i in text.split(",") if i.strip()], ratios, strict=True):
        key = ratio.tag()
        if key in seen:
            raise PlanError(
                f"--ratios: {item.strip()!r} and {seen[key]!r} are the same ratio ({key})"
            )
        seen[key] = item.strip()
    return ratios


def simplex_grid(step: float) -> list[Ratio]:
    """Every ratio on the simplex whose shares are multiples of ``step`` (e.g. 0.25: 15 ratios).

    Ordered from pure mono towards pure multi: by mono share, then cross share, descending.
    """
    fraction = Fraction(str(step)).limit_denominator(1000)
    if not 0 < fraction <= 1 or (1 / fraction).denominator != 1:
        raise PlanError(f"--grid-step {step!r}: use 1/n for a whole n, e.g. 0.5, 0.25, 0.1")
    n = int(1 / fraction)
    grid = [(i / n, j / n, (n - i - j) / n) for i in range(n, -1, -1) for j in range(n - i, -1, -1)]
    return [Ratio(*r) for r in grid]


def parse_seeds(text: str) -> list[int]:
    """``"0,1,2"`` or a range ``"0-2"`` -> ``[0, 1, 2]`` (duplicates refused)."""
    seeds: list[int] = []
    for item in (i.strip() for i in text.split(",")):
        if not item:
            continue
        try:
            if re.fullmatch(r"\d+-\d+", item):
                low, high = (int(v) for v in item.split("-"))
                seeds.extend(range(low, high + 1))
            else:
                seeds.append(int(item))
        except ValueError:
            raise PlanError(f"--seeds item {item!r}: expected whole numbers, e.g. 0,1,2") from None
    if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise PlanError(f"--seeds {text!r}: give distinct non-negative whole numbers, e.g. 0,1,2")
    return seeds


def plan_runs(
    ratios: list[Sequence[float]], seeds: list[int], include_base: bool = True
) -> list[RunSpec]:
    """The base run (if asked) then every (ratio, seed), seeds inner, in the given order."""
    runs = [RunSpec(BASE_RUN_ID, None, None)] if include_base else []
    for ratio in map(Ratio.parse, ratios):
        runs += [RunSpec(run_id(ratio, s), ratio, s) for s in seeds]
    return runs
