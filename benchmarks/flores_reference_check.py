"""Check a stock ``mteb run -t FloresRetrieval`` result against an independent implementation.

The reference encodes every sentence with sentence-transformers directly (not through mteb),
ranks each query's full corpus with numpy in float64 (trec_eval's tie rule: larger document id
first; the query itself removed), and computes AP and rank distance by their definitions. It
then compares every subset of the mteb result JSON and prints the largest differences.

    MTEB_HYBRID_DATA=../shared/data mteb run -m "$(mteb-hybrid default-model)" \\
        -t FloresRetrieval --output-folder results
    MTEB_HYBRID_DATA=../shared/data python benchmarks/flores_reference_check.py \\
        --results results --model "$(mteb-hybrid default-model)"
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np


def reference_ranks(scores: np.ndarray, ids: np.ndarray, corpus: np.ndarray, targets) -> dict:
    """1-based rank of each target document among ``corpus`` (trec_eval order)."""
    out = {}
    for t in targets:
        higher = scores[corpus] > scores[t]
        tied = (scores[corpus] == scores[t]) & (ids[corpus] > ids[t])
        out[int(t)] = 1 + int(np.count_nonzero(higher | tied))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", required=True, type=Path, help="mteb --output-folder")
    parser.add_argument("--model", required=True, help="the model folder that was evaluated")
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()

    from sentence_transformers import SentenceTransformer

    from mteb_hybrid.tasks import FloresRetrieval

    files = sorted(args.results.rglob("FloresRetrieval.json"))
    if not files:
        print(f"no FloresRetrieval.json under {args.results}", file=sys.stderr)
        return 2
    result = json.loads(files[0].read_text())
    ours = {entry["hf_subset"]: entry for entry in result["scores"]["test"]}

    task = FloresRetrieval()
    task.load_data()
    col = task.collection
    started = time.perf_counter()
    model = SentenceTransformer(args.model)
    emb = model.encode(col.doc_texts, batch_size=args.batch_size, normalize_embeddings=True)
    emb = emb.astype(np.float64)
    encode_s = time.perf_counter() - started
    ids = np.array(col.doc_ids, dtype=object)
    langs = col.doc_langs
    worst = {"map": 0.0, "rank_distance": 0.0}
    started = time.perf_counter()
    for name in task.hf_subsets:
        subset = task.subset(name)
        q_lang = col.languages.index(subset.query_lang)
        pooled = subset.corpus_lang == "all"
        corpus_mask = (
            np.ones(len(ids), bool) if pooled else langs == col.languages.index(subset.corpus_lang)
        )
        aps, distances = [], []
        for qi in np.flatnonzero(col.query_langs == q_lang):
            relevant = [int(d) for d in col.relevant[qi] if corpus_mask[d]]
            corpus = np.flatnonzero(corpus_mask & (np.arange(len(ids)) != qi))
            scores = emb @ emb[qi]
            ranks = reference_ranks(scores, ids, corpus, relevant)
            ordered = sorted(ranks.values())
            aps.append(np.mean([(k + 1) / r for k, r in enumerate(ordered)]))
            if pooled:
                distances.append(max(ordered) - min(ordered))  # one relevant per language
        reference = {"map": float(np.mean(aps))}
        if pooled:
            reference["rank_distance"] = float(np.mean(distances))
        for metric, value in reference.items():
            worst[metric] = max(worst[metric], abs(ours[name][metric] - value))
    score_s = time.perf_counter() - started
    print(f"subsets compared: {len(task.hf_subsets)} (of {len(ours)} in {files[0].name})")
    print(f"max |diff| map: {worst['map']:.2e}; rank_distance: {worst['rank_distance']:.3f}")
    print(f"reference encoding {encode_s:.0f} s, reference scoring {score_s:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
