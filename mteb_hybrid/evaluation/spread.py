"""Sharing query chunks among the processes of a ``torch.distributed`` run.

When ``torch.distributed`` is initialised with more than one process, chunk ``i`` of ``n`` goes
to rank ``i mod world``; every process then receives every chunk with ``all_gather_object``, in
chunk order. With one process (or none initialised) every chunk is this process's.
"""

from __future__ import annotations

from typing import Any, TypeVar

T = TypeVar("T")


def process_share() -> tuple[int, int]:
    """``(rank, world size)`` of an initialised ``torch.distributed`` group, else ``(0, 1)``."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def my_chunks(n_chunks: int) -> list[int]:
    """The chunk numbers this process scores: ``rank, rank + world, ...`` below ``n_chunks``."""
    rank, world = process_share()
    return list(range(rank, n_chunks, world))


def gather_chunks(mine: list[tuple[int, T]], n_chunks: int) -> list[T]:
    """Every process's ``(chunk number, result)`` pairs, as one list in chunk order.

    Collective under ``torch.distributed`` (every process must call it); local otherwise.
    """
    rank, world = process_share()
    pairs: list[tuple[int, Any]] = list(mine)
    if world > 1:
        import torch.distributed as dist

        gathered: list[Any] = [None] * world
        dist.all_gather_object(gathered, mine)
        pairs = [pair for part in gathered for pair in part]
    by_number = dict(pairs)
    if sorted(by_number) != list(range(n_chunks)):
        raise RuntimeError(
            f"query chunks missing after the gather: got {len(by_number)} of {n_chunks}"
        )
    return [by_number[k] for k in range(n_chunks)]
