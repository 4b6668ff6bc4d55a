"""Exact ranks of every query's relevant documents, per corpus language and pooled, streamed.

For a chunk of queries the score matrix against all documents is computed once (on the GPU when
one is given). Instead of sorting each row, the relevant documents' scores are sorted (a handful
per query) and every document's score is placed among them with ``searchsorted``; a ``bincount``
by (query, document language, slot) then gives, for each relevant document, how many documents of
each language score strictly higher. One pass serves the monolingual, every cross-lingual and the
pooled ranking. Memory is bounded by ``max_chunk_bytes`` (the score chunk plus its index arrays);
no ``n_queries x n_documents`` matrix is ever held.

Ranks do not depend on the chunk size (the memory bound). A float32 GEMM rounds differently for
different shapes, so a fast score ``s`` may differ from one chunking to the next, but never by more
than ``E``, a rigorous bound on the rounding error of any float32 dot product of length ``n``
(``gamma_n * |q| * |d|``, whatever the summation order, doubled for headroom). Every comparison
that decides a rank is therefore made like this, for a relevant document with fast score ``v``:

* a document with ``s > v + 2E`` scores above it in exact arithmetic, whatever the rounding;
* a document with ``s < v - 2E`` scores below it;
* a document inside the band ``[v - 2E, v + 2E]`` (a handful: the relevant document itself, its
  duplicates and near-ties) is compared on its *canonical* score: the float32 vectors' dot product
  recomputed in float64 by a fixed elementwise summation tree (:func:`canonical_scores`), a
  function of the two vectors alone.

So the ranks are those of the canonical scores, exactly, at every chunk size, on any device whose
float32 matmul meets the bound (TF32 or bf16 matmul precision widens it: see
:func:`rounding_bound`). Ties are broken as trec_eval (and so pytrec_eval) breaks them, on equal
canonical scores: the document with the larger id (string order) ranks first.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from mteb_hybrid.evaluation.collection import RetrievalCollection

# bytes per (query, document) cell, an upper bound: float32 score + int64 searchsorted slot (later
# the bincount key, in place) + float32 gathered band edge + bool band mask = 17; 28 leaves
# headroom.
BYTES_PER_CELL = 28
DEFAULT_MAX_CHUNK_BYTES = 256 * 1024 * 1024
FLOAT32_UNIT_ROUNDOFF = 2.0**-24
# unit roundoff of the matmul inputs under torch.set_float32_matmul_precision
_INPUT_ROUNDOFF = {"highest": 0.0, "high": 2.0**-11, "medium": 2.0**-8}
_CANONICAL_BLOCK = 4096  # pairs per canonical-score block (a 12 MiB float64 buffer at 384 dims)


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
    """Queries per chunk so that the largest intermediate stays under ``max_chunk_bytes``.

    At least one query per chunk: a bound below one query's row gives one query per chunk (the
    scores are the same at every chunk size). ``max_chunk_bytes`` must be a positive integer.
    """
    if isinstance(max_chunk_bytes, bool) or not isinstance(max_chunk_bytes, int | np.integer):
        raise ValueError(f"max_chunk_bytes must be a positive integer, not {max_chunk_bytes!r}")
    if max_chunk_bytes <= 0:
        raise ValueError(f"max_chunk_bytes must be positive, not {max_chunk_bytes}")
    return max(1, int(max_chunk_bytes // max(1, n_docs * BYTES_PER_CELL)))


def chunk_bytes_from_env(value: str, variable: str) -> int:
    """Parse a memory bound in MiB (e.g. ``"256"``, ``"0.5"``) given in ``variable`` to bytes.

    Refuses, with one line naming the variable, anything but a positive finite number.
    """
    try:
        mib = float(value)
    except ValueError:
        mib = math.nan
    if not math.isfinite(mib) or mib <= 0:
        raise ValueError(
            f"{variable}={value!r}: give the scoring memory bound as a positive number of MiB "
            f"(e.g. {variable}=256), or unset it for the default "
            f"{DEFAULT_MAX_CHUNK_BYTES // 2**20}"
        )
    return max(1, int(mib * 1024 * 1024))


def _prepare(embeddings, similarity: str, device):  # noqa: ANN001, ANN202 - torch types
    import torch

    tensor = torch.as_tensor(np.asarray(embeddings, dtype=np.float32), device=device)
    if similarity == "cosine":
        tensor = torch.nn.functional.normalize(tensor, dim=1)
    return tensor


def _check_similarity(similarity: str) -> None:
    if similarity not in {"cosine", "dot", "euclidean"}:
        raise ValueError(f"unknown similarity {similarity!r}: use cosine, dot or euclidean")


def _scores(q, d, d_sq, similarity: str):  # noqa: ANN001, ANN202 - torch types
    """Fast float32 scores. Euclidean is ranked by the negative *squared* distance (the same
    order as the negative distance), ``2 q.d - |d|^2 - |q|^2``: its rounding error stays within
    :func:`rounding_bound`, where a rounded square root would not."""
    _check_similarity(similarity)
    scores = q @ d.T
    if similarity == "euclidean":
        scores.mul_(2).sub_(d_sq.unsqueeze(0)).sub_((q * q).sum(dim=1, keepdim=True))
    return scores


def canonical_scores(q: np.ndarray, d: np.ndarray, similarity: str) -> np.ndarray:
    """Scores of the row pairs ``(q[i], d[i])`` as a function of the two vectors alone.

    The float32 inputs are widened to float64 (their products are then exact) and summed by a
    fixed pairwise tree of elementwise additions (the upper half of the columns folded onto the
    lower half until one is left): no library reduction order, no dependence on how many rows are
    computed together, each addition a correctly rounded IEEE operation. For ``euclidean``, the
    negative squared distance.
    """
    _check_similarity(similarity)
    q = np.asarray(q, dtype=np.float32)
    d = np.asarray(d, dtype=np.float32)
    out = np.empty(len(q), dtype=np.float64)
    dim = q.shape[1]
    if dim == 0:
        out[:] = 0.0
        return out
    # one row per dimension, so that each fold adds contiguous runs; one reused buffer
    buffer = np.empty((dim, min(len(q), _CANONICAL_BLOCK)), dtype=np.float64)
    for start in range(0, len(q), _CANONICAL_BLOCK):
        qb, db = q[start : start + _CANONICAL_BLOCK].T, d[start : start + _CANONICAL_BLOCK].T
        terms = buffer[:, : qb.shape[1]]
        if similarity == "euclidean":
            np.subtract(qb, db, out=terms, dtype=np.float64)  # float64 arithmetic
            np.square(terms, out=terms)
            np.negative(terms, out=terms)
        else:
            np.multiply(qb, db, out=terms, dtype=np.float64)  # exact: 24 + 24 bits < 53
        width = dim
        while width > 1:  # fold the upper half onto the lower one: a fixed tree for each width
            half = (width + 1) // 2
            terms[: width - half] += terms[half:width]
            width = half
        out[start : start + qb.shape[1]] = terms[0]
    return out


def _norms(vectors: np.ndarray) -> np.ndarray:
    """Row norms accumulated in float64 (for the rounding bound, which doubles its margin)."""
    return np.sqrt(np.einsum("ij,ij->i", vectors, vectors, dtype=np.float64))


def rounding_bound(
    dim: int, q_norm: np.ndarray, d_norm_max: float, similarity: str, precision: str = "highest"
) -> np.ndarray:
    """Per query, a bound on ``|fast score - canonical score|`` for every document.

    A float32 dot product of length ``n`` computed in ANY order (blocked, FMA, split-K) is within
    ``gamma_n |q| |d|`` of the exact one, ``gamma_n = n u / (1 - n u)``, ``u = 2^-24`` (Higham,
    Accuracy and Stability of Numerical Algorithms, 3.1). Reduced-precision matmul inputs
    (``torch.set_float32_matmul_precision``: TF32 / bf16) add ``2 u_in + u_in^2``. Euclidean scores
    (``2 q.d - |d|^2 - |q|^2``) stay within ``(gamma_n + 3u)(|q| + |d|)^2``. The canonical score's
    own float64 error (about 1e-14 of the scale) is covered by doubling.
    """
    u = FLOAT32_UNIT_ROUNDOFF
    u_in = _INPUT_ROUNDOFF.get(precision, 2.0**-8)
    gamma = dim * u / (1 - dim * u) + 2 * u_in + u_in * u_in
    q_norm = np.asarray(q_norm, dtype=np.float64)
    if similarity == "euclidean":
        bound = (gamma + 3 * u) * np.square(q_norm + d_norm_max)
    else:
        bound = gamma * q_norm * d_norm_max
    return 2 * bound + np.finfo(np.float32).tiny


def doc_id_ordinals(doc_ids: list[str]) -> np.ndarray:
    """Position of each document id in string order (for trec_eval's tie-breaking)."""
    order = sorted(range(len(doc_ids)), key=doc_ids.__getitem__)
    ordinals = np.empty(len(doc_ids), dtype=np.int64)
    ordinals[order] = np.arange(len(doc_ids))
    return ordinals


def _resolve_band(
    rank_pooled: np.ndarray,
    rank_in_lang: np.ndarray,
    band: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    rel_sorted: np.ndarray,
    valid: np.ndarray,
    canonical: tuple[np.ndarray, np.ndarray],
    ordinals: np.ndarray,
    doc_langs: np.ndarray,
) -> None:
    """Add, in place, the band documents that outrank a relevant document canonically.

    ``band`` are ``(row, document, first, stop)``: the document's fast score lies in the bands of
    the row's sorted relevant slots ``first <= j < stop``. ``canonical`` are the canonical scores
    of the band pairs and ``(rows, max_relevant)`` of the relevant documents. A band document
    outranks relevant ``j`` if its canonical score is higher or, equal, its id is larger
    (trec_eval); a relevant document does not outrank itself.
    """
    rows, docs, first, stop = band
    lengths = stop - first
    total = int(lengths.sum())
    if total == 0:
        return
    pair = np.repeat(np.arange(rows.size), lengths)
    offsets = np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    row, doc, slot = rows[pair], docs[pair], first[pair] + offsets
    rel = rel_sorted[row, slot]
    mine, theirs = canonical[0][pair], canonical[1][row, slot]
    beats = valid[row, slot] & (doc != rel)
    beats &= (mine > theirs) | ((mine == theirs) & (ordinals[doc] > ordinals[rel]))
    np.add.at(rank_pooled, (row[beats], slot[beats]), 1)
    same = beats & (doc_langs[doc] == doc_langs[rel])
    np.add.at(rank_in_lang, (row[same], slot[same]), 1)


@dataclass
class PreparedDocuments:
    """Document-side state of a collection, built once and shared by many calls (languages)."""

    docs: object  # torch.Tensor (n_docs, dim), normalised for cosine
    doc_lang: object  # torch.Tensor (n_docs,)
    ordinals: np.ndarray
    similarity: str
    device: str
    docs_host: np.ndarray  # the same float32 vectors on the host (for canonical scores)
    doc_sq: object  # torch.Tensor (n_docs,) squared norms (euclidean scores), else None
    norm_max: float  # largest document norm (for the rounding bound)


def prepare_documents(
    collection: RetrievalCollection,
    doc_embeddings,  # noqa: ANN001 - array-like (n_docs, dim)
    *,
    similarity: str = "cosine",
    device: str | None = None,
) -> PreparedDocuments:
    """Documents on the device (normalised for cosine), their languages and id ordinals."""
    import torch

    _check_similarity(similarity)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    docs = _prepare(doc_embeddings, similarity, device)
    host = docs.cpu().numpy()
    return PreparedDocuments(
        docs=docs,
        doc_lang=torch.as_tensor(collection.doc_langs, device=device),
        ordinals=doc_id_ordinals(collection.doc_ids),
        similarity=similarity,
        device=device,
        docs_host=host,
        doc_sq=(docs * docs).sum(dim=1) if similarity == "euclidean" else None,
        norm_max=float(_norms(host).max(initial=0.0)),
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
    queries_host = queries_all.cpu().numpy()
    bound = rounding_bound(
        docs.shape[1],
        _norms(queries_host),
        prepared.norm_max,
        similarity,
        torch.get_float32_matmul_precision(),
    )
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
            scores = _scores(
                queries_all[start : start + len(idx)], docs, prepared.doc_sq, similarity
            )
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
            # the band of a relevant score v is [v - 2E, v + 2E] (E: the rounding bound of the
            # row); hi and lo keep the order of the sorted values (padding: inf stays last)
            margin = torch.as_tensor(
                2 * bound[start : start + len(idx)], dtype=scores.dtype, device=device
            ).unsqueeze(1)
            lower = sorted_values - margin
            slot_hi = torch.searchsorted(sorted_values + margin, scores, right=False)
            # slot_hi: relevant scores a document surely beats (s > v + 2E). Its score lies in a
            # band iff it reaches the lower edge of the next band up (the edges are sorted; an
            # inf edge past the last); then in the bands of the slots slot_hi <= j < stop.
            edges = torch.nn.functional.pad(lower, (0, 1), value=math.inf)
            in_band = edges.gather(1, slot_hi) <= scores
            band_rows, band_docs = torch.nonzero(in_band, as_tuple=True)
            del in_band
            flat = band_rows * n_docs + band_docs
            band_first = slot_hi.view(-1)[flat]
            band_stop = torch.searchsorted(
                lower[band_rows], scores.view(-1)[flat].unsqueeze(1), right=True
            ).squeeze(1)
            # counts[b, lang, slot]: documents of `lang` that surely beat exactly `slot` of the
            # sorted relevant scores (the key is built in place of slot_hi).
            n_slots = width + 1
            key = slot_hi
            key += doc_lang.unsqueeze(0) * n_slots
            key += torch.arange(len(idx), device=device).unsqueeze(1) * (n_langs * n_slots)
            counts = torch.bincount(key.flatten(), minlength=len(idx) * n_langs * n_slots)
            counts = counts.view(len(idx), n_langs, n_slots)
            del key, slot_hi, scores
            above = counts.flip(-1).cumsum(-1).flip(-1)[:, :, 1:]  # docs > j-th sorted band
            valid_sorted = valid_t.gather(1, order)
            rel_sorted = rel_t.gather(1, order)
            lang_sorted = doc_lang[rel_sorted]
            above_lang = above.gather(1, lang_sorted.unsqueeze(1)).squeeze(1)
            above_pool = above.sum(dim=1)
            rank_in_lang = (above_lang + 1).double().cpu().numpy()
            rank_pooled = (above_pool + 1).double().cpu().numpy()
            valid_np = valid_sorted.cpu().numpy()
            rel_np = rel_sorted.cpu().numpy()
            b_rows, b_docs = band_rows.cpu().numpy(), band_docs.cpu().numpy()
            q_chunk = queries_host[start : start + len(idx)]
            canonical_band = canonical_scores(
                q_chunk[b_rows], prepared.docs_host[b_docs], similarity
            )
            canonical_rel = canonical_scores(
                np.repeat(q_chunk, width, axis=0), prepared.docs_host[rel_np.ravel()], similarity
            ).reshape(len(idx), width)
            _resolve_band(
                rank_pooled,
                rank_in_lang,
                (b_rows, b_docs, band_first.cpu().numpy(), band_stop.cpu().numpy()),
                rel_np,
                valid_np,
                (canonical_band, canonical_rel),
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
