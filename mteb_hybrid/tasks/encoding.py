"""Encode every unique text of a collection once, through mteb's encoder interface.

Queries go through the model's query prompt and documents through its document prompt, exactly as
mteb's own retrieval path sends them (``create_dataloader`` + ``model.encode(..., prompt_type=)``),
so mteb's model wrappers, prompts and instructions are respected. Identical texts are encoded once;
where a sentence-transformers model encodes queries and documents the same way (no prompts, no
query/document routing), a query whose text is also a document reuses that document's embedding,
which halves the work on tasks whose queries are their documents (XM3600, FLORES).
Each pass shows one tqdm bar (texts/s, ETA), as mteb and sentence-transformers show theirs.
This is the tasks' adapter to mteb's encoder interface (it uses mteb's private
``mteb._create_dataloaders``); the evaluator in :mod:`mteb_hybrid.evaluation` only sees arrays.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from mteb_hybrid.evaluation.collection import RetrievalCollection


def unique_texts(texts: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """Distinct texts in first-seen order and, per input, the index of its distinct text."""
    position: dict[str, int] = {}
    inverse = np.empty(len(texts), dtype=np.int64)
    for i, text in enumerate(texts):
        inverse[i] = position.setdefault(text, len(position))
    return list(position), inverse


@contextmanager
def _datasets_bars_quiet() -> Iterator[None]:
    """Silence the ``datasets`` library's per-map bars inside this block only, restoring the
    caller's setting after it: the chunks below each go through mteb's dataloader, whose ``map``
    calls would otherwise print one bar per chunk under the encoding bar."""
    import datasets

    already = datasets.are_progress_bars_disabled()
    if not already:
        datasets.disable_progress_bars()
    try:
        yield
    finally:
        if not already:
            datasets.enable_progress_bars()


#: texts per ``model.encode`` call, in batches: the bar advances once per chunk
CHUNK_BATCHES = 8


def _encode(
    model: Any,
    rows: dict[str, list[str]],
    *,
    task_metadata: Any,
    prompt_type: Any,
    hf_split: str,
    hf_subset: str,
    encode_kwargs: dict[str, Any],
    description: str = "Encoding",
    bar: Any = None,
) -> np.ndarray:
    """Encode ``rows`` through mteb's dataloader and ``model.encode`` with one progress bar.

    The texts go longest first in chunks of ``CHUNK_BATCHES`` batches (as sentence-transformers
    sorts within one call, so padding stays small), each chunk one ``model.encode`` call with the
    model's own bar off; one tqdm bar over the whole pass counts texts (texts/s, ETA) on stderr.
    ``encode_kwargs["show_progress_bar"] = False`` turns it off, as in mteb. A caller's ``bar``
    (a tqdm bar over several passes) is advanced instead of opening one.
    """
    from datasets import Dataset
    from mteb._create_dataloaders import create_dataloader
    from tqdm.auto import tqdm

    size = len(rows["id"])
    batch_size = int(encode_kwargs.get("batch_size", 32))
    chunk = max(1, batch_size * CHUNK_BATCHES)
    order = sorted(range(size), key=lambda i: -len(rows["text"][i]))
    call_kwargs = {**encode_kwargs, "show_progress_bar": False}
    parts: list[np.ndarray] = []
    own_bar = bar is None
    if own_bar:
        bar = tqdm(
            total=size,
            desc=description,
            unit="text",
            disable=not encode_kwargs.get("show_progress_bar", True),
        )
    try:
        for start in range(0, size, chunk):
            picked = order[start : start + chunk]
            with _datasets_bars_quiet():
                dataset = Dataset.from_dict(
                    {key: [values[i] for i in picked] for key, values in rows.items()}
                )
                loader = create_dataloader(
                    dataset, task_metadata=task_metadata, prompt_type=prompt_type, **call_kwargs
                )
            embeddings = model.encode(
                loader,
                task_metadata=task_metadata,
                hf_split=hf_split,
                hf_subset=hf_subset,
                prompt_type=prompt_type,
                **call_kwargs,
            )
            if hasattr(embeddings, "detach"):
                embeddings = embeddings.detach().float().cpu().numpy()
            parts.append(np.asarray(embeddings, dtype=np.float32))
            bar.update(len(picked))
    finally:
        if own_bar:
            bar.close()
    if not parts:
        return np.zeros((0, 0), dtype=np.float32)
    out = np.empty((size, parts[0].shape[1]), dtype=np.float32)
    out[order] = np.concatenate(parts, axis=0)
    return out


def symmetric_encoding(model: Any) -> bool:
    """Whether ``model`` embeds a text the same as query and as document: an mteb
    sentence-transformers wrapper whose mteb prompts are all empty, equal query/document prompts
    in the model and no ``Router`` module (asymmetric models route queries and documents apart)."""
    from mteb.models.sentence_transformer_wrapper import SentenceTransformerEncoderWrapper

    if not isinstance(model, SentenceTransformerEncoderWrapper):
        return False
    if any(prompt for prompt in (model.model_prompts or {}).values()):
        return False
    st = getattr(model, "model", None)
    prompts = getattr(st, "prompts", None) or {}
    if prompts.get("query", "") != prompts.get("document", "") or getattr(
        st, "default_prompt_name", None
    ):
        return False
    return not any(
        type(module).__name__ == "Router" for module in getattr(st, "_modules", {}).values()
    )


def iter_document_keys(
    collection: RetrievalCollection, start: int = 0, stop: int | None = None
) -> Iterator[str]:
    """Per document ``start .. stop`` (default all), ``"<title>\\x00<text>"``: what identifies
    the text a model sees for it; one at a time, so a shard's keys need no copy of the corpus."""
    titles = collection.doc_titles
    for i in range(start, len(collection.doc_texts) if stop is None else stop):
        yield f"{titles[i] if titles is not None else ''}\x00{collection.doc_texts[i]}"


def document_keys(collection: RetrievalCollection) -> list[str]:
    """Every document's key (:func:`iter_document_keys`)."""
    return list(iter_document_keys(collection))


def document_rows(keys: Sequence[str], *, with_titles: bool) -> dict[str, list[str]]:
    """mteb's corpus rows (``id``, ``text``, ``title`` when the collection has titles) of
    document keys (:func:`document_keys`); ids are positions."""
    rows: dict[str, list[str]] = {
        "id": [str(i) for i in range(len(keys))],
        "text": [key.split("\x00", 1)[1] for key in keys],
    }
    if with_titles:
        rows["title"] = [key.split("\x00", 1)[0] for key in keys]
    return rows


def untitled_positions(keys: Iterable[str]) -> dict[str, int]:
    """Text -> position of the documents without a title, text stripped: the documents a query
    of a symmetric model may reuse (mteb sends a document as ``"<title> <text>"`` stripped, a
    query as it is)."""
    return {key.split("\x00", 1)[1].strip(): i for i, key in enumerate(keys) if key[:1] == "\x00"}


def encode_queries(
    model: Any,
    collection: RetrievalCollection,
    query_indices: np.ndarray,
    *,
    doc_position: dict[str, int],
    doc_rows: Callable[[list[int]], np.ndarray],
    dim: int,
    task_metadata: Any,
    hf_split: str,
    hf_subset: str,
    encode_kwargs: dict[str, Any],
) -> tuple[np.ndarray, dict[str, int]]:
    """Embed the queries at ``query_indices``, each distinct text once; rows of other queries are
    zeros. Where the model encodes queries and documents alike (:func:`symmetric_encoding`), a
    query whose text is the text of ``doc_position`` reuses that document's row (``doc_rows``)."""
    from mteb.types import PromptType

    wanted = [collection.query_texts[i] for i in query_indices]
    distinct_queries, query_inverse = unique_texts(wanted)
    reuse: dict[int, int] = {}
    if symmetric_encoding(model):
        reuse = {
            q: doc_position[text]
            for q, text in enumerate(distinct_queries)
            if text == text.strip() and text in doc_position
        }
    to_encode = [q for q in range(len(distinct_queries)) if q not in reuse]
    encoded_queries = np.zeros((len(distinct_queries), dim), dtype=np.float32)
    if to_encode:
        encoded_queries[to_encode] = _encode(
            model,
            {"id": [str(q) for q in to_encode], "text": [distinct_queries[q] for q in to_encode]},
            task_metadata=task_metadata,
            prompt_type=PromptType.query,
            hf_split=hf_split,
            hf_subset=hf_subset,
            encode_kwargs=encode_kwargs,
            description=f"{task_metadata.name}: queries",
        )
    if reuse:
        encoded_queries[list(reuse)] = doc_rows(list(reuse.values()))
    query_embeddings = np.zeros((len(collection.query_ids), dim), np.float32)
    query_embeddings[query_indices] = encoded_queries[query_inverse]
    return query_embeddings, {"queries_encoded": len(to_encode), "queries_reused": len(reuse)}


def encode_collection(
    model: Any,
    collection: RetrievalCollection,
    *,
    task_metadata: Any,
    hf_split: str,
    hf_subset: str,
    encode_kwargs: dict[str, Any],
    query_indices: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """Embed the collection's queries and documents, each distinct text once.

    Returns query embeddings (one row per query; rows outside ``query_indices`` are zeros), document
    embeddings (one row per document), and counts of texts encoded.
    """
    from mteb.types import PromptType

    distinct_docs, doc_inverse = unique_texts(document_keys(collection))
    distinct_doc_embeddings = _encode(
        model,
        document_rows(distinct_docs, with_titles=collection.doc_titles is not None),
        task_metadata=task_metadata,
        prompt_type=PromptType.document,
        hf_split=hf_split,
        hf_subset=hf_subset,
        encode_kwargs=encode_kwargs,
        description=f"{task_metadata.name}: documents",
    )
    doc_embeddings = distinct_doc_embeddings[doc_inverse]

    if query_indices is None:
        query_indices = np.arange(len(collection.query_ids))
    query_embeddings, query_counts = encode_queries(
        model,
        collection,
        query_indices,
        doc_position=untitled_positions(distinct_docs),
        doc_rows=lambda rows: distinct_doc_embeddings[rows],
        dim=distinct_doc_embeddings.shape[1],
        task_metadata=task_metadata,
        hf_split=hf_split,
        hf_subset=hf_subset,
        encode_kwargs=encode_kwargs,
    )
    counts = {"documents_encoded": len(distinct_docs), **query_counts}
    return query_embeddings, doc_embeddings, counts
