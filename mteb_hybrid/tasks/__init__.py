"""mteb task classes of mteb-hybrid. Importing this module imports mteb.

``TASKS`` lists the task classes. They are added to mteb's registry when this module or mteb is
imported (:mod:`mteb_hybrid._autoload`), or by :func:`mteb_hybrid.register`.
"""

from __future__ import annotations

from typing import Any

from mteb_hybrid.tasks.base import MultiSettingRetrievalTask
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
    "build_task",
    "task_class",
    "MIRACLMultilingualRetrieval",
    "MLQARRetrieval",
    "XM3600Retrieval",
    "XQuADRRetrieval",
]


def task_class(name: str) -> type[MultiSettingRetrievalTask] | None:
    """One of our task classes by its mteb name, else ``None``."""
    return next((cls for cls in TASKS if cls.metadata.name == name), None)


def build_task(name: str, **options: Any) -> Any:
    """An mteb task object by name, built once.

    Our tasks get ``options`` (``queries_per_language``, ``languages``, ``data_dir``, ...; see
    :meth:`~mteb_hybrid.tasks.base.MultiSettingRetrievalTask.from_shared_options`); any other
    name is mteb's own task, built by ``mteb.get_task`` (``options`` do not reach it).
    """
    ours = task_class(name)
    if ours is not None:
        return ours.from_shared_options(**options)
    import mteb

    return mteb.get_task(name)
