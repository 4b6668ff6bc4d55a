"""Helpers shared by the XM3600 and MIRACL tests: an exact fake encoder and a pytrec_eval reference.

Not tests themselves. The encoder gives integer vectors (character trigram counts) with the dot
product as similarity, so every score is an exact integer: the evaluator and the reference see the
same scores bit for bit, ties included (identical captions tie exactly).
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

import numpy as np

FIXTURES = Path(__file__).resolve().parent / "fixtures"
XM3600_FIXTURE = FIXTURES / "xm3600"
MIRACL_FIXTURE = FIXTURES / "miracl"


class HashingEncoder:
    """A deterministic mteb encoder: hashed character-trigram counts, dot-product similarity."""

    def __init__(self, dim: int = 48, name: str = "test/hashing-encoder") -> None:
        from mteb.models.model_meta import ModelMeta, ScoringFunction

        self.dim = dim
        self.mteb_model_meta = ModelMeta.create_empty(
            overwrites={
                "name": name,
                "revision": f"dim{dim}",
                "similarity_fn_name": ScoringFunction.DOT_PRODUCT,
                "embed_dim": dim,
                "framework": ["PyTorch"],
            }
        )
        self.calls: list[tuple[str, int]] = []

    def embed(self, text: str) -> np.ndarray:
        """Counts of hashed character trigrams of `` text ``."""
        vector = np.zeros(self.dim, dtype=np.float32)
        padded = f" {text} "
        for i in range(max(1, len(padded) - 2)):
            vector[zlib.crc32(padded[i : i + 3].encode()) % self.dim] += 1.0
        return vector

    def encode(
        self,
        inputs: Any,
        *,
        task_metadata: Any,
        hf_split: str,
        hf_subset: str,
        prompt_type: Any = None,
        **kwargs: Any,
    ) -> np.ndarray:
        """Embed every text of the dataloader."""
        texts = [text for batch in inputs for text in batch["text"]]
        self.calls.append((str(getattr(prompt_type, "value", prompt_type)), len(texts)))
        return np.stack([self.embed(t) for t in texts]) if texts else np.zeros((0, self.dim))

    def similarity(self, a: Any, b: Any) -> Any:
        """Dot products of every pair."""
        import torch

        return torch.as_tensor(np.asarray(a)) @ torch.as_tensor(np.asarray(b)).T

    def similarity_pairwise(self, a: Any, b: Any) -> Any:
        """Dot product of each pair."""
        import torch

        return (torch.as_tensor(np.asarray(a)) * torch.as_tensor(np.asarray(b))).sum(-1)


def embed_collection(collection: Any, encoder: HashingEncoder) -> tuple[np.ndarray, np.ndarray]:
    """Query and document embeddings of the texts as mteb sends them to a model.

    mteb's corpus loader joins title and text and strips the result; queries go as they are.
    """
    titles = collection.doc_titles or [""] * len(collection.doc_texts)
    docs = [f"{t} {x}".strip() for t, x in zip(titles, collection.doc_texts, strict=True)]
    q = np.stack([encoder.embed(t) for t in collection.query_texts])
    d = np.stack([encoder.embed(t) for t in docs])
    return q, d


def reference_scores(
    collection: Any, q_emb: np.ndarray, d_emb: np.ndarray, query_lang: str, corpus_lang: str
) -> dict[str, Any]:
    """pytrec_eval on full run dicts for one subset, plus mrr@10 and rank distance by hand.

    The run of a query holds every document of the subset's corpus except the query itself;
    qrels hold its relevant documents in that corpus. Returns per-query dicts and means.
    """
    import pytrec_eval

    langs = collection.languages
    q_lang = langs.index(query_lang)
    if corpus_lang == "all":
        corpus = np.arange(len(collection.doc_ids))
    else:
        corpus = np.flatnonzero(collection.doc_langs == langs.index(corpus_lang))
    in_corpus = set(corpus.tolist())
    scores = q_emb.astype(np.float64) @ d_emb.astype(np.float64).T
    run, qrels, ranks_by_query = {}, {}, {}
    for qi in np.flatnonzero(collection.query_langs == q_lang):
        relevant = [int(d) for d in collection.relevant[qi] if int(d) in in_corpus]
        if not relevant:
            continue
        qid = collection.query_ids[qi]
        self_doc = int(collection.query_self_doc[qi])
        docs = [int(d) for d in corpus if int(d) != self_doc]
        run[qid] = {collection.doc_ids[d]: float(scores[qi, d]) for d in docs}
        qrels[qid] = {collection.doc_ids[d]: 1 for d in relevant}
        # trec_eval order: score descending, then document id descending
        ranked = sorted(docs, key=lambda d: (-scores[qi, d], _Reversed(collection.doc_ids[d])))
        position = {d: r + 1 for r, d in enumerate(ranked)}
        ranks_by_query[qid] = {d: position[d] for d in relevant}
    evaluator = pytrec_eval.RelevanceEvaluator(
        qrels, {"map", "ndcg_cut.10", "recall.1", "recall.10", "recall.100"}
    )
    measures = evaluator.evaluate(run)
    per_query: dict[str, dict[str, float]] = {}
    for qid, values in measures.items():
        ranks = ranks_by_query[qid]
        first = min(ranks.values())
        best: dict[int, int] = {}
        for doc, rank in ranks.items():
            lang = int(collection.doc_langs[doc])
            best[lang] = min(best.get(lang, rank), rank)
        per_query[qid] = {
            "map": values["map"],
            "ndcg_at_10": values["ndcg_cut_10"],
            "recall_at_1": values["recall_1"],
            "recall_at_10": values["recall_10"],
            "recall_at_100": values["recall_100"],
            "mrr_at_10": 1.0 / first if first <= 10 else 0.0,
            "rank_distance": float(max(best.values()) - min(best.values())),
        }
    names = ("map", "ndcg_at_10", "recall_at_1", "recall_at_10", "recall_at_100", "mrr_at_10")
    means = {n: float(np.mean([v[n] for v in per_query.values()])) for n in names}
    return {"per_query": per_query, "means": means}


class _Reversed:
    """Sort key inverting string order (trec_eval breaks ties by document id, descending)."""

    def __init__(self, value: str) -> None:
        self.value = value

    def __lt__(self, other: _Reversed) -> bool:
        return self.value > other.value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Reversed) and self.value == other.value


def assert_matches_reference(result: Any, reference: dict[str, Any], pooled: bool) -> None:
    """Our SubsetResult equals the pytrec_eval reference: same queries, per query and means."""
    assert sorted(result.query_ids) == sorted(reference["per_query"])
    assert result.scores["num_queries"] == len(reference["per_query"])
    for name, value in reference["means"].items():
        assert abs(result.scores[name] - value) < 1e-9, (name, result.scores[name], value)
    metrics = ["map", "ndcg_at_10", "recall_at_10"] + (["rank_distance"] if pooled else [])
    for metric in metrics:
        ours = dict(zip(result.query_ids, result.per_query[metric], strict=True))
        for qid, values in reference["per_query"].items():
            assert abs(ours[qid] - values[metric]) < 1e-9, (metric, qid, ours[qid], values[metric])
