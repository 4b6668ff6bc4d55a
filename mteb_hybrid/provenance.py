"""Which software produced a result: Python and installed package versions (no heavy imports)."""

from __future__ import annotations

import platform
from collections.abc import Iterable


def package_versions(names: Iterable[str], *, keep_missing: bool) -> dict[str, str | None]:
    """``{"python": ..., <package>: <installed version>}``; a package that is not installed maps
    to None with ``keep_missing``, and is left out otherwise."""
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            if keep_missing:
                out[name] = None
    return out
