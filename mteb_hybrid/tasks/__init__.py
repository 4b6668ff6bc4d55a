"""mteb task classes of mteb-hybrid. Importing this module imports mteb.

``TASKS`` lists the task classes; :func:`mteb_hybrid.register` adds them to mteb's registry.
"""

from __future__ import annotations

from mteb_hybrid.tasks.flores import FloresRetrieval
from mteb_hybrid.tasks.miracl import MIRACLMultilingualRetrieval
from mteb_hybrid.tasks.mlqa_r import MLQARRetrieval
from mteb_hybrid.tasks.xm3600 import XM3600Retrieval
from mteb_hybrid.tasks.xquad_r import XQuADRRetrieval

TASKS = (
    XQuADRRetrieval,
    MLQARRetrieval,
    XM3600Retrieval,
    MIRACLMultilingualRetrieval,
    FloresRetrieval,
)

__all__ = [
    "TASKS",
    "FloresRetrieval",
    "MIRACLMultilingualRetrieval",
    "MLQARRetrieval",
    "XM3600Retrieval",
    "XQuADRRetrieval",
]

# importing the tasks makes them visible to mteb.get_task / mteb run (idempotent)
from mteb_hybrid.registration import register as _register  # noqa: E402

_register()
