"""Exact batch-type schedules: realised counts equal the named ratio over the run.

The allocation is checked against an independent Hamilton apportionment in exact fractions; the
sampler's plans are counted over whole runs given by ``max_steps`` or ``epochs`` (partial last
epochs included), per process count, per seed. The ``independent`` option keeps the old per-step
draw, whose counts vary with the seed.
"""

from __future__ import annotations

import math
from collections import Counter
from fractions import Fraction

import numpy as np
import pytest

from mteb_hybrid.trainers.pairs import build_pair_dataset
from mteb_hybrid.trainers.sampler import HybridBatchSampler
from mteb_hybrid.trainers.schedule import epoch_kinds, largest_remainder, run_steps
from tests.test_trainer_sampler import decode, kind_of, make_data


def hamilton(ratio: str, total: int) -> tuple[int, int, int]:
    """Reference: Hamilton's method in exact fractions, ties to the earlier type."""
    shares = [Fraction(p) for p in ratio.split(":")]
    quotas = [s / sum(shares) * total for s in shares]
    counts = [math.floor(q) for q in quotas]
    order = sorted(range(3), key=lambda k: (-(quotas[k] - counts[k]), k))
    for k in order[: total - sum(counts)]:
        counts[k] += 1
    return tuple(counts)


def planned_counts(sampler: HybridBatchSampler, steps: int) -> tuple[int, int, int]:
    """Types of the first ``steps`` global batches, read from the per-epoch plans."""
    kinds: list[str] = []
    epoch = 0
    while len(kinds) < steps:
        kinds += [p.kind for p in sampler.plan(epoch)]
        epoch += 1
    counts = Counter(kinds[:steps])
    return counts["mono"], counts["cross"], counts["multi"]


@pytest.fixture(scope="module")
def dataset():
    # 5 languages, 310 (id, language) rows
    return build_pair_dataset(make_data({"en": 80, "de": 80, "fr": 50, "sw": 50, "te": 50}))


@pytest.mark.parametrize(
    ("ratio", "total", "expected"),
    [
        ("0.34:0.33:0.33", 60, (20, 20, 20)),  # remainders .4 .8 .8: cross and multi round up
        ("0.34:0.33:0.33", 301, (103, 99, 99)),  # remainders .34 .33 .33: mono rounds up
        ("1:1:1", 60, (20, 20, 20)),  # 1/3 * 60 in floats must not lose a floor
        ("1:1:1", 61, (21, 20, 20)),  # tie: the earlier type
        ("0.5:0.5:0", 61, (31, 30, 0)),
        ("0.75:0.25:0", 301, (226, 75, 0)),
        ("0.25:0.75:0", 7, (2, 5, 0)),
        ("0.1:0.2:0.7", 9, (1, 2, 6)),  # quotas 0.9 1.8 6.3
        ("1:0:0", 13, (13, 0, 0)),
    ],
)
def test_largest_remainder_by_hand_and_against_fractions(ratio, total, expected):
    shares = [float(p) for p in ratio.split(":")]
    assert tuple(largest_remainder(shares, total).tolist()) == expected == hamilton(ratio, total)


def test_largest_remainder_matches_fractions_on_a_grid():
    rng = np.random.default_rng(0)
    for _ in range(300):
        parts = rng.integers(0, 100, size=3)
        if not parts.sum():
            continue
        ratio = ":".join(str(p / 100) for p in parts)
        total = int(rng.integers(0, 500))
        got = largest_remainder([float(p) for p in ratio.split(":")], total)
        assert tuple(got.tolist()) == hamilton(ratio, total), (ratio, total)


def test_run_steps_follows_the_trainer():
    assert run_steps(60, 1.0, 7) == 60  # max_steps wins
    assert run_steps(None, 2.5, 7) == 18  # ceil(17.5), as transformers computes it
    assert run_steps(None, None, 7) is None


@pytest.mark.parametrize("ratio", ["0.34:0.33:0.33", "0.5:0.5:0", "0.75:0.25:0", "1:2:3"])
@pytest.mark.parametrize(
    ("batch_size", "world_size", "length"),
    [
        (4, 1, {"max_steps": 60}),  # 77 steps per epoch: the run is a prefix of epoch 0
        (4, 1, {"max_steps": 301}),  # 3 full epochs and a partial fourth
        (5, 2, {"max_steps": 301}),  # 31 global steps per epoch, 10 epochs and a part
        (4, 1, {"epochs": 2.5}),  # 193 steps
        (8, 3, {"epochs": 3}),  # 12 global steps per epoch, 36 in all
    ],
)
def test_realised_counts_equal_the_ratio_over_the_run(
    dataset, ratio, batch_size, world_size, length
):
    sampler = HybridBatchSampler(
        dataset, batch_size=batch_size, ratio=ratio, sampler_seed=3, world_size=world_size,
        **length,
    )  # fmt: skip
    total = sampler.total_steps
    if "max_steps" in length:
        assert total == length["max_steps"]
    else:
        assert total == math.ceil(length["epochs"] * sampler.steps_per_epoch)
    expected = hamilton(ratio, total)
    assert planned_counts(sampler, total) == expected
    assert tuple(sampler.batch_type_counts().values()) == expected
    assert sampler.describe()["ratio_schedule"] == "exact"
    # each epoch holds its share to within two steps (the layout is even, then shuffled)
    shares = tuple(sampler.ratio)
    for epoch in range(total // sampler.steps_per_epoch):
        counts = Counter(p.kind for p in sampler.plan(epoch))
        for kind, share in zip(("mono", "cross", "multi"), shares, strict=True):
            assert abs(counts[kind] - share * sampler.steps_per_epoch) < 2, (epoch, counts)


def test_the_batches_follow_the_exact_plan(dataset):
    """What the sampler yields is the planned type; totals hold when counted from the content."""
    sampler = HybridBatchSampler(
        dataset, batch_size=4, ratio="0.34:0.33:0.33", sampler_seed=1, world_size=2, max_steps=60
    )
    kinds: Counter[str] = Counter()
    step = 0
    epoch = 0
    while step < 60:
        sampler.set_epoch(epoch)
        batches = list(sampler)
        plans = sampler.plan(epoch)
        for i, plan in enumerate(plans):
            if step == 60:
                break
            pairs = decode(dataset, batches[2 * i] + batches[2 * i + 1])
            observed = kind_of(pairs)
            assert observed == plan.kind or (plan.kind == "multi" and observed == "mono")
            kinds[plan.kind] += 1
            step += 1
        epoch += 1
    assert (kinds["mono"], kinds["cross"], kinds["multi"]) == (20, 20, 20)


def test_seeds_shuffle_the_order_but_not_the_counts(dataset):
    def kinds(seed: int, epoch: int) -> list[str]:
        sampler = HybridBatchSampler(
            dataset, batch_size=4, ratio="0.5:0.5:0", sampler_seed=seed, max_steps=200
        )
        return [p.kind for p in sampler.plan(epoch)]

    assert kinds(0, 0) == kinds(0, 0)
    assert kinds(0, 0) != kinds(1, 0)
    assert kinds(0, 0) != kinds(0, 1)
    for seed in range(5):
        sampler = HybridBatchSampler(
            dataset, batch_size=4, ratio="0.5:0.5:0", sampler_seed=seed, max_steps=200
        )
        assert sampler.batch_type_counts() == {"mono": 100, "cross": 100, "multi": 0}


def test_partial_last_epoch_holds_the_runs_last_steps_first():
    # 10 steps per epoch, 25-step run: epoch 2 starts with the run's last 5 typed steps
    shares = (0.6, 0.4, 0.0)
    run = np.concatenate([epoch_kinds(shares, e, 10, 25, 0) for e in range(3)])
    assert np.bincount(run[:25], minlength=3).tolist() == [15, 10, 0]
    # the untrained rest of epoch 2 is its own exact allocation (3 : 2)
    assert np.bincount(run[25:], minlength=3).tolist() == [3, 2, 0]
    # past the run every epoch is exact by itself
    assert np.bincount(epoch_kinds(shares, 7, 10, 25, 0), minlength=3).tolist() == [6, 4, 0]
    # with no known length too
    assert np.bincount(epoch_kinds(shares, 0, 10, None, 0), minlength=3).tolist() == [6, 4, 0]


def test_independent_option_draws_each_step_on_its_own(dataset):
    """The old behaviour: binomial counts that vary with the seed, the legacy generator stream."""
    mono_counts = set()
    for seed in range(20):
        sampler = HybridBatchSampler(
            dataset, batch_size=4, ratio="0.5:0.5:0", sampler_seed=seed, max_steps=60,
            ratio_schedule="independent",
        )  # fmt: skip
        counts = sampler.batch_type_counts()
        assert sum(counts.values()) == 60
        mono_counts.add(counts["mono"])
        # the kinds are the first draw of the (seed, epoch, 0) generator, as before schedules
        legacy = np.random.default_rng([seed, 0, 0]).choice(
            3, size=sampler.steps_per_epoch, p=(0.5, 0.5, 0.0)
        )
        kinds = [p.kind for p in sampler.plan(0)]
        assert kinds == [("mono", "cross", "multi")[k] for k in legacy]
    # exact would give 30 every time; 20 independent draws of Binomial(60, 0.5) spread out
    assert len(mono_counts) >= 4, mono_counts


def test_unknown_schedule_is_refused(dataset):
    with pytest.raises(ValueError, match="ratio schedule 'even'"):
        HybridBatchSampler(dataset, batch_size=4, ratio_schedule="even")
