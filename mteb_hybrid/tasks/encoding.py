"""Encode every unique text of a collection once, through mteb's encoder interface.

Queries go through the model's query prompt and documents through its document prompt, exactly as
mteb's own retrieval path sends them (``create_dataloader`` + ``model.encode(..., prompt_type=)``),
so mteb's model wrappers, prompts and instructions are respected. Identical texts are encoded once;
where a sentence-transformers model encodes queries and documents the same way (no prompts, no
query/document routing), a query whose text is also a document reuses that document's embedding,
which halves the work on tasks whose queries are their documents (XM3600, FLORES).
This is the tasks' adapter to mteb's encoder interface (it uses mteb's private
``mteb._create_dataloaders``); the evaluator in :mod:`mteb_hybrid.evaluation` only sees arrays.
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
    distinct_doc_embeddings = _encode(
        model,
        doc_rows,
        task_metadata=task_metadata,
        prompt_type=PromptType.document,
        hf_split=hf_split,
        hf_subset=hf_subset,
        encode_kwargs=encode_kwargs,
    )
    doc_embeddings = distinct_doc_embeddings[doc_inverse]

    if query_indices is None:
        query_indices = np.arange(len(collection.query_ids))
    wanted = [collection.query_texts[i] for i in query_indices]
    distinct_queries, query_inverse = unique_texts(wanted)
    reuse: dict[int, int] = {}
    if symmetric_encoding(model):
        # mteb sends a document as "<title> <text>" stripped; a query goes as it is, so only a
        # query equal to what the model saw as a document may reuse that document's embedding
        doc_position = {
            key.split("\x00", 1)[1].strip(): i
            for i, key in enumerate(distinct_docs)
            if key.startswith("\x00")
        }
        reuse = {
            q: doc_position[text]
            for q, text in enumerate(distinct_queries)
            if text == text.strip() and text in doc_position
        }
    to_encode = [q for q in range(len(distinct_queries)) if q not in reuse]
    encoded_queries = np.zeros(
        (len(distinct_queries), distinct_doc_embeddings.shape[1]), dtype=np.float32
    )
    if to_encode:
        encoded_queries[to_encode] = _encode(
            model,
            {"id": [str(q) for q in to_encode], "text": [distinct_queries[q] for q in to_encode]},
            task_metadata=task_metadata,
            prompt_type=PromptType.query,
            hf_split=hf_split,
            hf_subset=hf_subset,
            encode_kwargs=encode_kwargs,
        )
    if reuse:
        encoded_queries[list(reuse)] = distinct_doc_embeddings[list(reuse.values())]
    query_embeddings = np.zeros((len(collection.query_ids), encoded_queries.shape[1]), np.float32)
    query_embeddings[query_indices] = encoded_queries[query_inverse]
    counts = {
        "documents_encoded": len(distinct_docs),
        "queries_encoded": len(to_encode),
        "queries_reused": len(reuse),
    }
    return query_embeddings, doc_embeddings, counts
