"""A bundle's raw inputs: the files its tables are computed from, copied in, portable, checked.

``mteb-hybrid leaderboard RESULTS... --bundle DIR`` first snapshots every results folder into
``DIR/inputs/<label>/``: mteb's result JSONs and ``model_meta.json``, the per-query sidecars, and
for a sweep its ``sweep.json``, each run's ``run.json``, each trained model's training metadata
and the tokenizer coverage reports (never weights, checkpoints or logs). Only finished runs go
in: a sweep bundled while it runs leaves out every run whose ``run.json`` is not ``done`` and
the results its model has written so far (a run still evaluating may have finished one task of
two), so the tables never hold half a run. Absolute paths of the
machine that ran the sweep are rewritten on the way (the default model becomes
``$(mteb-hybrid default-model)``, the sweep folder ``<sweep>``, the home folder ``~``), and a
bundle that still holds one is refused. The tables are then built from the snapshot, and the
command recorded in ``leaderboard.json`` reads ``inputs/<label>`` relative to the bundle, so
``mteb-hybrid leaderboard --check DIR`` recomputes the bundle from what it carries, anywhere.

Every run must come from a clean commit: a run whose recorded git state ends in ``+dirty`` (or
has none) is refused unless ``allow_dirty``, and is then named in the table notes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from mteb_hybrid.runs import (
    RUN_FILE,
    SWEEP_FILE,
    TRAINING_METADATA,
    results_folder_name,
    run_states,
)

INPUTS_DIR = "inputs"
RESULT_SUFFIXES = (".json", ".per_query.npz")
COVERAGE_DIR = "coverage"
# an absolute path of some machine inside a string (not a URL's path, not after "$(")
MACHINE_PATH = re.compile(
    r"(?<![\w:/.$(])(?:file://)?/(?:work|root|home|tmp|usr|opt|var|mnt|srv|Users|private)/[^\s\"'<>|]*"
)


class BundleInputError(ValueError):
    """Inputs that cannot go into a bundle; the message names the run or file and the fix."""


def _default_model_path() -> str | None:
    try:
        from mteb_hybrid.default_model import default_model_path

        return str(Path(default_model_path()).resolve())
    except Exception:  # noqa: BLE001 - the default model package is optional
        return None


def path_rewrites(source: Path) -> list[tuple[str, str]]:
    """``(machine prefix, portable text)`` pairs, most specific first, for one results folder."""
    pairs: list[tuple[str, str]] = []
    model = _default_model_path()
    if model:
        pairs.append((f"file://{model}", "$(mteb-hybrid default-model)"))
        pairs.append((model, "$(mteb-hybrid default-model)"))
    folder = str(source.resolve())
    pairs += [(f"file://{folder}", "<sweep>"), (folder, "<sweep>")]
    home = str(Path.home())
    if home not in ("/", ""):
        pairs.append((home, "~"))
    return pairs


def portable(value: Any, rewrites: Sequence[tuple[str, str]]) -> Any:
    """``value`` (JSON data) with every machine prefix replaced, recursively."""
    if isinstance(value, str):
        for prefix, replacement in rewrites:
            value = value.replace(prefix, replacement)
        return value
    if isinstance(value, list):
        return [portable(v, rewrites) for v in value]
    if isinstance(value, dict):
        return {portable(k, rewrites): portable(v, rewrites) for k, v in value.items()}
    return value


def unfinished_runs(source: Path) -> dict[str, tuple[str, ...]]:
    """The runs of a sweep folder that are not ``done``: run id -> the relative folders that
    belong to it (``runs/<id>`` and, once it has a model, mteb's ``results/<model>``)."""
    unfinished: dict[str, tuple[str, ...]] = {}
    for info in run_states(source, error=BundleInputError):
        if info.get("status") == "done":
            continue
        run_id = str(info["run_id"])
        folders = [f"runs/{run_id}"]
        model = (info.get("model") or {}).get("name")
        if model:
            folders.append(f"results/{results_folder_name(str(model))}")
        unfinished[run_id] = tuple(folders)
    return unfinished


def _input_files(source: Path) -> Iterator[Path]:
    """The files of a results folder that a bundle carries (its result files: those the
    leaderboard reads, :func:`mteb_hybrid.leaderboard.results.result_files`), less those of
    the runs that are not finished (:func:`unfinished_runs`)."""
    from mteb_hybrid.leaderboard.results import result_files

    results = set(result_files(source))
    left_out = [f for folders in unfinished_runs(source).values() for f in folders]
    for path in sorted(source.rglob("*")):
        if not path.is_file():
            continue
        relative = path.relative_to(source)
        if any(part.startswith(".") or part == "checkpoints" for part in relative.parts):
            continue
        if any(relative.as_posix().startswith(f"{folder}/") for folder in left_out):
            continue
        name = path.name
        if name in (SWEEP_FILE, RUN_FILE, TRAINING_METADATA, "model_meta.json"):
            yield path
        elif relative.parts[0] == COVERAGE_DIR and name.endswith(".json"):
            yield path
        elif name.endswith(".per_query.npz"):
            yield path
        elif path in results:
            yield path


def _git_states(folder: Path) -> dict[str, str | None]:
    """Per run (or invocation) of a snapshot, the git state it recorded (``None``: none)."""
    states: dict[str, str | None] = {}
    sweep = folder / SWEEP_FILE
    if sweep.is_file():
        info = json.loads(sweep.read_text(encoding="utf-8"))
        for number, invocation in enumerate(info.get("invocations") or [], start=1):
            versions = invocation.get("versions") or {}
            states[f"{folder.name}: sweep invocation {number}"] = versions.get("git")
    for run_file in sorted(folder.rglob(RUN_FILE)):
        info = json.loads(run_file.read_text(encoding="utf-8"))
        versions = info.get("versions") or {}
        if "git" in versions:
            states[f"{folder.name}: run {run_file.parent.name}"] = versions.get("git")
    return states


def dirty_runs(folder: Path) -> list[str]:
    """Runs or invocations of a snapshot made on a modified tree or without a recorded commit."""
    return [
        f"{name} ({state or 'no commit recorded'})"
        for name, state in _git_states(folder).items()
        if not state or str(state).endswith("+dirty")
    ]


def find_machine_paths(folder: Path) -> list[str]:
    """``"file: path"`` for every machine path left in a bundle's text files."""
    found = []
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.suffix in (".png", ".npz"):
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for match in MACHINE_PATH.finditer(text):
            found.append(f"{path.relative_to(folder).as_posix()}: {match.group(0)}")
    return found


def snapshot_inputs(
    sources: Sequence[str | os.PathLike[str]], bundle: Path, *, allow_dirty: bool = False
) -> tuple[list[Path], list[str]]:
    """Copy each results folder's inputs into ``bundle/inputs/<label>`` (fresh), portable.

    Returns the snapshot folders (relative to ``bundle``) in the order given and the runs made
    on a modified tree (empty unless ``allow_dirty``).
    """
    root = bundle / INPUTS_DIR
    snapshots: list[Path] = []
    dirty: list[str] = []
    labels: set[str] = set()
    staged: list[tuple[Path, Path]] = []
    for raw in sources:
        source = Path(raw).expanduser()
        if not source.is_dir():
            raise BundleInputError(f"{source}: a bundle's inputs must be results folders")
        if source.resolve().is_relative_to(root.resolve()):
            raise BundleInputError(
                f"{source}: already inside {root}; rebuild from the original folders, or check "
                f"the bundle with --check {bundle}"
            )
        label = source.resolve().name
        while label in labels:
            label += "_"
        labels.add(label)
        staged.append((source, Path(INPUTS_DIR) / label))
    if root.exists():
        shutil.rmtree(root)
    for source, relative in staged:
        target = bundle / relative
        rewrites = path_rewrites(source)
        for path in _input_files(source):
            destination = target / path.relative_to(source)
            destination.parent.mkdir(parents=True, exist_ok=True)
            if path.suffix == ".json":
                data = json.loads(path.read_text(encoding="utf-8"))
                destination.write_text(
                    json.dumps(portable(data, rewrites), indent=2, ensure_ascii=False) + "\n",
                    encoding="utf-8",
                )
            else:
                shutil.copyfile(path, destination)
        problems = dirty_runs(target)
        if problems and not allow_dirty:
            shutil.rmtree(root, ignore_errors=True)
            raise BundleInputError(
                f"{source}: not from a clean commit: {'; '.join(problems)}; rerun those runs "
                "from a committed tree, or pass --allow-dirty (they are then flagged in the table)"
            )
        dirty += problems
        snapshots.append(relative)
    leftover = find_machine_paths(root)
    if leftover:
        shutil.rmtree(root, ignore_errors=True)
        raise BundleInputError(
            f"{bundle}: machine paths would remain in the inputs ({leftover[0]}"
            f"{f' and {len(leftover) - 1} more' if len(leftover) > 1 else ''}); move the "
            "results under the sweep folder or the default model"
        )
    return snapshots, dirty


def bundle_command(command: str, snapshots: Sequence[Path]) -> str:
    """The recorded command of a bundle: the same options, reading ``inputs/<label>`` and
    writing ``--bundle .``, both relative to the bundle (where ``--check`` reruns it)."""
    import shlex

    words = shlex.split(command)
    head: list[str] = []
    i = 0
    options_end = len(words) - sum(1 for _ in snapshots)
    while i < options_end:
        word = words[i]
        name, sep, _ = word.partition("=")
        if name == "--bundle":
            i += 1 if sep else 2
            continue
        head.append(word)
        i += 1
    return shlex.join([*head, "--bundle", ".", *(p.as_posix() for p in snapshots)])
