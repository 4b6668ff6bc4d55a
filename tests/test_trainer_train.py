"""The training API and CLI on a tiny offline model: output folder, metadata, resume, epochs."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import click
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer

from mteb_hybrid.cli import main as cli_main
from mteb_hybrid.runs import TRAINING_METADATA
from mteb_hybrid.trainers.config import TrainConfig, TrainConfigError
from mteb_hybrid.trainers.sampler import HybridBatchSampler
from mteb_hybrid.trainers.tiny_model import build_tiny_model
from mteb_hybrid.trainers.trainer import train

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "train"
SMALL = FIXTURES / "parallel_small.jsonl"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> str:
    rows = [json.loads(line) for line in SMALL.read_text().splitlines()]
    texts = [r["query"] for r in rows] + [r["positive"] for r in rows]
    return str(build_tiny_model(tmp_path_factory.mktemp("tiny"), texts, vocab_size=300))


@pytest.fixture
def record_steps(monkeypatch):
    """Record the query token ids of every training step."""
    steps: list[list[list[int]]] = []
    original = SentenceTransformerTrainer.training_step

    def recording(self, model, inputs, *args, **kwargs):
        steps.append(inputs["query_input_ids"].tolist())
        return original(self, model, inputs, *args, **kwargs)

    monkeypatch.setattr(SentenceTransformerTrainer, "training_step", recording)
    return steps


@pytest.fixture(scope="module")
def no_dropout_model(tiny_model, tmp_path_factory) -> str:
    """The tiny model without dropout: a training step's loss is then a function of the batch."""
    import shutil

    folder = tmp_path_factory.mktemp("nodrop") / "model"
    shutil.copytree(tiny_model, folder)
    for path in folder.rglob("config.json"):
        values = json.loads(path.read_text())
        if "hidden_dropout_prob" in values:
            values.update(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
            path.write_text(json.dumps(values))
    return str(folder)


def plain_mnrl_loss(model_path: str | Path, batch: list[tuple[str, str]], scale=20.0) -> float:
    """InfoNCE with in-batch negatives by hand: cosine x scale, cross-entropy on the diagonal."""
    model = SentenceTransformer(str(model_path), device="cpu")
    model.eval()
    with torch.no_grad():
        q = model.encode([a for a, _ in batch], convert_to_tensor=True, batch_size=len(batch))
        p = model.encode([b for _, b in batch], convert_to_tensor=True, batch_size=len(batch))
    logits = (
        scale
        * torch.nn.functional.normalize(q, dim=-1)
        @ torch.nn.functional.normalize(p, dim=-1).T
    )
    return float(torch.nn.functional.cross_entropy(logits, torch.arange(len(batch))))


def toy_batches() -> list[list[tuple[str, str]]]:
    """The SMALL fixture's pairs in fixed batches of 8 (one per language where possible)."""
    rows = [json.loads(line) for line in SMALL.read_text().splitlines()]
    pairs = [(r["query"], r["positive"]) for r in sorted(rows, key=lambda r: (r["lang"], r["id"]))]
    return [pairs[i : i + 8] for i in range(0, len(pairs) - 7, 8)]


def max_weight_change(before: str | Path, after: str | Path) -> float:
    """The largest absolute change of any parameter between two saved models."""
    a = SentenceTransformer(str(before), device="cpu").state_dict()
    b = SentenceTransformer(str(after), device="cpu").state_dict()
    return max(float((a[k].float() - b[k].float()).abs().max()) for k in a)


def config(tiny_model: str, output: Path, **overrides) -> TrainConfig:
    settings = dict(
        base_model=tiny_model, train_data=[str(SMALL)], output_dir=str(output), batch_size=4,
        max_steps=6, max_seq_length=32, logging_steps=2, learning_rate=1e-3,
    )  # fmt: skip
    settings.update(overrides)
    return TrainConfig(**settings)


def test_train_writes_a_loadable_model_with_its_record(tiny_model, tmp_path):
    out = tmp_path / "model"
    result = train(
        config(
            tiny_model, out, prompts=True, save_steps=3, validation_fraction=0.25,
            eval_steps=3, early_stopping_patience=5, seed=7,
        )
    )  # fmt: skip
    assert result.global_step == 6 and result.best_validation_loss is not None

    model = SentenceTransformer(str(out), device="cpu")
    assert model.prompts == {"query": "Query: ", "document": "Passage: "}
    assert model.encode(["Wo ist der alte Fluss?"]).shape == (1, 32)
    meta = json.loads((out / TRAINING_METADATA).read_text())
    assert meta["base_model"] == tiny_model
    assert meta["ratio_text"] == "0.5:0.5:0" and meta["ratio"]["cross"] == 0.5
    assert meta["data"]["train_specs"] == [str(SMALL)]
    assert meta["data"]["train"]["ids"] == 15 and meta["data"]["validation"]["ids"] == 5
    assert meta["seed"] == 7 and meta["steps"] == 6
    assert sum(meta["batch_types"].values()) == 6 and meta["batch_types"]["multi"] == 0
    card = (out / "README.md").read_text()
    assert "## mteb-hybrid training" in card and "0.5:0.5:0" in card and "| seed | 7 |" in card
    assert sorted(p.name for p in (out / "checkpoints").glob("checkpoint-*")) == [
        "checkpoint-3", "checkpoint-6",
    ]  # fmt: skip


def test_early_stopping_stops_without_improvement(tiny_model, tmp_path):
    # with a threshold no loss change can beat, the second evaluation counts as no improvement
    result = train(
        config(
            tiny_model, tmp_path / "early", max_steps=12, validation_fraction=0.25,
            eval_steps=2, early_stopping_patience=1, early_stopping_threshold=100.0,
        )
    )  # fmt: skip
    assert result.global_step == 4
    meta = json.loads((tmp_path / "early" / TRAINING_METADATA).read_text())
    assert meta["steps"] == 4 and meta["best_validation_loss"] == result.best_validation_loss


def test_resume_replays_the_same_batches_and_weights(tiny_model, tmp_path, record_steps):
    full = train(config(tiny_model, tmp_path / "full", save_steps=3))
    uninterrupted = list(record_steps)
    record_steps.clear()

    from transformers import TrainerCallback

    class StopAt3(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == 3:
                control.should_training_stop = True

    train(config(tiny_model, tmp_path / "part", save_steps=3), callbacks=[StopAt3()])
    assert record_steps == uninterrupted[:3]
    record_steps.clear()
    resumed = train(config(tiny_model, tmp_path / "part", save_steps=3, resume="latest"))
    assert resumed.global_step == full.global_step == 6
    assert record_steps == uninterrupted[3:]  # the sampler replays steps 4..6 exactly

    a = SentenceTransformer(str(tmp_path / "full"), device="cpu").state_dict()
    b = SentenceTransformer(str(tmp_path / "part"), device="cpu").state_dict()
    for name, tensor in a.items():
        torch.testing.assert_close(tensor, b[name], rtol=1e-5, atol=1e-6)
    # equal because both trained the same steps, not because neither trained at all
    assert max_weight_change(tiny_model, tmp_path / "full") > 1e-3
    checkpoint = tmp_path / "part" / "checkpoints" / "checkpoint-3"
    assert max_weight_change(checkpoint, tmp_path / "part") > 1e-4  # the resumed steps moved it
    meta = json.loads((tmp_path / "part" / TRAINING_METADATA).read_text())
    assert meta["resumed_from"].endswith("checkpoint-3")
    # train_loss covers all 6 steps, not only the 3 resumed ones
    assert resumed.train_loss == pytest.approx(full.train_loss, rel=1e-6)
    assert meta["train_loss"] == pytest.approx(full.train_loss, rel=1e-6)


@pytest.fixture
def record_texts(monkeypatch):
    """Record the (query, positive) texts of every batch the data collator receives."""
    from sentence_transformers.sentence_transformer.data_collator import (
        SentenceTransformerDataCollator,
    )

    batches: list[list[tuple[str, str]]] = []
    original = SentenceTransformerDataCollator.__call__

    def recording(self, features):
        batches.append([(f["query"], f["positive"]) for f in features])
        return original(self, features)

    monkeypatch.setattr(SentenceTransformerDataCollator, "__call__", recording)
    return batches


def batch_kind(batch: list[tuple[str, str]]) -> str:
    """mono / cross / multi of a batch of the SMALL fixture, decoded from its texts."""
    lang = {}
    for line in SMALL.read_text().splitlines():
        row = json.loads(line)
        lang[row["query"]] = lang[row["positive"]] = row["lang"]
    pairs = [(lang[q], lang[p]) for q, p in batch]
    if all(q != p for q, p in pairs):
        return "cross"
    assert all(q == p for q, p in pairs), pairs
    return "mono" if len({q for q, _ in pairs}) == 1 else "multi"


def test_exact_counts_survive_a_resume(tiny_model, tmp_path, record_texts):
    """10 steps over two epochs (7 per epoch) at 0.34:0.33:0.33: 4 mono, 3 cross, 3 multi,
    counted from the texts trained on, whether the run is interrupted at step 4 or not."""
    from transformers import TrainerCallback

    settings = dict(ratio="0.34:0.33:0.33", batch_size=8, max_steps=10, save_steps=4, seed=2)
    train(config(tiny_model, tmp_path / "full", **settings))
    uninterrupted = list(record_texts)
    record_texts.clear()

    class StopAt4(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == 4:
                control.should_training_stop = True

    train(config(tiny_model, tmp_path / "part", **settings), callbacks=[StopAt4()])
    first = list(record_texts)
    record_texts.clear()
    resumed = train(config(tiny_model, tmp_path / "part", resume="latest", **settings))
    assert resumed.global_step == 10
    # the data loader fetches one batch ahead, so each run's list ends with one untrained batch
    assert (len(uninterrupted), len(first), len(record_texts)) == (11, 5, 7)
    trained = uninterrupted[:10]
    assert first[:4] + record_texts[:6] == trained  # the combined schedule is the same one
    kinds = Counter(batch_kind(b) for b in trained)
    assert (kinds["mono"], kinds["cross"], kinds["multi"]) == (4, 3, 3)
    for folder in ("full", "part"):
        meta = json.loads((tmp_path / folder / TRAINING_METADATA).read_text())
        assert meta["ratio_schedule"] == "exact" and meta["planned_steps"] == 10
        assert meta["batch_types"] == {"mono": 4, "cross": 3, "multi": 3}
    # a resume that would change the run's length (and so its schedule) is refused
    with pytest.raises(TrainConfigError, match="schedule_steps was"):
        train(
            config(tiny_model, tmp_path / "part", resume="latest", **{**settings, "max_steps": 12})
        )


def test_independent_schedule_option(tiny_model, tmp_path, record_texts):
    """``ratio_schedule="independent"`` trains the per-step draw (here 3 mono of 7, not 4)."""
    result = train(
        config(
            tiny_model, tmp_path / "ind", ratio="0.5:0.5:0", batch_size=8, max_steps=7, seed=1,
            ratio_schedule="independent",
        )
    )  # fmt: skip
    assert result.global_step == 7
    meta = json.loads((tmp_path / "ind" / TRAINING_METADATA).read_text())
    assert meta["ratio_schedule"] == "independent"
    assert len(record_texts) == 7  # one epoch: no batch fetched ahead
    kinds = Counter(batch_kind(b) for b in record_texts)
    assert meta["batch_types"] == {"mono": kinds["mono"], "cross": kinds["cross"], "multi": 0}
    assert kinds["mono"] != 4  # the exact schedule's 3.5 -> 4 (largest remainder, mono first)


def test_resume_refuses_changed_settings_and_fresh_runs_refuse_old_checkpoints(
    tiny_model, tmp_path
):
    out = tmp_path / "run"
    train(config(tiny_model, out, max_steps=2, save_steps=2))
    with pytest.raises(TrainConfigError, match="ratio was '0.5:0.5:0'"):
        train(config(tiny_model, out, max_steps=4, ratio="1:0:0", resume="latest"))
    with pytest.raises(TrainConfigError, match="already has checkpoints"):
        train(config(tiny_model, out, max_steps=4))


def test_each_epoch_gets_a_new_order(tiny_model, tmp_path, record_steps, monkeypatch):
    epochs_set: list[int] = []
    original = HybridBatchSampler.set_epoch

    def spy(self, epoch):
        epochs_set.append(epoch)
        original(self, epoch)

    monkeypatch.setattr(HybridBatchSampler, "set_epoch", spy)
    # 60 rows // 8 = 7 steps per epoch
    result = train(config(tiny_model, tmp_path / "e", max_steps=None, epochs=2, batch_size=8))
    assert result.global_step == 14 and 1 in epochs_set
    assert len(record_steps) == 14
    assert record_steps[:7] != record_steps[7:]


def test_cached_loss_and_gradient_checkpointing(tiny_model, tmp_path):
    result = train(
        config(
            tiny_model, tmp_path / "c", max_steps=2, loss="cached-mnrl", mini_batch_size=2,
            gradient_checkpointing=True, ratio="0:0:1",
        )
    )  # fmt: skip
    assert result.global_step == 2 and result.train_loss > 0
    meta = json.loads((tmp_path / "c" / TRAINING_METADATA).read_text())
    assert meta["loss"] == "cached-mnrl" and meta["batch_types"] == {
        "mono": 0, "cross": 0, "multi": 2,
    }  # fmt: skip


@pytest.mark.parametrize("loss", ["mnrl", "cached-mnrl"])
def test_first_step_loss_is_plain_mnrl_on_that_batch(
    no_dropout_model, tmp_path, record_texts, loss
):
    """One step's reported loss equals InfoNCE computed by hand on the batch it trained on."""
    result = train(
        config(
            no_dropout_model, tmp_path / loss, max_steps=1, loss=loss, mini_batch_size=2,
            gradient_checkpointing=loss == "cached-mnrl", ratio="0:0:1", batch_size=8,
        )
    )  # fmt: skip
    expected = plain_mnrl_loss(no_dropout_model, record_texts[0])
    assert expected > 0.1  # an untrained model does not separate the batch already
    assert result.train_loss == pytest.approx(expected, rel=1e-4)


def test_training_moves_the_weights_and_lowers_the_loss(tiny_model, tmp_path):
    """On a learnable toy set (60 short parallel pairs), 40 steps lower the InfoNCE loss of
    fixed batches of those pairs well below the untrained model's."""
    out = tmp_path / "learn"
    train(config(tiny_model, out, max_steps=40, batch_size=8, learning_rate=3e-3, ratio="1:0:0"))
    batches = toy_batches()
    before = np.mean([plain_mnrl_loss(tiny_model, b) for b in batches])
    after = np.mean([plain_mnrl_loss(out, b) for b in batches])
    assert max_weight_change(tiny_model, out) > 1e-2
    assert after < 0.7 * before, (before, after)


def test_config_errors(tiny_model, tmp_path):
    with pytest.raises(TrainConfigError, match="three numbers"):
        config(tiny_model, tmp_path, ratio="0.5:0.5")
    with pytest.raises(TrainConfigError, match="needs --validation-data"):
        config(tiny_model, tmp_path, early_stopping_patience=2)
    if not torch.cuda.is_available():
        with pytest.raises(TrainConfigError, match="needs a CUDA GPU"):
            train(config(tiny_model, tmp_path / "bf16", precision="bf16"))
    with pytest.raises(TrainConfigError, match="mono batches need a language with at least 64"):
        train(config(tiny_model, tmp_path / "big", batch_size=64))


def test_cli_trains_and_reports_bad_input_in_one_line(tiny_model, tmp_path):
    runner = CliRunner()
    out = tmp_path / "cli-model"
    args = [
        "train", "--base-model", tiny_model, "--train-data", str(SMALL), "--ratio",
        "0.4:0.4:0.2", "--output", str(out), "--max-steps", "2", "--batch-size", "4",
        "--max-seq-length", "32", "--seed", "3", "--language-sampling", "proportional",
    ]  # fmt: skip
    result = runner.invoke(cli_main, args)
    assert result.exit_code == 0, result.output
    meta = json.loads((out / TRAINING_METADATA).read_text())
    assert meta["ratio_text"] == "0.4:0.4:0.2" and meta["seed"] == 3
    assert meta["language_sampling"] == "proportional"

    bad = tmp_path / "bad.jsonl"
    lines = SMALL.read_text().splitlines()
    lines[2] = lines[2].replace('"lang": "sw"', '"lang": "swahili"')
    bad.write_text("\n".join(lines) + "\n")
    result = runner.invoke(cli_main, [*args[:4], str(bad), "--output", str(tmp_path / "x")])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: {bad}: line 3: field 'lang' has unknown language code 'swahili'; use one of "
        + result.output.split("use one of ")[1].strip()
    ]


def test_cli_resume_option_forms():
    from mteb_hybrid.trainers.cli import train as command

    base = ["--base-model", "m", "--train-data", "d", "--output", "o"]
    parse = lambda extra: command.make_context("train", [*base, *extra]).params  # noqa: E731
    assert parse([])["resume"] is None
    assert parse(["--resume"])["resume"] == "latest"
    assert parse(["--resume", "--seed", "2"])["resume"] == "latest"
    assert parse(["--resume=latest"])["resume"] == "latest"
    assert parse(["--resume", "o/checkpoints/checkpoint-9"])["resume"].endswith("checkpoint-9")
    assert parse([])["ratio_schedule"] == "exact"
    assert parse(["--ratio-schedule", "independent"])["ratio_schedule"] == "independent"
    with pytest.raises(click.BadParameter):
        parse(["--ratio-schedule", "even"])


def test_cli_module_import_stays_light():
    code = (
        "import sys, mteb_hybrid.trainers.cli, mteb_hybrid.trainers; "
        "heavy = [m for m in ('torch', 'sentence_transformers', 'datasets') if m in sys.modules]; "
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_sweep_run_under_torchrun_trains_the_serialized_config(tiny_model, tmp_path):
    """The sweep's torchrun launch: the child reads the run's TrainConfig from its JSON file."""
    from mteb_hybrid.runs import TRAIN_CONFIG_FILE, Ratio
    from mteb_hybrid.sweep.plan import RunSpec
    from mteb_hybrid.sweep.training import train_run

    run_dir = tmp_path / "r0.40-0.40-0.20_s3"
    options = {
        "max_steps": 2, "batch_size": 4, "max_seq_length": 32, "prompts": True,
        "language_sampling": "proportional", "gradient_checkpointing": True,
    }  # fmt: skip
    summary = train_run(
        RunSpec(run_dir.name, Ratio(0.4, 0.4, 0.2), 3), base_model=tiny_model,
        train_data=[str(SMALL)], options=options, model_dir=run_dir / "model", resume=False,
        torchrun=1, log_file=tmp_path / "run.log",
    )  # fmt: skip
    assert summary["global_step"] == 2 and summary["processes"] == 1
    saved = TrainConfig.load(run_dir / TRAIN_CONFIG_FILE)
    meta = json.loads((run_dir / "model" / TRAINING_METADATA).read_text())
    assert meta["settings"] == saved.to_dict()
    assert {k: meta["settings"][k] for k in options} == options
    assert meta["ratio_text"] == "0.4:0.4:0.2" and meta["seed"] == 3
    assert meta["settings"]["model_name"] == run_dir.name


def test_a_bad_saved_config_fails_in_one_line(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"base_model": "m", "train_data": ["d"], "output_dir": "o",
                                "batch_size": 1}))  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "mteb_hybrid.trainers", str(path)], capture_output=True, text=True
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "Error: --batch-size must be at least 2 (in-batch negatives)"
    ]
    path.write_text(json.dumps({"base_model": "m", "train_data": ["d"], "output_dir": "o",
                                "lr": 0.1}))  # fmt: skip
    with pytest.raises(TrainConfigError, match="unknown setting\\(s\\) lr"):
        TrainConfig.load(path)


def test_output_refuses_the_base_model_and_a_different_finished_model(tiny_model, tmp_path):
    """No silent overwrite: the base model's folder and another finished model need --overwrite;
    training the same run again into its own finished folder is allowed."""
    import shutil

    base = tmp_path / "base"
    shutil.copytree(tiny_model, base)
    before = {p.name: p.read_bytes() for p in base.iterdir() if p.is_file()}
    with pytest.raises(TrainConfigError) as error:
        train(config(str(base), base, max_steps=1))
    assert str(error.value) == (
        f"--output {base} is the base model's folder; training would overwrite it: "
        "choose another --output, or pass --overwrite"
    )
    assert {p.name: p.read_bytes() for p in base.iterdir() if p.is_file()} == before

    out = tmp_path / "finished"
    train(config(tiny_model, out, max_steps=1, seed=1, warmup=0))
    weights = (out / "model.safetensors").read_bytes()
    with pytest.raises(TrainConfigError) as error:
        train(config(tiny_model, out, max_steps=1, seed=2, warmup=0))
    assert str(error.value) == (
        f"--output {out} holds a different finished model; choose another --output, "
        "or pass --overwrite to replace it"
    )
    assert (out / "model.safetensors").read_bytes() == weights
    # a finished model from elsewhere (no training record) is refused too
    with pytest.raises(TrainConfigError, match="holds a different finished model"):
        train(config(tiny_model, tmp_path / "base", max_steps=1, seed=2, warmup=0))

    train(config(tiny_model, out, max_steps=1, seed=1, warmup=0))  # the same run again: allowed
    train(config(tiny_model, out, max_steps=1, seed=2, warmup=0, overwrite=True))
    assert json.loads((out / TRAINING_METADATA).read_text())["seed"] == 2
    assert (out / "model.safetensors").read_bytes() != weights


def test_cli_overwrite_refusal_is_one_line(tiny_model, tmp_path):
    import shutil

    base = tmp_path / "base"
    shutil.copytree(tiny_model, base)
    args = ["train", "--base-model", str(base), "--train-data", str(SMALL), "--output", str(base),
            "--max-steps", "1", "--batch-size", "4", "--max-seq-length", "32"]  # fmt: skip
    result = CliRunner().invoke(cli_main, args)
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: --output {base} is the base model's folder; training would overwrite it: "
        "choose another --output, or pass --overwrite"
    ]
    result = CliRunner().invoke(cli_main, [*args, "--overwrite"])
    assert result.exit_code == 0, result.output
    assert json.loads((base / TRAINING_METADATA).read_text())["settings"]["overwrite"] is True


def test_cli_prints_the_normalised_ratio_and_help_says_weights(tiny_model, tmp_path):
    args = ["train", "--base-model", tiny_model, "--train-data", str(SMALL), "--ratio",
            "0.5:0.6:0", "--output", str(tmp_path / "n"), "--max-steps", "1", "--batch-size",
            "4", "--max-seq-length", "32"]  # fmt: skip
    result = CliRunner().invoke(cli_main, args)
    assert result.exit_code == 0, result.output
    assert (
        "note: ratio 0.5:0.6:0 (weights, sum 1.1) is normalised: training 0.4545:0.5455:0 "
        "(mono:cross:multi)" in result.stderr
    )
    meta = json.loads((tmp_path / "n" / TRAINING_METADATA).read_text())
    assert meta["ratio"]["mono"] == pytest.approx(0.5 / 1.1, rel=1e-5)
    help_text = " ".join(CliRunner().invoke(cli_main, ["train", "--help"]).output.split())
    assert "Batch-type weights, normalised to sum to 1" in help_text
    sweep_help = " ".join(CliRunner().invoke(cli_main, ["sweep", "--help"]).output.split())
    assert "weights mono:cross:multi, normalised to sum to 1" in sweep_help


def test_a_missing_base_model_fails_before_the_data_loads(tmp_path, monkeypatch):
    import mteb_hybrid.trainers.trainer as trainer_module

    def no_data(*args, **kwargs):
        raise AssertionError("the data was loaded")

    monkeypatch.setattr(trainer_module, "prepare_data", no_data)
    for missing in (tmp_path / "no-such-model", "./models/nope", "~/no/such/model"):
        with pytest.raises(TrainConfigError) as error:
            train(config(str(missing), tmp_path / "out", train_data=[str(tmp_path / "none.jsonl")]))
        assert str(error.value) == (
            f"--base-model {missing} does not exist; give a sentence-transformers model folder "
            "or a Hub id (org/name)"
        )
    runner = CliRunner()
    result = runner.invoke(
        cli_main,
        ["train", "--base-model", str(tmp_path / "gone"), "--train-data", str(SMALL),
         "--output", str(tmp_path / "o")],
    )  # fmt: skip
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: --base-model {tmp_path / 'gone'} does not exist; give a sentence-transformers "
        "model folder or a Hub id (org/name)"
    ]


KILLED_IN_A_CHECKPOINT_WRITE = """
import json, sys
from mteb_hybrid.trainers.config import TrainConfig
from mteb_hybrid.trainers.trainer import train
train(TrainConfig(**json.loads(sys.argv[1])))
"""


def test_a_kill_while_a_checkpoint_is_written_resumes_from_the_newest_complete_one(
    tiny_model, tmp_path, caplog
):
    """SIGKILL inside the write of checkpoint-4 (before its completion record; one of its files
    cut short, as a kill mid-file leaves it): --resume skips it with a one-line warning, resumes
    from checkpoint-2, and ends with the uninterrupted run's weights and train_loss."""
    import os
    import signal
    import time

    from mteb_hybrid.runs import CHECKPOINT_COMPLETE
    from mteb_hybrid.trainers.checkpoints import PAUSE_ENV

    settings = dict(max_steps=6, save_steps=2, save_total_limit=None)
    full = train(config(tiny_model, tmp_path / "full", **settings))
    part = tmp_path / "part"
    values = config(tiny_model, part, **settings).to_dict()
    repo = Path(__file__).resolve().parents[1]
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_IN_A_CHECKPOINT_WRITE, json.dumps(values)],
        cwd=repo, env={**os.environ, PAUSE_ENV: "4:120", "PYTHONPATH": str(repo)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    fourth = part / "checkpoints" / "checkpoint-4"
    deadline = time.time() + 150
    while time.time() < deadline and not (fourth / "trainer_state.json").is_file():
        time.sleep(0.2)
    time.sleep(0.5)
    child.send_signal(signal.SIGKILL)
    assert child.wait() == -signal.SIGKILL
    assert (part / "checkpoints" / "checkpoint-2" / CHECKPOINT_COMPLETE).is_file()
    assert not (fourth / CHECKPOINT_COMPLETE).exists()
    optimizer = fourth / "optimizer.pt"
    optimizer.write_bytes(optimizer.read_bytes()[:100])  # the kill landed mid-file

    with caplog.at_level("WARNING"):
        resumed = train(config(tiny_model, part, resume="latest", **settings))
    warnings = [r.getMessage() for r in caplog.records if "incomplete checkpoint" in r.getMessage()]
    assert warnings == [f"skipping incomplete checkpoint {fourth} (interrupted while written)"]
    meta = json.loads((part / TRAINING_METADATA).read_text())
    assert meta["resumed_from"].endswith("checkpoint-2")
    assert (part / "model.safetensors").read_bytes() == (
        tmp_path / "full" / "model.safetensors"
    ).read_bytes()
    assert resumed.train_loss == pytest.approx(full.train_loss, rel=1e-6)
    assert (fourth / CHECKPOINT_COMPLETE).is_file()  # rewritten whole by the resumed run
