"""The run contract: what the trainer, the sweep and the leaderboard agree on.

One place for the batch-type ratio (parse, normalise, format, compare), the run ids
of a sweep (``r0.50-0.50-0.00_s1``) and their parsing, the file names a run leaves behind, and the
pooled-subset suffix. Standard library only: every room of the package may import it.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

# -- batch types and their ratio ---------------------------------------------------------------
BATCH_KINDS = ("mono", "cross", "multi")
DEFAULT_RATIO = "0.5:0.5:0"  # the hybrid-batch paper's best


class RatioError(ValueError):
    """A malformed ratio; the message says what a ratio looks like."""


class _Shares(NamedTuple):
    mono: float
    cross: float
    multi: float


class Ratio(_Shares):
    """Shares of the three batch types (mono : cross : multi), normalised to sum to 1.

    A tuple ``(mono, cross, multi)``: ``Ratio(1, 1, 0) == (0.5, 0.5, 0.0)``.

    - ``mono`` [LAReQA's X-X-mono]: the whole batch in one language X, query and passage both in X.
    - ``cross`` [X-Y]: every pair has query language != passage language, drawn per pair.
    - ``multi`` [X-X]: every pair same-language, languages mixed across the batch.
    """

    __slots__ = ()

    def __new__(cls, mono: float, cross: float, multi: float) -> Ratio:
        values = (float(mono), float(cross), float(multi))
        if any(not math.isfinite(v) or v < 0 for v in values) or sum(values) <= 0:
            raise RatioError(
                f"batch ratio {values} must be three non-negative numbers with a positive sum "
                "(mono:cross:multi, e.g. 0.5:0.5:0)"
            )
        total = sum(values)
        return super().__new__(cls, *(v / total for v in values))

    @classmethod
    def parse(cls, value: str | Sequence[float] | Ratio) -> Ratio:
        """``"A:B:C"`` (mono:cross:multi), a 3-sequence or a :class:`Ratio`, normalised."""
        if isinstance(value, Ratio):
            return value
        if isinstance(value, str):
            try:
                numbers = [float(p) for p in value.strip().split(":")]
            except ValueError:
                numbers = []
            if len(numbers) != 3:
                raise RatioError(
                    f"ratio {value!r}: expected three numbers mono:cross:multi, e.g. 0.5:0.5:0"
                )
            return cls(*numbers)
        numbers = [float(v) for v in value]
        if len(numbers) != 3:
            raise RatioError(f"ratio {value!r}: expected three numbers (mono, cross, multi)")
        return cls(*numbers)

    def __str__(self) -> str:
        """The trainer's text (6 significant digits): ``"0.5:0.5:0"``."""
        return ":".join(f"{v:g}" for v in self)

    def text(self) -> str:
        """The sweep's and leaderboard's label (at most 4 decimals): ``"0.3333:0.3333:0.3333"``."""
        return ":".join(f"{round(v, 4):g}" for v in self)

    def tag(self) -> str:
        """The ratio part of a run id (2 decimals): ``"r0.50-0.50-0.00"``."""
        return "r" + "-".join(f"{v:.2f}" for v in self)

    def close_to(self, other: Sequence[float], tolerance: float = 5e-3) -> bool:
        """Whether ``other`` (normalised) is within ``tolerance`` of this ratio, share by share."""
        total = sum(other)
        return total > 0 and all(
            abs(x - y / total) < tolerance for x, y in zip(self, other, strict=True)
        )


# -- run ids ----------------------------------------------------------------------------------
BASE_RUN_ID = "base"
RUN_ID = re.compile(
    r"(?:^|[/_\-])r(?P<mono>\d+(?:\.\d+)?)-(?P<cross>\d+(?:\.\d+)?)-(?P<multi>\d+(?:\.\d+)?)"
    r"_s(?P<seed>\d+)(?=$|[/_\-])"
)


class RunName(NamedTuple):
    """What a run id inside a name says: ratio (2 decimals), seed, and the name without the seed
    (the *family* the seeds of one ratio share)."""

    ratio: Ratio
    seed: int
    family: str


def run_id(ratio: Sequence[float], seed: int) -> str:
    """``r0.50-0.50-0.00_s1``: a sweep run's id, its folder name and its model's name."""
    return f"{Ratio.parse(ratio).tag()}_s{seed}"


def parse_run_name(name: str) -> RunName | None:
    """The run id inside a run or model name, else ``None``.

    ``"local/r0.50-0.50-0.00_s1-model"`` -> ``RunName((0.5, 0.5, 0.0), 1,
    "local/r0.50-0.50-0.00-model")``. The ratio has the id's 2 decimals: read a run's ratio from
    its ``run.json`` where there is one.
    """
    matches = list(RUN_ID.finditer(name))
    if not matches:
        return None
    match = matches[-1]
    values = (float(match["mono"]), float(match["cross"]), float(match["multi"]))
    if sum(values) <= 0:
        return None
    seed_span = match.span("seed")
    family = name[: seed_span[0] - 2] + name[seed_span[1] :]
    return RunName(Ratio(*values), int(match["seed"]), family)


# -- files a run leaves behind ----------------------------------------------------------------
RUN_FILE = "run.json"  # a sweep run: ratio, seed, settings, status, results (sweep/runs/<id>/)
SWEEP_FILE = "sweep.json"  # a sweep: config, invocations, runs done (the sweep folder)
TRAIN_CONFIG_FILE = "train_config.json"  # the TrainConfig a torchrun launch reads (run folder)
TRAINING_METADATA = "mteb_hybrid_training.json"  # beside a trained model, written last
TRAINER_STATE_FILE = "mteb_hybrid_run.json"  # batch-order settings beside the checkpoints
CHECKPOINTS = "checkpoints"  # <model folder>/checkpoints/checkpoint-<step>
CHECKPOINT_COMPLETE = "mteb_hybrid_checkpoint.json"  # in a checkpoint, written last (atomic)


def run_states(
    sweep_folder: str | os.PathLike[str], *, error: type[Exception] = ValueError
) -> list[dict[str, Any]]:
    """The ``run.json`` object of every run of a sweep folder (``<sweep>/runs/<id>/run.json``),
    sorted by run id; the sweep writes them, ``mteb-hybrid sweep --status`` and the leaderboard's
    bundle read them. A file that is not JSON raises ``error`` with one line naming it."""
    from mteb_hybrid.files import read_json

    states = []
    for run_file in sorted((Path(sweep_folder) / "runs").glob(f"*/{RUN_FILE}")):
        data = read_json(run_file, error=error, fix="delete it to redo that run")
        if isinstance(data, dict):
            states.append(data)
    return states


def results_folder_name(model_name: str) -> str:
    """The folder mteb writes a model's results (and we its encoding stores) under:
    ``org/name`` -> ``org__name``."""
    return model_name.replace("/", "__")


# -- subsets of the multi-setting tasks -------------------------------------------------------
POOLED = "all"  # the pooled corpus: subset "eng-all", corpus language "all"
_CODE = re.compile(r"^[a-z]{2,3}$")


def split_subset_name(name: str) -> tuple[str, str] | None:
    """``"eng-deu"`` -> ``("eng", "deu")``, ``"eng-all"`` -> ``("eng", "all")``; script tags are
    dropped (``"eng_Latn-deu_Latn"``). ``None`` for a name that is not ``<query>-<corpus>``."""
    parts = [part.split("_")[0] for part in name.split("-")]
    if len(parts) == 2 and _CODE.match(parts[0]) and (_CODE.match(parts[1]) or parts[1] == POOLED):
        return parts[0], parts[1]
    return None
