"""Exact ranks of every query's relevant documents, per corpus language and pooled, streamed.

For a chunk of queries the score matrix against all documents is computed once (on the GPU when
one is given). Instead of sorting each row, the relevant documents' scores are sorted (a handful
per query) and every document's score is placed among them with ``searchsorted``; a ``bincount``
by (query, document language, slot) then gives, for each relevant document, how many documents of
each language score strictly higher. One pass serves the monolingual, every cross-lingual and the
pooled ranking. Memory is bounded by ``max_chunk_bytes`` (the score chunk plus its index arrays);
no ``n_queries x n_documents`` matrix is ever held.

Ties are broken as trec_eval (and so pytrec_eval) breaks them: among equal scores the document
with the larger id (string order) ranks first. The documents scoring exactly a relevant score are
found by the same ``searchsorted`` (left != right), and only groups of equal scores are re-counted,
so exact ties (duplicate texts, float32 collisions among 10^5 documents) cost little.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from mteb_hybrid.evaluation.collection import RetrievalCollection

# bytes per (query, document) cell, an upper bound: float32 score + int64 searchsorted slot (later
# the bincount key, in place) + float32 gathered value + bool tie mask = 17; 28 leaves headroom.
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


def _break_ties(
    rank_pooled: np.ndarray,
    rank_in_lang: np.ndarray,
    on_value: tuple[np.ndarray, np.ndarray, np.ndarray],
    rel_sorted: np.ndarray,
    valid: np.ndarray,
    ordinals: np.ndarray,
    doc_langs: np.ndarray,
) -> None:
    """Add, in place, the documents tied with a relevant document that trec_eval ranks first.

    ``ranks`` count the documents scoring strictly higher; among equal scores trec_eval puts the
    larger document id first. ``on_value`` are ``(row, document, slot)`` for every document whose
    score equals a relevant score of its row, ``slot`` the first index of that score among the
    row's sorted relevant scores, so equal scores share ``(row, slot)``. Only groups of two or
    more documents change anything, and there are few of them.
    """
    rows, docs, slots = on_value
    if rows.size == 0:
        return
    keys = rows.astype(np.int64) * (rel_sorted.shape[1] + 1) + slots
    order = np.argsort(keys, kind="stable")
    unique, first, count = np.unique(keys[order], return_index=True, return_counts=True)
    for key, begin, size in zip(unique[count > 1], first[count > 1], count[count > 1], strict=True):
        row = int(key // (rel_sorted.shape[1] + 1))
        members = docs[order[begin : begin + size]]
        member_ordinals, member_langs = ordinals[members], doc_langs[members]
        for j in np.flatnonzero(valid[row] & np.isin(rel_sorted[row], members)):
            doc = rel_sorted[row, j]
            ahead = member_ordinals > ordinals[doc]
            rank_pooled[row, j] += ahead.sum()
            rank_in_lang[row, j] += (ahead & (member_langs == doc_langs[doc])).sum()


@dataclass
class PreparedDocuments:
    """Document-side state of a collection, built once and shared by many calls (languages)."""

    docs: object  # torch.Tensor (n_docs, dim), normalised for cosine
    doc_lang: object  # torch.Tensor (n_docs,)
    ordinals: np.ndarray
    similarity: str
    device: str


def prepare_documents(
    collection: RetrievalCollection,
    doc_embeddings,  # noqa: ANN001 - array-like (n_docs, dim)
    *,
    similarity: str = "cosine",
    device: str | None = None,
) -> PreparedDocuments:
    """Documents on the device (normalised for cosine), their languages and id ordinals."""
    import torch

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    return PreparedDocuments(
        docs=_prepare(doc_embeddings, similarity, device),
        doc_lang=torch.as_tensor(collection.doc_langs, device=device),
        ordinals=doc_id_ordinals(collection.doc_ids),
        similarity=similarity,
        device=device,
    )


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
    prepared: PreparedDocuments | None = None,
) -> Iterator[RankChunk]:
    """Yield :class:`RankChunk` s covering ``query_indices`` (default: all queries), in order.

    Only the rows of ``query_embeddings`` in ``query_indices`` are moved and normalised.
    ``prepared`` (from :func:`prepare_documents`) skips the document preparation, for callers
    that score several query languages against the same documents.
    """
    import torch
    from tqdm.auto import tqdm

    if prepared is None:
        prepared = prepare_documents(
            collection, doc_embeddings, similarity=similarity, device=device
        )
    device = prepared.device
    n_langs = len(collection.languages)
    if query_indices is None:
        query_indices = np.arange(len(collection.query_ids))
    query_indices = np.asarray(query_indices, dtype=np.int64)
    docs, doc_lang, ordinals = prepared.docs, prepared.doc_lang, prepared.ordinals
    queries_all = _prepare(np.asarray(query_embeddings)[query_indices], similarity, device)
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
            scores = _scores(queries_all[start : start + len(idx)], docs, similarity)
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
            # documents sitting exactly on a relevant score (the first sorted value >= the score
            # equals it): the relevant documents themselves and any exact tie (duplicate texts;
            # float32 collisions, frequent among 10^5 documents). Only these can need
            # trec_eval's tie-breaking by document id.
            on_value = sorted_values.gather(1, slot_left.clamp(max=width - 1)) == scores
            tie_rows, tie_docs = torch.nonzero(on_value, as_tuple=True)
            tie_slots = slot_left[tie_rows, tie_docs]
            del on_value
            # counts[b, lang, slot]: documents of `lang` whose score exceeds exactly `slot`
            # of the sorted relevant scores (the key is built in place of slot_left).
            n_slots = width + 1
            key = slot_left
            key += doc_lang.unsqueeze(0) * n_slots
            key += torch.arange(len(idx), device=device).unsqueeze(1) * (n_langs * n_slots)
            counts = torch.bincount(key.flatten(), minlength=len(idx) * n_langs * n_slots)
            counts = counts.view(len(idx), n_langs, n_slots)
            del key, slot_left
            above = counts.flip(-1).cumsum(-1).flip(-1)[:, :, 1:]  # docs > j-th sorted value
            valid_sorted = valid_t.gather(1, order)
            rel_sorted = rel_t.gather(1, order)
            lang_sorted = doc_lang[rel_sorted]
            above_lang = above.gather(1, lang_sorted.unsqueeze(1)).squeeze(1)
            above_pool = above.sum(dim=1)
            rank_in_lang = (above_lang + 1).double().cpu().numpy()
            rank_pooled = (above_pool + 1).double().cpu().numpy()
            valid_np = valid_sorted.cpu().numpy()
            _break_ties(
                rank_pooled,
                rank_in_lang,
                (tie_rows.cpu().numpy(), tie_docs.cpu().numpy(), tie_slots.cpu().numpy()),
                rel_sorted.cpu().numpy(),
                valid_np,
                ordinals,
                collection.doc_langs,
            )
            rank_in_lang[~valid_np] = math.inf
            rank_pooled[~valid_np] = math.inf
            rel_lang = lang_sorted.masked_fill(~valid_sorted, -1)
        yield RankChunk(
            query_indices=idx,
            rel_lang=rel_lang.cpu().numpy(),
            rank_in_lang=rank_in_lang,
            rank_pooled=rank_pooled,
        )
        bar.update(len(idx))
    bar.close()
