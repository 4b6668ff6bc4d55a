"""Environment switches of mteb-hybrid, read and checked in one place.

Every ``MTEB_HYBRID_*`` value that a task reads is parsed here; a value that does not parse is an
:class:`OptionError` whose one line names the variable, the value and the fix.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

_YES = {"1", "true", "yes", "on"}
_NO = {"0", "false", "no", "off"}


class OneLineError(Exception):
    """Marks our errors whose message is the whole story (one line: what, where, the fix); the
    stock ``mteb`` command ends on them with that line (:mod:`mteb_hybrid.registration`)."""


class OptionError(OneLineError, RuntimeError):
    """A bad option or environment value; the message is one line naming it and the fix.

    Not a ``ValueError`` on purpose: ``mteb.get_tasks`` takes a ``ValueError`` from a task's
    constructor for "no subsets match the language filter" and skips the task silently.
    """


def positive_int(name: str, value: object, *, unset_means: str) -> int:
    """``value`` as a whole number > 0, else an :class:`OptionError` naming ``name``."""
    text = str(value).strip()
    try:
        number = int(text)
    except ValueError:
        number = None
    if number is None or number <= 0:
        raise OptionError(
            f"{name}={value!r}: expected a whole number above 0; leave it unset for {unset_means}"
        )
    return number


def env_positive_int(name: str, *, unset_means: str) -> int | None:
    """The positive whole number in ``$name`` (``None`` when unset or empty)."""
    value = os.environ.get(name, "")
    return positive_int(name, value, unset_means=unset_means) if value.strip() else None


def env_positive_float(name: str, *, unset_means: str) -> float | None:
    """The number > 0 in ``$name`` (``None`` when unset or empty)."""
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not number > 0 or number == float("inf"):
        raise OptionError(
            f"{name}={value!r}: expected a number above 0; leave it unset for {unset_means}"
        )
    return number


def env_flag(name: str) -> bool | None:
    """``$name`` as yes / no (``None`` when unset or empty)."""
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    if value.lower() in _YES:
        return True
    if value.lower() in _NO:
        return False
    raise OptionError(f"{name}={value!r}: use 1 (on) or 0 (off), or leave it unset")


def env_choice(name: str, choices: Sequence[str]) -> str | None:
    """``$name`` if it is one of ``choices`` (``None`` when unset or empty)."""
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    if value not in choices:
        raise OptionError(f"{name}={value!r}: use one of {', '.join(choices)}, or leave it unset")
    return value


def env_path(name: str) -> Path | None:
    """``$name`` as a folder path, ``~`` expanded (``None`` when unset or empty); a path that
    exists and is not a folder is an :class:`OptionError`."""
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    path = Path(value).expanduser()
    if path.exists() and not path.is_dir():
        raise OptionError(f"{name}={value!r}: not a folder; give a folder path, or leave it unset")
    return path
