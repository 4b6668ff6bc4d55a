"""Languages from the stock CLI: ``mteb run -l eng deu`` and ``MTEB_HYBRID_LANGUAGES`` narrow the
collection (only those files are read, the pool is theirs only)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mteb_hybrid.env import OptionError

MTEB_BIN = str(Path(sys.executable).with_name("mteb"))
EN_DE = ["deu-all", "deu-deu", "deu-eng", "eng-all", "eng-deu", "eng-eng"]


@pytest.fixture
def en_de_only(shared_data, tmp_path) -> Path:
    folder = tmp_path / "data" / "xquad-r"
    folder.mkdir(parents=True)
    for lang in ("en", "de"):
        shutil.copy(shared_data / "xquad-r" / f"{lang}.json", folder / f"{lang}.json")
    return tmp_path / "data"


@pytest.mark.parametrize("codes", [["eng", "deu"], ["eng-Latn", "deu-Latn"], ["en", "de"]])
def test_get_tasks_language_filter_narrows_the_collection(codes, en_de_only, monkeypatch):
    import mteb

    monkeypatch.setenv("MTEB_HYBRID_DATA", str(en_de_only))
    monkeypatch.setenv("MTEB_HYBRID_CACHE", str(en_de_only.parent / "empty-cache"))
    (task,) = mteb.get_tasks(tasks=["XQuADRRetrieval"], languages=codes)
    assert sorted(task.hf_subsets) == EN_DE and task.collection_languages == ["de", "en"]
    task.load_data()  # only en and de exist in the folder: nothing else is read
    assert task.collection.languages == ["de", "en"]


@pytest.mark.parametrize("value", ["en,de", "eng, deu"])
def test_languages_environment_variable(value, en_de_only, monkeypatch):
    from mteb_hybrid.tasks import XQuADRRetrieval

    monkeypatch.setenv("MTEB_HYBRID_LANGUAGES", value)
    task = XQuADRRetrieval(data_dir=en_de_only)
    assert sorted(task.hf_subsets) == EN_DE


def test_unknown_language_in_the_environment_names_the_variable(monkeypatch):
    from mteb_hybrid.tasks import XQuADRRetrieval

    monkeypatch.setenv("MTEB_HYBRID_LANGUAGES", "en,xx")
    with pytest.raises(
        OptionError, match="MTEB_HYBRID_LANGUAGES: XQuADRRetrieval has no language xx"
    ):
        XQuADRRetrieval()


def test_stock_mteb_run_with_languages_on_an_en_de_folder(tiny_models, en_de_only, tmp_path):
    env = {
        **os.environ,
        "MTEB_HYBRID_DATA": str(en_de_only),
        "MTEB_HYBRID_CACHE": str(tmp_path / "empty-cache"),
        "MTEB_HYBRID_QUERIES_PER_LANGUAGE": "4",
    }
    done = subprocess.run(
        [MTEB_BIN, "run", "-m", str(tiny_models[0]), "-l", "eng", "deu", "-t", "XQuADRRetrieval"]
        + ["--output-folder", "out"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (path,) = (tmp_path / "out" / "results").glob("*/*/XQuADRRetrieval.json")
    scores = {s["hf_subset"]: s for s in json.loads(path.read_text())["scores"]["test"]}
    assert sorted(scores) == EN_DE
    assert scores["eng-all"]["pooled_languages"] == 2 and scores["eng-all"]["num_queries"] == 4
    assert "pooled_languages" not in scores["eng-deu"]
