"""Each task's description states what mteb's one number for it is, with the right counts."""

from __future__ import annotations

from collections import Counter

import pytest

from mteb_hybrid.leaderboard.results import classify_subset
from mteb_hybrid.tasks import TASKS
from mteb_hybrid.tasks.base import mteb_mean_note


@pytest.mark.parametrize("task_class", TASKS, ids=lambda c: c.metadata.name)
def test_description_states_the_weight_of_each_setting_in_mteb_mean(task_class) -> None:
    counts = Counter(classify_subset(s, None)[0] for s in task_class().hf_subsets)
    note = mteb_mean_note(counts["mono"], counts["cross"], counts["multi"])
    assert task_class.metadata.description.endswith(note)


def test_the_note_names_the_dominant_setting_and_its_share() -> None:
    note = mteb_mean_note(11, 110, 11)
    assert "132 default subsets (11 monolingual, 110 cross-lingual, 11 pooled)" in note
    assert "cross-lingual setting carries 83% of it" in note
    assert "0 cross-lingual" not in mteb_mean_note(18, 0, 18)
