"""A real sweep killed mid-run (SIGKILL, in training) finishes on rerun, identically.

The slow test kills the same sweep command at seeded random times and once inside a checkpoint
write, rerunning it after each kill.

Tiny offline BERT (``build_tiny_model``), the real trainer, the real mteb loop on a slice of
XQuAD-R. Sweep A runs uninterrupted; sweep B runs in a subprocess that kills itself with SIGKILL
at step 10 of its second run (after the checkpoint at step 8); rerunning B must skip the finished
run without touching its files, resume the second from checkpoint-8, and end with the same
weights and scores as A.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mteb_hybrid.sweep.config import SweepConfig
from mteb_hybrid.sweep.runner import run_sweep

REPO = Path(__file__).resolve().parents[1]
FIRST, SECOND = "r1.00-0.00-0.00_s0", "r0.00-1.00-0.00_s0"
KILL_AT_STEP = 10

KILLING_SWEEP = """
import json, os, signal, sys
from pathlib import Path
from transformers import TrainerCallback
from mteb_hybrid.sweep.config import SweepConfig
from mteb_hybrid.sweep.runner import run_sweep
from mteb_hybrid.sweep.training import train_run

class Kill(TrainerCallback):
    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= {step}:
            os.kill(os.getpid(), signal.SIGKILL)

def train(spec, **kwargs):
    callbacks = [Kill()] if spec.run_id == "{second}" else None
    return train_run(spec, callbacks=callbacks, **kwargs)

values = json.loads(sys.argv[1])
values["output"] = Path(values["output"])
values["ratios"] = [tuple(r) for r in values["ratios"]]
run_sweep(SweepConfig(**values), train_fn=train)
"""


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """A tiny model gains nothing from threads, and loses much when the cores are shared."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory, shared_data) -> Path:
    from mteb_hybrid.trainers.tiny_model import build_tiny_model

    texts = []
    for lang in ("en", "de"):
        data = json.loads((shared_data / "xquad-r" / f"{lang}.json").read_text())
        for article in data["data"][:20]:
            for paragraph in article["paragraphs"]:
                texts += paragraph["sentences"] + [q["question"] for q in paragraph["qas"]]
    return build_tiny_model(tmp_path_factory.mktemp("tiny"), texts, vocab_size=800)


def _config(output: Path, tiny_model: Path, shared_data: Path) -> dict:
    return {
        "base_model": str(tiny_model),
        "train_data": [f"lareqa:{shared_data / 'xquad-r'}?langs=en,de"],
        "ratios": [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]],
        "seeds": [0],
        "tasks": ["XQuADRRetrieval"],
        "output": str(output),
        "train_options": {
            "max_steps": 16,
            "batch_size": 8,
            "max_seq_length": 32,
            "save_steps": 4,
            "save_total_limit": 3,
            "logging_steps": 4,
        },
        "task_options": {
            "queries_per_language": 10,
            "languages": ["en", "de"],
            "data_dir": str(shared_data),
        },
        "include_base": False,
    }


def _as_config(values: dict) -> SweepConfig:
    values = dict(values, output=Path(values["output"]))
    values["ratios"] = [tuple(r) for r in values["ratios"]]
    return SweepConfig(**values)


def _results(output: Path, run: str) -> tuple[list, dict, bytes]:
    info = json.loads((output / "runs" / run / "run.json").read_text())
    path = Path(info["results"]["XQuADRRetrieval"])
    scores = json.loads(path.read_text())["scores"]["test"]
    scores = sorted(
        ({k: v for k, v in s.items() if k != "evaluation_time"} for s in scores),
        key=lambda s: s["hf_subset"],
    )
    with np.load(path.with_name("XQuADRRetrieval.per_query.npz")) as data:
        per_query = {k: data[k] for k in data.files}
    weights = (output / "runs" / run / "model" / "model.safetensors").read_bytes()
    return scores, per_query, weights


def _max_change(base: Path, trained: bytes) -> float:
    """The largest absolute change of any tensor from the base model's weights."""
    from safetensors.torch import load, load_file

    a, b = load_file(str(base)), load(trained)
    assert a.keys() == b.keys()
    return max(float((a[k].float() - b[k].float()).abs().max()) for k in a)


@pytest.fixture(scope="module")
def reference(tmp_path_factory, tiny_model, shared_data) -> Path:
    """Sweep A: the same sweep, uninterrupted."""
    output = tmp_path_factory.mktemp("sweeps") / "A"
    run_sweep(_as_config(_config(output, tiny_model, shared_data)), echo=lambda _: None)
    return output


def test_killed_sweep_resumes_and_matches_an_uninterrupted_one(
    tmp_path, tiny_model, shared_data, reference
) -> None:

    output = tmp_path / "B"
    values = _config(output, tiny_model, shared_data)
    script = KILLING_SWEEP.format(step=KILL_AT_STEP, second=SECOND)
    process = subprocess.run(
        [sys.executable, "-c", script, json.dumps(values)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert process.returncode == -signal.SIGKILL, process.stderr[-3000:]
    first_dir, second_dir = output / "runs" / FIRST, output / "runs" / SECOND
    assert json.loads((first_dir / "run.json").read_text())["status"] == "done"
    assert json.loads((second_dir / "run.json").read_text())["status"] == "training"
    assert (second_dir / "model" / "checkpoints" / "checkpoint-8").is_dir()
    assert not (second_dir / "model" / "model.safetensors").exists()

    finished = [p for p in first_dir.rglob("*") if p.is_file()]
    finished += list((output / "results").rglob(f"*{FIRST}*/*/*"))
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in finished}

    outcomes = run_sweep(_as_config(values), echo=lambda _: None)
    assert [o.action for o in outcomes] == ["skipped", "done"]
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in finished} == before
    info = json.loads((second_dir / "run.json").read_text())
    assert info["status"] == "done" and info["attempts"]["train"] == 2
    assert info["training"]["resumed"][0].endswith("checkpoint-8")
    assert info["training"]["global_step"] == 16
    # run.json carries the realised batch types of the whole (resumed) run
    assert info["training"]["ratio_schedule"] == "exact"
    assert info["training"]["batch_types"] == {"mono": 0, "cross": 16, "multi": 0}

    for run in (FIRST, SECOND):
        scores, per_query, weights = _results(output, run)
        ref_scores, ref_per_query, ref_weights = _results(reference, run)
        assert weights == ref_weights, f"{run}: resumed weights differ from the reference"
        # equal because both trained the same 16 steps (lr 3e-5), not because neither trained
        assert _max_change(tiny_model / "model.safetensors", weights) > 1e-5, run
        assert scores == ref_scores
        assert per_query.keys() == ref_per_query.keys()
        for key in per_query:
            np.testing.assert_array_equal(per_query[key], ref_per_query[key])


RERUN_SWEEP = """
import json, sys
from pathlib import Path
from mteb_hybrid.sweep.config import SweepConfig
from mteb_hybrid.sweep.runner import run_sweep

values = json.loads(sys.argv[1])
values["output"] = Path(values["output"])
values["ratios"] = [tuple(r) for r in values["ratios"]]
run_sweep(SweepConfig(**values))
"""


@pytest.mark.slow
def test_sweep_killed_at_random_points_ends_identical(
    tmp_path, tiny_model, shared_data, reference
) -> None:
    """The same sweep command, SIGKILLed at seeded random times and once inside a checkpoint
    write (checkpoint-8's write window held open by the test hook), rerun after each kill
    until it finishes: the final weights, scores and per-query values equal sweep A's."""
    import random
    import time

    from mteb_hybrid.runs import CHECKPOINT_COMPLETE
    from mteb_hybrid.trainers.checkpoints import PAUSE_ENV

    output = tmp_path / "K"
    values = _config(output, tiny_model, shared_data)
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", PAUSE_ENV: "8:4"}
    command = [sys.executable, "-c", RERUN_SWEEP, json.dumps(values)]
    rng = random.Random(20261201)
    kills: list[str] = []
    log = tmp_path / "rerun.log"
    for attempt in range(6):
        with log.open("w") as sink:  # a file, not a pipe: a full pipe would block the sweep
            process = subprocess.Popen(command, cwd=REPO, env=env, stdout=sink, stderr=sink)
        if attempt == 0:  # inside the first run's checkpoint-8 write
            window = output / "runs" / FIRST / "model" / "checkpoints" / "checkpoint-8"
            deadline = time.time() + 240
            while time.time() < deadline and not (window / "trainer_state.json").is_file():
                time.sleep(0.1)
            assert not (window / CHECKPOINT_COMPLETE).exists()
            process.kill()
            process.wait()
            kills.append("checkpoint-8 write")
            continue
        if attempt <= 2:
            delay = rng.uniform(8.0, 30.0)
            try:
                process.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                kills.append(f"{delay:.1f} s")
                continue
        else:
            process.wait(timeout=400)
        if process.returncode == 0:
            break
        raise AssertionError(f"rerun {attempt} failed: {log.read_text()[-3000:]}")
    # the random kills land wherever the machine's speed puts them (a fast machine may finish
    # before one): the checkpoint-write kill always happens
    assert process.returncode == 0 and kills[0] == "checkpoint-8 write", kills

    for run in (FIRST, SECOND):
        info = json.loads((output / "runs" / run / "run.json").read_text())
        assert info["status"] == "done" and info["training"]["global_step"] == 16
        scores, per_query, weights = _results(output, run)
        ref_scores, ref_per_query, ref_weights = _results(reference, run)
        assert weights == ref_weights, f"{run}: weights differ after kills at {kills}"
        assert scores == ref_scores, kills
        assert per_query.keys() == ref_per_query.keys()
        for key in per_query:
            np.testing.assert_array_equal(per_query[key], ref_per_query[key])
