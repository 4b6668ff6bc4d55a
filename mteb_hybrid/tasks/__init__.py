"""mteb task classes of mteb-hybrid. Importing this module imports mteb.

``TASKS`` lists the task classes; :func:`mteb_hybrid.register` adds them to mteb's registry.
"""

from __future__ import annotations

from mteb_hybrid.tasks.mlqa_r import MLQARRetrieval
from mteb_hybrid.tasks.xquad_r import XQuADRRetrieval

TASKS = (XQuADRRetrieval, MLQARRetrieval)

__all__ = ["TASKS", "MLQARRetrieval", "XQuADRRetrieval"]
