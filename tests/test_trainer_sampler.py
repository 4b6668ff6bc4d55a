"""HybridBatchSampler: ratio frequencies, language choice, no duplicate ids, determinism, length."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from mteb_hybrid.trainers.pairs import build_pair_dataset
from mteb_hybrid.trainers.parallel import ParallelData
from mteb_hybrid.trainers.records import TrainingRecord
from mteb_hybrid.trainers.sampler import HybridBatchSampler


def make_data(
    sizes: dict[str, int], *, negatives: bool = False, extra_single: int = 0
) -> ParallelData:
    """Parallel records: id ``i`` exists in every language whose size exceeds ``i``.

    Texts encode id and language (``q|<id>|<lang>``) so a batch can be decoded from its texts.
    """
    records = []
    for lang, size in sizes.items():
        for i in range(size):
            records.append(
                TrainingRecord(
                    id=f"id{i}",
                    lang=lang,
                    query=f"q|{i}|{lang}",
                    positive=f"p|{i}|{lang}",
                    negative=f"n|{i}|{lang}" if negatives else None,
                    source="synthetic",
                    row=len(records) + 1,
                )
            )
    for j in range(extra_single):
        records.append(
            TrainingRecord(
                id=f"solo{j}", lang="en", query=f"q|solo{j}|en", positive=f"p|solo{j}|en",
                negative=f"n|solo{j}|en" if negatives else None, source="synthetic",
                row=len(records) + 1,
            )
        )  # fmt: skip
    return ParallelData.from_records(records, description=["synthetic"])


def decode(dataset, indices: list[int]) -> list[tuple[str, str, str, str]]:
    """``(query id, query lang, passage id, passage lang)`` of each pair."""
    rows = dataset[list(indices)]
    out = []
    for query, positive in zip(rows["query"], rows["positive"], strict=True):
        _, qid, qlang = query.split("|")
        _, pid, plang = positive.split("|")
        out.append((qid, qlang, pid, plang))
    return out


def kind_of(pairs: list[tuple[str, str, str, str]]) -> str:
    if all(q != p for _, q, _, p in pairs):
        return "cross"
    if all(q == p for _, q, _, p in pairs):
        return "mono" if len({q for _, q, _, _ in pairs}) == 1 else "multi"
    return "mixed"


@pytest.fixture(scope="module")
def dataset():
    # five languages, 60 ids in all of them, 20 more in only two (de, fr), unbalanced sizes
    return build_pair_dataset(make_data({"en": 80, "de": 80, "fr": 60, "sw": 60, "te": 60}))


def test_ratio_frequencies_over_10000_batches(dataset):
    """Observed batch-type shares are within 4 standard errors of the ratio (n = 10,000)."""
    ratio = (0.5, 0.3, 0.2)
    sampler = HybridBatchSampler(dataset, batch_size=4, ratio="5:3:2", sampler_seed=11)
    kinds: Counter[str] = Counter()
    epoch = 0
    n = 0
    while n < 10_000:
        for plan, pairs in sampler.global_batches(epoch):
            decoded = decode(dataset, pairs.tolist())
            observed = kind_of(decoded)
            # the content agrees with the plan (a multi batch may land in one language by chance)
            assert observed == plan.kind or (plan.kind == "multi" and observed == "mono")
            if plan.kind == "mono":
                assert {q for _, q, _, _ in decoded} == {plan.language}
            kinds[plan.kind] += 1
            n += 1
            if n == 10_000:
                break
        epoch += 1
    for kind, p in zip(("mono", "cross", "multi"), ratio, strict=True):
        tolerance = 4 * math.sqrt(p * (1 - p) / n)  # about 0.02 at p = 0.5
        assert abs(kinds[kind] / n - p) <= tolerance, (kind, kinds[kind] / n, p)


@pytest.mark.parametrize(
    ("strategy", "temperature", "expected"),
    [
        ("uniform", 1.0, {"en": 0.5, "sw": 0.5}),
        ("proportional", 1.0, {"en": 0.8, "sw": 0.2}),
        ("temperature", 2.0, {"en": 2 / 3, "sw": 1 / 3}),  # sqrt(400) : sqrt(100)
    ],
)
def test_mono_language_choice(strategy, temperature, expected):
    data = build_pair_dataset(make_data({"en": 400, "sw": 100}))
    sampler = HybridBatchSampler(
        data, batch_size=2, ratio="1:0:0", language_sampling=strategy,
        temperature=temperature, sampler_seed=3,
    )  # fmt: skip
    plans = [p for epoch in range(20) for p in sampler.plan(epoch)]
    counts = Counter(p.language for p in plans)
    n = len(plans)
    assert n >= 4000
    for lang, p in expected.items():
        assert abs(counts[lang] / n - p) <= 4 * math.sqrt(p * (1 - p) / n), (lang, counts)


@pytest.mark.parametrize("ratio", ["1:0:0", "0:1:0", "0:0:1", "1:1:1"])
@pytest.mark.parametrize("world_size", [1, 2])
def test_no_duplicate_ids_in_a_global_batch(ratio, world_size):
    data = build_pair_dataset(make_data({"en": 20, "de": 20, "fr": 12}, negatives=True))
    sampler = HybridBatchSampler(
        data, batch_size=5, ratio=ratio, sampler_seed=0, world_size=world_size
    )
    for epoch in range(3):
        sampler.set_epoch(epoch)
        batches = list(sampler)
        for start in range(0, len(batches), world_size):
            indices = [i for b in batches[start : start + world_size] for i in b]
            rows = data[indices]
            ids = [q.split("|")[1] for q in rows["query"]]
            assert len(ids) == len(set(ids)) == 5 * world_size
            for query, positive, negative in zip(
                rows["query"], rows["positive"], rows["negative"], strict=True
            ):
                # query and positive share the id; the negative travels with the positive
                assert query.split("|")[1] == positive.split("|")[1]
                assert negative.split("|")[1:] == positive.split("|")[1:]


def test_same_seed_same_batches_and_epochs_differ(dataset):
    def run(seed: int, epoch: int) -> list[list[int]]:
        sampler = HybridBatchSampler(dataset, batch_size=4, ratio="1:1:1", sampler_seed=seed)
        sampler.set_epoch(epoch)
        return list(sampler)

    assert run(5, 0) == run(5, 0)
    assert run(5, 1) == run(5, 1)
    assert run(5, 0) != run(5, 1)
    assert run(5, 0) != run(6, 0)


def test_sampler_seed_overrides_trainer_seed(dataset):
    a = HybridBatchSampler(dataset, batch_size=4, seed=0, sampler_seed=9)
    b = HybridBatchSampler(dataset, batch_size=4, seed=123, sampler_seed=9)
    c = HybridBatchSampler(dataset, batch_size=4, seed=9)
    assert list(a) == list(b) == list(c)


@pytest.mark.parametrize(("batch_size", "world_size"), [(4, 1), (7, 1), (4, 2), (3, 3)])
def test_len_is_what_iter_yields(dataset, batch_size, world_size):
    sampler = HybridBatchSampler(
        dataset, batch_size=batch_size, ratio="1:1:1", world_size=world_size
    )
    batches = list(sampler)
    assert len(batches) == len(sampler)
    assert len(sampler) % world_size == 0
    assert all(len(b) == batch_size for b in batches)
    rows = 80 + 80 + 60 + 60 + 60
    assert len(sampler) == rows // (batch_size * world_size) * world_size


def test_world_size_two_splits_each_global_batch(dataset):
    """Consecutive batches (2s, 2s + 1) form one global batch: one plan, disjoint ids."""
    sampler = HybridBatchSampler(dataset, batch_size=4, ratio="1:1:0", world_size=2, sampler_seed=1)
    batches = list(sampler)
    globals_ = list(sampler.global_batches(0))
    assert len(batches) == 2 * len(globals_)
    for step, (plan, pairs) in enumerate(globals_):
        rank0, rank1 = batches[2 * step], batches[2 * step + 1]
        assert rank0 + rank1 == pairs.tolist()
        left, right = decode(dataset, rank0), decode(dataset, rank1)
        assert kind_of(left) == kind_of(right) == plan.kind
        if plan.kind == "mono":
            assert {q for _, q, _, _ in left + right} == {plan.language}
        assert not {p[0] for p in left} & {p[0] for p in right}


def test_mono_batches_cover_a_language_before_repeating():
    data = build_pair_dataset(make_data({"en": 40, "de": 40}))
    sampler = HybridBatchSampler(data, batch_size=4, ratio="1:0:0", sampler_seed=2)
    seen: dict[str, list[str]] = {"en": [], "de": []}
    for plan, pairs in sampler.global_batches(0):
        seen[plan.language] += [q for q, _, _, _ in decode(data, pairs.tolist())]
    for ids in seen.values():
        first_pass = ids[:40]
        assert len(set(first_pass)) == len(first_pass)  # no repeat within a pass


def test_cross_batches_need_ids_with_two_languages():
    data = build_pair_dataset(make_data({"en": 10}, extra_single=0))
    with pytest.raises(ValueError, match="cross batches need at least"):
        HybridBatchSampler(data, batch_size=4, ratio="0:1:0")
    with pytest.raises(ValueError, match="mono batches need a language with at least 16"):
        HybridBatchSampler(data, batch_size=8, ratio="1:0:0", world_size=2)


def test_small_language_gets_no_mono_batches_with_a_warning():
    data = build_pair_dataset(make_data({"en": 40, "sw": 6}))
    with pytest.warns(UserWarning, match="sw"):
        sampler = HybridBatchSampler(data, batch_size=8, ratio="1:0:0")
    assert {p.language for p in sampler.plan(0)} == {"en"}


def test_rejects_a_plain_dataset():
    from datasets import Dataset

    plain = Dataset.from_dict({"query": ["a", "b"], "positive": ["c", "d"]})
    with pytest.raises(ValueError, match="build_pair_dataset"):
        HybridBatchSampler(plain, batch_size=2)


def test_plan_digest_is_stable_and_epoch_specific(dataset):
    a = HybridBatchSampler(dataset, batch_size=4, ratio="1:1:1", sampler_seed=4)
    b = HybridBatchSampler(dataset, batch_size=4, ratio="1:1:1", sampler_seed=4)
    assert a.plan_digest(0) == b.plan_digest(0) != a.plan_digest(1)
    kinds = {p.kind for p in a.plan(0)}
    assert kinds == {"mono", "cross", "multi"}
    assert np.isclose(sum(a.describe()["ratio"].values()), 1.0)
