"""Read mteb results folders into a tidy table (and find the per-query sidecars beside them).

Any folder mteb writes works: ``<folder>/results/<model, "/"->"__">/<revision>/<Task>.json``
(the folder given to ``mteb.ResultCache``), its ``results/`` folder, one model's folder, or single
result files. mteb's result API does the reading (:mod:`mteb_hybrid.leaderboard.mteb_results`):
``ResultCache.get_cache_paths`` lists a cache root's files, ``TaskResult.from_disk`` parses each
file (bare ``NaN`` accepted). What mteb has no public API for stays here: finding the files of a
``results/`` folder not named so, of one model's folder or of one revision (``ResultCache`` only
lists a cache root), a result's model from its ``model_meta.json`` while keeping the file's path
(``ResultCache.load_results`` returns ``ModelResult``s without paths, and the per-query sidecar
and the run's records are found from the path), and our own files (``run.json``,
``sweep.json``, training metadata, sidecars).

Each score is one row of the tidy table: (model, revision, task, split, subset, setting, query
language, corpus language, metric, value). Settings follow the hf_subset name of multi-setting tasks
(``eng-eng`` mono, ``eng-deu`` cross, ``eng-all`` multi); a subset of another mteb task is mono
when it has one language (``default`` with ``["eng-Latn"]``) and ``other`` otherwise.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mteb_hybrid.evaluation.per_query import (
    PerQueryMismatch,
    check_against_result,
    load_per_query,
    per_query_path,
)
from mteb_hybrid.files import read_json
from mteb_hybrid.leaderboard import mteb_results
from mteb_hybrid.runs import (
    BATCH_KINDS,
    CHECKPOINTS,
    POOLED,
    RUN_FILE,
    SWEEP_FILE,
    TRAINING_METADATA,
    Ratio,
    parse_run_name,
    split_subset_name,
)

SETTINGS = ("mono", "cross", "multi")
NON_RESULT_FILES = {"model_meta.json", RUN_FILE, SWEEP_FILE}
# folders below a results folder that hold no result of a model's own (mteb's experiments
# folder: ResultCache.load_results leaves it out by default)
NON_RESULT_DIRS = {"runs", CHECKPOINTS, "coverage", "experiments"}
# mteb's names for our metrics in stock retrieval tasks
METRIC_ALIASES: dict[str, tuple[str, ...]] = {"map": ("map_at_1000",)}
_LANG = re.compile(r"^[a-z]{2,3}$")


class ResultsError(ValueError):
    """A results path that cannot be read; the message names the file and the fix."""


@dataclass(frozen=True)
class RunKey:
    """One evaluated model: where its results came from, its mteb name and revision."""

    source: str
    model: str
    revision: str

    def __str__(self) -> str:
        return f"{self.model}@{self.revision}"


@dataclass
class ModelRun:
    """An evaluated model and what the results say about it.

    ``ratio``/``seed``/``family`` are set for sweep models, from their ``run.json``: the family is
    the model name without the seed, so the seeds of one ratio share it.
    """

    key: RunKey
    meta: dict[str, Any] = field(default_factory=dict)
    ratio: Ratio | None = None
    seed: int | None = None
    family: str | None = None
    result_files: dict[str, Path] = field(default_factory=dict)
    # task -> its mteb.results.TaskResult, as read from result_files[task]
    task_results: dict[str, Any] = field(default_factory=dict, repr=False)
    run_info: dict[str, Any] | None = None
    trained_languages: list[str] | None = None
    batch_types: dict[str, int] | None = None
    ratio_schedule: str | None = None


@dataclass(frozen=True)
class SubsetScores:
    """The scores of one (model, task, split, subset)."""

    run: RunKey
    task: str
    split: str
    subset: str
    setting: str
    query_lang: str
    corpus_lang: str
    scores: dict[str, float]

    def metric(self, name: str) -> float:
        """The value of ``name`` (or its mteb alias); ``nan`` when absent."""
        for key in (name, *METRIC_ALIASES.get(name, ())):
            if key in self.scores:
                return self.scores[key]
        return math.nan


@dataclass
class ResultSet:
    """Everything read from the given folders."""

    runs: dict[RunKey, ModelRun] = field(default_factory=dict)
    scores: list[SubsetScores] = field(default_factory=list)
    sources: dict[str, Path] = field(default_factory=dict)
    sweeps: dict[str, dict[str, Any]] = field(default_factory=dict)
    # task -> tokenizer coverage report (mteb_hybrid.coverage), from <folder>/coverage/*.json
    coverage: dict[str, dict[str, Any]] = field(default_factory=dict)
    _per_query: dict[tuple[RunKey, str], dict[str, dict[str, np.ndarray]] | None] = field(
        default_factory=dict, repr=False
    )

    @property
    def tasks(self) -> list[str]:
        """Task names in first-seen order."""
        return list(dict.fromkeys(s.task for s in self.scores))

    def splits(self, task: str) -> list[str]:
        """Splits of one task in first-seen order."""
        return list(dict.fromkeys(s.split for s in self.scores if s.task == task))

    def select(self, task: str, split: str) -> list[SubsetScores]:
        """The scores of one task and split."""
        return [s for s in self.scores if s.task == task and s.split == split]

    def per_query(self, run: RunKey, task: str) -> dict[str, dict[str, np.ndarray]] | None:
        """The per-query sidecar of one run and task (``{subset: {field: array}}``), or ``None``."""
        key = (run, task)
        if key not in self._per_query:
            model_run = self.runs[run]
            path = model_run.result_files.get(task)
            sidecar = None if path is None else per_query_path(path)
            values = None
            if sidecar is not None and sidecar.is_file():
                values = load_per_query(sidecar)
                parsed = model_run.task_results[task]
                read = {"dataset_revision": parsed.dataset_revision, "scores": parsed.scores}
                try:
                    check_against_result(sidecar, values, read)
                except PerQueryMismatch as error:
                    raise ResultsError(str(error)) from None
            self._per_query[key] = values
        return self._per_query[key]

    def records(self) -> Iterator[dict[str, Any]]:
        """The tidy table: one dict per (model, revision, task, split, subset, metric)."""
        for item in self.scores:
            for metric, value in item.scores.items():
                yield {
                    "source": item.run.source,
                    "model": item.run.model,
                    "revision": item.run.revision,
                    "task": item.task,
                    "split": item.split,
                    "subset": item.subset,
                    "setting": item.setting,
                    "query_lang": item.query_lang,
                    "corpus_lang": item.corpus_lang,
                    "metric": metric,
                    "value": value,
                }


def to_iso3(code: str) -> str:
    from mteb_hybrid.data.languages import LANGUAGES

    code = code.split("_")[0].split("-")[0]
    return LANGUAGES[code][0] if code in LANGUAGES else code


def classify_subset(hf_subset: str, languages: Sequence[str] | None) -> tuple[str, str, str]:
    """``(setting, query language, corpus language)`` of an hf_subset (ISO 639-3 codes)."""
    parts = split_subset_name(hf_subset)
    if parts is not None:
        query, corpus = to_iso3(parts[0]), parts[1] if parts[1] == POOLED else to_iso3(parts[1])
        setting = "multi" if corpus == POOLED else ("mono" if query == corpus else "cross")
        return setting, query, corpus
    langs = [to_iso3(str(lang)) for lang in (languages or [])]
    if len(set(langs)) == 1:
        return "mono", langs[0], langs[0]
    if not langs and _LANG.match(hf_subset):
        return "mono", to_iso3(hf_subset), to_iso3(hf_subset)
    return "other", langs[0] if langs else hf_subset, langs[1] if len(langs) > 1 else ""


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if value is None:
        return math.nan
    return None


def _read(path: Path) -> Any:
    return read_json(path, error=ResultsError)


def result_files(path: Path) -> list[Path]:
    """The mteb result files of a results path (any of the forms :func:`load_results` takes).

    A cache root (it holds ``results/``) or a folder named ``results`` is listed by mteb's
    ``ResultCache``; a results folder named otherwise, one model's folder or one revision's
    folder by a walk applying the same rule (every ``*.json`` but ``model_meta.json``), since
    ``ResultCache`` lists only a cache root.
    """
    if path.is_file():
        return [path]
    if (path / "results").is_dir():
        return mteb_results.cache_result_paths(path)
    if path.name == "results":
        return mteb_results.cache_result_paths(path.parent)
    files = []
    for file in sorted(path.rglob("*.json")):
        if file.name in NON_RESULT_FILES or file.name.startswith("."):
            continue
        if NON_RESULT_DIRS.intersection(file.relative_to(path).parts[:-1]):
            continue
        files.append(file)
    return files


def _model_of(file: Path) -> tuple[str, str, dict[str, Any]]:
    meta_path = file.parent / "model_meta.json"
    meta: dict[str, Any] = {}
    if meta_path.is_file():
        try:
            meta = _read(meta_path) or {}
        except ResultsError:
            meta = {}
    name = meta.get("name") or file.parent.parent.name.replace("__", "/")
    revision = meta.get("revision") or file.parent.name
    return str(name), str(revision), meta


def _trained_languages(meta: dict[str, Any]) -> list[str] | None:
    """ISO 639-3 codes a local model was trained on (its ``mteb_hybrid_training.json``)."""
    model_path = (meta.get("loader_kwargs") or {}).get("model_path")
    if not model_path:
        return None
    path = Path(model_path) / TRAINING_METADATA
    if not path.is_file():
        return None
    try:
        data = _read(path)
        languages = data["data"]["train"]["languages"]
    except (ResultsError, KeyError, TypeError):
        return None
    return sorted({to_iso3(str(code)) for code in languages})


def _batch_types(
    info: dict[str, Any] | None, meta: dict[str, Any]
) -> tuple[dict[str, int] | None, str | None]:
    """Realised mono/cross/multi batch counts of a trained model and its ratio schedule.

    From the sweep's ``run.json`` (``training``), else the model's training metadata; models
    trained before schedules existed drew each step's type independently.
    """
    training = (info or {}).get("training") or {}
    if not training.get("batch_types"):
        model_path = (meta.get("loader_kwargs") or {}).get("model_path")
        path = Path(model_path) / TRAINING_METADATA if model_path else None
        try:
            training = _read(path) if path is not None and path.is_file() else {}
        except ResultsError:
            training = {}
    counts = training.get("batch_types") if isinstance(training, dict) else None
    if not isinstance(counts, dict) or not counts:
        return None, None
    counts = {kind: int(counts.get(kind, 0)) for kind in BATCH_KINDS}
    return counts, str(training.get("ratio_schedule") or "independent")


def _run_info(meta: dict[str, Any]) -> dict[str, Any] | None:
    """The sweep's ``run.json`` of a local model (the model folder or a parent holds it)."""
    model_path = (meta.get("loader_kwargs") or {}).get("model_path")
    if not model_path:
        return None
    folder = Path(model_path)
    for candidate in (folder, *list(folder.parents)[:2]):
        if (candidate / RUN_FILE).is_file():
            return _read_run_file(candidate / RUN_FILE)
    return None


def _read_run_file(path: Path) -> dict[str, Any] | None:
    try:
        data = _read(path)
    except ResultsError:
        return None
    return data if isinstance(data, dict) else None


def _sweep_runs(path: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """The ``run.json`` of every evaluated run of a sweep folder, by (model name, revision).

    Finds a run's record when its model folder has moved (a sweep copied to another machine).
    """
    root = path.parent if path.name == "results" else path
    runs: dict[tuple[str, str], dict[str, Any]] = {}
    for run_file in sorted((root / "runs").glob(f"*/{RUN_FILE}")) if path.is_dir() else []:
        info = _read_run_file(run_file)
        model = (info or {}).get("model") or {}
        if model.get("name"):
            runs[(str(model["name"]), str(model.get("revision")))] = info  # type: ignore[assignment]
    return runs


def source_label(path: Path, taken: Iterable[str]) -> str:
    """A short unique label of a results folder (its name, or name + parent)."""
    path = path.resolve()
    label = path.name if path.name != "results" else path.parent.name
    if label in set(taken):
        label = f"{path.parent.name}/{label}"
    return label or str(path)


def load_results(paths: Sequence[str | os.PathLike[str]], split: str | None = None) -> ResultSet:
    """Read every mteb result file under ``paths`` (folders or files).

    ``split``: keep only this split (default: every split found).
    """
    result = ResultSet()
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.exists():
            raise ResultsError(f"{path}: no such results folder or file")
        label = source_label(path, result.sources)
        result.sources[label] = path
        if path.is_dir() and (path / SWEEP_FILE).is_file():
            info = _read(path / SWEEP_FILE)
            if isinstance(info, dict):
                result.sweeps[label] = info
        if path.is_dir():
            from mteb_hybrid.coverage_report import read_coverage_reports

            result.coverage.update(read_coverage_reports(path))
        sweep_runs = _sweep_runs(path)
        files = result_files(path)
        for file in files:
            try:
                parsed = mteb_results.read_task_result(file)
            except mteb_results.TaskResultError as error:
                raise ResultsError(str(error)) from None
            _add_result(result, label, file, parsed, split, sweep_runs)
        if not files:
            raise ResultsError(
                f"{path}: no mteb result JSON found; give the folder passed to mteb's "
                "ResultCache (it holds results/<model>/<revision>/<Task>.json)"
            )
    return result


def _resolve_sweep_placeholder(meta: dict[str, Any], root: Path | None) -> dict[str, Any]:
    """A bundle's inputs write the sweep folder as ``<sweep>`` (no machine path): read it as
    the folder the results were loaded from."""
    kwargs = meta.get("loader_kwargs") or {}
    model_path = kwargs.get("model_path")
    if root is None or not isinstance(model_path, str) or not model_path.startswith("<sweep>"):
        return meta
    resolved = str(root) + model_path[len("<sweep>") :]
    return {**meta, "loader_kwargs": {**kwargs, "model_path": resolved}}


def _add_result(
    result: ResultSet,
    label: str,
    file: Path,
    parsed: Any,
    split: str | None,
    sweep_runs: dict[tuple[str, str], dict[str, Any]],
) -> None:
    model, revision, meta = _model_of(file)
    meta = _resolve_sweep_placeholder(meta, result.sources.get(label))
    key = RunKey(label, model, revision)
    run = result.runs.get(key)
    if run is None:
        run = ModelRun(key=key, meta=meta)
        info = _run_info(meta) or sweep_runs.get((model, revision))
        named = parse_run_name(model)
        record = info or {}
        if record.get("ratio") is not None:  # a sweep's training run (None: its base model)
            run.ratio = Ratio.parse(record["ratio"])
            run.seed = int(record.get("seed") or 0)
            run.family = named.family if named is not None else model
        elif "ratio" not in record and named is not None:
            # no run.json records a ratio (a results folder copied alone): the run id in the
            # model name is all there is, its ratio rounded to 2 decimals
            run.ratio, run.seed, run.family = named
        run.run_info = info
        run.trained_languages = _trained_languages(meta)
        run.batch_types, run.ratio_schedule = _batch_types(info, meta)
        result.runs[key] = run
    task = parsed.task_name
    run.result_files[task] = file
    run.task_results[task] = parsed
    for split_name, entries in parsed.scores.items():
        if split is not None and split_name != split:
            continue
        for entry in entries:  # mteb validated each: a dict with hf_subset and languages
            subset = entry["hf_subset"]
            setting, query_lang, corpus_lang = classify_subset(subset, entry["languages"])
            scores = {}
            for metric, value in entry.items():
                number = _number(value)
                if number is not None:
                    scores[metric] = number
            result.scores.append(
                SubsetScores(
                    key, task, split_name, subset, setting, query_lang, corpus_lang, scores
                )
            )
