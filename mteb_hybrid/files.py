"""Files written whole or not at all, and JSON read with one-line errors (standard library only)."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


@contextlib.contextmanager
def atomic_write(
    path: str | os.PathLike[str], mode: str = "wb", *, fsync: bool = False
) -> Iterator[IO[Any]]:
    """Write through a temporary file beside ``path``, moved into place only if the block ends
    without an error (``os.replace``): ``path`` is never left half-written.

    Args:
        path: the file to write; its folder is created.
        mode: ``"wb"`` or ``"w"`` (text, UTF-8).
        fsync: flush the data to disk before the file is moved into place.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        encoding = None if "b" in mode else "utf-8"
        with os.fdopen(fd, mode, encoding=encoding) as handle:
            yield handle
            if fsync:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def write_json_atomic(path: str | os.PathLike[str], data: Any) -> None:
    """Write indented JSON atomically and durably (see :func:`atomic_write`)."""
    with atomic_write(path, "w", fsync=True) as handle:
        json.dump(data, handle, indent=2, ensure_ascii=False, default=str)
        handle.write("\n")


def read_json(
    path: str | os.PathLike[str],
    *,
    error: type[Exception] = ValueError,
    fix: str = "is the file complete?",
) -> Any:
    """Parsed JSON (bare ``NaN``/``Infinity`` accepted, as mteb writes them).

    A missing, unreadable or malformed file raises ``error`` with one line naming the file, the
    problem and ``fix``.
    """
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as problem:
        raise error(f"{path}: cannot read JSON ({problem}); {fix}") from None
