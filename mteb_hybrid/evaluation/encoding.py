"""Encode every unique text of a collection once, through mteb's encoder interface.

Queries go through the model's query prompt and documents through its document prompt, exactly as
mteb's own retrieval path sends them (``create_dataloader`` + ``model.encode(..., prompt_type=)``),
so mteb's model wrappers, prompts and instructions are respected. Identical texts are encoded once.
"""

from __future__ import annotations

from collections.abc import Sequence
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


def _encode(
    model: Any,
    rows: dict[str, list[str]],
    *,
    task_metadata: Any,
    prompt_type: Any,
    hf_split: str,
    hf_subset: str,
    encode_kwargs: dict[str, Any],
) -> np.ndarray:
    from datasets import Dataset
    from mteb._create_dataloaders import create_dataloader

    dataset = Dataset.from_dict(rows)
    loader = create_dataloader(
        dataset, task_metadata=task_metadata, prompt_type=prompt_type, **encode_kwargs
    )
    embeddings = model.encode(
        loader,
        task_metadata=task_metadata,
        hf_split=hf_split,
        hf_subset=hf_subset,
        prompt_type=prompt_type,
        **encode_kwargs,
    )
    if hasattr(embeddings, "detach"):
        embeddings = embeddings.detach().float().cpu().numpy()
    return np.asarray(embeddings, dtype=np.float32)


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

    titles = collection.doc_titles or [""] * len(collection.doc_texts)
    doc_keys = [
        f"{title}\x00{text}" for title, text in zip(titles, collection.doc_texts, strict=True)
    ]
    distinct_docs, doc_inverse = unique_texts(doc_keys)
    doc_rows: dict[str, list[str]] = {
        "id": [str(i) for i in range(len(distinct_docs))],
        "text": [key.split("\x00", 1)[1] for key in distinct_docs],
    }
    if collection.doc_titles is not None:
        doc_rows["title"] = [key.split("\x00", 1)[0] for key in distinct_docs]
    doc_embeddings = _encode(
        model,
        doc_rows,
        task_metadata=task_metadata,
        prompt_type=PromptType.document,
        hf_split=hf_split,
        hf_subset=hf_subset,
        encode_kwargs=encode_kwargs,
    )[doc_inverse]

    if query_indices is None:
        query_indices = np.arange(len(collection.query_ids))
    wanted = [collection.query_texts[i] for i in query_indices]
    distinct_queries, query_inverse = unique_texts(wanted)
    encoded_queries = _encode(
        model,
        {"id": [str(i) for i in range(len(distinct_queries))], "text": distinct_queries},
        task_metadata=task_metadata,
        prompt_type=PromptType.query,
        hf_split=hf_split,
        hf_subset=hf_subset,
        encode_kwargs=encode_kwargs,
    )
    query_embeddings = np.zeros((len(collection.query_ids), encoded_queries.shape[1]), np.float32)
    query_embeddings[query_indices] = encoded_queries[query_inverse]
    counts = {"documents_encoded": len(distinct_docs), "queries_encoded": len(distinct_queries)}
    return query_embeddings, doc_embeddings, counts
