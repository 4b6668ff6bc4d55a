"""Exact ranks of every query's relevant documents, per corpus language and pooled, streamed.

Two levels of streaming: the documents are read as consecutive *windows* of rows
(:class:`~mteb_hybrid.evaluation.blocks.DocumentBlocks`: arrays in memory or ``np.load(...,
mmap_mode="r")`` memmaps of on-disk float16/float32 shards; a window may span several blocks), and
each window, converted to float32, normalised (cosine) and moved to the device once, is scored
against every chunk of queries. For one (query chunk, window) tile the relevant documents'
reference scores are sorted (a handful per query) and every document's score is placed among them
with ``searchsorted``; a ``bincount`` by (query, document language, slot) then counts, for each
relevant document, the documents of each language in the window that score above it. The counts
add up over windows, so one pass serves the monolingual, every cross-lingual and the pooled
ranking, and a relevant document's rank is one plus its count. Memory is bounded by
``max_chunk_bytes`` whatever the corpus size: a window holds at most ``max_chunk_bytes //
(16 * dim)`` rows (at least :data:`MIN_WINDOW_ROWS`), a tile at most ``max_chunk_bytes //
BYTES_PER_CELL`` cells, and no ``n_queries x n_documents`` matrix and no ``n_documents x dim``
matrix is ever held, on the host or on the device. What remains of size ``O(n_documents)`` are
the collection's own per-document lists and arrays (ids, texts, language codes, one int64
each): trec_eval's tie rule compares two ids only where two canonical scores are equal, so no
ordering of the ids is built. ``O(n_queries)`` state is kept: the queries' vectors and, per
relevant document, its reference score, its band edges and its two running counts.

Why the ranks are exact (and do not depend on the memory bound, the window size or the block
layout). A float32 GEMM rounds differently for different shapes, so a fast score ``s`` of a
(query, document) pair may differ from one tiling to the next, but never by more than ``E``, a
rigorous bound on the rounding error of any float32 dot product of length ``n`` (``gamma_n * |q| *
|d|``, whatever the summation order, doubled for headroom: :func:`rounding_bound`). Each pair also
has a *canonical* score ``c``: the float32 vectors' dot product recomputed in float64 by a fixed
elementwise summation tree (:func:`canonical_scores`), a function of the two vectors alone, with
``|s - c| <= E``. The reference score of a relevant document ``r`` is its canonical score
``c_r``, computed once per query (its vector gathered with :meth:`DocumentBlocks.rows`), and its
band is ``[c_r - E, c_r + E]`` (edges rounded outwards to float32). Then, for every document
``d``:

* ``s > c_r + E`` gives ``c_d >= s - E > c_r``: ``d`` outranks ``r`` (counted by the tile);
* ``s < c_r - E`` gives ``c_d < c_r``: it does not;
* inside the band (a handful: ``r`` itself, its duplicates and near-ties) ``d`` is compared on
  ``c_d`` (recomputed from the window's vector): it outranks ``r`` if ``c_d > c_r`` or, on equal
  canonical scores, if its id is larger in string order (trec_eval's, and so pytrec_eval's, tie
  rule); ``r`` does not outrank itself.

Only ``|s - c_d| <= E`` for every fast score is used: not that the reference score comes from the
same GEMM as the others. So the ranks are those of the canonical scores, exactly, at every tiling,
on any device whose float32 matmul meets the bound (TF32 or bf16 matmul precision widens it: see
:func:`rounding_bound`). The canonical scores must see the same float32 vectors as the GEMM: the
cosine normalisation (:func:`normalise_rows`) is elementwise IEEE arithmetic (a squared norm by the
same fixed float64 tree, a square root, a float32 division), so a document normalised in its
window and the same row normalised among the gathered relevant rows are bit for bit equal. A
query's own text (``query_self_doc``) is removed from its ranking.

Several processes: when ``torch.distributed`` is initialised with more than one process, the query
chunks are shared round-robin (chunk ``i`` to rank ``i mod world``), each process streams every
window against its chunks, and the chunks are exchanged with ``all_gather_object``: every process
yields every chunk, identical to a single-process run. Each process scores on the ``device`` it is
given (e.g. ``cuda:<local rank>``); with the NCCL backend, set that device with
``torch.cuda.set_device`` first, as ``all_gather_object`` requires.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from mteb_hybrid.evaluation.blocks import DocumentBlocks
from mteb_hybrid.evaluation.collection import RetrievalCollection
from mteb_hybrid.evaluation.spread import gather_chunks, my_chunks, process_share

# bytes per (query, document) cell of a tile, an upper bound: float32 score + int64 searchsorted
# slot (later the bincount key, in place) + float32 gathered band edge + bool band mask = 17; 28
# leaves headroom.
BYTES_PER_CELL = 28
# bytes per value of a window: the raw rows read (<= 4), their float32 copy on the device (4) and
# the float64 squares of the cosine normalisation (8)
BYTES_PER_WINDOW_VALUE = 16
MIN_WINDOW_ROWS = 64  # below this the per-tile overhead dominates; a constant in the memory bound
DEFAULT_MAX_CHUNK_BYTES = 256 * 1024 * 1024
FLOAT32_UNIT_ROUNDOFF = 2.0**-24
# a bound on the norm of a row normalised by normalise_rows: (1 + u)^2 (1 + n 2^-53)^(1/2) < this
NORMALISED_NORM_MAX = 1.0 + 2.0**-20
_NORM_EPS = 1e-12  # as torch.nn.functional.normalize: a zero row stays zero
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

    def rows(self, selected: np.ndarray) -> RankChunk:
        """The chunk restricted to the rows ``selected`` (a boolean mask or indices)."""
        return RankChunk(
            query_indices=self.query_indices[selected],
            rel_lang=self.rel_lang[selected],
            rank_in_lang=self.rank_in_lang[selected],
            rank_pooled=self.rank_pooled[selected],
        )


def chunk_size_for(n_docs: int, max_chunk_bytes: int = DEFAULT_MAX_CHUNK_BYTES) -> int:
    """Queries per chunk so that a tile against ``n_docs`` documents stays under the bound.

    At least one query per chunk: a bound below one query's row gives one query per chunk (the
    scores are the same at every chunk size). ``max_chunk_bytes`` must be a positive integer.
    """
    _check_chunk_bytes(max_chunk_bytes)
    return max(1, int(max_chunk_bytes // max(1, n_docs * BYTES_PER_CELL)))


def window_rows_for(n_docs: int, dim: int, max_chunk_bytes: int = DEFAULT_MAX_CHUNK_BYTES) -> int:
    """Document rows per window: as many as the bound allows (at least :data:`MIN_WINDOW_ROWS`),
    at most ``n_docs`` (then one window: the in-memory case, scored as one GEMM per chunk)."""
    _check_chunk_bytes(max_chunk_bytes)
    rows = max(MIN_WINDOW_ROWS, int(max_chunk_bytes // max(1, dim * BYTES_PER_WINDOW_VALUE)))
    return max(1, min(n_docs, rows))


def _check_chunk_bytes(max_chunk_bytes: int) -> None:
    if isinstance(max_chunk_bytes, bool) or not isinstance(max_chunk_bytes, int | np.integer):
        raise ValueError(f"max_chunk_bytes must be a positive integer, not {max_chunk_bytes!r}")
    if max_chunk_bytes <= 0:
        raise ValueError(f"max_chunk_bytes must be positive, not {max_chunk_bytes}")


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


def _resolve_band(
    rank_pooled: np.ndarray,
    rank_in_lang: np.ndarray,
    band: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    rel_sorted: np.ndarray,
    valid: np.ndarray,
    canonical: tuple[np.ndarray, np.ndarray],
    doc_ids: list[str],
    doc_langs: np.ndarray,
) -> None:
    """Add, in place, the band documents that outrank a relevant document canonically.

    ``band`` are ``(row, document, first, stop)``: the document's fast score lies in the bands of
    the row's sorted relevant slots ``first <= j < stop``. ``canonical`` are the canonical scores
    of the band pairs and ``(rows, max_relevant)`` of the relevant documents. A band document
    outranks relevant ``j`` if its canonical score is higher or, equal, its id is larger in
    string order (trec_eval; the ids are compared for exact ties only, so no ``O(n_docs)``
    ordering is built); a relevant document does not outrank itself.
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
    tied = np.flatnonzero(beats & (mine == theirs))
    beats &= mine > theirs
    beats[tied] = [doc_ids[d] > doc_ids[r] for d, r in zip(doc[tied], rel[tied], strict=True)]
    np.add.at(rank_pooled, (row[beats], slot[beats]), 1)
    same = beats & (doc_langs[doc] == doc_langs[rel])
    np.add.at(rank_in_lang, (row[same], slot[same]), 1)


def normalise_rows(rows):  # noqa: ANN001, ANN201 - torch.Tensor (n, dim) float32, in place
    """Divide the float32 rows of a tensor by their norms, in place, and return it.

    Bit for bit a function of each row alone, on a given device, whatever tensor holds it: the
    squared norm is summed in float64 (exact squares) by the fixed fold tree of
    :func:`canonical_scores`, then an IEEE square root and a float32 division, all elementwise
    (no library reduction, whose order may depend on the tensor's shape). A zero row stays zero
    (the norm is clamped at ``1e-12``, as in ``torch.nn.functional.normalize``).
    """
    if rows.shape[0] == 0 or rows.shape[1] == 0:
        return rows
    squares = rows.double()
    squares.mul_(squares)
    width = squares.shape[1]
    while width > 1:
        half = (width + 1) // 2
        squares[:, : width - half] += squares[:, half:width]
        width = half
    norms = squares[:, 0].sqrt_().clamp_min_(_NORM_EPS).float()
    del squares
    return rows.div_(norms.unsqueeze(1))


def _to_device(rows: np.ndarray, similarity: str, device, *, own: bool = False):  # noqa: ANN001, ANN202
    """``rows`` as a float32 tensor on ``device``, normalised for cosine. The caller's array is
    never changed, unless ``own`` (a buffer of ours) allows normalising it in place."""
    import torch

    tensor = torch.from_numpy(np.ascontiguousarray(rows)).to(device=device, dtype=torch.float32)
    if not own and tensor.data_ptr() == rows.__array_interface__["data"][0]:
        tensor = tensor.clone()
    return normalise_rows(tensor) if similarity == "cosine" else tensor


def _windows(blocks: DocumentBlocks, rows: int) -> Iterator[tuple[int, np.ndarray]]:
    """``(first row, rows first .. first + rows)`` of the whole matrix, window after window.

    A window may span blocks; it is copied into one reused buffer of the blocks' common dtype, so
    a memmap is read once, slice by slice, and never converted as a whole.
    """
    dtype = np.result_type(*(block.dtype for block in blocks.blocks))
    buffer = np.empty((rows, blocks.dim), dtype=dtype)
    starts = blocks.starts.tolist()
    ends = [start + len(block) for start, block in zip(starts, blocks.blocks, strict=True)]
    first_block = 0
    for first in range(0, blocks.n_docs, rows):
        stop = min(blocks.n_docs, first + rows)
        out = buffer[: stop - first]
        while ends[first_block] <= first:
            first_block += 1
        block = first_block
        while block < len(blocks.blocks) and starts[block] < stop:
            lo, hi = max(first, starts[block]), min(stop, ends[block])
            offset = starts[block]
            out[lo - first : hi - first] = blocks.blocks[block][lo - offset : hi - offset]
            block += 1
        yield first, out


def _document_norm_max(blocks: DocumentBlocks, rows: int, similarity: str, device) -> float:  # noqa: ANN001
    """Largest document norm, for the rounding bound: one streaming pass (none for cosine,
    whose normalised rows are below :data:`NORMALISED_NORM_MAX`)."""
    import torch

    if similarity == "cosine":
        return NORMALISED_NORM_MAX
    largest = 0.0
    for _, window in _windows(blocks, rows):
        tensor = torch.from_numpy(window).to(device=device, dtype=torch.float64)
        largest = max(largest, float(torch.linalg.vector_norm(tensor, dim=1).max()))
    return largest


def _outward(values: np.ndarray, direction: float) -> np.ndarray:
    """float64 ``values`` as float32, rounded towards ``direction`` (+inf or -inf)."""
    rounded = values.astype(np.float32)
    wrong = rounded < values if direction > 0 else rounded > values
    rounded[wrong] = np.nextafter(rounded[wrong], np.float32(direction))
    return rounded


@dataclass
class _ChunkState:
    """One query chunk while the windows stream by: its queries, the sorted reference scores of
    its relevant documents and their band edges, and the running counts."""

    indices: np.ndarray  # (m,) query indices
    queries: object  # torch.Tensor (m, dim) on the device (normalised for cosine)
    queries_host: np.ndarray  # the same float32 rows on the host
    self_doc: np.ndarray  # (m,) global index of the query's own document, or -1
    rel: np.ndarray  # (m, w) relevant documents, sorted by reference score (padding: 0)
    valid: np.ndarray  # (m, w) False on padding
    reference: np.ndarray  # (m, w) canonical scores of the relevant documents (padding: inf)
    lang: object  # torch.Tensor (m, w) language of each relevant document
    upper: object  # torch.Tensor (m, w) float32 band tops, sorted (padding: inf)
    lower: object  # torch.Tensor (m, w) float32 band bottoms, sorted (padding: inf)
    edges: object  # torch.Tensor (m, w + 1) the band bottoms and a final inf
    above_lang: object  # torch.Tensor (m, w) int64: same-language documents surely above
    above_pool: object  # torch.Tensor (m, w) int64: documents surely above
    band_lang: np.ndarray  # (m, w) int64: same-language band documents canonically above
    band_pool: np.ndarray  # (m, w) int64: band documents canonically above

    def result(self) -> RankChunk:
        """The chunk's ranks once every window has been counted."""
        rank_in_lang = (self.above_lang.cpu().numpy() + self.band_lang + 1).astype(np.float64)
        rank_pooled = (self.above_pool.cpu().numpy() + self.band_pool + 1).astype(np.float64)
        rank_in_lang[~self.valid] = math.inf
        rank_pooled[~self.valid] = math.inf
        rel_lang = np.where(self.valid, self.lang.cpu().numpy(), -1)
        return RankChunk(self.indices, rel_lang, rank_in_lang, rank_pooled)


def _chunk_states(
    collection: RetrievalCollection,
    chunks: list[np.ndarray],
    query_embeddings,  # noqa: ANN001 - array-like (n_queries, dim)
    blocks: DocumentBlocks,
    similarity: str,
    device,  # noqa: ANN001
    norm_max: float,
) -> list[_ChunkState]:
    """The state of each chunk: its queries on the device, its relevant documents' canonical
    scores (their rows gathered from the blocks once, normalised as in a window) and band edges."""
    import torch

    if not chunks:
        return []
    indices = np.concatenate(chunks)
    queries = _to_device(np.asarray(query_embeddings)[indices], similarity, device)
    queries_host = queries.cpu().numpy()
    bound = rounding_bound(
        blocks.dim,
        _norms(queries_host),
        norm_max,
        similarity,
        torch.get_float32_matmul_precision(),
    )
    wanted = np.unique(np.concatenate([collection.relevant[i] for i in indices] + [[0]]))
    wanted = wanted.astype(np.int64)
    relevant_rows = _to_device(blocks.rows(wanted), similarity, device).cpu().numpy()
    doc_langs = torch.as_tensor(collection.doc_langs[wanted], device=device)
    states, offset = [], 0
    for idx in chunks:
        m = len(idx)
        rel_lists = [collection.relevant[i] for i in idx]
        width = max(1, max((len(r) for r in rel_lists), default=1))
        rel = np.zeros((m, width), dtype=np.int64)
        valid = np.zeros((m, width), dtype=bool)
        for row, r in enumerate(rel_lists):
            rel[row, : len(r)] = r
            valid[row, : len(r)] = True
        q_host = queries_host[offset : offset + m]
        position = np.searchsorted(wanted, rel)
        reference = canonical_scores(
            np.repeat(q_host, width, axis=0), relevant_rows[position.ravel()], similarity
        ).reshape(m, width)
        self_doc = collection.query_self_doc[idx]
        reference[rel == self_doc[:, None]] = -math.inf  # as if removed: every document above
        reference[~valid] = math.inf
        order = np.argsort(reference, axis=1, kind="stable")
        rel, valid = np.take_along_axis(rel, order, 1), np.take_along_axis(valid, order, 1)
        position = np.take_along_axis(position, order, 1)
        reference = np.take_along_axis(reference, order, 1)
        margin = bound[offset : offset + m, None]
        with np.errstate(invalid="ignore"):  # inf - inf never happens: margins are finite
            upper = np.where(valid, _outward(reference + margin, math.inf), np.float32(math.inf))
            lower = np.where(valid, _outward(reference - margin, -math.inf), np.float32(math.inf))
        lower_t = torch.as_tensor(lower, device=device)
        states.append(
            _ChunkState(
                indices=idx,
                queries=queries[offset : offset + m],
                queries_host=q_host,
                self_doc=self_doc,
                rel=rel,
                valid=valid,
                reference=reference,
                lang=doc_langs[torch.as_tensor(position, device=device)],
                upper=torch.as_tensor(upper, device=device),
                lower=lower_t,
                edges=torch.nn.functional.pad(lower_t, (0, 1), value=math.inf),
                above_lang=torch.zeros((m, width), dtype=torch.int64, device=device),
                above_pool=torch.zeros((m, width), dtype=torch.int64, device=device),
                band_lang=np.zeros((m, width), dtype=np.int64),
                band_pool=np.zeros((m, width), dtype=np.int64),
            )
        )
        offset += m
    return states


def _count_tile(
    state: _ChunkState,
    window,  # noqa: ANN001 - torch.Tensor (n_w, dim), as scored
    window_first: int,
    window_lang,  # noqa: ANN001 - torch.Tensor (n_w,)
    window_sq,  # noqa: ANN001 - torch.Tensor (n_w,) squared norms (euclidean), else None
    collection: RetrievalCollection,
    similarity: str,
) -> None:
    """Add to ``state`` the documents of one window that outrank each relevant document."""
    import torch

    m, n_window = len(state.indices), window.shape[0]
    device = window.device
    scores = _scores(state.queries, window, window_sq, similarity)
    local_self = state.self_doc - window_first
    has_self = np.flatnonzero((local_self >= 0) & (local_self < n_window))
    if has_self.size:
        scores[
            torch.as_tensor(has_self, device=device),
            torch.as_tensor(local_self[has_self], device=device),
        ] = -math.inf
    # slot_hi: relevant documents a document surely outranks (s > c_r + E). Its score lies in a
    # band iff it reaches the bottom of the next band up (the edges are sorted; an inf edge past
    # the last); then in the bands of the slots slot_hi <= j < stop.
    slot_hi = torch.searchsorted(state.upper, scores, right=False)
    in_band = state.edges.gather(1, slot_hi) <= scores
    band_rows, band_docs = torch.nonzero(in_band, as_tuple=True)
    del in_band
    band = None
    if band_rows.numel():
        flat = band_rows * n_window + band_docs
        band_first = slot_hi.view(-1)[flat]
        band_stop = torch.searchsorted(
            state.lower[band_rows], scores.view(-1)[flat].unsqueeze(1), right=True
        ).squeeze(1)
        band = (band_rows, band_docs, band_first, band_stop)
    del scores
    # counts[b, lang, slot]: documents of `lang` that surely outrank exactly `slot` of the sorted
    # relevant documents (the key is built in place of slot_hi)
    width = state.rel.shape[1]
    n_langs, n_slots = len(collection.languages), width + 1
    key = slot_hi
    key += window_lang.unsqueeze(0) * n_slots
    key += torch.arange(m, device=device).unsqueeze(1) * (n_langs * n_slots)
    counts = torch.bincount(key.view(-1), minlength=m * n_langs * n_slots)
    del key, slot_hi
    counts = counts.view(m, n_langs, n_slots)
    above = counts.flip(-1).cumsum(-1).flip(-1)[:, :, 1:]  # documents above the j-th relevant
    state.above_lang += above.gather(1, state.lang.unsqueeze(1)).squeeze(1)
    state.above_pool += above.sum(dim=1)
    if band is not None:
        rows, docs, first, stop = band
        vectors = window[docs].cpu().numpy()
        rows, docs = rows.cpu().numpy(), docs.cpu().numpy()
        _resolve_band(
            state.band_pool,
            state.band_lang,
            (rows, docs + window_first, first.cpu().numpy(), stop.cpu().numpy()),
            state.rel,
            state.valid,
            (canonical_scores(state.queries_host[rows], vectors, similarity), state.reference),
            collection.doc_ids,
            collection.doc_langs,
        )


def iter_relevant_ranks(
    collection: RetrievalCollection,
    query_embeddings,  # noqa: ANN001 - array-like (n_queries, dim)
    doc_embeddings,  # noqa: ANN001 - array-like (n_docs, dim) or DocumentBlocks
    query_indices: np.ndarray | None = None,
    *,
    similarity: str = "cosine",
    device: str | None = None,
    max_chunk_bytes: int = DEFAULT_MAX_CHUNK_BYTES,
    progress: bool = True,
) -> Iterator[RankChunk]:
    """Yield :class:`RankChunk` s covering ``query_indices`` (default: all queries), in order.

    ``doc_embeddings``: one array, or :class:`~mteb_hybrid.evaluation.blocks.DocumentBlocks`
    (e.g. memmaps of on-disk shards), streamed window by window; only the rows of
    ``query_embeddings`` in ``query_indices`` are used. Under ``torch.distributed`` (world size
    above one) every process scores its share of the query chunks on its ``device`` and all
    processes yield all chunks.
    """
    import torch
    from tqdm.auto import tqdm

    _check_similarity(similarity)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    blocks = DocumentBlocks.of(doc_embeddings)
    n_docs = blocks.n_docs
    if n_docs != len(collection.doc_ids):
        raise ValueError(
            f"document embeddings have {n_docs} rows but the collection has "
            f"{len(collection.doc_ids)} documents: give one row per document, in collection order"
        )
    if query_indices is None:
        query_indices = np.arange(len(collection.query_ids))
    query_indices = np.asarray(query_indices, dtype=np.int64)
    rows = window_rows_for(n_docs, blocks.dim, max_chunk_bytes)
    per_chunk = chunk_size_for(rows, max_chunk_bytes)
    chunks = [query_indices[s : s + per_chunk] for s in range(0, len(query_indices), per_chunk)]
    mine = my_chunks(len(chunks))
    with torch.no_grad():
        norm_max = _document_norm_max(blocks, rows, similarity, device) if mine else 0.0
        states = _chunk_states(
            collection,
            [chunks[k] for k in mine],
            query_embeddings,
            blocks,
            similarity,
            device,
            norm_max,
        )
        bar = tqdm(
            total=n_docs if states else 0,
            desc=f"Scoring {sum(len(s.indices) for s in states)} queries (full ranking)",
            unit="doc",
            disable=not progress or not states or process_share()[0] != 0,
        )
        for first, window_rows in _windows(blocks, rows) if states else ():
            window = _to_device(window_rows, similarity, device, own=True)
            window_lang = torch.as_tensor(
                collection.doc_langs[first : first + len(window)], device=device
            )
            window_sq = (window * window).sum(dim=1) if similarity == "euclidean" else None
            for state in states:
                _count_tile(state, window, first, window_lang, window_sq, collection, similarity)
            del window, window_lang, window_sq
            bar.update(len(window_rows))
        bar.close()
        results = [(k, state.result()) for k, state in zip(mine, states, strict=True)]
    yield from gather_chunks(results, len(chunks))
