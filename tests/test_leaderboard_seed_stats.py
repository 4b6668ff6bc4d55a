"""Seed-aware inference: size and power by simulation, and the pieces it is built from.

The simulated study: two rows (ratios), each trained with ``m`` seeds, scored on ``n`` parallel
items; a run's value on item ``q`` is ``mu_row + seed effect + item effect + run-specific noise``.
The item effect is shared by every run (the same questions are hard for every model), the seed
effect is constant over items (one training run is better than another), the run-specific noise
is the item-by-seed interaction. Each trial runs the same functions the leaderboard runs
(``interaction_variance``, ``column_inference``, ``difference``) on one shared set of item
resamples, and also the query-only bootstrap the leaderboard used before (seeds ignored).
"""

from __future__ import annotations

import numpy as np
import pytest

from mteb_hybrid.leaderboard import seed_stats
from mteb_hybrid.leaderboard.bootstrap import paired_p_value, resample_counts

ALPHA = 0.05
B = 600
N_ITEMS = 120


def _trial(
    rng: np.random.Generator,
    *,
    m: int = 3,
    effect: float = 0.0,
    seed_sd: float = 0.05,
    noise_sd: float = 0.05,
    item_sd: float = 0.2,
    fixed_reference: bool = False,
    mode: str = "row",
    draw_seed: int = 0,
) -> tuple[float, float, float]:
    """p-values of (seed-aware, query-only bootstrap, plain bootstrap over seeds) for row 0 vs
    row 1 (row 1: ``m`` seeds too, or one fixed checkpoint)."""
    m_ref = 1 if fixed_reference else m
    item = rng.normal(0, item_sd, N_ITEMS)
    runs = []
    for mu, count, random in ((effect, m, True), (0.0, m_ref, not fixed_reference)):
        for _ in range(count):
            seed_effect = rng.normal(0, seed_sd) if random else 0.0
            noise = rng.normal(0, noise_sd, N_ITEMS) if random else 0.0
            runs.append(mu + seed_effect + item + noise)
    values = np.stack(runs, axis=1)  # (items, runs)
    run_samples = (resample_counts(N_ITEMS, B, rng) @ values / N_ITEMS).T  # (runs, B)
    groups = [list(range(m)), list(range(m, m + m_ref))]
    rows = [seed_stats.RowSpec(tuple(groups[0]), True), seed_stats.RowSpec(tuple(groups[1]), True)]
    if fixed_reference:
        rows[1] = seed_stats.RowSpec(tuple(groups[1]), False)
    item_samples = seed_stats.row_means(run_samples, groups)
    inference = seed_stats.column_inference(
        values.mean(axis=0),
        item_samples,
        rows,
        seed_stats.SeedDraws(B, seed=draw_seed),
        mode,
        seed_stats.interaction_variance(run_samples, groups),
    )
    observed = inference.values[0] - inference.values[1]
    p_seed_aware = seed_stats.difference(inference, 0, 1, "ref").p
    p_query_only = paired_p_value(item_samples[0] - item_samples[1], observed)
    picks = [rng.integers(0, len(g), size=(B, len(g))) for g in groups]  # seeds with replacement
    naive = [
        run_samples[g][pick, np.arange(B)[:, None]].mean(axis=1)
        for g, pick in zip(groups, picks, strict=True)
    ]
    p_naive = paired_p_value(naive[0] - naive[1], observed)
    return p_seed_aware, p_query_only, p_naive


def _rejection_rates(trials: int, seed: int = 0, **kwargs) -> np.ndarray:
    rng = np.random.default_rng(seed)
    p = np.array([_trial(rng, draw_seed=t, **kwargs) for t in range(trials)])
    return (p < ALPHA).mean(axis=0)


def test_size_when_seed_noise_dominates_and_the_old_bootstrap_fails() -> None:
    """Null: equal ratios, seed noise (sd 0.05) far above the items' share of the difference.

    The seed-aware test rejects near 5%; the query-only bootstrap (the old leaderboard test)
    rejects most of the time, and a plain bootstrap over 3 seeds about 3 times too often.
    """
    seed_aware, query_only, naive = _rejection_rates(400)
    assert 0.02 <= seed_aware <= 0.085, seed_aware
    assert query_only > 0.5, query_only
    assert naive > 0.1, naive


def test_size_when_item_by_seed_noise_dominates() -> None:
    """No seed effect, large run-specific noise per item: the interaction correction keeps the
    size near 5% instead of counting that noise twice (which gave about 1%)."""
    (seed_aware, _, _) = _rejection_rates(400, seed=1, seed_sd=0.0, noise_sd=0.3)
    assert 0.02 <= seed_aware <= 0.085, seed_aware


def test_size_against_a_fixed_checkpoint_and_pooled() -> None:
    """Trained row vs the untrained base model (no training randomness), and pooled variance."""
    base = _rejection_rates(400, seed=2, fixed_reference=True)[0]
    pooled = _rejection_rates(400, seed=3, mode="pooled")[0]
    assert 0.02 <= base <= 0.09, base
    assert 0.02 <= pooled <= 0.09, pooled


def test_power_under_a_real_effect() -> None:
    """A shift of 4 seed standard deviations with 3 seeds per row, 3 with 5 seeds."""
    assert _rejection_rates(200, seed=4, effect=0.2)[0] >= 0.75
    assert _rejection_rates(200, seed=5, effect=0.15, m=5)[0] >= 0.9
    assert _rejection_rates(200, seed=6, effect=0.2, fixed_reference=True)[0] >= 0.75


def test_interaction_variance_recovers_the_run_specific_noise() -> None:
    """v = var(run noise)/n items: the share of the between-seed variance the items cover."""
    rng = np.random.default_rng(7)
    item = rng.normal(0, 0.3, 400)
    values = np.stack([0.1 * k + item + rng.normal(0, 0.2, 400) for k in range(4)], axis=1)
    run_samples = (resample_counts(400, 4000, rng) @ values / 400).T
    (v,) = seed_stats.interaction_variance(run_samples, [[0, 1, 2, 3]])
    assert v == pytest.approx(0.2**2 / 400, rel=0.2)
    assert seed_stats.interaction_variance(run_samples, [[0]])[0] == 0.0


def test_single_seed_row_is_conditional_and_fixed_row_has_no_seed_level() -> None:
    rows = [
        seed_stats.RowSpec((0,), True),  # one seed of a ratio
        seed_stats.RowSpec((1,), False),  # the base model
        seed_stats.RowSpec((2, 3, 4), True),
    ]
    observed = np.array([0.5, 0.4, 0.50, 0.52, 0.54])
    items = np.tile(np.linspace(-0.01, 0.01, 50), (3, 1)) + np.array([[0.5], [0.4], [0.52]])
    inference = seed_stats.column_inference(observed, items, rows, seed_stats.SeedDraws(50))
    assert inference.conditional.tolist() == [True, False, False]
    assert inference.seed_sd[1] == 0.0 and inference.df.tolist() == [0.0, 0.0, 2.0]
    np.testing.assert_allclose(inference.samples[:2], items[:2])  # no seed part added
    assert seed_stats.difference(inference, 0, 1, "base").conditional
    assert not seed_stats.difference(inference, 2, 1, "base").conditional
    assert seed_stats.seed_level(inference, 2, 1) == pytest.approx((0.02**2 / 3, 2.0))


def test_welch_degrees_of_freedom() -> None:
    rows = [seed_stats.RowSpec((0, 1, 2), True), seed_stats.RowSpec((3, 4, 5, 6, 7), True)]
    observed = np.array([0.1, 0.2, 0.3, 0.0, 0.1, 0.2, 0.3, 0.4])
    inference = seed_stats.column_inference(
        observed, np.zeros((2, 10)), rows, seed_stats.SeedDraws(10)
    )
    va, vb = 0.01 / 3, np.var(observed[3:], ddof=1) / 5
    variance, df = seed_stats.seed_level(inference, 0, 1)
    assert variance == pytest.approx(va + vb)
    assert df == pytest.approx((va + vb) ** 2 / (va**2 / 2 + vb**2 / 4))


def test_seed_draws_are_student_t_and_repeatable() -> None:
    draws = seed_stats.SeedDraws(200_000, seed=3)
    t3 = draws.t("row0", 3)
    assert np.mean(np.abs(t3) > 3.182446) == pytest.approx(0.05, abs=0.004)  # t(3) 97.5%
    t1 = draws.t("row0", 1.0)
    assert np.mean(np.abs(t1) > 12.7062) == pytest.approx(0.05, abs=0.004)
    np.testing.assert_array_equal(t3, seed_stats.SeedDraws(200_000, seed=3).t("row0", 3))
    assert not np.array_equal(t3, draws.t("row1", 3))


def test_benjamini_hochberg_by_hand() -> None:
    adjusted = seed_stats.benjamini_hochberg([0.01, 0.04, 0.03, 0.2, float("nan")])
    # sorted 0.01, 0.03, 0.04, 0.2 -> 0.04, 0.0533, 0.0533, 0.2 (step-up minimum)
    np.testing.assert_allclose(adjusted[:4], [0.04, 0.16 / 3, 0.16 / 3, 0.2])
    assert np.isnan(adjusted[4])
    np.testing.assert_allclose(seed_stats.adjust([0.01, 0.04], "holm"), [0.02, 0.04])


def test_resamples_are_raised_until_the_smallest_p_is_well_below_the_threshold() -> None:
    assert seed_stats.required_resamples(45, 0.05) == 9000  # 1/9001 <= 0.05 / 450
    b = seed_stats.required_resamples(156, 0.05)
    assert 1 / (b + 1) <= 0.05 / (10 * 156) and b % 1000 == 0
    assert seed_stats.required_resamples(45, 0.05, minimum=20_000) == 20_000
    assert seed_stats.required_resamples(10**6, 0.05) == seed_stats.MAX_RESAMPLES
    assert seed_stats.required_resamples(0, 0.05, minimum=300) == 300
    with pytest.raises(ValueError, match="correction"):
        seed_stats.InferenceSettings(correction="bonferroni")
