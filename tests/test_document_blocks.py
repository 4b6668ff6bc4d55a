"""DocumentBlocks: a document matrix as consecutive row blocks (arrays or on-disk memmaps)."""

from __future__ import annotations

import numpy as np
import pytest

from mteb_hybrid.evaluation.blocks import DocumentBlocks


def test_rows_gather_across_blocks_and_memmaps(tmp_path) -> None:
    rng = np.random.default_rng(0)
    matrix = rng.normal(size=(23, 5)).astype(np.float16)
    np.save(tmp_path / "b1.npy", matrix[7:16])
    blocks = DocumentBlocks.of(
        [matrix[:7], np.load(tmp_path / "b1.npy", mmap_mode="r"), matrix[16:]]
    )
    assert blocks.n_docs == 23 and blocks.dim == 5
    assert blocks.starts.tolist() == [0, 7, 16]
    indices = np.array([22, 3, 8, 8, 15, 16, 0, 7])
    got = blocks.rows(indices)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, matrix[indices].astype(np.float32))
    assert [start for start, _ in blocks] == [0, 7, 16]
    with pytest.raises(IndexError):
        blocks.rows([23])


def test_one_array_is_one_block_and_bad_shapes_are_refused() -> None:
    array = np.ones((4, 3), dtype=np.float32)
    blocks = DocumentBlocks.of(array)
    assert len(blocks.blocks) == 1 and blocks.blocks[0] is array
    assert DocumentBlocks.of(blocks) is blocks
    with pytest.raises(ValueError, match="one width"):
        DocumentBlocks.of([np.ones((2, 3)), np.ones((2, 4))])
    with pytest.raises(ValueError, match="2-D"):
        DocumentBlocks.of(np.ones(3))
