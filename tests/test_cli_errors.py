"""Our data and option errors end the stock ``mteb run`` with one line; the switch that turns the
hook off is named when our tasks or local models are not found."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

MTEB_BIN = str(Path(sys.executable).with_name("mteb"))


def _mteb_run(model: Path, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [MTEB_BIN, "run", "-m", str(model), "-t", "XQuADRRetrieval", "--output-folder", "out"],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_bad_environment_value_is_one_line_under_mteb_run(tiny_models, tmp_path):
    done = _mteb_run(tiny_models[0], tmp_path, MTEB_HYBRID_QUERIES_PER_LANGUAGE="abc")
    assert done.returncode != 0
    assert "Traceback" not in done.stderr and "UnboundLocalError" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("mteb run: MTEB_HYBRID_QUERIES_PER_LANGUAGE='abc'")


def test_missing_data_is_one_line_under_mteb_run(tiny_models, tmp_path):
    (tmp_path / "empty").mkdir()
    done = _mteb_run(
        tiny_models[0],
        tmp_path,
        MTEB_HYBRID_DATA=str(tmp_path / "empty"),
        MTEB_HYBRID_CACHE=str(tmp_path / "cache"),
        MTEB_HYBRID_OFFLINE="1",
    )
    assert done.returncode != 0 and "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("mteb run: xquad-r/") and "MTEB_HYBRID_OFFLINE" in last
    # the full traceback on request
    again = _mteb_run(
        tiny_models[0],
        tmp_path,
        MTEB_HYBRID_DATA=str(tmp_path / "empty"),
        MTEB_HYBRID_CACHE=str(tmp_path / "cache"),
        MTEB_HYBRID_OFFLINE="1",
        MTEB_HYBRID_TRACEBACK="1",
    )
    assert "Traceback" in again.stderr and "DataFileError" in again.stderr


def test_disabled_hook_is_named_when_our_things_are_not_found(tiny_models, tmp_path):
    done = _mteb_run(tiny_models[0], tmp_path, MTEB_HYBRID_AUTOREGISTER="0")
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("note: MTEB_HYBRID_AUTOREGISTER=0 is set")
    assert "unset MTEB_HYBRID_AUTOREGISTER" in last


def test_the_hook_knows_every_task_name():
    from mteb_hybrid._autoload import TASK_NAMES
    from mteb_hybrid.tasks import TASKS

    assert set(TASK_NAMES) == {cls.metadata.name for cls in TASKS}
