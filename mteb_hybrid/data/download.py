"""Local-folder lookup, checksummed download into a cache, atomically.

A data file is looked up, in order, in the folder given explicitly, in ``$MTEB_HYBRID_DATA``, and
in the cache (``$MTEB_HYBRID_CACHE``, default ``~/.cache/mteb_hybrid``); only then is it
downloaded. Every file is checked against its sha256 before use; a download is written to a
temporary file in the cache folder and renamed into place only once its checksum matches, so the
cache never holds a half-written file.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

DATA_ENV = "MTEB_HYBRID_DATA"
CACHE_ENV = "MTEB_HYBRID_CACHE"
VERIFY_ENV = "MTEB_HYBRID_VERIFY"

logger = logging.getLogger(__name__)
_WARNED: set[str] = set()


class DataFileError(RuntimeError):
    """A data file is missing, truncated or corrupt; the message names the file and the fix."""


@dataclass(frozen=True)
class RemoteFile:
    """One file of a dataset: where it lives inside a data folder, its URL and its sha256.

    ``sha256=None`` means that no checksum is published for the file yet: it is then used without
    verification, and a warning gives the file's actual sha256 so that it can be pinned.
    """

    relpath: str
    url: str
    sha256: str | None


def sha256_of(path: Path, chunk_size: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk_size):
            digest.update(block)
    return digest.hexdigest()


def cache_dir() -> Path:
    """The download cache folder (created on demand)."""
    root = os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "mteb_hybrid"
    return Path(root)


def data_dirs(data_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """Folders searched for local copies, most specific first."""
    folders = []
    if data_dir is not None:
        folders.append(Path(data_dir))
    if os.environ.get(DATA_ENV):
        folders.append(Path(os.environ[DATA_ENV]))
    return folders


def local_verification_enabled() -> bool:
    """Whether files found in a local data folder are checked (``$MTEB_HYBRID_VERIFY`` not 0).

    Turning it off is meant for folders of user-supplied files that are not the published ones
    (test fixtures, a re-exported copy); the cache and downloads are always verified.
    """
    return os.environ.get(VERIFY_ENV, "1").strip().lower() not in {"0", "false", "no", "off"}


def _warn_once(key: str, message: str) -> None:
    if key not in _WARNED:
        _WARNED.add(key)
        logger.warning(message)


def find_local(relpath: str, data_dir: str | os.PathLike[str] | None = None) -> Path | None:
    """The first local copy of ``relpath`` in the data folders (not the cache), or ``None``."""
    for folder in data_dirs(data_dir):
        candidate = folder / relpath
        if candidate.exists():
            return candidate
    return None


def hub_source(repo: str, data_dir: str | os.PathLike[str] | None = None) -> tuple[str, bool]:
    """``(local mirror folder or repo id, is_local)`` for a Hugging Face dataset repository.

    A mirror of the repository at ``<data folder>/<repo>`` wins; otherwise the Hub is used, unless
    the Hub is offline, which is a one-line error saying where the mirror was looked for.
    """
    local = find_local(repo, data_dir)
    if local is not None and local.is_dir():
        return str(local), True
    if os.environ.get("HF_DATASETS_OFFLINE") == "1" or os.environ.get("HF_HUB_OFFLINE") == "1":
        raise DataFileError(
            f"{repo}: no local mirror found (looked for <folder>/{repo} in {DATA_ENV}) and the "
            f"Hub is offline; set {DATA_ENV} to a folder holding {repo}/ or go online"
        )
    return repo, False


def verify(path: Path, remote: RemoteFile) -> None:
    """Raise :class:`DataFileError` unless ``path`` has the expected checksum.

    Where ``remote.sha256`` is ``None`` (no published checksum) nothing is checked; a warning
    names the file's actual sha256.
    """
    actual = sha256_of(path)
    if remote.sha256 is None:
        _warn_once(
            f"unpinned:{path}",
            f"{path}: no published sha256 for {remote.relpath}, so it is NOT verified; its "
            f"sha256 is {actual} (pin it once checked against {remote.url})",
        )
        return
    if actual != remote.sha256:
        raise DataFileError(
            f"{path}: sha256 {actual[:12]}... does not match the expected {remote.sha256[:12]}... "
            f"(truncated or corrupt); delete it and re-download it from {remote.url}"
        )


def fetch(
    remote: RemoteFile,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    allow_download: bool = True,
) -> Path:
    """Return a verified local path for ``remote``, downloading it into the cache if needed."""
    for folder in data_dirs(data_dir):
        candidate = folder / remote.relpath
        if candidate.is_file():
            if local_verification_enabled():
                verify(candidate, remote)
            else:
                _warn_once(
                    f"unverified:{candidate}",
                    f"{candidate}: checksum NOT verified ({VERIFY_ENV}=0: a user-supplied file)",
                )
            return candidate
    cached = cache_dir() / remote.relpath
    if cached.is_file():
        verify(cached, remote)
        return cached
    if not allow_download or os.environ.get("HF_DATASETS_OFFLINE") == "1":
        searched = ", ".join(str(f / remote.relpath) for f in data_dirs(data_dir)) or "(none)"
        raise DataFileError(
            f"{remote.relpath}: not found locally (searched {searched} and {cached}) and "
            f"downloads are off; set {DATA_ENV} to a folder holding it, or allow downloads"
        )
    return download(remote, cached)


def download(remote: RemoteFile, destination: Path) -> Path:
    """Download ``remote`` to ``destination`` atomically, verifying its sha256 first."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=destination.parent, prefix=f".{destination.name}.")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(remote.url, timeout=60) as resp:
            digest = hashlib.sha256()
            while block := resp.read(1 << 20):
                digest.update(block)
                out.write(block)
        if remote.sha256 is None:
            logger.warning(
                "%s: no published sha256, so the download is NOT verified; its sha256 is %s",
                remote.url,
                digest.hexdigest(),
            )
        elif digest.hexdigest() != remote.sha256:
            raise DataFileError(
                f"{remote.url}: downloaded sha256 {digest.hexdigest()[:12]}... does not match "
                f"the expected {remote.sha256[:12]}...; the source changed or the transfer broke, "
                "try again or point MTEB_HYBRID_DATA at a verified copy"
            )
        os.replace(tmp, destination)
    except OSError as error:
        raise DataFileError(
            f"{remote.url}: download failed ({error}); check the network or set {DATA_ENV} "
            "to a folder holding the file"
        ) from error
    finally:
        tmp.unlink(missing_ok=True)
    return destination
