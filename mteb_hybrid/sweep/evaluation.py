"""Evaluate one model of a sweep through the ordinary mteb loop, into the sweep's result cache.

Our multi-setting tasks take the sweep's task options (``queries_per_language``, ``languages``);
any other mteb task is used as mteb builds it. Results land where mteb puts them
(``<output>/results/<model>/<revision>/<Task>.json``) with our per-query sidecars beside them.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


def model_meta(model: str) -> Any:
    """mteb ``ModelMeta`` of a model folder (``local/<folder>``, content revision) or a name."""
    import mteb

    from mteb_hybrid.local_models import is_local_model_dir, local_model_meta

    if is_local_model_dir(model):
        return local_model_meta(model)
    return mteb.get_model_meta(model)


def _needs_sidecar(task: Any) -> bool:
    from mteb_hybrid.tasks.base import MultiSettingRetrievalTask

    return isinstance(task, MultiSettingRetrievalTask)


def evaluate_model(
    model: str,
    tasks: list[str],
    *,
    cache_dir: Path,
    task_options: dict[str, Any] | None = None,
    batch_size: int = 32,
) -> dict[str, Any]:
    """Evaluate ``model`` (a folder or an mteb model name) on ``tasks``; return where results are.

    Returns ``{"model": name, "revision": rev, "results": {task: path of <Task>.json}}``. A result
    file whose per-query sidecar is missing (a crash between the two writes) is removed first, so
    mteb's only-missing strategy recomputes it instead of skipping it.
    """
    import mteb

    from mteb_hybrid.evaluation.per_query import per_query_path
    from mteb_hybrid.tasks import build_task

    meta = model_meta(model)
    task_objects = [build_task(name, **(task_options or {})) for name in tasks]
    cache = mteb.ResultCache(cache_dir)
    paths: dict[str, Path] = {}
    for task in task_objects:
        path = Path(
            cache.get_task_result_path(
                task_name=task.metadata.name, model_name=meta.name, model_revision=meta.revision
            )
        )
        paths[task.metadata.name] = path
        if path.is_file() and _needs_sidecar(task) and not per_query_path(path).is_file():
            logger.warning("%s has no per-query sidecar; recomputing it", path)
            path.unlink()
    loaded = meta.load_model()
    mteb.evaluate(
        loaded,
        task_objects,
        cache=cache,
        encode_kwargs={"batch_size": batch_size},  # one encoding bar per pass
        show_progress_bar=False,
    )
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise RuntimeError(f"mteb wrote no result for {', '.join(missing)}")
    return {
        "model": meta.name,
        "revision": meta.revision,
        "results": {name: str(path) for name, path in paths.items()},
    }
