"""Exact full-ranking evaluation of many retrieval settings from one embedding table.

Knows nothing of datasets: it takes a ``RetrievalCollection`` (queries, documents, languages,
relevance) and embeddings.
"""
