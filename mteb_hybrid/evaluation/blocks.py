"""A document-embedding matrix held as consecutive row blocks, never as one array.

The streamed scorer reads documents block by block, so the blocks may be arrays in memory or
``np.load(path, mmap_mode="r")`` memmaps of on-disk shards (float16 or float32): the corpus
embeddings then never sit in memory together. One in-memory array is the one-block case.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class DocumentBlocks:
    """Rows ``0 .. n_docs`` of a document-embedding matrix as consecutive blocks.

    Block ``i`` holds the rows ``starts[i] .. starts[i] + len(blocks[i])``. Every block is 2-D with
    the same width; a block is read (and converted to float32) only when it is used.
    """

    blocks: tuple[np.ndarray, ...]

    def __post_init__(self) -> None:
        if not self.blocks:
            raise ValueError("DocumentBlocks needs at least one block")
        widths = {block.shape[1] if block.ndim == 2 else -1 for block in self.blocks}
        if len(widths) != 1 or -1 in widths:
            raise ValueError(
                f"document blocks must be 2-D with one width, got shapes "
                f"{[tuple(block.shape) for block in self.blocks]}"
            )

    @classmethod
    def of(cls, embeddings: DocumentBlocks | np.ndarray | Sequence[np.ndarray]) -> DocumentBlocks:
        """``embeddings`` as blocks: blocks as they are, one array (or array-like) as one block."""
        if isinstance(embeddings, DocumentBlocks):
            return embeddings
        if isinstance(embeddings, list | tuple) and embeddings and np.ndim(embeddings[0]) == 2:
            return cls(tuple(embeddings))
        array = embeddings if isinstance(embeddings, np.ndarray) else np.asarray(embeddings)
        if array.ndim != 2:
            raise ValueError(f"document embeddings must be 2-D, got shape {array.shape}")
        return cls((array,))

    @property
    def starts(self) -> np.ndarray:
        """First global row of each block."""
        return np.concatenate([[0], np.cumsum([len(block) for block in self.blocks])[:-1]])

    @property
    def n_docs(self) -> int:
        """Rows in all blocks together."""
        return int(sum(len(block) for block in self.blocks))

    @property
    def dim(self) -> int:
        """Width of every row."""
        return int(self.blocks[0].shape[1])

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        """``(first global row, block)`` in row order; blocks are not copied or converted."""
        return iter(zip(self.starts.tolist(), self.blocks, strict=True))

    def rows(self, indices: np.ndarray | Sequence[int]) -> np.ndarray:
        """The float32 rows at global ``indices`` (any order, repeats allowed), read from the
        blocks that hold them only."""
        indices = np.asarray(indices, dtype=np.int64)
        out = np.empty((len(indices), self.dim), dtype=np.float32)
        if indices.size == 0:
            return out
        if indices.min() < 0 or indices.max() >= self.n_docs:
            raise IndexError(f"document rows outside 0..{self.n_docs - 1}")
        starts = self.starts
        block_of = np.searchsorted(starts, indices, side="right") - 1
        for block in np.unique(block_of):
            picked = np.flatnonzero(block_of == block)
            local = indices[picked] - starts[block]
            distinct, inverse = np.unique(local, return_inverse=True)  # sorted: one read each
            out[picked] = np.asarray(self.blocks[block][distinct], dtype=np.float32)[inverse]
        return out
