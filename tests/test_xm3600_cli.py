"""The stock `mteb run` CLI runs XM3600Retrieval and MIRACLMultilingualRetrieval on fixtures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.test_xm3600_helpers import MIRACL_FIXTURE, XM3600_FIXTURE

MTEB_BIN = str(Path(sys.executable).with_name("mteb"))


@pytest.fixture(scope="module")
def data_folder(tmp_path_factory) -> Path:
    """One MTEB_HYBRID_DATA folder holding both fixtures (links, nothing copied)."""
    root = tmp_path_factory.mktemp("data")
    (root / "mteb").mkdir()
    (root / "xm3600").symlink_to(XM3600_FIXTURE / "xm3600")
    (root / "mteb" / "xm3600").symlink_to(XM3600_FIXTURE / "mteb" / "xm3600")
    (root / "mteb" / "MIRACLRetrievalHardNegatives").symlink_to(
        MIRACL_FIXTURE / "mteb" / "MIRACLRetrievalHardNegatives"
    )
    return root


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    """A tiny sentence-transformers folder whose tokenizer knows the fixture texts."""
    from mteb_hybrid.data.miracl import load_miracl
    from mteb_hybrid.data.xm3600 import load_xm3600
    from mteb_hybrid.trainers.tiny_model import build_tiny_model

    texts = [c.text for c in load_xm3600(data_dir=XM3600_FIXTURE, source="official").captions]
    for part in load_miracl(["en", "zh"], data_dir=MIRACL_FIXTURE).values():
        texts += [text for _, _, text in part.corpus]
    return build_tiny_model(tmp_path_factory.mktemp("model") / "xm-tiny", texts, vocab_size=500)


def test_stock_cli_runs_both_tasks_on_the_fixtures(
    tmp_path: Path, data_folder: Path, tiny_model: Path
) -> None:
    env = {
        **os.environ,
        "MTEB_HYBRID_DATA": str(data_folder),
        "MTEB_HYBRID_VERIFY": "0",  # fixtures are not the published files
        "MTEB_CACHE": str(tmp_path / "cache"),
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
    }
    command = [MTEB_BIN, "run", "-m", str(tiny_model), "-t", "XM3600Retrieval"]
    command += ["MIRACLMultilingualRetrieval", "--output-folder", str(tmp_path / "out")]
    out = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    assert out.returncode == 0, (out.stdout[-3000:], out.stderr[-3000:])
    files = {p.name: p for p in (tmp_path / "out").rglob("*.json")}
    assert {"XM3600Retrieval.json", "MIRACLMultilingualRetrieval.json"} <= files.keys(), files
    assert all("local__xm-tiny" in str(p) for p in files.values())

    xm = json.loads(files["XM3600Retrieval.json"].read_text())["scores"]["test"]
    xm_subsets = {s["hf_subset"]: s for s in xm}
    assert len(xm_subsets) == 35 + 70 + 36 and "ben-ben" not in xm_subsets
    for name in ("eng-eng", "ben-eng", "eng-ben", "quz-all"):
        assert 0.0 < xm_subsets[name]["map"] <= 1.0 and xm_subsets[name]["main_score"] > 0
    assert "rank_distance" in xm_subsets["quz-all"]

    miracl = json.loads(files["MIRACLMultilingualRetrieval.json"].read_text())["scores"]["dev"]
    miracl_subsets = {s["hf_subset"]: s for s in miracl}
    assert len(miracl_subsets) == 36
    eng = miracl_subsets["eng-eng"]
    assert eng["main_score"] == eng["ndcg_at_10"] and eng["num_queries"] == 3
    assert np.isfinite(miracl_subsets["yor-all"]["recall_at_100"])
    sidecars = list((tmp_path / "out").rglob("XM3600Retrieval.per_query.npz"))
    assert sidecars, "per-query scores are written beside the result"
