"""Ratio sweeps: train a model per (mono:cross:multi ratio, seed), evaluate each through mteb.

- :mod:`.plan`: ratios (list or simplex grid), seeds, run names (``r0.50-0.50-0.00_s1``).
- :mod:`.runner`: the resumable loop (``run.json`` per run, atomic status, lock, skip, resume).
- :mod:`.training`: the one call into the trainer (in process or through torchrun).
- :mod:`.evaluation`: the one call into mteb (results and per-query sidecars in ``OUT/results``).
- :mod:`.cli`: the ``mteb-hybrid sweep`` command.

Importing this package is cheap; torch, sentence-transformers and mteb load only when a run does.
"""

from __future__ import annotations
