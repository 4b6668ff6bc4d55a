"""``--train-data`` specs: ``[kind:]location[?key=value&...]`` -> training records.

Kinds and their options:

- ``lareqa:<folder or xquad-r / mlqa-r>`` with ``target=sentence|paragraph``, ``langs=en,de``,
  ``data_dir=<folder>`` (for the named datasets; else ``$MTEB_HYBRID_DATA``, cache, download).
- ``flores:`` (SIB-200 / FLORES-200 sentences as translation pairs) with ``split=train|dev|test``
  (default ``train``), ``langs=en,sw,quy`` (default: the 36 XM3600 languages), ``data_dir=``.
  A model trained on a split is never evaluated on that split (``FloresRetrieval`` refuses it).
- ``jsonl:<file or folder>``, ``parquet:<file or folder>``.
- ``mmarco:[<hf:// URL or local folder>]`` with ``langs=``, ``max_ids=`` (default 100000,
  ``all`` for every query), ``translation=google|helsinki``, ``revision=``,
  ``negatives=true|false``.

Without a kind, a location is recognised by itself: a ``.jsonl`` / ``.parquet`` file, a folder of
such files, a folder of ``<lang>.json`` LAReQA files, or the names ``xquad-r`` / ``mlqa-r``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl

from mteb_hybrid.data.lareqa import DATASETS
from mteb_hybrid.trainers.records import TrainingDataError, TrainingRecord

KINDS = ("lareqa", "flores", "jsonl", "parquet", "mmarco")
OPTIONS = {
    "lareqa": {"target", "langs", "data_dir"},
    "flores": {"split", "langs", "data_dir"},
    "jsonl": set(),
    "parquet": set(),
    "mmarco": {"langs", "max_ids", "translation", "revision", "negatives"},
}


@dataclass(frozen=True)
class DataSpec:
    """A parsed ``--train-data`` value."""

    kind: str
    location: str
    options: dict[str, str] = field(default_factory=dict)
    text: str = ""

    def __str__(self) -> str:
        return self.text or f"{self.kind}:{self.location}"


def _infer_kind(location: str, spec: str) -> str:
    path = Path(location)
    if path.is_file():
        if path.suffix in (".jsonl", ".parquet"):
            return path.suffix[1:]
        raise TrainingDataError(
            f"{spec}: unknown file type {path.suffix!r}; use .jsonl or .parquet"
        )
    if path.is_dir():
        names = {p.suffix for p in path.iterdir()}
        if ".jsonl" in names or ".parquet" in names:
            return "jsonl" if ".jsonl" in names else "parquet"
        if ".json" in names:
            return "lareqa"
        raise TrainingDataError(f"{spec}: folder has no .jsonl, .parquet or LAReQA .json files")
    if location in DATASETS:
        return "lareqa"
    raise TrainingDataError(
        f"{spec}: no such file or folder; give a path, xquad-r / mlqa-r, or kind:location "
        f"with a kind from {', '.join(KINDS)}"
    )


def parse_data_spec(spec: str) -> DataSpec:
    """Parse one spec string (see the module docstring)."""
    text = spec.strip()
    if not text:
        raise TrainingDataError("empty --train-data spec")
    body, _, query = text.partition("?")
    kind, sep, location = body.partition(":")
    if body == "flores":
        kind, sep, location = "flores", ":", ""
    if not sep or kind not in KINDS:
        kind, location = "", body
    options = dict(parse_qsl(query, keep_blank_values=True)) if query else {}
    if not kind:
        kind = _infer_kind(location, text)
    unknown = sorted(set(options) - OPTIONS[kind])
    if unknown:
        allowed = ", ".join(sorted(OPTIONS[kind])) or "none"
        raise TrainingDataError(
            f"{text}: unknown option {unknown[0]!r} for {kind} (allowed: {allowed})"
        )
    return DataSpec(kind=kind, location=location, options=options, text=text)


def _langs(options: dict[str, str]) -> list[str] | None:
    value = options.get("langs")
    return [lang.strip() for lang in value.split(",") if lang.strip()] if value else None


def _bool(value: str, spec: DataSpec, name: str) -> bool:
    lowered = value.lower()
    if lowered in ("1", "true", "yes"):
        return True
    if lowered in ("0", "false", "no"):
        return False
    raise TrainingDataError(f"{spec}: option {name}={value!r} must be true or false")


def iter_spec_records(spec: str | DataSpec) -> Iterator[TrainingRecord]:
    """Training records of one spec, field-checked."""
    parsed = parse_data_spec(spec) if isinstance(spec, str) else spec
    options = parsed.options
    if parsed.kind == "lareqa":
        from mteb_hybrid.trainers.sources.lareqa import iter_lareqa_records

        yield from iter_lareqa_records(
            parsed.location,
            target=options.get("target", "sentence"),
            languages=_langs(options),
            data_dir=options.get("data_dir"),
        )
    elif parsed.kind == "flores":
        from mteb_hybrid.trainers.sources.flores import iter_flores_records

        if parsed.location:
            raise TrainingDataError(
                f"{parsed}: flores takes no location, only options (flores:?split=train&langs=...)"
            )
        yield from iter_flores_records(
            split=options.get("split", "train"),
            languages=_langs(options),
            data_dir=options.get("data_dir"),
        )
    elif parsed.kind in ("jsonl", "parquet"):
        from mteb_hybrid.trainers.sources.tabular import iter_tabular_records

        yield from iter_tabular_records(parsed.location, parsed.kind)
    else:
        from mteb_hybrid.trainers.sources.mmarco import DEFAULT_ROOT, iter_mmarco_records

        max_ids_text = options.get("max_ids", "100000")
        try:
            max_ids = None if max_ids_text == "all" else int(max_ids_text)
        except ValueError:
            raise TrainingDataError(
                f"{parsed}: option max_ids={max_ids_text!r} must be an integer or 'all'"
            ) from None
        yield from iter_mmarco_records(
            parsed.location or DEFAULT_ROOT,
            languages=_langs(options),
            max_ids=max_ids,
            translation=options.get("translation", "google"),
            revision=options.get("revision", "main"),
            negatives=_bool(options.get("negatives", "true"), parsed, "negatives"),
        )
