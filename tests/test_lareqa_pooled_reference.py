"""Pooled rank distance on real XQuAD-R / MLQA-R, per query, against a hand-computed reference.

The exact hashing encoder (integer scores, ties broken as trec_eval) makes the reference and the
evaluator see the same scores bit for bit, so every query's rank distance must agree exactly.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tests.test_xm3600_helpers import (
    HashingEncoder,
    assert_matches_reference,
    embed_collection,
    reference_scores,
)

LANGS = ["de", "en", "es"]


@pytest.mark.parametrize("task_name", ["XQuADRRetrieval", "MLQARRetrieval"])
def test_pooled_rank_distance_matches_a_hand_reference_per_query(shared_data, task_name) -> None:
    from mteb_hybrid import tasks

    task = getattr(tasks, task_name)(data_dir=shared_data, languages=LANGS, queries_per_language=25)
    task.load_data()
    encoder = HashingEncoder()
    task.evaluate(encoder, "test", encode_kwargs={"batch_size": 256})
    col = task.collection
    chosen = np.zeros(len(col.query_ids), dtype=bool)
    chosen[task.query_indices()] = True
    # the reference scores every query of a language: hide the ones the task did not sample
    sampled = dataclasses.replace(col, query_langs=np.where(chosen, col.query_langs, -1))
    q, d = embed_collection(col, encoder)
    for lang, code in zip(LANGS, ("deu", "eng", "spa"), strict=True):
        result = task._results[f"{code}-all"]
        reference = reference_scores(sampled, q, d, lang, "all")
        assert len(reference["per_query"]) == 25
        distances = [v["rank_distance"] for v in reference["per_query"].values()]
        assert len(set(distances)) > 3, distances  # a real spread, not a constant
        assert_matches_reference(result, reference, pooled=True)
        assert result.scores["rank_distance"] == pytest.approx(np.mean(distances), abs=1e-9)
