"""Which queries a subsampled evaluation scores (``queries_per_language``).

Parallel collections (``RetrievalCollection.query_items`` set: XQuAD-R, MLQA-R, XM3600, FLORES)
are subsampled *in parallel*: every language scores the same items wherever it has them, so
per-language figures, the worst language and the spread across languages compare like with like,
and the parallel-item bootstrap keeps its pairing. Other collections (MIRACL) draw each language
independently.

Parallel method (coordinated sampling with permanent random numbers): every item gets a key,
a hash of ``(seed, item id)``; each language takes its queries in increasing key order (ties by
query position) and keeps the first ``n`` (all when it has fewer). So

- every language gets ``min(n, its queries)`` queries, as with the independent draw;
- each language's sample is still a uniform random sample of its own items (the keys restricted
  to any set of items are in uniformly random order), so no language's figure is biased;
- two languages share every item that both have among their samples' key range: on XQuAD-R
  (every question in all 11 languages) all languages hold the same ``n`` items; on MLQA-R (a
  question in 2 to 4 of 7 languages; English has all) a language lacking an early item takes
  the next one in key order, and the overlap of any two languages is as large as their item sets
  allow without giving up equal sizes or randomness within a language;
- an item's key depends only on the seed and its id, so restricting the task to some languages
  (``languages=["en", "de"]``) keeps the same items for them;
- with several queries per item and language (XM3600: about two captions per image) a language
  takes whole items in key order until ``n`` queries; only the last item may be cut.

The sample is recorded in the scores as ``queries_per_language``, ``subsample_seed`` and
``subsample_parallel`` (1.0 parallel, 0.0 independent; mteb scores are numbers).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np


def item_keys(items: Sequence[str], seed: int) -> np.ndarray:
    """A permanent random number per item: 64 bits of ``blake2b(seed, item)``."""
    unique, inverse = np.unique(np.asarray(items, dtype=object).astype(str), return_inverse=True)
    prefix = f"{int(seed)}\x00".encode()
    keys = np.array(
        [
            int.from_bytes(hashlib.blake2b(prefix + item.encode(), digest_size=8).digest(), "big")
            for item in unique.tolist()
        ],
        dtype=np.uint64,
    )
    return keys[inverse.reshape(-1)]


def parallel_subsample(
    query_langs: np.ndarray, query_items: Sequence[str], n_languages: int, n: int, seed: int
) -> np.ndarray:
    """Query indices: per language (in language order) the ``n`` queries of lowest item key."""
    query_langs = np.asarray(query_langs, dtype=np.int64)
    keys = item_keys(query_items, seed)
    picked = []
    for lang in range(n_languages):
        indices = np.flatnonzero(query_langs == lang)
        order = np.lexsort((indices, keys[indices]))
        picked.append(np.sort(indices[order[:n]]))
    return np.concatenate(picked) if picked else np.array([], dtype=np.int64)


def independent_subsample(
    query_langs: np.ndarray, n_languages: int, n: int, seed: int
) -> np.ndarray:
    """Query indices: per language (in language order) ``n`` drawn on their own, seeded."""
    query_langs = np.asarray(query_langs, dtype=np.int64)
    rng = np.random.default_rng(seed)
    picked = []
    for lang in range(n_languages):
        indices = np.flatnonzero(query_langs == lang)
        if len(indices) > n:
            indices = np.sort(rng.choice(indices, n, replace=False))
        picked.append(indices)
    return np.concatenate(picked) if picked else np.array([], dtype=np.int64)
