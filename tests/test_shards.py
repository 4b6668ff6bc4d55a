"""The on-disk shard store: ranges, whole-or-nothing shards, resume, refusals, memmap blocks."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mteb_hybrid.evaluation import shards as shards_module
from mteb_hybrid.evaluation.blocks import DocumentBlocks
from mteb_hybrid.evaluation.shards import (
    MANIFEST,
    ShardStore,
    ShardStoreError,
    StorePlan,
    texts_digest,
)


def plan(**changes) -> StorePlan:
    fields = {
        "model": "org/model",
        "revision": "abc123",
        "rows": 10,
        "rows_sha256": texts_digest(f"text {i}" for i in range(10)),
        "dtype": "float32",
        "shard_size": 4,
    }
    return StorePlan(**{**fields, **changes})


def matrix(rows: int = 10, dim: int = 3) -> np.ndarray:
    return np.random.default_rng(0).normal(size=(rows, dim)).astype(np.float32)


def fill(store: ShardStore, data: np.ndarray, indices=None) -> None:
    for i in range(len(store)) if indices is None else indices:
        start, stop = store.ranges[i]
        store.write(i, data[start:stop])


def test_ranges_cover_the_rows_in_order_with_a_short_last_shard():
    assert plan().ranges() == [(0, 4), (4, 8), (8, 10)]
    assert plan(rows=8).ranges() == [(0, 4), (4, 8)]
    assert plan(rows=0).ranges() == []


def test_digest_separates_texts():
    assert texts_digest(["ab"]) != texts_digest(["a", "b"])
    assert texts_digest(["a", "b"]) != texts_digest(["b", "a"])
    assert texts_digest(["a", "b"]) == texts_digest(iter(["a", "b"]))


def test_manifest_names_model_rows_dtype_and_ranges(tmp_path):
    ShardStore.open(tmp_path, plan())
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    assert manifest["model"] == "org/model" and manifest["revision"] == "abc123"
    assert manifest["dtype"] == "float32" and manifest["shard_size"] == 4
    assert manifest["rows"] == 10 and manifest["dim"] is None
    assert [(s["file"], s["start"], s["stop"]) for s in manifest["shards"]] == [
        ("shard-00000.npy", 0, 4),
        ("shard-00001.npy", 4, 8),
        ("shard-00002.npy", 8, 10),
    ]


def test_float32_store_gives_back_the_matrix_exactly_as_read_only_memmaps(tmp_path):
    data = matrix()
    store = ShardStore.open(tmp_path, plan())
    fill(store, data)
    blocks = store.document_blocks()
    assert isinstance(blocks, DocumentBlocks)
    assert [len(b) for _, b in blocks] == [4, 4, 2] and blocks.starts.tolist() == [0, 4, 8]
    assert all(isinstance(b, np.memmap) and not b.flags.writeable for _, b in blocks)
    np.testing.assert_array_equal(np.concatenate([b for _, b in blocks]), data)
    assert json.loads((tmp_path / MANIFEST).read_text())["dim"] == 3


def test_float16_store_holds_the_float16_rounding(tmp_path):
    data = matrix()
    store = ShardStore.open(tmp_path, plan(dtype="float16"))
    fill(store, data)
    blocks = store.document_blocks()
    assert blocks.blocks[0].dtype == np.float16
    np.testing.assert_array_equal(
        blocks.rows(range(10)), data.astype(np.float16).astype(np.float32)
    )


def test_resume_sees_complete_shards_and_leaves_them_alone(tmp_path):
    data = matrix()
    store = ShardStore.open(tmp_path, plan())
    fill(store, data, [0, 2])
    before = store.path(0).stat().st_mtime_ns
    again = ShardStore.open(tmp_path, plan())
    assert again.missing() == [1]
    with pytest.raises(ShardStoreError, match=r"1 of 3 shards missing \(shard-00001.npy first\)"):
        again.document_blocks()
    fill(again, data, again.missing())
    assert store.path(0).stat().st_mtime_ns == before
    np.testing.assert_array_equal(again.document_blocks().rows(range(10)), data)


def test_a_shard_interrupted_while_written_leaves_no_file(tmp_path, monkeypatch):
    store = ShardStore.open(tmp_path, plan())

    def dies_halfway(handle, array, allow_pickle):
        handle.write(b"\x93NUMPY partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(shards_module.np, "save", dies_halfway)
    with pytest.raises(KeyboardInterrupt):
        store.write(0, matrix()[:4])
    assert store.missing() == [0, 1, 2]
    assert sorted(p.name for p in tmp_path.iterdir()) == [MANIFEST]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("model", "org/other"),
        ("revision", "def456"),
        ("rows_sha256", texts_digest(["other texts"])),
        ("dtype", "float16"),
        ("shard_size", 5),
    ],
)
def test_a_store_made_for_something_else_is_refused_in_one_line(tmp_path, field, value):
    ShardStore.open(tmp_path, plan())
    with pytest.raises(ShardStoreError) as error:
        ShardStore.open(tmp_path, plan(**{field: value}))
    message = str(error.value)
    assert "\n" not in message
    assert str(tmp_path) in message and field in message and repr(value) in message
    assert "use another shard folder" in message


def test_load_reads_the_plan_back_and_refuses_foreign_folders(tmp_path):
    ShardStore.open(tmp_path / "s", plan())
    assert ShardStore.load(tmp_path / "s").plan == plan()
    with pytest.raises(ShardStoreError, match="no manifest.json; encode"):
        ShardStore.load(tmp_path / "empty")
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / MANIFEST).write_text('{"hello": 1}')
    with pytest.raises(ShardStoreError, match="not a shard store manifest"):
        ShardStore.load(tmp_path / "foreign")


def test_bad_shapes_and_bad_files_are_one_line_errors(tmp_path):
    store = ShardStore.open(tmp_path, plan())
    with pytest.raises(ShardStoreError, match=r"expected 4 rows \(rows 0..3\)"):
        store.write(0, matrix()[:3])
    np.save(store.path(1), np.zeros((3, 3), np.float32))  # a foreign file in a shard's place
    with pytest.raises(ShardStoreError, match="delete it and run the encoding again"):
        store.read(1)
    with pytest.raises(ShardStoreError, match="not finite in float16"):
        ShardStore.open(tmp_path / "h", plan(dtype="float16")).write(0, np.full((4, 3), 1e6))
    with pytest.raises(ShardStoreError, match="use one of float16, float32"):
        plan(dtype="bfloat16")


def test_shards_of_different_widths_are_refused(tmp_path):
    store = ShardStore.open(tmp_path, plan())
    store.write(0, matrix(4, 3))
    store.write(1, matrix(4, 3))
    store.write(2, matrix(2, 5))
    with pytest.raises(ShardStoreError, match=r"widths \[3, 5\]"):
        store.document_blocks()
