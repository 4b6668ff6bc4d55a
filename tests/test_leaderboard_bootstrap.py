"""The bootstrap: interval coverage, paired tests (power and size), Holm, alignment, speed."""

from __future__ import annotations

import time

import numpy as np
import pytest

from mteb_hybrid.leaderboard.aggregate import Column, Layout, column_value
from mteb_hybrid.leaderboard.bootstrap import (
    BootstrapSettings,
    PairedBootstrap,
    cluster_keys,
    holm,
    paired_p_value,
    percentile_interval,
    resample_counts,
)


def _sidecar(values: dict[str, np.ndarray], ids: list[str] | None = None, subset: str = "eng-eng"):
    n = len(next(iter(values.values())))
    ids = ids if ids is not None else [f"en-q{i}" for i in range(n)]
    return {subset: {"query_ids": np.array(ids), **values}}


def test_resample_counts_draw_n_with_replacement() -> None:
    counts = resample_counts(50, 200, np.random.default_rng(0))
    assert counts.shape == (200, 50)
    assert np.all(counts.sum(axis=1) == 50)
    assert counts.mean() == pytest.approx(1.0)


def test_interval_covers_a_known_mean_about_95_percent_of_the_time() -> None:
    """Bernoulli(0.3) per-query values: the 95% interval holds 0.3 in ~95% of 200 samples."""
    rng = np.random.default_rng(1)
    hits = 0
    trials = 200
    for trial in range(trials):
        values = (rng.random(200) < 0.3).astype(np.float32)
        boot = PairedBootstrap(
            [_sidecar({"map": values})], ["eng-eng"], BootstrapSettings(500, seed=trial)
        )
        _, samples = boot.subset_means("map")
        low, high = percentile_interval(samples[0, :, 0])
        hits += low <= 0.3 <= high
    assert 0.90 <= hits / trials <= 0.99


def test_paired_test_finds_a_real_difference() -> None:
    rng = np.random.default_rng(2)
    a = rng.random(300).astype(np.float32)
    b = np.clip(a + rng.normal(0.04, 0.05, 300), 0, 1).astype(np.float32)
    boot = PairedBootstrap(
        [_sidecar({"map": a}), _sidecar({"map": b})], ["eng-eng"], BootstrapSettings(1000)
    )
    observed, samples = boot.subset_means("map")
    diff = samples[1, :, 0] - samples[0, :, 0]
    p = paired_p_value(diff, observed[1, 0] - observed[0, 0])
    assert observed[1, 0] > observed[0, 0]
    assert p < 0.01
    # unpaired, the same shift would drown in the spread of the values: pairing matters
    assert np.std(diff) < 0.2 * np.std(samples[0, :, 0] + samples[1, :, 0])


def test_paired_test_keeps_its_size_under_the_null() -> None:
    """Same-mean models: about 5% of p-values fall below 0.05."""
    rng = np.random.default_rng(3)
    p_values = []
    trials = 100
    for trial in range(trials):
        a = rng.random(150).astype(np.float32)
        b = np.clip(a + rng.normal(0.0, 0.1, 150), -1, 2).astype(np.float32)
        boot = PairedBootstrap(
            [_sidecar({"map": a}), _sidecar({"map": b})],
            ["eng-eng"],
            BootstrapSettings(400, seed=trial),
        )
        observed, samples = boot.subset_means("map")
        p_values.append(
            paired_p_value(samples[1, :, 0] - samples[0, :, 0], observed[1, 0] - observed[0, 0])
        )
    p_values = np.array(p_values)
    # about 5% rejections: neither too many nor none (a test that never rejects has no power)
    assert 0.01 <= np.mean(p_values < 0.05) <= 0.12
    # under the null p is roughly uniform: a constant p (say 1) or a p stuck near 0 fails here
    assert 0.35 <= np.mean(p_values < 0.5) <= 0.65
    assert 0.35 <= np.median(p_values) <= 0.65


def test_identical_models_are_not_different() -> None:
    values = np.linspace(0, 1, 100, dtype=np.float32)
    boot = PairedBootstrap(
        [_sidecar({"map": values}), _sidecar({"map": values.copy()})], ["eng-eng"]
    )
    observed, samples = boot.subset_means("map")
    assert paired_p_value(samples[1, :, 0] - samples[0, :, 0], 0.0) == 1.0


def test_holm_adjustment() -> None:
    adjusted = holm([0.01, 0.04, 0.03, float("nan")])
    np.testing.assert_allclose(adjusted[:3], [0.03, 0.06, 0.06])
    assert np.isnan(adjusted[3])
    assert holm([0.5, 0.9]).tolist() == [1.0, 1.0]  # monotone: never below an earlier step


def test_queries_are_aligned_by_id_across_models() -> None:
    values = np.arange(10, dtype=np.float32)
    ids = [f"en-q{i}" for i in range(10)]
    order = np.random.default_rng(0).permutation(10)
    shuffled = _sidecar({"map": values[order]}, [ids[i] for i in order])
    extra = _sidecar({"map": np.append(values, 100).astype(np.float32)}, [*ids, "en-extra"])
    boot = PairedBootstrap([_sidecar({"map": values}, ids), shuffled, extra], ["eng-eng"])
    observed, samples = boot.subset_means("map")
    assert boot.dropped["eng-eng"] == 1  # the query only one model has is left out
    np.testing.assert_allclose(observed[:, 0], 4.5)
    np.testing.assert_allclose(samples[0], samples[1])
    np.testing.assert_allclose(samples[0], samples[2])


def test_item_unit_draws_parallel_queries_together() -> None:
    assert cluster_keys(["en-q1", "de-q1", "xx-q2"], "item", "s") == ["q1", "q1", "xx-q2"]
    assert cluster_keys(["en-img7-0", "de-img7-1"], "item", "s") == ["img7", "img7"]
    assert BootstrapSettings().unit_for("XQuADRRetrieval") == "item"
    assert BootstrapSettings().unit_for("MIRACLMultilingualRetrieval") == "query"
    assert cluster_keys(["en-q1"], "query", "s") == ["en-q1"]
    values = {"map": np.array([0.2, 0.9], dtype=np.float32)}
    car = {
        "eng-eng": {"query_ids": np.array(["en-a", "en-b"]), **values},
        "deu-deu": {"query_ids": np.array(["de-a", "de-b"]), **values},
    }
    for unit, same in (("item", True), ("subset", False)):
        boot = PairedBootstrap([car], ["eng-eng", "deu-deu"], BootstrapSettings(200, unit=unit))
        _, samples = boot.subset_means("map")
        assert np.array_equal(samples[0, :, 0], samples[0, :, 1]) is same


def test_missing_sidecar_gives_nan_not_an_error() -> None:
    values = np.ones(5, dtype=np.float32)
    boot = PairedBootstrap([_sidecar({"map": values}), None], ["eng-eng", "eng-deu"])
    observed, samples = boot.subset_means("map")
    assert observed[0, 0] == 1.0
    assert np.isnan(observed[1]).all() and np.isnan(samples[0, :, 1]).all()


def test_speed_eleven_models_on_full_xquad_r_layout() -> None:
    """11 models x 11 languages (132 subsets) x 1,190 queries x 1,000 resamples, 3 metrics."""
    langs = ["arb", "deu", "ell", "eng", "spa", "hin", "rus", "tha", "tur", "vie", "zho"]
    rng = np.random.default_rng(0)
    subsets = [f"{q}-{c}" for q in langs for c in [*langs, "all"]]
    sidecars = []
    for _ in range(11):
        car = {}
        for name in subsets:
            q = name.split("-")[0]
            car[name] = {
                "query_ids": np.array([f"{q[:2]}-{i}" for i in range(1190)]),
                "map": rng.random(1190).astype(np.float32),
                "ndcg_at_10": rng.random(1190).astype(np.float32),
                "rank_distance": rng.random(1190).astype(np.float32) * 1000,
            }
        sidecars.append(car)
    started = time.perf_counter()
    boot = PairedBootstrap(sidecars, subsets, BootstrapSettings(1000))
    for metric in ("map", "ndcg_at_10", "rank_distance"):
        _, samples = boot.subset_means(metric)
    layout = Layout(
        subsets=subsets,
        settings=[
            "multi" if s.endswith("all") else "mono" if s[:3] == s[4:] else "cross" for s in subsets
        ],
        query_langs=[s[:3] for s in subsets],
        corpus_langs=[s[4:] for s in subsets],
        languages=langs,
    )
    worst = Column("worst", "worst", "map", "worst")
    values = np.stack([column_value(worst, layout, samples[r]) for r in range(11)])
    elapsed = time.perf_counter() - started
    assert samples.shape == (11, 1000, 132) and values.shape == (11, 1000)
    assert elapsed < 30, f"bootstrap took {elapsed:.1f} s"


def test_resamples_in_chunks_equal_the_whole_and_do_not_depend_on_b() -> None:
    """Resamples are seeded per chunk of 1000: any (start, stop) slices agree with the whole, and
    a larger B keeps the first resamples (so raising B per table only adds resamples)."""
    rng = np.random.default_rng(4)
    car = _sidecar({"map": rng.random(40).astype(np.float32)})
    small = PairedBootstrap([car], ["eng-eng"], BootstrapSettings(1500))
    large = PairedBootstrap([car], ["eng-eng"], BootstrapSettings(2500))
    _, whole = small.subset_means("map")
    parts = [small.subset_means("map", a, b)[1] for a, b in ((0, 700), (700, 1001), (1001, 1500))]
    np.testing.assert_array_equal(np.concatenate(parts, axis=1), whole)
    np.testing.assert_array_equal(large.subset_means("map", 0, 1500)[1], whole)


def test_column_values_share_one_pass_and_equal_column_value() -> None:
    from mteb_hybrid.leaderboard.aggregate import column_values, headline_columns

    langs = ["deu", "eng", "spa"]
    subsets = [f"{q}-{c}" for q in langs for c in [*langs, "all"]]
    layout = Layout(
        subsets=subsets,
        settings=[
            "multi" if s.endswith("all") else "mono" if s[:3] == s[4:] else "cross" for s in subsets
        ],
        query_langs=[s[:3] for s in subsets],
        corpus_langs=[s[4:] for s in subsets],
        languages=langs,
    )
    x = np.random.default_rng(5).random((4, 30, len(subsets)))
    x[0, 0, 3] = np.nan
    columns = [
        c for c in headline_columns(layout, {"low": ["spa"]}, metrics=("map",)) if c.metric == "map"
    ]
    assert {c.kind for c in columns} >= {"setting", "group", "worst", "spread"}
    for column, value in zip(columns, column_values(columns, layout, x), strict=True):
        np.testing.assert_allclose(value, column_value(column, layout, x), rtol=1e-12)
