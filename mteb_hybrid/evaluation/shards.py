"""A document-embedding matrix on disk as row shards: resumable, checked, read as memmaps.

A shard store is one folder::

    manifest.json       model, revision, rows and the sha256 of their ordered texts, dtype,
                        shard size, each shard's row range; the width once every shard is done
    shard-00000.npy     rows [0, shard_size) as a plain .npy (float16 by default, or float32)
    shard-00001.npy     ...

A shard file is written to a temporary name beside it and moved into place (``os.replace``), so it
exists only when complete: an encoding killed at any moment is resumed by encoding the missing
shards only. Row ``i`` of the matrix is the ``i``-th text whose digest the manifest holds (the
caller's row order: for the tasks, their documents in collection order). A manifest made for
another model, revision, text list, dtype or shard size is refused with one line naming the folder
and the fix, never mixed. :meth:`ShardStore.document_blocks` hands the complete matrix to the
streamed scorer as :class:`~mteb_hybrid.evaluation.blocks.DocumentBlocks` of read-only memmaps.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mteb_hybrid.env import OneLineError
from mteb_hybrid.evaluation.blocks import DocumentBlocks
from mteb_hybrid.files import atomic_write, read_json, write_json_atomic

MANIFEST = "manifest.json"
FORMAT = "mteb-hybrid shard store 1"
DTYPES = ("float16", "float32")
DEFAULT_DTYPE = "float16"
#: rows per shard: 100,000 x 384 float16 is 73 MiB, a few seconds to a minute of GPU encoding
DEFAULT_SHARD_SIZE = 100_000


class ShardStoreError(OneLineError, RuntimeError):
    """A shard store that cannot be used as asked; the message names the folder or file and
    the fix."""


def texts_digest(texts: Iterable[str]) -> str:
    """Hex sha256 of texts in order (each followed by a separator, so ``["ab"]`` and
    ``["a", "b"]`` differ)."""
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode("utf-8", "surrogatepass"))
        digest.update(b"\x1e")
    return digest.hexdigest()


@dataclass(frozen=True)
class StorePlan:
    """What a store holds: whose embeddings of which rows, how they are stored.

    Two runs may share a store only if every field is equal.
    """

    model: str
    revision: str
    rows: int
    rows_sha256: str
    dtype: str = DEFAULT_DTYPE
    shard_size: int = DEFAULT_SHARD_SIZE

    def __post_init__(self) -> None:
        if self.dtype not in DTYPES:
            raise ShardStoreError(f"shard dtype {self.dtype!r}: use one of {', '.join(DTYPES)}")
        if self.shard_size <= 0 or self.rows < 0:
            raise ShardStoreError(
                f"shard size {self.shard_size} / rows {self.rows}: expected sizes above 0"
            )

    def ranges(self) -> list[tuple[int, int]]:
        """``(start, stop)`` rows of every shard, in order."""
        size = self.shard_size
        return [(start, min(start + size, self.rows)) for start in range(0, self.rows, size)]


def shard_file(index: int) -> str:
    """File name of shard ``index`` inside the store folder."""
    return f"shard-{index:05d}.npy"


class ShardStore:
    """One store folder (see the module docstring); open it with :meth:`open`."""

    def __init__(self, folder: Path, plan: StorePlan) -> None:
        self.folder = folder
        self.plan = plan
        self.ranges = plan.ranges()

    # -- opening ------------------------------------------------------------------------------
    @classmethod
    def open(cls, folder: str | os.PathLike[str], plan: StorePlan) -> ShardStore:
        """The store in ``folder`` for ``plan``: created (its manifest written) when the folder
        holds none, reused when its manifest matches ``plan``, refused when it does not."""
        folder = Path(folder)
        manifest = folder / MANIFEST
        if manifest.is_file():
            have = cls.read_manifest(folder)
            for name, want in asdict(plan).items():
                if have.get(name) != want:
                    raise ShardStoreError(
                        f"{folder}: shard store of {name} {have.get(name)!r}, this run needs "
                        f"{want!r}; use another shard folder, or delete this one to encode again"
                    )
        else:
            write_json_atomic(manifest, cls._manifest(plan, dim=None))
        return cls(folder, plan)

    @classmethod
    def load(cls, folder: str | os.PathLike[str]) -> ShardStore:
        """The existing store in ``folder``, as its manifest describes it."""
        folder = Path(folder)
        have = cls.read_manifest(folder)
        fields = StorePlan.__dataclass_fields__
        try:
            plan = StorePlan(**{name: have[name] for name in fields})
        except (KeyError, TypeError) as error:
            raise ShardStoreError(
                f"{folder / MANIFEST}: field {error} missing or malformed; delete the folder "
                "and encode again"
            ) from None
        return cls(folder, plan)

    @staticmethod
    def read_manifest(folder: Path) -> dict[str, Any]:
        """The manifest of ``folder`` as a dict (one-line error when missing or not ours)."""
        path = folder / MANIFEST
        if not path.is_file():
            raise ShardStoreError(f"{folder}: no {MANIFEST}; encode the collection into it first")
        data = read_json(path, error=ShardStoreError, fix="delete the folder and encode again")
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ShardStoreError(
                f"{path}: not a shard store manifest ({FORMAT}); use another shard folder"
            )
        return data

    @staticmethod
    def _manifest(plan: StorePlan, dim: int | None) -> dict[str, Any]:
        shards = [
            {"file": shard_file(i), "start": start, "stop": stop}
            for i, (start, stop) in enumerate(plan.ranges())
        ]
        return {"format": FORMAT, **asdict(plan), "dim": dim, "shards": shards}

    # -- shards -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.ranges)

    def path(self, index: int) -> Path:
        """Path of shard ``index`` (present only once the shard is complete)."""
        return self.folder / shard_file(index)

    def is_complete(self, index: int) -> bool:
        """Whether shard ``index`` has been written (files appear whole, by ``os.replace``)."""
        return self.path(index).is_file()

    def missing(self) -> list[int]:
        """Shards not written yet, in order."""
        return [i for i in range(len(self)) if not self.is_complete(i)]

    def write(self, index: int, embeddings: np.ndarray) -> Path:
        """Write shard ``index`` (its rows' embeddings, in row order) in the store's dtype,
        through a temporary file moved into place; returns its path."""
        start, stop = self.ranges[index]
        array = np.asarray(embeddings)
        if array.ndim != 2 or len(array) != stop - start:
            raise ShardStoreError(
                f"{self.path(index)}: expected {stop - start} rows (rows {start}..{stop - 1}), "
                f"got an array of shape {array.shape}"
            )
        with np.errstate(over="ignore"):  # checked on the next line
            array = np.ascontiguousarray(array, dtype=self.plan.dtype)
        if not np.isfinite(array).all():
            raise ShardStoreError(
                f"{self.path(index)}: embeddings not finite in {self.plan.dtype}; "
                "use float32 shards (MTEB_HYBRID_SHARD_DTYPE=float32)"
            )
        with atomic_write(self.path(index), "wb", fsync=True) as handle:
            np.save(handle, array, allow_pickle=False)
        return self.path(index)

    def read(self, index: int) -> np.ndarray:
        """Shard ``index`` as a read-only memmap, checked against the manifest."""
        path = self.path(index)
        if not path.is_file():
            raise ShardStoreError(f"{path}: shard not written yet; run the encoding to finish it")
        start, stop = self.ranges[index]
        try:
            array = np.load(path, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError) as error:
            raise ShardStoreError(
                f"{path}: unreadable shard ({error}); delete it and run the encoding again"
            ) from None
        if array.ndim != 2 or len(array) != stop - start or array.dtype != self.plan.dtype:
            raise ShardStoreError(
                f"{path}: shape {array.shape} {array.dtype}, the manifest says "
                f"{stop - start} rows of {self.plan.dtype}; delete it and run the encoding again"
            )
        return array

    def finalize(self) -> int:
        """Check that every shard is written with one width and record the width in the
        manifest; returns it."""
        missing = self.missing()
        if missing:
            raise ShardStoreError(
                f"{self.folder}: {len(missing)} of {len(self)} shards missing "
                f"({shard_file(missing[0])} first); run the encoding again to finish them"
            )
        widths = {self.read(i).shape[1] for i in range(len(self))}
        if len(widths) != 1:
            raise ShardStoreError(
                f"{self.folder}: shards of widths {sorted(widths)}; delete the folder and "
                "encode again"
            )
        dim = widths.pop()
        if self.read_manifest(self.folder).get("dim") != dim:
            write_json_atomic(self.folder / MANIFEST, self._manifest(self.plan, dim))
        return dim

    def document_blocks(self) -> DocumentBlocks:
        """Every shard as a read-only memmap, in row order (the store must be complete)."""
        if not len(self):
            raise ShardStoreError(f"{self.folder}: the store holds no rows")
        self.finalize()
        return DocumentBlocks(tuple(self.read(i) for i in range(len(self))))
