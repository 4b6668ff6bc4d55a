"""Exact ranks of every query's relevant documents, per corpus language and pooled, streamed.

For a chunk of queries the score matrix against all documents is computed once (on the GPU when
one is given). Instead of sorting each row, the relevant documents' scores are sorted (a handful
per query) and every document's score is placed among them with ``searchsorted``; a ``bincount``
by (query, document language, slot) then gives, for each relevant document, how many documents of
each language score strictly higher. One pass serves the monolingual, every cross-lingual and the
pooled ranking. Memory is bounded by ``max_chunk_bytes`` (the score chunk plus its index arrays);
no ``n_queries x n_documents`` matrix is ever held.

Ties are broken as trec_eval (and so pytrec_eval) breaks them: among equal scores the document
with the larger id (string order) ranks first. Rows with exact ties are re-ranked exactly.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from mteb_hybrid.evaluation.collection import RetrievalCollection

# bytes per (query, document) cell: float32 score + two int64 searchsorted slots + int64 key
BYTES_PER_CELL = 28
DEFAULT_MAX_CHUNK_BYTES = 256 * 1024 * 1024


@dataclass
class RankChunk:
    """Ranks of the relevant documents of a chunk of queries.

    All arrays are ``(n_queries_in_chunk, max_relevant)``; padding has ``rel_lang == -1`` and
    ranks ``inf``.
    """

    query_indices: np.ndarray
    rel_lang: np.ndarray
    rank_in_lang: np.ndarray
    rank_pooled: np.ndarray


def chunk_size_for(n_docs: int, max_chunk_bytes: int = DEFAULT_MAX_CHUNK_BYTES) -> int:
    """Queries per chunk so that the largest intermediate stays under ``max_chunk_bytes``."""
    return max(1, int(max_chunk_bytes // max(1, n_docs * BYTES_PER_CELL)))


def _prepare(embeddings, similarity: str, device):  # noqa: ANN001, ANN202 - torch types
    import torch

    tensor = torch.as_tensor(np.asarray(embeddings, dtype=np.float32), device=device)
    if similarity == "cosine":
        tensor = torch.nn.functional.normalize(tensor, dim=1)
    return tensor


def _scores(q, d, similarity: str):  # noqa: ANN001, ANN202 - torch types
    import torch

    if similarity in {"cosine", "dot"}:
        return q @ d.T
    if similarity == "euclidean":
        return -torch.cdist(q, d)
    raise ValueError(f"unknown similarity {similarity!r}: use cosine, dot or euclidean")


def doc_id_ordinals(doc_ids: list[str]) -> np.ndarray:
    """Position of each document id in string order (for trec_eval's tie-breaking)."""
    order = sorted(range(len(doc_ids)), key=doc_ids.__getitem__)
    ordinals = np.empty(len(doc_ids), dtype=np.int64)
    ordinals[order] = np.arange(len(doc_ids))
    return ordinals


def iter_relevant_ranks(
    collection: RetrievalCollection,
    query_embeddings,  # noqa: ANN001 - array-like (n_queries, dim)
    doc_embeddings,  # noqa: ANN001 - array-like (n_docs, dim)
    query_indices: np.ndarray | None = None,
    *,
    similarity: str = "cosine",
    device: str | None = None,
    max_chunk_bytes: int = DEFAULT_MAX_CHUNK_BYTES,
    progress: bool = True,
) -> Iterator[RankChunk]:
    """Yield :class:`RankChunk` s covering ``query_indices`` (default: all queries), in order."""
    import torch
    from tqdm.auto import tqdm

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    n_langs = len(collection.languages)
    if query_indices is None:
        query_indices = np.arange(len(collection.query_ids))
    docs = _prepare(doc_embeddings, similarity, device)
    queries_all = _prepare(query_embeddings, similarity, device)
    doc_lang = torch.as_tensor(collection.doc_langs, device=device)
    ordinals = doc_id_ordinals(collection.doc_ids)
    ordinals_t = torch.as_tensor(ordinals, device=device)
    n_docs = docs.shape[0]
    chunk = chunk_size_for(n_docs, max_chunk_bytes)
    bar = tqdm(
        total=len(query_indices), desc="Scoring (full ranking)", unit="query", disable=not progress
    )
    for start in range(0, len(query_indices), chunk):
        idx = np.asarray(query_indices[start : start + chunk])
        rel_lists = [collection.relevant[i] for i in idx]
        width = max(1, max((len(r) for r in rel_lists), default=1))
        rel = np.zeros((len(idx), width), dtype=np.int64)
        valid = np.zeros((len(idx), width), dtype=bool)
        for row, r in enumerate(rel_lists):
            rel[row, : len(r)] = r
            valid[row, : len(r)] = True
        with torch.no_grad():
            scores = _scores(queries_all[torch.as_tensor(idx, device=device)], docs, similarity)
            self_doc = collection.query_self_doc[idx]
            has_self = np.flatnonzero(self_doc >= 0)
            if has_self.size:
                scores[
                    torch.as_tensor(has_self, device=device),
                    torch.as_tensor(self_doc[has_self], device=device),
                ] = -math.inf
            rel_t = torch.as_tensor(rel, device=device)
            valid_t = torch.as_tensor(valid, device=device)
            values = scores.gather(1, rel_t).masked_fill(~valid_t, math.inf)
            sorted_values, order = values.sort(dim=1)
            slot_left = torch.searchsorted(sorted_values, scores, right=False)
            # counts[b, lang, slot]: documents of `lang` whose score exceeds exactly `slot`
            # of the sorted relevant scores.
            n_slots = width + 1
            key = (doc_lang.unsqueeze(0) * n_slots + slot_left) + (
                torch.arange(len(idx), device=device).unsqueeze(1) * (n_langs * n_slots)
            )
            counts = torch.bincount(key.flatten(), minlength=len(idx) * n_langs * n_slots)
            counts = counts.view(len(idx), n_langs, n_slots)
            del key
            above = counts.flip(-1).cumsum(-1).flip(-1)[:, :, 1:]  # docs > j-th sorted value
            # equal-score detection: documents sitting exactly on a relevant score
            slot_right = torch.searchsorted(sorted_values, scores, right=True)
            on_value = (slot_right != slot_left).sum(dim=1)
            del slot_left, slot_right
            n_valid = valid_t.sum(dim=1)
            valid_sorted = valid_t.gather(1, order)
            equal_relevant = (sorted_values[:, 1:] == sorted_values[:, :-1]) & valid_sorted[:, 1:]
            tied = (on_value > n_valid) | equal_relevant.any(dim=1)
            tied_rows = torch.nonzero(tied).flatten().tolist()
            rel_sorted = rel_t.gather(1, order)
            lang_sorted = doc_lang[rel_sorted]
            above_lang = above.gather(1, lang_sorted.unsqueeze(1)).squeeze(1)
            above_pool = above.sum(dim=1)
            rank_in_lang = (above_lang + 1).double()
            rank_pooled = (above_pool + 1).double()
            # exact tie-breaking for rows with equal scores (duplicate texts, tied embeddings)
            for row in tied_rows:
                row_scores = scores[row]
                for j in range(int(n_valid[row])):
                    doc = int(rel_sorted[row, j])
                    value = row_scores[doc]
                    ahead = (row_scores > value) | (
                        (row_scores == value) & (ordinals_t > ordinals_t[doc])
                    )
                    rank_pooled[row, j] = float(ahead.sum()) + 1
                    same_lang = doc_lang == doc_lang[doc]
                    rank_in_lang[row, j] = float((ahead & same_lang).sum()) + 1
            rank_in_lang = rank_in_lang.masked_fill(~valid_sorted, math.inf)
            rank_pooled = rank_pooled.masked_fill(~valid_sorted, math.inf)
            rel_lang = lang_sorted.masked_fill(~valid_sorted, -1)
        yield RankChunk(
            query_indices=idx,
            rel_lang=rel_lang.cpu().numpy(),
            rank_in_lang=rank_in_lang.cpu().numpy(),
            rank_pooled=rank_pooled.cpu().numpy(),
        )
        bar.update(len(idx))
    bar.close()
