"""Two processes under ``torchrun --nproc_per_node 2`` (gloo, CPU), standing in for multi-GPU.

Both ranks must plan the same batches; at every step the two per-rank batches must together be
exactly the global batch the sampler predicts (one type, one mono language, no shared id); the
global batch types counted from what the ranks trained on equal the ratio (exact schedule).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections import Counter
from pathlib import Path

from mteb_hybrid.trainers.data import load_training_data
from mteb_hybrid.trainers.pairs import build_pair_dataset
from mteb_hybrid.trainers.sampler import HybridBatchSampler
from mteb_hybrid.trainers.tiny_model import build_tiny_model

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "train"
SMALL = FIXTURES / "parallel_small.jsonl"
WORKER = FIXTURES / "ddp_worker.py"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_process_gloo_run_agrees_with_the_plan(tmp_path):
    rows = [json.loads(line) for line in SMALL.read_text().splitlines()]
    model = build_tiny_model(
        tmp_path / "tiny", [r["query"] for r in rows] + [r["positive"] for r in rows],
        vocab_size=300,
    )  # fmt: skip
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "CUDA_VISIBLE_DEVICES": "",
    }
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
        "--master_addr", "127.0.0.1", "--master_port", str(free_port()),
        str(WORKER), str(model), str(SMALL), str(tmp_path),
    ]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]

    # the same plan on both ranks, sized for the two of them
    assert ranks[0]["world_size"] == ranks[1]["world_size"] == 2
    assert ranks[0]["digests"] == ranks[1]["digests"]
    assert ranks[0]["kinds"] == ranks[1]["kinds"]
    assert ranks[0]["digests"][0] != ranks[0]["digests"][1]

    # what the ranks trained on is, step by step, the global batch this process predicts
    pairs = build_pair_dataset(load_training_data(str(SMALL), require_cross=True))
    sampler = HybridBatchSampler(
        pairs, batch_size=4, ratio="0.6:0.4:0", sampler_seed=5, world_size=2, epochs=2
    )
    label = {}
    for row in rows:
        label[row["query"]] = (row["id"], row["lang"])
        label[row["positive"]] = (row["id"], row["lang"])
    expected = [g for epoch in (0, 1) for g in sampler.global_batches(epoch)]
    assert len(ranks[0]["batches"]) == len(ranks[1]["batches"]) == len(expected) == 14
    assert ranks[0]["steps"] == 14
    kinds: Counter[str] = Counter()
    for step, (plan, indices) in enumerate(expected):
        left, right = ranks[0]["batches"][step], ranks[1]["batches"][step]
        predicted = pairs[indices.tolist()]
        assert [q for q, _ in left + right] == predicted["query"]
        assert [p for _, p in left + right] == predicted["positive"]
        decoded = [(label[q], label[p]) for q, p in left + right]
        assert all(qid == pid for (qid, _), (pid, _) in decoded)
        left_ids = {label[q][0] for q, _ in left}
        right_ids = {label[q][0] for q, _ in right}
        assert len(left_ids) == len(right_ids) == 4 and not left_ids & right_ids
        # the type, read from the texts the two ranks trained on
        if all(ql != pl for (_, ql), (_, pl) in decoded):
            kinds["cross"] += 1
            assert plan.kind == "cross"
        else:
            langs = {lang for (_, ql), (_, pl) in decoded for lang in (ql, pl)}
            assert plan.kind == "mono" and langs == {plan.language}
            kinds["mono"] += 1
    # 14 global steps at 0.6:0.4:0: quotas 8.4 and 5.6, largest remainder 8 and 6
    assert kinds == {"mono": 8, "cross": 6}
    assert [p.kind for p, _ in expected] == ranks[0]["kinds"][0] + ranks[0]["kinds"][1]
    meta = json.loads((tmp_path / "model" / "mteb_hybrid_training.json").read_text())
    assert meta["ratio_schedule"] == "exact" and meta["world_size"] == 2
    assert meta["batch_types"] == {"mono": 8, "cross": 6, "multi": 0}
    epoch0, epoch1 = ranks[0]["batches"][:7], ranks[0]["batches"][7:]
    assert epoch0 != epoch1
