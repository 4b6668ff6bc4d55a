"""Local-folder lookup, then a cached, checksummed download with pooch.

A data file is looked up, in order, in the folder given explicitly, in ``$MTEB_HYBRID_DATA`` (a
folder that does not exist is skipped with a warning), and in the cache (``$MTEB_HYBRID_CACHE``,
default ``~/.cache/mteb_hybrid``); only then is it downloaded (unless ``$MTEB_HYBRID_OFFLINE=1``;
the Hugging Face offline variables govern the Hub only), by :mod:`pooch`: into a temporary file
in the cache folder, renamed into place only once its sha256 matches (so the cache never holds a
half-written or corrupt file), retried when the transfer breaks or the checksum does not match,
with a progress bar. Local and cached copies are checked against the same sha256 before use.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from mteb_hybrid.env import OneLineError

DATA_ENV = "MTEB_HYBRID_DATA"
CACHE_ENV = "MTEB_HYBRID_CACHE"
VERIFY_ENV = "MTEB_HYBRID_VERIFY"
OFFLINE_ENV = "MTEB_HYBRID_OFFLINE"
_YES = {"1", "true", "yes", "on"}
_NO = {"", "0", "false", "no", "off"}
DOWNLOAD_RETRIES = 2  # further attempts after a broken transfer or a checksum mismatch

logger = logging.getLogger(__name__)
_WARNED: set[str] = set()


class DataFileError(OneLineError, RuntimeError):
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


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file (read in chunks, by pooch)."""
    import pooch

    return pooch.file_hash(str(path), alg="sha256")


def cache_dir() -> Path:
    """The download cache folder (created on demand)."""
    root = os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "mteb_hybrid"
    return Path(root)


def data_dirs(data_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """Folders searched for local copies, most specific first.

    A folder that does not exist is left out with a one-line warning: the lookup falls through
    to the cache and the verified download.
    """
    named = []
    if data_dir is not None:
        named.append(("data_dir", Path(data_dir)))
    if os.environ.get(DATA_ENV):
        named.append((DATA_ENV, Path(os.environ[DATA_ENV])))
    folders = []
    for source, folder in named:
        if folder.is_dir():
            folders.append(folder)
        else:
            _warn_once(
                f"nofolder:{folder}",
                f"{source}={folder}: no such folder; using the cache ({cache_dir()}) and "
                "verified downloads instead",
            )
    return folders


def downloads_enabled() -> bool:
    """Whether our own downloads (GitHub, Google) may run: ``$MTEB_HYBRID_OFFLINE`` not set.

    Only this switch turns them off; the Hugging Face variables (``HF_HUB_OFFLINE``,
    ``HF_DATASETS_OFFLINE``) govern the Hub only. A value other than 0/1/true/false/yes/no/on/off
    is a one-line error naming the variable.
    """
    value = os.environ.get(OFFLINE_ENV, "").strip().lower()
    if value in _YES:
        return False
    if value in _NO:
        return True
    raise DataFileError(
        f"{OFFLINE_ENV}={os.environ[OFFLINE_ENV]!r}: use 1 to turn downloads off, or unset it"
    )


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
    if not allow_download or not downloads_enabled():
        searched = ", ".join(str(f / remote.relpath) for f in data_dirs(data_dir)) or "(none)"
        raise DataFileError(
            f"{remote.relpath}: not found locally (searched {searched} and {cached}) and "
            f"downloads are off ({OFFLINE_ENV}=1); set {DATA_ENV} to a folder holding it, "
            f"or unset {OFFLINE_ENV}"
        )
    return download(remote, cached)


def download(remote: RemoteFile, destination: Path) -> Path:
    """Download ``remote`` to ``destination`` with pooch, verified against its sha256.

    The file is written to a temporary name beside ``destination`` and renamed into place only
    once its checksum matches; a broken transfer or a mismatch is retried
    (:data:`DOWNLOAD_RETRIES` times), then reported as a one-line :class:`DataFileError` with
    nothing left behind. Without a published sha256 the file is kept unverified, with a warning
    naming its sha256. A file already at ``destination`` with the right checksum is reused.
    """
    import pooch

    known_hash = f"sha256:{remote.sha256}" if remote.sha256 else None
    fetcher = pooch.create(
        path=destination.parent,
        base_url="",
        registry={destination.name: known_hash},
        urls={destination.name: remote.url},
        retry_if_failed=DOWNLOAD_RETRIES,
    )
    attempts = f"{1 + DOWNLOAD_RETRIES} attempt{'s' if DOWNLOAD_RETRIES else ''}"
    try:
        fetcher.fetch(destination.name, progressbar=True)
    except ValueError as error:  # pooch: checksum mismatch, or a URL it cannot fetch
        reason = " ".join(str(error).split())
        if "does not match" not in reason:
            raise DataFileError(
                f"{remote.url}: download failed ({reason}); set {DATA_ENV} to a folder "
                "holding the file"
            ) from error
        raise DataFileError(
            f"{remote.url}: downloaded file does not match the expected sha256 "
            f"{remote.sha256[:12]}... ({attempts}); the source changed or the transfer "
            f"broke, try again or point {DATA_ENV} at a verified copy"
        ) from error
    except OSError as error:  # requests' errors are OSErrors: connection, timeout, HTTP status
        reason = " ".join(str(error).split())
        raise DataFileError(
            f"{remote.url}: download failed after {attempts} ({reason}); check the "
            f"network or set {DATA_ENV} to a folder holding the file"
        ) from error
    if remote.sha256 is None:
        _warn_once(
            f"unpinned:{destination}",
            f"{remote.url}: no published sha256, so the download is NOT verified; its sha256 is "
            f"{sha256_of(destination)} (pin it once checked)",
        )
    return destination
