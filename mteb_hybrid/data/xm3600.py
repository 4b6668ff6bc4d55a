"""Crossmodal-3600 (XM3600) captions, text only, from the official file or a Hugging Face copy.

Two layouts hold the same captions:

* **official**: ``captions.jsonl`` (inside ``captions.zip`` on the project page), a line per image:
  ``{"image/key": "000411001ff7dd4f", "image/locale": "bn", "ar": {"caption": [...],
  "caption/tokenized": [...], "caption/tokenized/lowercase": [...]}, "bn": {...}, ...}``.
  Looked up as ``<data folder>/xm3600/captions.jsonl`` or ``<data folder>/xm3600/captions.zip``,
  else downloaded (``captions.zip``) into the cache.
* **hf**: the Hugging Face copies ``mteb/xm3600`` / ``floschne/xm3600``, one split per language with
  columns ``image_id``, ``image_locale``, ``captions``, ``captions_tokenized``,
  ``captions_tokenized_lowercase`` and ``image``. Only the caption columns are read (parquet column
  projection), so no image bytes are read or downloaded. A local mirror of the repository is looked
  up at ``<data folder>/<owner>/<name>`` (for example ``$MTEB_HYBRID_DATA/mteb/xm3600``).

Captions are kept verbatim (odd whitespace included); whitespace-only captions are skipped and
counted. A caption's id is ``<lang>-<image key>-<index in that image's list>`` in both layouts.
"""

from __future__ import annotations

import io
import json
import logging
import os
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mteb_hybrid.data.download import (
    DataFileError,
    RemoteFile,
    fetch,
    find_local,
    hub_source,
    local_verification_enabled,
    verify,
)
from mteb_hybrid.env import env_choice

logger = logging.getLogger(__name__)

# The 36 languages of XM3600 (dataset codes, as in captions.jsonl and the HF split names).
XM3600_LANGUAGES: tuple[str, ...] = (
    "ar", "bn", "cs", "da", "de", "el", "en", "es", "fa", "fi", "fil", "fr", "he", "hi", "hr",
    "hu", "id", "it", "ja", "ko", "mi", "nl", "no", "pl", "pt", "quz", "ro", "ru", "sv", "sw",
    "te", "th", "tr", "uk", "vi", "zh",
)  # fmt: skip
# Low-resource languages as the XM3600 paper (Thapliyal et al., 2022) groups them.
XM3600_LOW_RESOURCE: tuple[str, ...] = ("bn", "mi", "quz", "sw", "te")
# Languages annotated with a single caption per image: no monolingual setting is possible.
XM3600_SINGLE_CAPTION: tuple[str, ...] = ("bn",)

CAPTIONS_URL = "https://google.github.io/crossmodal-3600/web-data/captions.zip"
# No checksum of captions.zip is published. Until one is pinned here (compute it on a networked
# machine: `sha256sum captions.zip` right after downloading it from CAPTIONS_URL), the file is
# used unverified and every use logs its actual sha256.
CAPTIONS_ZIP_SHA256: str | None = None
# sha256 of the captions.jsonl inside that zip, for users who supply the extracted file.
CAPTIONS_JSONL_SHA256: str | None = None
CAPTIONS_ZIP = RemoteFile("xm3600/captions.zip", CAPTIONS_URL, CAPTIONS_ZIP_SHA256)
CAPTIONS_JSONL = RemoteFile("xm3600/captions.jsonl", CAPTIONS_URL, CAPTIONS_JSONL_SHA256)

# Hugging Face copies (same captions); the revision of mteb/xm3600 is the one mteb 2.26 pins.
HF_REPOS: dict[str, str | None] = {
    "mteb/xm3600": "536cd45bbfe53de9b08c0483bb4a76a4bd3673fa",
    "floschne/xm3600": None,
}
DEFAULT_HF_REPO = "mteb/xm3600"
HF_COLUMNS = ("image_id", "image_locale", "captions")
SOURCES = ("auto", "official", "hf")
SOURCE_ENV = "MTEB_HYBRID_XM3600_SOURCE"


@dataclass(frozen=True)
class Caption:
    """One caption of one image in one language."""

    id: str
    image: str
    lang: str
    index: int
    text: str


@dataclass
class XM3600Captions:
    """Captions of the requested languages, in file order within each language.

    Attributes:
        captions: every kept caption, grouped by language in the order of ``languages``.
        languages: the languages read.
        image_locales: image key -> the locale the image was chosen for.
        source: where the captions came from (a path or a Hub repository).
        skipped_blank: per language, the number of whitespace-only captions skipped.
        images_without: per language, the number of images that have no caption in it.
    """

    captions: list[Caption]
    languages: list[str]
    image_locales: dict[str, str]
    source: str
    skipped_blank: dict[str, int] = field(default_factory=dict)
    images_without: dict[str, int] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """Number of captions per language."""
        out = dict.fromkeys(self.languages, 0)
        for caption in self.captions:
            out[caption.lang] += 1
        return out


def caption_id(lang: str, image: str, index: int) -> str:
    """``"en-000411001ff7dd4f-1"``: unique over the dataset, the same in both layouts."""
    return f"{lang}-{image}-{index}"


def check_languages(languages: Sequence[str] | None) -> list[str]:
    """The requested languages (default all 36), validated."""
    if languages is None:
        return list(XM3600_LANGUAGES)
    unknown = [lang for lang in languages if lang not in XM3600_LANGUAGES]
    if unknown:
        raise ValueError(
            f"XM3600 has no language {', '.join(unknown)}: "
            f"use some of {', '.join(XM3600_LANGUAGES)}"
        )
    return list(languages)


# -- official layout -------------------------------------------------------------------------------
def _caption_list(value: object, where: str, key: str) -> list[str]:
    if not isinstance(value, dict) or "caption" not in value:
        raise DataFileError(
            f"{where}: field {key!r} has no 'caption' list; expected "
            '{"caption": [...], "caption/tokenized": [...], ...} (the XM3600 captions.jsonl format)'
        )
    captions = value["caption"]
    if not isinstance(captions, list) or not all(isinstance(c, str) for c in captions):
        raise DataFileError(f"{where}: field {key!r}.'caption' must be a list of strings")
    return captions


def iter_jsonl_images(
    lines: Iterable[str], name: str, languages: Sequence[str]
) -> Iterator[tuple[str, str, dict[str, list[str]]]]:
    """``(image key, image locale, {lang: captions})`` per line of a captions.jsonl stream."""
    seen: set[str] = set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{name}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataFileError(
                f"{where}: not valid JSON ({error.msg}); the file is truncated or corrupt, "
                "download captions.zip again"
            ) from error
        if not isinstance(record, dict):
            raise DataFileError(f"{where}: expected one JSON object per line")
        for required in ("image/key", "image/locale"):
            if not isinstance(record.get(required), str):
                raise DataFileError(
                    f"{where}: missing string field {required!r} (the XM3600 captions.jsonl format)"
                )
        key = record["image/key"]
        if key in seen:
            raise DataFileError(f"{where}: image {key} appears twice; the file is corrupt")
        seen.add(key)
        per_lang = {
            lang: _caption_list(record[lang], f"{where} (image {key})", lang)
            for lang in languages
            if lang in record
        }
        yield key, record["image/locale"], per_lang


def _open_official(path: Path) -> tuple[Iterable[str], str]:
    """Lines of captions.jsonl from the jsonl file itself or from inside captions.zip."""
    if path.suffix != ".zip":
        return path.open(encoding="utf-8"), str(path)
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as error:
        raise DataFileError(
            f"{path}: not a valid zip archive ({error}); delete it and download it again"
        ) from error
    members = [m for m in archive.namelist() if m.rsplit("/", 1)[-1] == "captions.jsonl"]
    if not members:
        raise DataFileError(f"{path}: holds no captions.jsonl; is this the XM3600 captions.zip?")
    stream = io.TextIOWrapper(archive.open(members[0]), encoding="utf-8")
    return stream, f"{path}!{members[0]}"


def official_file(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """The local captions.jsonl / captions.zip, or the downloaded (cached) captions.zip."""
    local_jsonl = find_local(CAPTIONS_JSONL.relpath, data_dir)
    if local_jsonl is not None and local_jsonl.is_file():
        if local_verification_enabled():
            verify(local_jsonl, CAPTIONS_JSONL)
        return local_jsonl
    return fetch(CAPTIONS_ZIP, data_dir)


def load_official(
    languages: Sequence[str] | None = None, data_dir: str | os.PathLike[str] | None = None
) -> XM3600Captions:
    """Captions of ``languages`` from the official captions.jsonl (or captions.zip)."""
    langs = check_languages(languages)
    path = official_file(data_dir)
    lines, name = _open_official(path)
    images: list[tuple[str, str, dict[str, list[str]]]] = []
    try:
        images = list(iter_jsonl_images(lines, name, langs))
    except UnicodeDecodeError as error:
        raise DataFileError(
            f"{name}: not UTF-8 text ({error.reason}); the file is corrupt"
        ) from None
    finally:
        close = getattr(lines, "close", None)
        if close is not None:
            close()
    if not images:
        raise DataFileError(f"{name}: holds no images; the file is empty or truncated")
    return _assemble(langs, images, name)


# -- Hugging Face layout ---------------------------------------------------------------------------
def read_hf_splits(
    source: str, languages: Sequence[str], *, local: bool, revision: str | None = None
) -> dict[str, list[dict]]:
    """Rows (caption columns only) of the language splits of a Hugging Face XM3600 copy.

    The parquet files are streamed with column projection: image bytes are never read.
    """
    import datasets

    kwargs = {} if local else {"revision": revision}
    expected = (
        f"expected the layout of {DEFAULT_HF_REPO} (README.md configs, data/<lang>-*.parquet)"
    )
    try:
        splits = datasets.load_dataset(source, columns=list(HF_COLUMNS), streaming=True, **kwargs)
    except (ValueError, FileNotFoundError, TypeError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise DataFileError(
            f"{source}: cannot read it as a dataset ({reason}); {expected}"
        ) from error
    missing = [lang for lang in languages if lang not in splits]
    if missing:
        raise DataFileError(
            f"{source}: no split for language {', '.join(missing)} (has {', '.join(splits)}); "
            f"{expected}"
        )
    out: dict[str, list[dict]] = {}
    for lang in languages:
        try:
            out[lang] = list(splits[lang])
        except (ValueError, KeyError) as error:
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise DataFileError(
                f"{source}: split {lang!r} lacks a column of {', '.join(HF_COLUMNS)} ({reason}); "
                f"{expected}"
            ) from error
    return out


def load_hf(
    languages: Sequence[str] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    repo: str = DEFAULT_HF_REPO,
    revision: str | None = None,
) -> XM3600Captions:
    """Captions of ``languages`` from a Hugging Face copy (local mirror, else the Hub)."""
    langs = check_languages(languages)
    source, local = hub_source(repo, data_dir)
    revision = revision or HF_REPOS.get(repo)
    order: dict[str, int] = {}
    locales: dict[str, str] = {}
    per_image: dict[str, dict[str, list[str]]] = {}
    for lang, rows in read_hf_splits(source, langs, local=local, revision=revision).items():
        for number, row in enumerate(rows):
            where = f"{source} split {lang} row {number}"
            key, locale, captions = (
                row.get("image_id"),
                row.get("image_locale"),
                row.get("captions"),
            )
            if not isinstance(key, str) or not isinstance(locale, str):
                raise DataFileError(f"{where}: 'image_id' and 'image_locale' must be strings")
            if not isinstance(captions, list) or not all(isinstance(c, str) for c in captions):
                raise DataFileError(f"{where} (image {key}): 'captions' must be a list of strings")
            if lang in per_image.get(key, {}):
                raise DataFileError(f"{where}: image {key} appears twice in split {lang}")
            order.setdefault(key, len(order))
            locales.setdefault(key, locale)
            per_image.setdefault(key, {})[lang] = captions
    images = [(key, locales[key], per_image[key]) for key in order]
    if not images:
        raise DataFileError(f"{source}: holds no images for {', '.join(langs)}")
    return _assemble(langs, images, source)


# -- shared ----------------------------------------------------------------------------------------
def _assemble(
    languages: list[str], images: list[tuple[str, str, dict[str, list[str]]]], source: str
) -> XM3600Captions:
    """Captions grouped by language (language order, then image order, then caption order).

    Images are sorted by key so that both layouts give the same order whatever order the file or
    the splits list them in.
    """
    images = sorted(images, key=lambda item: item[0])
    captions: list[Caption] = []
    skipped = dict.fromkeys(languages, 0)
    without = dict.fromkeys(languages, 0)
    for lang in languages:
        for key, _, per_lang in images:
            texts = per_lang.get(lang)
            if not texts:
                without[lang] += 1
                continue
            for index, text in enumerate(texts):
                if not text.strip():
                    skipped[lang] += 1
                    continue
                captions.append(Caption(caption_id(lang, key, index), key, lang, index, text))
    for lang in languages:
        if skipped[lang]:
            logger.warning(
                "%s: skipped %d whitespace-only %s captions", source, skipped[lang], lang
            )
    return XM3600Captions(
        captions=captions,
        languages=list(languages),
        image_locales={key: locale for key, locale, _ in images},
        source=source,
        skipped_blank={k: v for k, v in skipped.items() if v},
        images_without={k: v for k, v in without.items() if v},
    )


def load_xm3600(
    languages: Sequence[str] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    source: str | None = None,
    repo: str = DEFAULT_HF_REPO,
) -> XM3600Captions:
    """Captions of ``languages`` (default all 36).

    ``source``: ``"official"`` (captions.jsonl / captions.zip), ``"hf"`` (a Hugging Face copy,
    ``repo``) or ``"auto"`` (default, or ``$MTEB_HYBRID_XM3600_SOURCE``): a local official file,
    else a local mirror of ``repo``, else download the official captions.zip.
    """
    source = source or env_choice(SOURCE_ENV, SOURCES) or "auto"
    if source not in SOURCES:
        raise ValueError(f"unknown XM3600 source {source!r}: use one of {', '.join(SOURCES)}")
    if source == "official":
        return load_official(languages, data_dir)
    if source == "hf":
        return load_hf(languages, data_dir, repo)
    has_official = any(
        find_local(remote.relpath, data_dir) is not None
        for remote in (CAPTIONS_JSONL, CAPTIONS_ZIP)
    )
    if not has_official and find_local(repo, data_dir) is not None:
        return load_hf(languages, data_dir, repo)
    return load_official(languages, data_dir)


__all__ = [
    "CAPTIONS_ZIP",
    "Caption",
    "XM3600Captions",
    "XM3600_LANGUAGES",
    "XM3600_LOW_RESOURCE",
    "load_hf",
    "load_official",
    "load_xm3600",
]
