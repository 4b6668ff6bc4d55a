"""``queries_per_language`` on parallel tasks: the same items in every language, seeded.

On real XQuAD-R (1,190 questions in all 11 languages) every language's 150 must be the same 150
questions, where the old independent draw shared about 150 * 150 / 1,190 = 19. On real MLQA-R
(questions in 2 to 4 of 7 languages) every language gets min(n, its questions) and the samples
are prefixes of one shared random order of items. Non-parallel collections keep the
independent per-language draw.
"""

from __future__ import annotations

import numpy as np
import pytest

from mteb_hybrid.evaluation.collection import build_collection
from mteb_hybrid.evaluation.subsample import (
    independent_subsample,
    item_keys,
    parallel_subsample,
)
from mteb_hybrid.tasks import MLQARRetrieval, XQuADRRetrieval


def items_by_language(task) -> dict[str, set[str]]:
    """The parallel items (question ids) each language scores."""
    col = task.collection
    chosen: dict[str, set[str]] = {lang: set() for lang in col.languages}
    for i in task.query_indices():
        chosen[col.languages[col.query_langs[i]]].add(col.query_items[i])
    return chosen


@pytest.fixture(scope="module")
def xquad(shared_data):
    task = XQuADRRetrieval(data_dir=shared_data, queries_per_language=150)
    task.load_data()
    return task


def test_every_language_scores_the_same_xquad_r_questions(xquad) -> None:
    col = xquad.collection
    # the item is the question id shared by the query ids "<lang>-<question id>"
    assert all(
        q.split("-", 1)[1] == item for q, item in zip(col.query_ids, col.query_items, strict=True)
    )
    chosen = items_by_language(xquad)
    assert len(chosen) == 11
    english = chosen["en"]
    assert len(english) == 150
    assert all(items == english for items in chosen.values())
    indices = xquad.query_indices()
    assert len(indices) == len(set(indices.tolist())) == 11 * 150

    # the independent draw (kept for non-parallel tasks) shares only about 19 of them
    old = independent_subsample(col.query_langs, len(col.languages), 150, xquad.seed)
    old_en = {col.query_items[i] for i in old if col.languages[col.query_langs[i]] == "en"}
    old_de = {col.query_items[i] for i in old if col.languages[col.query_langs[i]] == "de"}
    assert len(old_en) == len(old_de) == 150 and len(old_en & old_de) < 40


def test_sample_is_deterministic_differs_across_seeds_and_ignores_other_languages(
    xquad, shared_data
) -> None:
    again = XQuADRRetrieval(data_dir=shared_data, queries_per_language=150)
    again.load_data()
    np.testing.assert_array_equal(again.query_indices(), xquad.query_indices())
    reseeded = XQuADRRetrieval(data_dir=shared_data, queries_per_language=150, seed=7)
    reseeded.load_data()
    other = items_by_language(reseeded)
    assert all(items == other["en"] for items in other.values())
    assert other["en"] != items_by_language(xquad)["en"]
    assert len(other["en"] & items_by_language(xquad)["en"]) < 60  # a new draw, not a shift
    # an item's key depends on the seed and its id only: two languages keep the same items
    two = XQuADRRetrieval(data_dir=shared_data, queries_per_language=150, languages=["de", "en"])
    two.load_data()
    english = items_by_language(xquad)["en"]
    assert items_by_language(two) == {"de": english, "en": english}


def test_mlqa_r_languages_take_prefixes_of_one_item_order(shared_data) -> None:
    n = 150
    task = MLQARRetrieval(data_dir=shared_data, queries_per_language=n)
    task.load_data()
    col = task.collection
    chosen = items_by_language(task)
    keys = dict(zip(col.query_items, item_keys(col.query_items, task.seed).tolist(), strict=True))
    available = {lang: {col.query_items[i] for i in col.queries_of(lang)} for lang in col.languages}
    for lang, items in chosen.items():
        assert len(items) == min(n, len(available[lang]))
        # a prefix of the language's own items in key order: nothing skipped below its last key
        cutoff = max(keys[i] for i in items)
        assert items == {i for i in available[lang] if keys[i] <= cutoff}
    # so two languages share every common item up to the lower cut-off: far above chance
    de, es = chosen["de"], chosen["es"]
    both = available["de"] & available["es"]
    cut = min(max(keys[i] for i in de), max(keys[i] for i in es))
    assert de & es == {i for i in both if keys[i] <= cut}
    chance = n * n * len(both) / (len(available["de"]) * len(available["es"]))
    assert len(de & es) > 1.5 * chance
    # English has every question: the other languages' items lie inside its key range mostly
    assert len(chosen["en"] & chosen["de"]) > 1.5 * n * n / len(available["en"])
    assert task.collection.query_items is not None


def test_flores_languages_score_the_same_sentences(shared_data) -> None:
    from mteb_hybrid.tasks.flores import FloresRetrieval

    task = FloresRetrieval(
        data_dir=shared_data, languages=["en", "sw", "te", "quy"], queries_per_language=50
    )
    task.load_data()
    chosen = items_by_language(task)
    assert len(chosen["en"]) == 50 and all(items == chosen["en"] for items in chosen.values())


def test_several_queries_per_item_take_whole_items_first() -> None:
    # 6 items, 2 queries each in "a", 1 each in "b"
    langs = np.array([0, 0, 1] * 6)
    items = [f"i{k}" for k in range(6) for _ in range(3)]
    picked = parallel_subsample(langs, items, 2, 4, seed=3)
    a = [items[i] for i in picked if langs[i] == 0]
    b = [items[i] for i in picked if langs[i] == 1]
    assert len(a) == len(b) == 4
    assert len(set(a)) == 2 and set(a) <= set(b)  # two whole items in "a", the first two of "b"
    order = sorted(
        {f"i{k}" for k in range(6)}, key=dict(zip(items, item_keys(items, 3), strict=True)).get
    )
    assert set(a) == set(order[:2]) and set(b) == set(order[:4])


def test_collection_items_are_validated_and_optional() -> None:
    docs = [("d1", "en", "x"), ("d2", "de", "y")]
    queries = [("en-1", "en", "q"), ("de-1", "de", "r")]
    relevant = {"en-1": ["d1", "d2"], "de-1": ["d1", "d2"]}
    plain = build_collection(["en", "de"], docs, queries, relevant)
    assert plain.query_items is None
    col = build_collection(
        ["en", "de"], docs, queries, relevant, query_items={"en-1": "1", "de-1": "1"}
    )
    assert col.query_items == ["1", "1"]
    with pytest.raises(ValueError, match="no item for 1 queries \\(first: 'de-1'\\)"):
        build_collection(["en", "de"], docs, queries, relevant, query_items={"en-1": "1"})


def test_non_parallel_collections_keep_the_independent_draw() -> None:
    from mteb_hybrid.tasks.miracl import MIRACLMultilingualRetrieval
    from tests.test_xm3600_helpers import MIRACL_FIXTURE

    task = MIRACLMultilingualRetrieval(data_dir=MIRACL_FIXTURE, queries_per_language=3)
    task.load_data()
    col = task.collection
    assert col.query_items is None
    expected = independent_subsample(col.query_langs, len(col.languages), 3, task.seed)
    np.testing.assert_array_equal(task.query_indices(), expected)
    # which is the legacy draw: one generator, languages in order
    rng = np.random.default_rng(task.seed)
    legacy = []
    for lang in col.languages:
        indices = col.queries_of(lang)
        if len(indices) > 3:
            indices = np.sort(rng.choice(indices, 3, replace=False))
        legacy.append(indices)
    np.testing.assert_array_equal(expected, np.concatenate(legacy))
