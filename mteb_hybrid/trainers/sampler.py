"""HybridBatchSampler: mono / cross / multi batches by ratio, in sentence-transformers' style.

Pass it to the trainer as a class or ``functools.partial``::

    args = SentenceTransformerTrainingArguments(
        ...,
        batch_sampler=partial(HybridBatchSampler, ratio="0.5:0.5:0", sampler_seed=args_seed),
    )

on a dataset built by :func:`mteb_hybrid.trainers.pairs.build_pair_dataset`.

How a batch is drawn (one *global* batch per optimizer micro-step, of ``batch_size * world_size``
pairs): its type comes from the ratio schedule (:mod:`mteb_hybrid.trainers.schedule`; ``exact`` by
default: over the run's ``max_steps`` / ``epochs`` the counts of the three types equal the
ratio's largest-remainder allocation, in an order shuffled per epoch; ``independent``: drawn per
step with the ratio's probabilities); a ``mono`` batch draws one language from the language
weights; then distinct ids are drawn, so that no two pairs of a global batch
share an id (parallel versions of one item never become each other's in-batch negatives). Ids
come from per-language queues (``mono``/``multi``) or one queue of ids with two or more languages
(``cross``); each queue is a fresh random permutation per pass, so every id is used about
equally often. ``cross`` picks the query language and then a different passage language per pair
from the id's languages, ``multi`` the language per pair, both by the language weights.

Determinism and distributed training: everything is drawn from ``numpy`` generators seeded with
``(seed, epoch)`` (the exact schedule also from the run's step count), so every process builds
the identical sequence and a resumed run replays it. The global batch is yielded as
``world_size`` consecutive batches; accelerate hands batch ``i`` to rank ``i % world_size``, so
the ranks of one step share the type and language plan and never overlap. ``__len__`` is exactly
the number of batches ``__iter__`` yields (a multiple of ``world_size``), and an epoch has
``(id, language) rows // global batch`` steps (at least one).
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sentence_transformers.base.sampler import DefaultBatchSampler

from mteb_hybrid.runs import BATCH_KINDS, DEFAULT_RATIO, Ratio
from mteb_hybrid.trainers.pairs import GROUP, PASSAGE_LANG, QUERY_LANG
from mteb_hybrid.trainers.schedule import (
    RATIO_SCHEDULES,
    count_kinds,
    epoch_kinds,
    independent_kinds,
    run_steps,
)
from mteb_hybrid.trainers.weights import language_weights

MONO, CROSS, MULTI = range(3)


@dataclass(frozen=True)
class BatchPlan:
    """The type of one global batch and, for ``mono``, its language."""

    kind: str
    language: str | None


def detect_world_size() -> int:
    """Processes in the current torch.distributed job (1 when not distributed)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return int(os.environ.get("WORLD_SIZE", "1"))


class _CyclingQueue:
    """Items in a fresh random order per pass; ``take`` skips items whose key is already used.

    Skipped items are kept and offered first next time, so none is lost at a pass boundary.
    """

    def __init__(self, items: np.ndarray, keys: np.ndarray, rng: np.random.Generator) -> None:
        self.items = items
        self.keys = keys
        self.rng = rng
        self.order = np.empty(0, dtype=np.int64)
        self.cursor = 0
        self.deferred: list[int] = []

    def _next(self) -> int:
        if self.cursor >= len(self.order):
            self.order = self.rng.permutation(len(self.items))
            self.cursor = 0
        position = int(self.order[self.cursor])
        self.cursor += 1
        return position

    def take(self, count: int, used: set[int]) -> list[int]:
        """Up to ``count`` items with unused keys (fewer only when no more exist)."""
        out: list[int] = []
        kept: list[int] = []
        for position in self.deferred:
            key = int(self.keys[position])
            if len(out) < count and key not in used:
                out.append(position)
                used.add(key)
            else:
                kept.append(position)
        self.deferred = kept
        misses = 0
        while len(out) < count and misses <= len(self.items):
            position = self._next()
            key = int(self.keys[position])
            if key in used:
                self.deferred.append(position)
                misses += 1
                continue
            out.append(position)
            used.add(key)
        return [int(self.items[p]) for p in out]


class HybridBatchSampler(DefaultBatchSampler):
    """Batches of one type each (mono / cross / multi) drawn by ``ratio``, ids never repeated.

    Args:
        dataset: a pair dataset from :func:`~mteb_hybrid.trainers.pairs.build_pair_dataset`.
        batch_size: pairs per batch per process.
        drop_last: ignored; every batch is full.
        valid_label_columns: ignored (sentence-transformers passes it).
        generator: ignored; the sampler seeds its own generators from ``(seed, epoch)``.
        seed: the trainer's seed argument; ``sampler_seed`` overrides it.
        ratio: ``"mono:cross:multi"`` or a :class:`~mteb_hybrid.runs.Ratio`.
        language_sampling: ``uniform``, ``proportional`` or ``temperature``.
        temperature: for ``temperature`` sampling.
        sampler_seed: the seed to use whatever the trainer passes (it may pass 0).
        world_size: processes sharing each global batch; default from torch.distributed.
        ratio_schedule: ``exact`` (counts over the run equal the ratio) or ``independent``
            (each step's type drawn on its own); see :mod:`mteb_hybrid.trainers.schedule`.
        max_steps, epochs: the run's length as given to the trainer (``max_steps`` wins); the
            exact schedule allocates the ratio over that many global steps. Neither given: each
            epoch is allocated exactly on its own.
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int,
        drop_last: bool = False,
        valid_label_columns: list[str] | None = None,
        generator: Any = None,
        seed: int = 0,
        *,
        ratio: str | Sequence[float] | Ratio = DEFAULT_RATIO,
        language_sampling: str = "uniform",
        temperature: float = 1.0,
        sampler_seed: int | None = None,
        world_size: int | None = None,
        ratio_schedule: str = "exact",
        max_steps: int | None = None,
        epochs: float | None = None,
    ) -> None:
        super().__init__(
            dataset,
            batch_size=batch_size,
            drop_last=drop_last,
            valid_label_columns=valid_label_columns,
            generator=generator,
            seed=seed,
        )
        self.dataset = dataset
        if ratio_schedule not in RATIO_SCHEDULES:
            raise ValueError(
                f"ratio schedule {ratio_schedule!r}: use one of {', '.join(RATIO_SCHEDULES)}"
            )
        self.ratio_schedule = ratio_schedule
        self.ratio = Ratio.parse(ratio)
        self.seed = int(sampler_seed if sampler_seed is not None else seed)
        self.world_size = int(world_size or detect_world_size())
        self.global_batch_size = self.batch_size * self.world_size
        self._load_structure(dataset)
        self._set_weights(language_sampling, temperature)
        self.steps_per_epoch = max(1, self.num_rows // self.global_batch_size)
        self.total_steps = run_steps(max_steps, epochs, self.steps_per_epoch)

    # ------------------------------------------------------------------------- structure
    def _load_structure(self, dataset: Any) -> None:
        missing = [c for c in (GROUP, QUERY_LANG, PASSAGE_LANG) if c not in dataset.column_names]
        if missing:
            raise ValueError(
                f"HybridBatchSampler needs a pair dataset with columns {GROUP}, {QUERY_LANG}, "
                f"{PASSAGE_LANG} (missing {', '.join(missing)}); build it with "
                "mteb_hybrid.trainers.pairs.build_pair_dataset"
            )
        self.languages: list[str] = list(dataset.features[QUERY_LANG].names)
        columns = dataset.with_format("numpy", columns=[GROUP, QUERY_LANG, PASSAGE_LANG])[:]
        _, group = np.unique(columns[GROUP].astype(np.int64), return_inverse=True)
        query_lang = columns[QUERY_LANG].astype(np.int64)
        passage_lang = columns[PASSAGE_LANG].astype(np.int64)
        n_lang = len(self.languages)
        self.num_groups = int(group.max()) + 1 if len(group) else 0
        self.group = group

        # (group, query language, passage language) -> pair index, by binary search
        key = (group * n_lang + query_lang) * n_lang + passage_lang
        self._key_order = np.argsort(key, kind="stable")
        self._sorted_keys = key[self._key_order]

        same = np.flatnonzero(query_lang == passage_lang)
        self.num_rows = len(same)
        same_lang = passage_lang[same]
        self.mono_pairs = [same[same_lang == x] for x in range(n_lang)]

        # each group's languages, as CSR arrays
        by_group = np.lexsort((same_lang, group[same]))
        self._group_langs = same_lang[by_group]
        counts = np.bincount(group[same], minlength=self.num_groups)
        self._group_offsets = np.concatenate(([0], np.cumsum(counts)))
        self.cross_groups = np.flatnonzero(counts >= 2)

    def _set_weights(self, strategy: str, temperature: float) -> None:
        counts = {lang: len(p) for lang, p in zip(self.languages, self.mono_pairs, strict=True)}
        weights = language_weights(counts, strategy, temperature)
        self.language_sampling = strategy
        self.temperature = temperature
        self.weights = np.array([weights.get(lang, 0.0) for lang in self.languages])
        need = self.global_batch_size
        mono_ok = np.array([len(p) >= need for p in self.mono_pairs])
        self.mono_weights = np.where(mono_ok, self.weights, 0.0)
        if self.ratio.mono > 0:
            if not self.mono_weights.sum():
                raise ValueError(
                    f"mono batches need a language with at least {need} ids (the global batch); "
                    f"the largest has {max(len(p) for p in self.mono_pairs)}: lower the batch size "
                    "or the mono share of the ratio"
                )
            skipped = [lang for lang, ok in zip(self.languages, mono_ok, strict=True) if not ok]
            if skipped:
                warnings.warn(
                    f"languages with fewer than {need} ids never get a mono batch: "
                    f"{', '.join(skipped)}",
                    stacklevel=3,
                )
            self.mono_weights = self.mono_weights / self.mono_weights.sum()
        if self.ratio.cross > 0 and len(self.cross_groups) < need:
            raise ValueError(
                f"cross batches need at least {need} ids with two or more languages; "
                f"there are {len(self.cross_groups)}"
            )
        if self.ratio.multi > 0 and self.num_groups < need:
            raise ValueError(
                f"multi batches need at least {need} distinct ids; there are {self.num_groups}"
            )

    # ------------------------------------------------------------------------- planning
    def _plan_arrays(self, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng([self.seed, epoch, 0])
        if self.ratio_schedule == "independent":
            kinds = independent_kinds(self.ratio, self.steps_per_epoch, rng)
        else:
            kinds = epoch_kinds(
                self.ratio, epoch, self.steps_per_epoch, self.total_steps, self.seed
            )
        weights = self.mono_weights if self.ratio.mono > 0 else self.weights
        langs = rng.choice(len(self.languages), size=self.steps_per_epoch, p=weights)
        return kinds, langs

    def batch_type_counts(self, global_steps: int | None = None) -> dict[str, int]:
        """Global batches of each type in the first ``global_steps`` steps of the run.

        Default: the run's planned length (``max_steps`` / ``epochs``; one epoch if unknown).
        With the exact schedule and the full run these equal the ratio's allocation.
        """
        if global_steps is None:
            global_steps = self.total_steps or self.steps_per_epoch
        counts = np.zeros(3, dtype=np.int64)
        epoch, remaining = 0, int(global_steps)
        while remaining > 0:
            kinds, _ = self._plan_arrays(epoch)
            counts += count_kinds(kinds[:remaining])
            remaining -= len(kinds)
            epoch += 1
        return {kind: int(n) for kind, n in zip(BATCH_KINDS, counts, strict=True)}

    def plan(self, epoch: int | None = None) -> list[BatchPlan]:
        """Type (and mono language) of every global batch of an epoch (default: the current)."""
        kinds, langs = self._plan_arrays(self.epoch if epoch is None else epoch)
        return [
            BatchPlan(BATCH_KINDS[k], self.languages[x] if k == MONO else None)
            for k, x in zip(kinds, langs, strict=True)
        ]

    def plan_digest(self, epoch: int | None = None) -> str:
        """Short hash of :meth:`plan` (cheap to compare across processes)."""
        text = ";".join(f"{p.kind}:{p.language}" for p in self.plan(epoch))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    # ------------------------------------------------------------------------- drawing
    def _lookup(self, groups: np.ndarray, query: np.ndarray, passage: np.ndarray) -> np.ndarray:
        n_lang = len(self.languages)
        keys = (groups * n_lang + query) * n_lang + passage
        where = np.searchsorted(self._sorted_keys, keys)
        return self._key_order[where]

    def _pick(self, rng: np.random.Generator, langs: np.ndarray) -> int:
        weights = self.weights[langs]
        cumulative = np.cumsum(weights)
        return int(langs[np.searchsorted(cumulative, rng.random() * cumulative[-1], "right")])

    def _cross_batch(self, rng: np.random.Generator, queue: _CyclingQueue) -> np.ndarray:
        groups = np.array(queue.take(self.global_batch_size, set()), dtype=np.int64)
        query = np.empty_like(groups)
        passage = np.empty_like(groups)
        for i, g in enumerate(groups):
            langs = self._group_langs[self._group_offsets[g] : self._group_offsets[g + 1]]
            query[i] = self._pick(rng, langs)
            passage[i] = self._pick(rng, langs[langs != query[i]])
        return self._lookup(groups, query, passage)

    def _multi_batch(self, rng: np.random.Generator, queues: list[_CyclingQueue]) -> np.ndarray:
        used: set[int] = set()
        out: list[int] = []
        open_langs = self.weights > 0
        while len(out) < self.global_batch_size:
            weights = np.where(open_langs, self.weights, 0.0)
            if not weights.sum():
                raise RuntimeError("not enough distinct ids for a multi batch")
            counts = rng.multinomial(self.global_batch_size - len(out), weights / weights.sum())
            for x in np.flatnonzero(counts):
                got = queues[x].take(int(counts[x]), used)
                out.extend(got)
                if len(got) < counts[x]:
                    open_langs[x] = False
        order = rng.permutation(len(out))  # mix languages across the ranks' shares
        return np.asarray(out, dtype=np.int64)[order]

    def global_batches(self, epoch: int | None = None) -> Iterator[tuple[BatchPlan, np.ndarray]]:
        """Each global batch of an epoch with its plan: ``batch_size * world_size`` pair indices."""
        epoch = self.epoch if epoch is None else epoch
        kinds, langs = self._plan_arrays(epoch)
        rng = np.random.default_rng([self.seed, epoch, 1])
        queues = [_CyclingQueue(p, self.group[p], rng) for p in self.mono_pairs]
        cross_queue = _CyclingQueue(self.cross_groups, self.cross_groups, rng)
        for kind, lang in zip(kinds, langs, strict=True):
            if kind == MONO:
                pairs = np.asarray(queues[lang].take(self.global_batch_size, set()))
                plan = BatchPlan("mono", self.languages[lang])
            elif kind == CROSS:
                pairs = self._cross_batch(rng, cross_queue)
                plan = BatchPlan("cross", None)
            else:
                pairs = self._multi_batch(rng, queues)
                plan = BatchPlan("multi", None)
            yield plan, pairs

    def __iter__(self) -> Iterator[list[int]]:
        size = self.batch_size
        for _, pairs in self.global_batches(self.epoch):
            for rank in range(self.world_size):
                yield pairs[rank * size : (rank + 1) * size].tolist()

    def __len__(self) -> int:
        return self.steps_per_epoch * self.world_size

    def describe(self) -> dict[str, Any]:
        """Settings and sizes for logs and metadata."""
        return {
            "ratio": {k: v for k, v in zip(BATCH_KINDS, self.ratio, strict=True)},
            "language_sampling": self.language_sampling,
            "temperature": self.temperature,
            "language_weights": dict(
                zip(self.languages, self.weights.round(6).tolist(), strict=True)
            ),
            "ratio_schedule": self.ratio_schedule,
            "total_steps": self.total_steps,
            "seed": self.seed,
            "batch_size": self.batch_size,
            "world_size": self.world_size,
            "steps_per_epoch": self.steps_per_epoch,
            "pairs": len(self.group),
            "ids": self.num_groups,
            "rows": self.num_rows,
        }
