"""Make mteb find mteb-hybrid: tasks in its registry, local model folders, per-query sidecars.

mteb 2.26 has no plugin mechanism, so this patches three private places, all checked by
``tests/test_registration.py`` so a change in mteb fails loudly:

* ``mteb.get_tasks.TASK_LIST`` / ``_TASKS_REGISTRY``: our task classes are added, so
  ``mteb.get_task("XQuADRRetrieval")`` and ``mteb run -t XQuADRRetrieval`` find them;
* ``mteb.models.get_model_meta.get_model_meta``: a path to a model folder yields a
  ``ModelMeta`` named after the folder with a content-derived revision;
* ``mteb.cache.ResultCache.save_to_cache``: after mteb writes ``<Task>.json``, our per-query
  scores are written beside it as ``<Task>.per_query.npz`` (with the JSON's dataset revision);
* ``mteb.evaluate._check_cache``: a cached result of our task made with another dataset revision
  (our tasks' revision is their result identity: options + data digest) is evaluated afresh, never
  reused ("Skipping evaluation") or merged with.

The per-query scores travel from a task's ``evaluate`` to that save through the pending store
here: the tasks hand them to ``MultiSettingRetrievalTask.per_query_sink`` (connected by
:func:`register_tasks`, so the tasks never import this module) and the save pops them.
"""

from __future__ import annotations

import functools
import importlib
import logging
import os
import sys
import warnings
from typing import Any

logger = logging.getLogger(__name__)
_REGISTERED = False

# (task name, model name, model revision) -> {subset: SubsetResult}: filled by the tasks after
# every evaluation, popped when mteb saves that task's result
_PENDING: dict[tuple[str, str, str], dict[str, Any]] = {}


def keep_per_query(key: tuple[str, str, str], results: dict[str, Any]) -> None:
    """Hold a task's per-query results until mteb saves its result (the tasks' sink)."""
    _PENDING[key] = results


def register_tasks(task_classes: tuple[type, ...] | None = None) -> None:
    """Add task classes to mteb's registry (idempotent; refuses to shadow mteb's own names)."""
    get_tasks_module = importlib.import_module("mteb.get_tasks")
    from mteb_hybrid.tasks.base import MultiSettingRetrievalTask

    MultiSettingRetrievalTask.per_query_sink = keep_per_query
    if task_classes is None:
        from mteb_hybrid.tasks import TASKS

        task_classes = TASKS
    registry = get_tasks_module._TASKS_REGISTRY
    added = []
    for cls in task_classes:
        name = cls.metadata.name
        existing = registry.get(name)
        if existing is cls:
            continue
        if existing is not None and not existing.__module__.startswith("mteb_hybrid"):
            raise RuntimeError(
                f"task name {name!r} already belongs to mteb ({existing.__module__})"
            )
        registry[name] = cls
        added.append(cls)
    if added:
        kept = tuple(
            t
            for t in get_tasks_module.TASK_LIST
            if t.metadata.name not in registry or registry[t.metadata.name] is t
        )
        get_tasks_module.TASK_LIST = kept + tuple(c for c in added if c not in kept)


def _patch_model_meta_lookup() -> None:
    module = importlib.import_module("mteb.models.get_model_meta")
    original = module.get_model_meta
    if getattr(original, "_mteb_hybrid", False):
        return

    @functools.wraps(original)
    def get_model_meta(model_name: str, revision: str | None = None, *args: Any, **kwargs: Any):
        from mteb_hybrid.local_models import is_local_model_dir, local_model_meta

        if isinstance(model_name, str) and is_local_model_dir(model_name):
            return local_model_meta(model_name)
        return original(model_name, revision, *args, **kwargs)

    get_model_meta._mteb_hybrid = True  # type: ignore[attr-defined]
    module.get_model_meta = get_model_meta
    import mteb

    mteb.get_model_meta = get_model_meta


def _patch_result_cache() -> None:
    from mteb.cache import ResultCache

    original = ResultCache.save_to_cache
    if getattr(original, "_mteb_hybrid", False):
        return

    @functools.wraps(original)
    def save_to_cache(self: Any, task_result: Any, model_name: Any, model_revision=None, **kw):
        original(self, task_result, model_name, model_revision, **kw)
        from mteb_hybrid.evaluation.per_query import per_query_path, save_per_query

        name = getattr(model_name, "name", model_name)
        revision = getattr(model_name, "revision", model_revision)
        pending = _PENDING.pop((task_result.task_name, str(name), str(revision)), None)
        path = self.get_task_result_path(
            model_name=model_name,
            model_revision=model_revision,
            task_name=task_result.task_name,
        )
        if pending:  # (mteb may save the same result again later, with nothing pending)
            save_per_query(per_query_path(path), pending, revision=task_result.dataset_revision)

    save_to_cache._mteb_hybrid = True  # type: ignore[attr-defined]
    ResultCache.save_to_cache = save_to_cache


def _check_writable(cache: Any, task: Any, meta: Any) -> None:
    """A one-line error, before any encoding, when the results folder cannot be written."""
    import tempfile
    from pathlib import Path

    from mteb_hybrid.env import OptionError

    folder = Path(
        cache.get_task_result_path(
            task_name=task.metadata.name, model_name=meta.name, model_revision=meta.revision
        )
    ).parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as error:
        raise OptionError(
            f"{folder}: the results folder is not writable ({error.strerror}); choose another "
            "--output-folder (cache folder) or fix its permissions"
        ) from None


def _sidecar_revision(cache: Any, task: Any, meta: Any) -> str | None:
    """The revision recorded in the per-query sidecar beside a cached result (None: none)."""
    from mteb_hybrid.evaluation.per_query import per_query_path, sidecar_revision

    path = per_query_path(
        cache.get_task_result_path(
            task_name=task.metadata.name, model_name=meta.name, model_revision=meta.revision
        )
    )
    return sidecar_revision(path) if path.is_file() else None


def _patch_cache_check() -> None:
    """mteb reuses a cached result when it holds every subset, whatever its dataset revision,
    and merges into it when subsets are missing and the revisions agree. Our tasks' revision is
    their result identity (options + data digest), so a cached result of another revision is
    never reused or merged: it is evaluated afresh (or refused where the strategy forbids
    running). So is a result whose per-query sidecar is missing or of another revision."""
    module = importlib.import_module("mteb.evaluate")
    original = module._check_cache
    if getattr(original, "_mteb_hybrid", False):
        return

    @functools.wraps(original)
    def _check_cache(task: Any, meta: Any, cache: Any, overwrite_strategy: Any):
        from mteb_hybrid.tasks.base import MultiSettingRetrievalTask

        if not isinstance(task, MultiSettingRetrievalTask):
            return original(task, meta, cache, overwrite_strategy)
        if cache and overwrite_strategy != module.OverwriteStrategy.ONLY_CACHE:
            _check_writable(cache, task, meta)
        revision = task.apply_identity()
        existing = None
        if cache and overwrite_strategy != module.OverwriteStrategy.ALWAYS:
            existing = cache.load_task_result(task.metadata.name, meta)
        if existing is None:
            return original(task, meta, cache, overwrite_strategy)
        if existing.dataset_revision != revision:
            reason = (
                "was made with other options or data (dataset revision "
                f"{existing.dataset_revision}, now {revision})"
            )
        elif _sidecar_revision(cache, task, meta) != revision:
            reason = "has no per-query file of the same revision beside it"
        else:
            return original(task, meta, cache, overwrite_strategy)
        if overwrite_strategy in {
            module.OverwriteStrategy.NEVER,
            module.OverwriteStrategy.ONLY_CACHE,
        }:
            raise ValueError(
                f"{task.metadata.name}: the cached result {reason}; rerun with "
                "overwrite_strategy 'only-missing' or 'always'"
            )
        logger.info("%s: the cached result %s; evaluating afresh", task.metadata.name, reason)
        return None, dict.fromkeys(task.eval_splits, list(task.hf_subsets))

    _check_cache._mteb_hybrid = True  # type: ignore[attr-defined]
    module._check_cache = _check_cache


TRACEBACK_ENV = "MTEB_HYBRID_TRACEBACK"


def _our_error(error: BaseException | None) -> BaseException | None:
    """The first of our one-line errors in an exception's chain (cause or context), if any."""
    from mteb_hybrid.env import OneLineError

    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OneLineError):
            return error
        error = error.__cause__ or error.__context__
    return None


def install_cli_excepthook() -> None:
    """Under the stock ``mteb`` command, end on our data and option errors with their one line
    (not mteb's chained traceback); every other error keeps its traceback. Idempotent;
    ``MTEB_HYBRID_TRACEBACK=1`` keeps the full traceback."""
    import os

    previous = sys.excepthook
    if getattr(previous, "_mteb_hybrid", False):
        return

    def excepthook(kind: type[BaseException], error: BaseException, tb: Any) -> None:
        ours = _our_error(error)
        if ours is None or os.environ.get(TRACEBACK_ENV, "").strip() in {"1", "true", "yes"}:
            previous(kind, error, tb)
            return
        print(f"mteb run: {ours}", file=sys.stderr)

    excepthook._mteb_hybrid = True  # type: ignore[attr-defined]
    sys.excepthook = excepthook


def register() -> None:
    """Register everything with mteb (idempotent); a failure warns, never breaks ``import mteb``.

    When mteb is being imported *by* ``mteb_hybrid.tasks`` (a user imported our tasks first), the
    task classes are not defined yet: the start-up hook (:mod:`mteb_hybrid._autoload`) calls this
    again once ``mteb_hybrid.tasks`` is imported.
    """
    global _REGISTERED
    try:
        if not _REGISTERED:
            _patch_model_meta_lookup()
            _patch_result_cache()
            _patch_cache_check()
            if os.path.basename(sys.argv[0] if sys.argv else "") == "mteb":
                install_cli_excepthook()
            _REGISTERED = True
        tasks_module = sys.modules.get("mteb_hybrid.tasks")
        if tasks_module is not None and not hasattr(tasks_module, "TASKS"):
            return
        register_tasks()
    except Exception as error:  # noqa: BLE001 - never break the user's `import mteb`
        warnings.warn(f"mteb-hybrid could not register with mteb: {error}", stacklevel=2)
