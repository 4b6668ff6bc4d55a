"""Post-import hook: registers mteb-hybrid with mteb as soon as mteb or our tasks are imported.

Installed by the ``mteb_hybrid_autoload.pth`` file, so it runs at Python start-up, and by
``import mteb_hybrid``. It only adds a finder to :data:`sys.meta_path` (no import of mteb, torch
or anything heavy); the registration itself happens right after the ``mteb`` package or the
``mteb_hybrid.tasks`` package finishes importing, in the spirit of wrapt's post-import hooks. So
``mteb run`` finds our tasks, and importing them needs no import of the registration (no cycle).
Set ``MTEB_HYBRID_AUTOREGISTER=0`` to turn it off.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # avoids importing typing at interpreter start-up
if TYPE_CHECKING:
    from types import ModuleType
    from typing import Any

DISABLE_ENV = "MTEB_HYBRID_AUTOREGISTER"
_MTEB = "mteb"
_TARGETS = (_MTEB, "mteb_hybrid.tasks")


def _disabled() -> bool:
    return os.environ.get(DISABLE_ENV, "1").strip().lower() in {"0", "false", "no", "off"}


class _RegisteringLoader:
    """Wraps a target's own loader and registers once the target's ``__init__`` has run."""

    def __init__(self, wrapped: Any) -> None:
        self._wrapped = wrapped

    def create_module(self, spec: Any) -> ModuleType | None:
        return self._wrapped.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._wrapped.exec_module(module)
        from mteb_hybrid.registration import register

        register()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._wrapped, name)


class _MtebImportHook:
    """Finds ``mteb`` and ``mteb_hybrid.tasks`` through the other finders; wraps their loaders."""

    def find_spec(self, fullname: str, path: Any = None, target: ModuleType | None = None) -> Any:
        if fullname not in _TARGETS:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = _RegisteringLoader(spec.loader)
                return spec
        return None


# our task names, for the note printed while the hook is off (tests/test_cli_errors.py keeps it
# equal to mteb_hybrid.tasks.TASKS)
TASK_NAMES = (
    "XQuADRRetrieval",
    "MLQARRetrieval",
    "XM3600Retrieval",
    "MIRACLMultilingualRetrieval",
    "FloresRetrieval",
)
_NOT_FOUND_SIGNS = ("No model implementation is available", *TASK_NAMES)


def _note_when_disabled() -> None:
    """While the hook is off, a stock ``mteb`` command that fails on a local model folder or on
    one of our task names ends with a line naming the variable."""
    previous = sys.excepthook

    def excepthook(kind: Any, error: Any, tb: Any) -> None:
        previous(kind, error, tb)
        if any(sign in str(error) for sign in _NOT_FOUND_SIGNS):
            print(
                f"note: {DISABLE_ENV}={os.environ.get(DISABLE_ENV)} is set, so mteb-hybrid's "
                f"tasks ({', '.join(TASK_NAMES)}) and local model folders are not registered "
                f"with mteb; unset {DISABLE_ENV} to turn them back on",
                file=sys.stderr,
            )

    sys.excepthook = excepthook


def install() -> None:
    """Install the hook (idempotent); register at once if mteb is already imported."""
    if _disabled():
        if os.path.basename(sys.argv[0] if sys.argv else "") == "mteb":
            _note_when_disabled()
        return
    if _MTEB in sys.modules:
        from mteb_hybrid.registration import register

        register()
        return
    if not any(isinstance(f, _MtebImportHook) for f in sys.meta_path):
        sys.meta_path.insert(0, _MtebImportHook())


install()
