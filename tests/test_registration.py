"""mteb finds mteb-hybrid: private hooks, the .pth start-up hook, local models, the stock CLI."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

MTEB_BIN = str(Path(sys.executable).with_name("mteb"))


def _run(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **env},
    )


def test_mteb_private_names_we_patch_still_exist() -> None:
    """Fails loudly when a new mteb moves the private names registration relies on."""
    get_tasks = importlib.import_module("mteb.get_tasks")
    assert isinstance(get_tasks.TASK_LIST, tuple)
    assert isinstance(get_tasks._TASKS_REGISTRY, dict)
    meta_module = importlib.import_module("mteb.models.get_model_meta")
    assert callable(meta_module.get_model_meta)
    from mteb.cache import ResultCache

    assert callable(ResultCache.save_to_cache) and callable(ResultCache.get_task_result_path)


def test_plain_import_mteb_finds_the_tasks_and_start_up_stays_cheap() -> None:
    out = _run(
        "import sys; assert 'mteb' not in sys.modules and 'torch' not in sys.modules;"
        "import mteb_hybrid; assert 'mteb' not in sys.modules;"
        "import mteb; t = mteb.get_task('XQuADRRetrieval'); m = mteb.get_task('MLQARRetrieval');"
        "print(type(t).__module__, len(t.hf_subsets), len(m.hf_subsets),"
        " len(mteb.get_tasks(tasks=['XQuADRRetrieval'])),"
        " type(mteb.get_task('XQuADRetrieval')).__module__)"
    )
    assert out.returncode == 0, out.stderr[-2000:]
    module, xquad, mlqa, found, builtin = out.stdout.split()
    assert module == "mteb_hybrid.tasks.xquad_r"
    assert (int(xquad), int(mlqa), int(found)) == (11 + 110 + 11, 7 + 42 + 7, 1)
    assert builtin.startswith("mteb.tasks")  # mteb's own XQuADRetrieval is untouched


def test_importing_our_tasks_first_registers_them() -> None:
    """``mteb_hybrid.tasks`` imports mteb before its classes exist; the hook registers them once
    the package is complete (the tasks never import the registration)."""
    out = _run(
        "import importlib, sys; import mteb_hybrid.tasks;"
        "registry = importlib.import_module('mteb.get_tasks')._TASKS_REGISTRY;"
        "print(registry['XQuADRRetrieval'] is mteb_hybrid.tasks.XQuADRRetrieval)"
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "True"


def test_per_query_results_wait_for_the_save_and_are_popped(tmp_path, shared_data) -> None:
    from mteb_hybrid import registration
    from tests.fixtures.results.fake_models import write_results

    folder = write_results(
        tmp_path, shared_data, {"fake/pending": (0.5, 0)}, ("en", "de"), queries_per_language=5
    )
    (sidecar,) = folder.rglob("XQuADRRetrieval.per_query.npz")
    assert sidecar.with_name("XQuADRRetrieval.json").is_file()
    assert not any(key[1] == "fake/pending" for key in registration._PENDING)


def test_shared_task_options_keep_the_languages_a_task_has(caplog) -> None:
    from mteb_hybrid.tasks import build_task

    task = build_task("XQuADRRetrieval", languages=["en", "de", "quz"], queries_per_language=3)
    assert task.collection_languages == ["en", "de"] and task.queries_per_language == 3
    assert {s.split("-")[0] for s in task.hf_subsets} == {"eng", "deu"}
    assert "['quz'] not in the task" in caplog.text
    with pytest.raises(ValueError, match="MLQARRetrieval has only \\['en'\\]"):
        build_task("MLQARRetrieval", languages=["en", "el"])
    assert type(build_task("XQuADRetrieval")).__module__.startswith("mteb.tasks")


def test_environment_variable_turns_the_hook_off() -> None:
    out = _run(
        "import mteb\ntry:\n    mteb.get_task('XQuADRRetrieval')\nexcept KeyError:\n"
        "    print('absent')",
        MTEB_HYBRID_AUTOREGISTER="0",
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "absent"


@pytest.mark.parametrize("task_name", ["XQuADRRetrieval", "MLQARRetrieval"])
def test_metadata_validates(task_name: str) -> None:
    import mteb

    task = mteb.get_task(task_name)
    task.metadata._validate_metadata()
    subsets = task.metadata.eval_langs
    assert subsets["eng-eng"] == ["eng-Latn"]
    assert subsets["eng-deu"] == ["eng-Latn", "deu-Latn"]
    assert subsets["eng-all"][0] == "eng-Latn" and len(subsets["eng-all"]) == len(task.LANGUAGES)


def test_local_models_get_distinct_content_revisions(tiny_models) -> None:
    from mteb_hybrid.local_models import content_revision, local_model_meta

    first, second = tiny_models
    meta_a, meta_b = local_model_meta(first), local_model_meta(second)
    assert meta_a.name == f"local/{first.parent.name}-model"
    assert meta_a.revision != meta_b.revision
    copy = first.parent.parent / "copy" / "model"
    shutil.copytree(first, copy)
    assert content_revision(copy) == meta_a.revision
    (copy / "README.md").write_text("changed")
    assert content_revision(copy) != meta_a.revision


def test_stock_mteb_run_with_relative_and_absolute_local_models(
    tiny_models, shared_data, tmp_path
) -> None:
    """The stock CLI, as a user runs it, for two local models: results never collide."""
    first, second = tiny_models
    env = {
        **os.environ,
        "MTEB_HYBRID_DATA": str(shared_data),
        "MTEB_HYBRID_QUERIES_PER_LANGUAGE": "40",
    }
    runs = [os.path.relpath(first, tmp_path), str(second)]
    for model in runs:
        done = subprocess.run(
            [MTEB_BIN, "run", "-m", model, "-t", "MLQARRetrieval", "--output-folder", "out"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr[-3000:]
    result_files = sorted((tmp_path / "out" / "results").glob("*/*/MLQARRetrieval.json"))
    assert len(result_files) == 2, result_files
    maps = []
    for path in result_files:
        result = json.loads(path.read_text())
        scores = {s["hf_subset"]: s for s in result["scores"]["test"]}
        assert len(scores) == 56 and scores["eng-all"]["num_queries"] == 40
        assert "rank_distance" in scores["eng-all"] and scores["eng-all"]["main_score"] > 0
        assert path.with_name("MLQARRetrieval.per_query.npz").is_file()
        maps.append(scores["eng-eng"]["map"])
    assert maps[0] != maps[1]  # two different models, two different results


def test_wheel_ships_the_start_up_hook(tmp_path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(tmp_path),
            str(REPO_ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    wheel = next(tmp_path.glob("mteb_hybrid-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "mteb_hybrid_autoload.pth" in names
    assert "mteb_hybrid/tasks/xquad_r.py" in names


def test_mteb_hybrid_run_is_a_second_door_when_the_start_up_hook_is_off(
    tiny_models, shared_data, tmp_path
) -> None:
    """With the .pth hook turned off, `mteb-hybrid run` registers the tasks and hands every
    flag to mteb's own CLI: the result lands in mteb's layout with our sidecar beside it."""
    env = {
        **os.environ,
        "MTEB_HYBRID_AUTOREGISTER": "0",
        "MTEB_HYBRID_DATA": str(shared_data),
        "MTEB_HYBRID_QUERIES_PER_LANGUAGE": "10",
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
    }
    hidden = subprocess.run(
        [sys.executable, "-c", "import mteb; mteb.get_task('MLQARRetrieval')"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert hidden.returncode != 0  # the hook is really off: plain mteb does not know the task
    command = [sys.executable, "-m", "mteb_hybrid.cli", "run", "-m", str(tiny_models[0])]
    command += ["-t", "MLQARRetrieval", "--output-folder", "out", "--batch-size", "64"]
    done = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (result_file,) = (tmp_path / "out" / "results").glob("*/*/MLQARRetrieval.json")
    scores = {s["hf_subset"]: s for s in json.loads(result_file.read_text())["scores"]["test"]}
    assert len(scores) == 56 and scores["eng-all"]["num_queries"] == 10
    assert result_file.with_name("MLQARRetrieval.per_query.npz").is_file()
