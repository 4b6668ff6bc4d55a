"""What a sweep runs: batch-type ratios (mono:cross:multi) x seeds, and the names of the runs.

A ratio is three non-negative shares that sum to 1 (``"1:1:0"`` is normalised to 0.5:0.5:0). A run
is named ``r<mono>-<cross>-<multi>_s<seed>`` with two decimals (``r0.50-0.50-0.00_s1``); the same
name is the trained model's folder name, so any mteb results folder says which ratio and seed
produced a score (see :func:`parse_run_name`). The base model is evaluated once, as run ``base``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

Ratio = tuple[float, float, float]

BASE_RUN_ID = "base"
RUN_NAME = re.compile(
    r"(?:^|[/_\-])r(?P<mono>\d+(?:\.\d+)?)-(?P<cross>\d+(?:\.\d+)?)-(?P<multi>\d+(?:\.\d+)?)"
    r"_s(?P<seed>\d+)(?=$|[/_\-])"
)
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
        """``"0.5:0.5:0"`` as the trainer's ``--ratio`` takes it."""
        return None if self.ratio is None else format_ratio(self.ratio)


def normalise(ratio: tuple[float, ...]) -> Ratio:
    """Three non-negative shares scaled to sum to 1."""
    if len(ratio) != 3 or any(not v >= 0 for v in ratio) or sum(ratio) <= 0:
        raise PlanError(
            f"ratio {ratio!r}: need three non-negative numbers mono:cross:multi with a positive "
            "sum, e.g. 0.5:0.5:0"
        )
    total = float(sum(ratio))
    return (ratio[0] / total, ratio[1] / total, ratio[2] / total)


def parse_ratio(text: str) -> Ratio:
    """``"0.5:0.5:0"`` -> ``(0.5, 0.5, 0.0)`` (normalised)."""
    parts = text.strip().split(":")
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != 3:
        raise PlanError(f"--ratios item {text!r}: expected mono:cross:multi, e.g. 0.5:0.5:0")
    return normalise(values)


def parse_ratios(text: str) -> list[Ratio]:
    """A comma-separated list of ratios, duplicates (after normalising to 2 decimals) refused."""
    ratios = [parse_ratio(item) for item in text.split(",") if item.strip()]
    if not ratios:
        raise PlanError("--ratios is empty: give e.g. 1:0:0,0:1:0,0.5:0.5:0")
    seen: dict[str, str] = {}
    for item, ratio in zip([i for i in text.split(",") if i.strip()], ratios, strict=True):
        key = ratio_tag(ratio)
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
    return [normalise(r) for r in grid]


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


def ratio_tag(ratio: Ratio) -> str:
    """``(0.5, 0.5, 0)`` -> ``"r0.50-0.50-0.00"``."""
    return "r" + "-".join(f"{v:.2f}" for v in ratio)


def format_ratio(ratio: Ratio) -> str:
    """``(0.5, 0.5, 0)`` -> ``"0.5:0.5:0"`` (at most 4 decimals)."""
    return ":".join(f"{round(v, 4):g}" for v in ratio)


def run_id(ratio: Ratio, seed: int) -> str:
    """``r0.50-0.50-0.00_s1``."""
    return f"{ratio_tag(ratio)}_s{seed}"


def parse_run_name(name: str) -> tuple[Ratio, int, str] | None:
    """Ratio, seed and family of a run or model name holding a run id, else ``None``.

    ``"local/r0.50-0.50-0.00_s1-model"`` -> ``((0.5, 0.5, 0.0), 1, "local/r0.50-0.50-0.00-model")``:
    the family is the name without the seed, shared by the seeds of one ratio.
    """
    matches = list(RUN_NAME.finditer(name))
    if not matches:
        return None
    match = matches[-1]
    ratio = (float(match["mono"]), float(match["cross"]), float(match["multi"]))
    if sum(ratio) <= 0:
        return None
    seed_span = match.span("seed")
    family = name[: seed_span[0] - 2] + name[seed_span[1] :]
    return ratio, int(match["seed"]), family


def plan_runs(ratios: list[Ratio], seeds: list[int], include_base: bool = True) -> list[RunSpec]:
    """The base run (if asked) then every (ratio, seed), seeds inner, in the given order."""
    runs = [RunSpec(BASE_RUN_ID, None, None)] if include_base else []
    runs += [RunSpec(run_id(r, s), r, s) for r in ratios for s in seeds]
    return runs
