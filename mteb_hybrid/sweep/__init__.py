"""Ratio sweeps: train a model per (mono:cross:multi ratio, seed), evaluate each through mteb.

- :mod:`.plan`: ratios (list or simplex grid), seeds, the planned runs (ids from
  :mod:`mteb_hybrid.runs`: ``r0.50-0.50-0.00_s1``).
- :mod:`.config`: :class:`~.config.SweepConfig`, built from the command-line values.
- :mod:`.state`: ``run.json`` per run, ``sweep.json``, the lock, the settings fingerprints.
- :mod:`.runner`: the resumable loop (skip, train or resume, evaluate, mark done).
- :mod:`.training`: the one call into the trainer (in process or through torchrun).
- :mod:`.evaluation`: the one call into mteb (results and per-query sidecars in ``OUT/results``).
- :mod:`.logs`: the per-run log file.
- :mod:`.cli`: the ``mteb-hybrid sweep`` command.

Importing this package is cheap; torch, sentence-transformers and mteb load only when a run does.
"""

from __future__ import annotations
