"""Content digest of training-data specs: notices a file changed at the same path.

A spec names a local file or folder directly (``data.jsonl``, ``/data/xquad-r``) or after a
scheme and before options (``lareqa:/data/xquad-r?langs=en,de``). Specs that name no local path
(``xquad-r``: a checksummed copy; ``mmarco:?...``: streamed) contribute their text only.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from pathlib import Path

_SCHEME = re.compile(r"^[a-z][a-z0-9_-]*:(?!//)")


def local_path(spec: str) -> Path | None:
    """The local file or folder a spec reads, if it names one that exists."""
    for candidate in (spec, _SCHEME.sub("", spec, count=1)):
        path = Path(candidate.split("?", 1)[0]).expanduser()
        if str(path) not in ("", ".") and path.exists():
            return path
    return None


def _files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    found = []
    for root, dirs, names in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [Path(root) / n for n in sorted(names) if not n.startswith(".")]
    return found


def content_digest(specs: Sequence[str]) -> str:
    """SHA-256 over each spec's text and the names and bytes of the local files it reads."""
    digest = hashlib.sha256()
    for spec in specs:
        digest.update(f"spec\0{spec}\0".encode())
        path = local_path(spec)
        if path is None:
            continue
        for file in _files(path):
            digest.update(
                f"file\0{file.relative_to(path) if path.is_dir() else file.name}\0".encode()
            )
            with file.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()[:16]
