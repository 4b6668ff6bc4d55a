"""Sharded encoding: the threshold wiring of the stock path, exact scores from shards, and a
two-process gloo run under torchrun that is killed midway and resumed."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mteb_hybrid.env import OptionError
from mteb_hybrid.evaluation.shards import ShardStore, ShardStoreError
from mteb_hybrid.tasks.sharded_encoding import (
    DEFAULT_SHARD_THRESHOLD,
    SHARD_DIR_ENV,
    SHARD_DTYPE_ENV,
    SHARD_SIZE_ENV,
    SHARD_THRESHOLD_ENV,
    model_identity,
    shard_settings,
)
from tests.test_xm3600_helpers import MIRACL_FIXTURE, XM3600_FIXTURE, HashingEncoder

REPO = Path(__file__).resolve().parents[1]
CRASHING_CLI = REPO / "tests" / "fixtures" / "shards" / "crashing_cli.py"
SHARD_ENVS = (SHARD_DIR_ENV, SHARD_THRESHOLD_ENV, SHARD_SIZE_ENV, SHARD_DTYPE_ENV)


@pytest.fixture(autouse=True)
def clean_shard_env(monkeypatch, tmp_path):
    for name in SHARD_ENVS:  # set, then removed: undone at the end even if a command sets it
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    monkeypatch.setenv("MTEB_HYBRID_VERIFY", "0")  # the fixture is a user-supplied copy
    monkeypatch.setenv("MTEB_HYBRID_CACHE", str(tmp_path / "cache"))


def xm3600(**options):
    from mteb_hybrid.tasks.xm3600 import XM3600Retrieval

    task = XM3600Retrieval(data_dir=XM3600_FIXTURE, source="official", **options)
    task.load_data()
    return task


def scores_and_per_query(task, model):
    scores = task.evaluate(model, "test", encode_kwargs={"batch_size": 16})
    per_query = {
        name: (result.query_ids, {k: v.tolist() for k, v in result.per_query.items()})
        for name, result in task._results.items()
    }
    return scores, per_query


def store_folders(root: Path) -> list[Path]:
    return sorted(p.parent for p in root.rglob("manifest.json"))


# -- the switch -------------------------------------------------------------------------------
def test_threshold_and_folder_decide_the_path(monkeypatch, tmp_path):
    assert shard_settings(DEFAULT_SHARD_THRESHOLD) is None
    above = shard_settings(DEFAULT_SHARD_THRESHOLD + 1)
    assert above is not None and above.root == tmp_path / "cache" / "shards"
    assert (above.dtype, above.shard_size) == ("float16", 100_000)
    monkeypatch.setenv(SHARD_THRESHOLD_ENV, "10")
    assert shard_settings(10) is None and shard_settings(11) is not None
    monkeypatch.delenv(SHARD_THRESHOLD_ENV)
    monkeypatch.setenv(SHARD_DIR_ENV, str(tmp_path / "mine"))
    monkeypatch.setenv(SHARD_DTYPE_ENV, "float32")
    monkeypatch.setenv(SHARD_SIZE_ENV, "7")
    explicit = shard_settings(3)
    assert explicit is not None and explicit.root == tmp_path / "mine"
    assert (explicit.dtype, explicit.shard_size) == ("float32", 7)


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        (SHARD_THRESHOLD_ENV, "lots", "expected a whole number above 0"),
        (SHARD_SIZE_ENV, "0", "expected a whole number above 0"),
        (SHARD_DTYPE_ENV, "bfloat16", "use one of float16, float32"),
        (SHARD_DIR_ENV, "__FILE__", "not a folder"),
    ],
)
def test_bad_shard_values_are_one_line_errors(monkeypatch, tmp_path, name, value, says):
    if value == "__FILE__":
        value = str(tmp_path / "a-file")
        Path(value).write_text("x")
    monkeypatch.setenv(name, value)
    with pytest.raises(OptionError) as error:
        shard_settings(5)
    assert name in str(error.value) and says in str(error.value)
    assert "\n" not in str(error.value)
    from mteb_hybrid.tasks.xm3600 import XM3600Retrieval

    with pytest.raises(OptionError, match=name):  # when the task is built, before its data
        XM3600Retrieval(data_dir=XM3600_FIXTURE)


def test_a_model_without_name_and_revision_has_no_store():
    class Anonymous:
        mteb_model_meta = None

    with pytest.raises(ShardStoreError, match="needs a model name and revision"):
        model_identity(Anonymous())
    assert model_identity(HashingEncoder()) == ("test/hashing-encoder", "dim48")


# -- the stock path ---------------------------------------------------------------------------
def test_below_the_threshold_nothing_is_written(tmp_path):
    task = xm3600(languages=["en", "de"])
    task.evaluate(HashingEncoder(), "test", encode_kwargs={})
    assert "documents_encoded" in task.encoding_counts
    assert not (tmp_path / "cache" / "shards").exists()


def test_sharded_scores_equal_the_in_memory_scores_and_a_rerun_encodes_nothing(
    monkeypatch, tmp_path
):
    """Trigram counts are small integers, exact in float16: the sharded path must give exactly
    the in-memory scores, per query too; a second task reads the store without encoding."""
    expected = scores_and_per_query(xm3600(), HashingEncoder())

    monkeypatch.setenv(SHARD_THRESHOLD_ENV, "100")  # the fixture's 429 captions are above
    monkeypatch.setenv(SHARD_SIZE_ENV, "64")
    first_encoder = HashingEncoder()
    task = xm3600()
    assert scores_and_per_query(task, first_encoder) == expected
    (folder,) = store_folders(tmp_path / "cache" / "shards")
    digest = task._data_digest[:16]
    assert folder == tmp_path / "cache/shards/test__hashing-encoder/dim48/XM3600Retrieval" / digest
    store = ShardStore.load(folder)
    n_docs = len(task.collection.doc_ids)
    assert len(store) == -(-n_docs // 64) == 7 and not store.missing()
    assert task.encoding_counts["document_shards_encoded"] == 7
    assert task.encoding_counts["document_rows_encoded"] == n_docs
    assert task.encoding_counts["document_shards_reused"] == 0
    # each shard's distinct texts once, then the queries
    per_shard = [len({task.collection.doc_texts[i] for i in range(a, b)}) for a, b in store.ranges]
    documents = [n for kind, n in first_encoder.calls if kind == "document"]
    queries = [n for kind, n in first_encoder.calls if kind == "query"]
    assert documents == per_shard  # (shards of 64 rows are single encode calls here)
    assert sum(queries) == len(set(task.collection.query_texts))
    assert [kind for kind, _ in first_encoder.calls[:7]] == ["document"] * 7
    mtimes = [store.path(i).stat().st_mtime_ns for i in range(len(store))]

    again_encoder = HashingEncoder()
    again = xm3600()
    assert scores_and_per_query(again, again_encoder) == expected
    assert again.encoding_counts["document_shards_encoded"] == 0
    assert again.encoding_counts["document_shards_reused"] == 7
    assert {kind for kind, _ in again_encoder.calls} == {"query"}
    assert [store.path(i).stat().st_mtime_ns for i in range(len(store))] == mtimes


def test_shard_dir_alone_takes_the_sharded_path_and_a_changed_dtype_is_refused(
    monkeypatch, tmp_path
):
    monkeypatch.setenv(SHARD_DIR_ENV, str(tmp_path / "shards"))
    monkeypatch.setenv(SHARD_SIZE_ENV, "100")
    task = xm3600(languages=["en", "de"])
    task.evaluate(HashingEncoder(), "test", encode_kwargs={})
    (folder,) = store_folders(tmp_path / "shards")
    assert task.encoding_counts["document_shards_encoded"] == len(ShardStore.load(folder))
    monkeypatch.setenv(SHARD_DTYPE_ENV, "float32")
    with pytest.raises(ShardStoreError) as error:
        xm3600(languages=["en", "de"]).evaluate(HashingEncoder(), "test", encode_kwargs={})
    assert str(folder) in str(error.value) and "dtype 'float16'" in str(error.value)


def test_miracl_passages_with_titles_score_the_same_from_shards(monkeypatch, tmp_path):
    """Titled passages reach the model as mteb sends them from the shards too."""
    from mteb_hybrid.tasks.encoding import iter_document_keys
    from mteb_hybrid.tasks.miracl import MIRACLMultilingualRetrieval

    def miracl():
        task = MIRACLMultilingualRetrieval(data_dir=MIRACL_FIXTURE, languages=["de", "en", "te"])
        task.load_data()
        return task

    expected_task = miracl()
    expected = expected_task.evaluate(HashingEncoder(), "dev", encode_kwargs={})
    col = expected_task.collection
    assert col.doc_titles is not None and any(col.doc_titles)
    keys = list(iter_document_keys(col, 3, 9))  # one shard's keys: titles as mteb sends them
    assert keys == [f"{col.doc_titles[i]}\x00{col.doc_texts[i]}" for i in range(3, 9)]
    monkeypatch.setenv(SHARD_DIR_ENV, str(tmp_path / "shards"))
    monkeypatch.setenv(SHARD_SIZE_ENV, "5")
    task = miracl()
    assert task.evaluate(HashingEncoder(), "dev", encode_kwargs={}) == expected
    assert task.encoding_counts["document_shards_encoded"] == -(-len(col.doc_ids) // 5)


class _RanksInTurn:
    """torch.distributed's two calls for ranks run one after another in this process: rank 0's
    broadcast is kept and handed to the ranks after it; the barrier returns at once."""

    def __init__(self):
        self.sent = None

    def broadcast_object_list(self, box, src):
        assert src == 0
        if self.sent is None:
            self.sent = list(box)
        box[:] = self.sent

    def barrier(self):
        pass


def test_rank_r_of_w_encodes_every_wth_missing_shard(tmp_path):
    from mteb_hybrid.tasks.sharded_encoding import (
        ShardSettings,
        Workers,
        encode_documents_sharded,
    )

    task = xm3600(languages=["en", "de", "fr"])
    settings = ShardSettings(root=tmp_path, shard_size=4)
    n_shards = -(-len(task.collection.doc_ids) // 4)
    assert n_shards >= 6

    def run(rank, world, group):
        return encode_documents_sharded(
            HashingEncoder(),
            task.collection,
            tmp_path / "store",
            model_name="test/hashing-encoder",
            revision="dim48",
            task_metadata=task.metadata,
            hf_split="test",
            hf_subset=task.hf_subsets[0],
            encode_kwargs={"show_progress_bar": False},
            settings=settings,
            workers=Workers(rank=rank, world=world, _dist=group),
        )

    def complete():
        return [i for i in range(n_shards) if store.is_complete(i)]

    group = _RanksInTurn()
    with pytest.raises(ShardStoreError, match="still missing after every rank finished"):
        run(0, 2, group)  # a fresh store: rank 0 of 2 writes shard i with i % 2 == 0
    store = ShardStore.load(tmp_path / "store")
    assert complete() == list(range(0, n_shards, 2))
    assert run(1, 2, group).encoded == list(range(1, n_shards, 2))
    assert complete() == list(range(n_shards))

    lost = [0, 1, 2, 3, 4]  # a resume with 3 ranks shares out the missing shards only
    for i in lost:
        store.path(i).unlink()
    group = _RanksInTurn()
    with pytest.raises(ShardStoreError):
        run(0, 3, group)
    assert [i for i in lost if store.is_complete(i)] == [0, 3]
    with pytest.raises(ShardStoreError):
        run(2, 3, group)
    assert [i for i in lost if store.is_complete(i)] == [0, 2, 3]
    outcome = run(1, 3, group)
    assert outcome.encoded == [1, 4] and outcome.complete_before == n_shards - len(lost)
    assert complete() == list(range(n_shards))


def test_the_commands_refuse_unknown_tasks_and_languages_in_one_line():
    from click.testing import CliRunner

    from mteb_hybrid.cli import main

    for args, says in (
        (["-t", "NoSuchTask"], "use one of XQuADRRetrieval"),
        (["-t", "XQuADRRetrieval", "-l", "en,xx"], "has no language xx"),
        (["-t", "XQuADRRetrieval", "--option", "novalue"], "expected KEY=VALUE"),
    ):
        for command in ("encode", "evaluate"):
            result = CliRunner().invoke(main, [command, "-m", "some/model", *args])
            assert result.exit_code == 2, result.output
            assert says in result.output


def test_evaluate_alone_scores_from_the_default_store_without_the_in_memory_path(
    monkeypatch, tmp_path, tiny_models
):
    """One process, no --shards: the store lies under the cache, and mteb's scoring step reads
    it (the in-memory encoder is never called, whatever the corpus size)."""
    from click.testing import CliRunner

    from mteb_hybrid.cli import main
    from mteb_hybrid.tasks import base

    def in_memory(*args, **kwargs):
        raise AssertionError("the in-memory encoding ran")

    monkeypatch.setattr(base, "encode_collection", in_memory)
    results = tmp_path / "results"
    args = [
        "evaluate", "-m", str(tiny_models[0]), "-t", "XM3600Retrieval", "-l", "en,de",
        "--data-dir", str(XM3600_FIXTURE), "--option", "source=official",
        "--shard-size", "10", "--output-folder", str(results),
    ]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    (folder,) = store_folders(tmp_path / "cache" / "shards")
    assert folder.relative_to(tmp_path / "cache" / "shards").parts[0].startswith("local__")
    assert not ShardStore.load(folder).missing()
    (written,) = results.rglob("XM3600Retrieval.json")
    assert str(written) in result.output
    scores = json.loads(written.read_text())["scores"]["test"]
    assert {entry["hf_subset"] for entry in scores} >= {"eng-deu", "eng-all"}


# -- torchrun: two processes, one killed, then resumed -----------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def torchrun(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
        "--master-addr", "127.0.0.1", "--master-port", str(free_port()),
        str(CRASHING_CLI), *args,
    ]  # fmt: skip
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)


def test_two_processes_killed_midway_resume_and_score_like_the_evaluator(tmp_path, tiny_models):
    """Rank 1 dies after its first shard; the same command again encodes only the missing
    shards (complete ones untouched), and rank 0's scores are the in-memory evaluator's on the
    stored (float16) embeddings."""
    import mteb

    from mteb_hybrid.evaluation.evaluator import evaluate_subsets
    from mteb_hybrid.evaluation.per_query import load_per_query, per_query_path
    from mteb_hybrid.tasks.encoding import encode_collection

    languages = "en,de,fr,sw,mi,bn"
    root, results = tmp_path / "shards", tmp_path / "results"
    args = [
        "evaluate", "--model", str(tiny_models[0]), "--task", "XM3600Retrieval",
        "--shards", str(root), "--languages", languages, "--data-dir", str(XM3600_FIXTURE),
        "--option", "source=official", "--shard-size", "8", "--batch-size", "4",
        "--output-folder", str(results),
    ]  # fmt: skip
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
        "OMP_NUM_THREADS": "1",
        "CUDA_VISIBLE_DEVICES": "",
        "MTEB_HYBRID_VERIFY": "0",
    }
    crashed = torchrun(args, {**env, "TEST_CRASH_RANK": "1"})
    assert crashed.returncode != 0
    assert "rank 1 dies after writing shard-00001.npy" in crashed.stderr, crashed.stderr[-3000:]
    (folder,) = store_folders(root)
    store = ShardStore.load(folder)
    n_shards = len(store)
    assert n_shards >= 5
    done_before = {
        i: store.path(i).stat().st_mtime_ns for i in range(n_shards) if i not in store.missing()
    }
    assert 1 in done_before and 3 not in done_before  # rank 1's second shard never came
    assert not list(results.rglob("XM3600Retrieval.json"))

    resumed = torchrun(args, env)
    assert resumed.returncode == 0, resumed.stderr[-4000:]
    assert not store.missing()
    for i, mtime in done_before.items():  # complete shards were not written again
        assert store.path(i).stat().st_mtime_ns == mtime, f"shard {i} was encoded again"
    encoded = [
        int(n) for n in re.findall(r"rank \d/2: .*: encoded (\d+) shards here", resumed.stderr)
    ]
    assert len(encoded) == 2 and sum(encoded) == n_shards - len(done_before)
    assert f"{len(done_before)} of {n_shards} were complete before" in resumed.stderr

    # the stored rows are this model's embeddings of each row's own text (float16-rounded)
    model = mteb.get_model(str(tiny_models[0]))
    task = xm3600(languages=languages.split(","))
    in_memory_queries, in_memory, _ = encode_collection(
        model,
        task.collection,
        task_metadata=task.metadata,
        hf_split="test",
        hf_subset=task.hf_subsets[0],
        encode_kwargs={"batch_size": 4, "show_progress_bar": False},
    )
    stored = ShardStore.load(folder).document_blocks()
    rows = stored.rows(np.arange(stored.n_docs))
    assert rows.shape == in_memory.shape
    np.testing.assert_allclose(rows, in_memory, rtol=2**-10, atol=1e-6)

    # rank 0's scores = the in-memory evaluator on the stored embeddings: the queries are the
    # captions, so a symmetric model takes their stored rows (the last document of that text);
    # a caption with outer whitespace is encoded as a query (here: in this process)
    (written,) = results.rglob("XM3600Retrieval.json")
    saved = json.loads(written.read_text())["scores"]["test"]
    by_subset = {entry["hf_subset"]: entry for entry in saved}
    subsets = [task.subset(name) for name in task.hf_subsets]
    col = task.collection
    last_row = {text.strip(): i for i, text in enumerate(col.doc_texts)}
    queries = in_memory_queries.copy()
    reused = [i for i, text in enumerate(col.query_texts) if text == text.strip()]
    assert 0 < len(reused) < len(col.query_ids)
    queries[reused] = rows[[last_row[col.query_texts[i]] for i in reused]]
    reference = evaluate_subsets(col, queries, rows, subsets, progress=False)
    assert set(by_subset) == set(reference)
    sidecar = load_per_query(per_query_path(written))  # full precision, per query
    for name, result in reference.items():
        for metric in ("map", "ndcg_at_10", "recall_at_10", "mrr_at_10"):
            # mteb rounds the means in its JSON to 6 decimals
            assert by_subset[name][metric] == pytest.approx(result.scores[metric], abs=5e-7)
        assert sidecar[name]["query_ids"].tolist() == result.query_ids
        for metric, values in result.per_query.items():
            np.testing.assert_array_equal(
                sidecar[name][metric], values.astype(np.float32), err_msg=f"{name} {metric}"
            )
