"""mteb-hybrid: multilingual multi-setting retrieval tasks for MTEB and hybrid-ratio training.

Importing this package is cheap: it imports neither mteb nor torch. The tasks are registered with
mteb when mteb or :mod:`mteb_hybrid.tasks` is imported (see :mod:`mteb_hybrid._autoload`), or
explicitly with :func:`mteb_hybrid.register`.
"""

from __future__ import annotations

from mteb_hybrid import _autoload  # noqa: F401 - installs the registration hook (cheap)

__version__ = "0.1.0"

__all__ = ["__version__", "register"]


def register() -> None:
    """Register the mteb-hybrid tasks and local-model support with mteb (idempotent)."""
    from mteb_hybrid.registration import register as _register

    _register()
