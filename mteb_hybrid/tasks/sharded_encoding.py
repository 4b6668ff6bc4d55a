"""Encode a collection's documents into an on-disk shard store, across processes and nodes.

The corpus of a large task (MIRACL's full corpora: 106M passages) never sits in memory as
embeddings: its documents, in collection order, are cut into shards of ``shard_size`` rows
(:mod:`mteb_hybrid.evaluation.shards`), each encoded through mteb's encoder interface
(:func:`mteb_hybrid.tasks.encoding._encode`: prompts, titles and wrappers as mteb sends them, each
distinct text of a shard once) and written whole or not at all. Shards already on disk are
skipped, so a killed run resumes where it stopped.

Under ``torchrun`` (``RANK`` / ``WORLD_SIZE`` in the environment; one node or many through c10d
rendezvous) the processes form a torch.distributed group (gloo on CPU, nccl on GPUs): rank 0 opens
or checks the store and sends every rank the list of missing shards, rank ``r`` encodes the
``r``-th, ``r + world``-th, ... of them (on a fresh store: shard ``i`` goes to rank
``i % world``), and a barrier waits for all. The folder must be one that every node sees. One
process alone (no ``torchrun``) encodes every missing shard itself.

Queries (a few thousand) are encoded in memory as on the in-memory path; a query of a symmetric
model whose text is an untitled document reuses that document's stored row.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

from mteb_hybrid.data.download import cache_dir
from mteb_hybrid.env import env_choice, env_path, env_positive_int
from mteb_hybrid.evaluation.blocks import DocumentBlocks
from mteb_hybrid.evaluation.collection import RetrievalCollection
from mteb_hybrid.evaluation.shards import (
    DEFAULT_DTYPE,
    DEFAULT_SHARD_SIZE,
    DTYPES,
    ShardStore,
    ShardStoreError,
    StorePlan,
    texts_digest,
)
from mteb_hybrid.runs import results_folder_name
from mteb_hybrid.tasks.encoding import (
    _encode,
    document_rows,
    encode_queries,
    iter_document_keys,
    unique_texts,
    untitled_positions,
)

logger = logging.getLogger(__name__)

SHARD_DIR_ENV = "MTEB_HYBRID_SHARD_DIR"
SHARD_THRESHOLD_ENV = "MTEB_HYBRID_SHARD_THRESHOLD"
SHARD_SIZE_ENV = "MTEB_HYBRID_SHARD_SIZE"
SHARD_DTYPE_ENV = "MTEB_HYBRID_SHARD_DTYPE"
#: above this many documents a task encodes into shards on disk instead of memory: 2M x 768
#: float32 is 5.7 GiB of embeddings; MIRACL's full corpora (106M) are far above, every other
#: corpus of the package (XM3600's 261k captions at most) below
DEFAULT_SHARD_THRESHOLD = 2_000_000
#: how long a rank waits at the group's barriers for the slowest one (at most about one shard)
GROUP_TIMEOUT = timedelta(hours=2)


# -- settings ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class ShardSettings:
    """Where and how a task's documents are sharded (from the ``MTEB_HYBRID_SHARD_*`` values)."""

    root: Path
    dtype: str = DEFAULT_DTYPE
    shard_size: int = DEFAULT_SHARD_SIZE


def shard_root() -> Path:
    """The folder under which shard stores live: ``$MTEB_HYBRID_SHARD_DIR``, else
    ``<cache>/shards`` (``$MTEB_HYBRID_CACHE`` or ``~/.cache/mteb_hybrid``)."""
    return env_path(SHARD_DIR_ENV) or cache_dir() / "shards"


def shard_settings(n_documents: int, *, force: bool = False) -> ShardSettings | None:
    """The sharded path's settings when a corpus of ``n_documents`` takes it, else ``None``.

    It is taken when ``n_documents`` exceeds ``$MTEB_HYBRID_SHARD_THRESHOLD`` (default
    :data:`DEFAULT_SHARD_THRESHOLD`), when ``$MTEB_HYBRID_SHARD_DIR`` is set, or when ``force``.
    Shard dtype ``$MTEB_HYBRID_SHARD_DTYPE`` (float16 default, float32), rows per shard
    ``$MTEB_HYBRID_SHARD_SIZE`` (default 100,000).
    """
    threshold = env_positive_int(
        SHARD_THRESHOLD_ENV, unset_means=f"{DEFAULT_SHARD_THRESHOLD:,} documents"
    )
    threshold = DEFAULT_SHARD_THRESHOLD if threshold is None else threshold
    dtype = env_choice(SHARD_DTYPE_ENV, DTYPES) or DEFAULT_DTYPE
    size = env_positive_int(SHARD_SIZE_ENV, unset_means=f"{DEFAULT_SHARD_SIZE:,} rows per shard")
    explicit = env_path(SHARD_DIR_ENV) is not None
    if not (force or explicit or n_documents > threshold):
        return None
    return ShardSettings(root=shard_root(), dtype=dtype, shard_size=size or DEFAULT_SHARD_SIZE)


def store_folder(root: Path, model_name: str, revision: str, task_name: str, data: str) -> Path:
    """``<root>/<model>/<revision>/<task>/<data digest, 16 hex>``: one store per model, task and
    collection content (model names as mteb writes them, ``/`` -> ``__``)."""
    return root / results_folder_name(model_name) / revision / task_name / data[:16]


#: what mteb names a model it knows nothing of: two such models would share one store
_ANONYMOUS = {"", "None", "no_model_name/available", "no_revision_available"}


def model_identity(model: Any) -> tuple[str, str]:
    """``(name, revision)`` of an mteb model from its ``ModelMeta``: what a shard store records
    and where its default folder lies. A model without both is refused (its store could be
    taken for another model's)."""
    meta = getattr(model, "mteb_model_meta", None)
    name = str(getattr(meta, "name", None))
    revision = str(getattr(meta, "revision", None))
    if name in _ANONYMOUS or revision in _ANONYMOUS:
        raise ShardStoreError(
            f"model {name!r} revision {revision!r}: sharded encoding needs a model name and "
            "revision to key its store; load the model with mteb.get_model / a model folder "
            "(mteb-hybrid names it by content), or raise MTEB_HYBRID_SHARD_THRESHOLD"
        )
    return name, revision


# -- process group ----------------------------------------------------------------------------
@dataclass
class Workers:
    """This process's place among the processes encoding together (``world == 1``: alone)."""

    rank: int = 0
    world: int = 1
    _dist: Any = field(default=None, repr=False)

    def from_rank0(self, value: Any) -> Any:
        """``value`` as rank 0 has it, on every rank."""
        if self.world == 1:
            return value
        box = [value]
        self._dist.broadcast_object_list(box, src=0)
        return box[0]

    def barrier(self) -> None:
        """Wait until every rank is here."""
        if self.world > 1:
            self._dist.barrier()


def join_process_group() -> Workers:
    """This process's :class:`Workers`: the torch.distributed group already formed, else the one
    ``torchrun`` describes in the environment (``WORLD_SIZE`` > 1; nccl on the GPU
    ``LOCAL_RANK`` when CUDA is available, else gloo), else this process alone."""
    import torch
    import torch.distributed as dist

    if not dist.is_available():
        return Workers()
    if not dist.is_initialized():
        if int(os.environ.get("WORLD_SIZE") or 1) <= 1:
            return Workers()
        backend = "gloo"
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK") or 0))
            backend = "nccl"
        dist.init_process_group(backend=backend, timeout=GROUP_TIMEOUT)
    return Workers(rank=dist.get_rank(), world=dist.get_world_size(), _dist=dist)


def leave_process_group() -> None:
    """Destroy the torch.distributed group if one was formed."""
    import sys

    if "torch.distributed" in sys.modules:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()


# -- encoding ---------------------------------------------------------------------------------
@dataclass
class ShardOutcome:
    """What one process did: the store, the shards it encoded, those found complete."""

    store: ShardStore
    encoded: list[int]
    complete_before: int
    rank: int = 0
    world: int = 1

    @property
    def summary(self) -> str:
        """One line for logs and the command line."""
        who = f"rank {self.rank}/{self.world}: " if self.world > 1 else ""
        return (
            f"{who}{self.store.folder}: encoded {len(self.encoded)} shards here, "
            f"{self.complete_before} of {len(self.store)} were complete before"
        )


def encode_documents_sharded(
    model: Any,
    collection: RetrievalCollection,
    folder: str | os.PathLike[str],
    *,
    model_name: str,
    revision: str,
    task_metadata: Any,
    hf_split: str,
    hf_subset: str,
    encode_kwargs: dict[str, Any],
    settings: ShardSettings | None = None,
    workers: Workers | None = None,
) -> ShardOutcome:
    """Encode the collection's documents (rows in collection order) into the store in
    ``folder``, the missing shards only, this process's share of them; every rank returns after
    all shards are written.

    Args:
        model_name, revision: recorded in (and checked against) the store's manifest.
        settings: dtype and shard size (default: float16, 100,000 rows).
        workers: the processes sharing the work (default: alone).
    """
    from mteb.types import PromptType
    from tqdm.auto import tqdm

    settings = settings or ShardSettings(root=Path(folder))
    workers = workers or Workers()
    folder = Path(folder)
    plan = StorePlan(
        model=model_name,
        revision=revision,
        rows=len(collection.doc_texts),
        rows_sha256=texts_digest(iter_document_keys(collection)),
        dtype=settings.dtype,
        shard_size=settings.shard_size,
    )
    missing: list[int] | str = []
    if workers.rank == 0:
        try:
            missing = ShardStore.open(folder, plan).missing()
        except ShardStoreError as error:
            missing = str(error)
    missing = workers.from_rank0(missing)
    if isinstance(missing, str):  # every rank stops with rank 0's one line
        raise ShardStoreError(missing)
    store = ShardStore.open(folder, plan)
    mine = missing[workers.rank :: workers.world]
    who = f" (rank {workers.rank}/{workers.world})" if workers.world > 1 else ""
    logger.info(
        "%s: %d of %d shards complete; encoding %d here%s",
        folder,
        len(store) - len(missing),
        len(store),
        len(mine),
        who,
    )
    with_titles = collection.doc_titles is not None
    quiet = {**encode_kwargs, "show_progress_bar": False}
    with tqdm(
        total=sum(store.ranges[i][1] - store.ranges[i][0] for i in mine),
        desc=f"{task_metadata.name}: documents to shards{who}",
        unit="text",
        disable=not encode_kwargs.get("show_progress_bar", True),
    ) as bar:
        for index in mine:
            start, stop = store.ranges[index]
            distinct, inverse = unique_texts(list(iter_document_keys(collection, start, stop)))
            embeddings = _encode(
                model,
                document_rows(distinct, with_titles=with_titles),
                task_metadata=task_metadata,
                prompt_type=PromptType.document,
                hf_split=hf_split,
                hf_subset=hf_subset,
                encode_kwargs=quiet,
                bar=bar,
            )
            bar.update((stop - start) - len(distinct))  # duplicates, encoded once
            store.write(index, embeddings[inverse])
    workers.barrier()
    still = store.missing()
    if still:
        raise ShardStoreError(
            f"{folder}: {len(still)} shards still missing after every rank finished; "
            "run the encoding again"
        )
    return ShardOutcome(
        store=store,
        encoded=list(mine),
        complete_before=len(store) - len(missing),
        rank=workers.rank,
        world=workers.world,
    )


def encode_collection_sharded(
    model: Any,
    collection: RetrievalCollection,
    folder: str | os.PathLike[str],
    *,
    model_name: str,
    revision: str,
    task_metadata: Any,
    hf_split: str,
    hf_subset: str,
    encode_kwargs: dict[str, Any],
    query_indices: np.ndarray | None = None,
    settings: ShardSettings | None = None,
) -> tuple[np.ndarray, DocumentBlocks, dict[str, int]]:
    """:func:`~mteb_hybrid.tasks.encoding.encode_collection` with the documents in a shard
    store: query embeddings in memory, document embeddings as :class:`DocumentBlocks` of the
    store's read-only memmaps (one block per shard), counts of what was encoded."""
    outcome = encode_documents_sharded(
        model,
        collection,
        folder,
        model_name=model_name,
        revision=revision,
        task_metadata=task_metadata,
        hf_split=hf_split,
        hf_subset=hf_subset,
        encode_kwargs=encode_kwargs,
        settings=settings,
    )
    logger.info("%s", outcome.summary)
    blocks = outcome.store.document_blocks()
    if query_indices is None:
        query_indices = np.arange(len(collection.query_ids))
    query_embeddings, query_counts = encode_queries(
        model,
        collection,
        query_indices,
        doc_position=untitled_positions(iter_document_keys(collection)),
        doc_rows=blocks.rows,
        dim=blocks.dim,
        task_metadata=task_metadata,
        hf_split=hf_split,
        hf_subset=hf_subset,
        encode_kwargs=encode_kwargs,
    )
    encoded_rows = sum(
        outcome.store.ranges[i][1] - outcome.store.ranges[i][0] for i in outcome.encoded
    )
    counts = {
        "document_rows_encoded": encoded_rows,
        "document_shards_encoded": len(outcome.encoded),
        "document_shards_reused": outcome.complete_before,
        **query_counts,
    }
    return query_embeddings, blocks, counts


def task_store_folder(task: Any, model: Any, root: Path) -> Path:
    """The store folder of a loaded multi-setting task's documents for ``model`` under ``root``
    (the folder its :meth:`score_subsets` uses)."""
    name, revision = model_identity(model)
    return store_folder(root, name, revision, task.metadata.name, task._data_digest)


def encode_task_documents(
    model: Any,
    task: Any,
    *,
    encode_kwargs: dict[str, Any],
    workers: Workers | None = None,
) -> ShardOutcome:
    """Encode a multi-setting task's documents into its shard store under :func:`shard_root`
    (dtype and shard size from the ``MTEB_HYBRID_SHARD_*`` values), this process's share of the
    missing shards; the store :meth:`score_subsets` then reads without encoding them again."""
    if not task.data_loaded:
        task.load_data()
    task.apply_identity()
    settings = shard_settings(len(task.collection.doc_ids), force=True)
    assert settings is not None
    return encode_documents_sharded(
        model,
        task.collection,
        task_store_folder(task, model, settings.root),
        model_name=model_identity(model)[0],
        revision=model_identity(model)[1],
        task_metadata=task.metadata,
        hf_split=task.eval_splits[0],
        hf_subset=task.hf_subsets[0],
        encode_kwargs={"batch_size": 32, **encode_kwargs},
        settings=settings,
        workers=workers,
    )
