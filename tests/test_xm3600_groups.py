"""Language groups for leaderboards, and the checksum policy of the XM3600 files."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import pytest

from mteb_hybrid.data import download
from mteb_hybrid.data.download import DataFileError, RemoteFile, fetch
from mteb_hybrid.groups import (
    group_summary,
    language_groups,
    task_languages,
    unseen_when_trained_on,
)


def test_xm3600_low_resource_group_is_the_papers() -> None:
    groups = language_groups("XM3600Retrieval")
    assert groups["low-resource"] == ["ben", "mri", "quz", "swa", "tel"]
    assert len(groups["high-resource"]) == 31
    assert set(groups["low-resource"]) | set(groups["high-resource"]) == set(
        task_languages("XM3600Retrieval")
    )
    from mteb_hybrid.tasks.xm3600 import XM3600Retrieval

    assert XM3600Retrieval.LANGUAGE_GROUPS["low-resource"] == ("bn", "mi", "quz", "sw", "te")


def test_zero_shot_languages_of_xquad_r_after_mlqa_r() -> None:
    assert unseen_when_trained_on("XQuADRRetrieval", "MLQARRetrieval") == [
        "ell",
        "rus",
        "tha",
        "tur",
    ]
    assert unseen_when_trained_on("XQuADRRetrieval", "mlqa-r") == ["ell", "rus", "tha", "tur"]
    assert unseen_when_trained_on("MLQARRetrieval", "xquad-r") == []
    assert unseen_when_trained_on("XQuADRRetrieval", ["en", "de"])[:2] == ["arb", "ell"]
    groups = language_groups("XQuADRRetrieval", trained_on="MLQARRetrieval")
    assert groups["unseen"] == ["ell", "rus", "tha", "tur"] and len(groups["seen"]) == 7
    assert language_groups("MIRACLMultilingualRetrieval")["all"][-1] == "zho"
    with pytest.raises(ValueError, match="no language list for task"):
        language_groups("NoSuchTask")


def test_group_summary_reports_averages_worst_language_and_gap() -> None:
    groups = {"low-resource": ["ben", "swa"], "high-resource": ["eng", "deu"]}
    scores = {"ben": 0.2, "swa": 0.4, "eng": 0.9, "deu": 0.7, "fra": math.nan}
    summary = group_summary(scores, groups, gap=("high-resource", "low-resource"))
    assert summary["low-resource"] == pytest.approx(0.3)
    assert summary["high-resource"] == pytest.approx(0.8)
    assert summary["gap"] == pytest.approx(0.5)
    assert (summary["worst_language"], summary["worst_score"]) == ("ben", 0.2)


def test_pinned_checksum_is_enforced_and_local_opt_out_warns(
    tmp_path: Path, monkeypatch, caplog
) -> None:
    (tmp_path / "xm3600").mkdir()
    path = tmp_path / "xm3600" / "captions.zip"
    path.write_bytes(b"local copy")
    remote = RemoteFile("xm3600/captions.zip", "https://example.invalid/captions.zip", "0" * 64)
    with pytest.raises(DataFileError, match="does not match") as error:
        fetch(remote, tmp_path)
    assert str(path) in str(error.value) and "\n" not in str(error.value)
    monkeypatch.setattr(download, "_WARNED", set())
    monkeypatch.setenv("MTEB_HYBRID_VERIFY", "0")
    with caplog.at_level(logging.WARNING, logger="mteb_hybrid.data.download"):
        assert fetch(remote, tmp_path) == path
    assert any("NOT verified" in r.message for r in caplog.records)
    monkeypatch.delenv("MTEB_HYBRID_VERIFY")
    unpinned = RemoteFile("xm3600/captions.zip", remote.url, None)
    with caplog.at_level(logging.WARNING, logger="mteb_hybrid.data.download"):
        assert fetch(unpinned, tmp_path) == path
    assert any(download.sha256_of(path) in r.message for r in caplog.records)
