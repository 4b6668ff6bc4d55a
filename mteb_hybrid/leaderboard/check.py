"""Recompute a leaderboard bundle from its inputs and compare it with the files committed.

A bundle (``mteb-hybrid leaderboard --bundle DIR RESULTS...``) records the command that wrote it
in ``leaderboard.json`` (``metadata.command``). :func:`check_bundle` reruns that command from the
directory it is called in (the repository root, where the recorded relative paths point) with
the bundle redirected to a scratch folder, and compares every table file (README.md,
leaderboard.csv / json / tex / html) line by line and the set of plots. The numbers a plot draws
are table cells, which leaderboard.json holds in full, so the plot data is compared through them
(PNG bytes depend on the matplotlib build and are not compared). Every resample is seeded, so a
bundle is reproduced exactly when its inputs and code are unchanged.

Files the recorded command writes outside the bundle (``-o``, ``--plot``, ``--ternary``,
``--heatmap``) go to the scratch folder too and are not compared.
"""

from __future__ import annotations

import difflib
import json
import os
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from mteb_hybrid.leaderboard.bundle_inputs import INPUTS_DIR

TABLE_FILES = (
    "README.md",
    "leaderboard.csv",
    "leaderboard.json",
    "leaderboard.tex",
    "leaderboard.html",
)
PROGRAM = ("mteb-hybrid", "leaderboard")
REDIRECTED = ("-o", "--output", "--plot", "--ternary", "--heatmap")


class BundleCheckError(ValueError):
    """A bundle that cannot be checked; the message names the file and the fix."""


def recorded_command(bundle: Path) -> list[str]:
    """The arguments of the recorded ``mteb-hybrid leaderboard`` command (after the program)."""
    path = bundle / "leaderboard.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        command = data["metadata"]["command"]
    except FileNotFoundError:
        raise BundleCheckError(
            f"{path}: missing; is {bundle} a bundle written by --bundle?"
        ) from None
    except (json.JSONDecodeError, KeyError, TypeError):
        raise BundleCheckError(
            f"{path}: no metadata.command; rewrite the bundle with mteb-hybrid leaderboard --bundle"
        ) from None
    words = shlex.split(str(command))
    if tuple(words[:2]) != PROGRAM or not any(w.split("=")[0] == "--bundle" for w in words):
        raise BundleCheckError(
            f"{path}: metadata.command {command!r} is not an mteb-hybrid leaderboard --bundle "
            "command"
        )
    return words[2:]


def _redirect(args: list[str], scratch: Path) -> tuple[list[str], dict[str, str]]:
    """``args`` with ``--bundle`` (and every other output) pointing into ``scratch``; returns
    the new arguments and ``{path written: path recorded}``."""
    out: list[str] = []
    paths: dict[str, str] = {}
    i = 0
    while i < len(args):
        word = args[i]
        name, sep, inline = word.partition("=")
        if name in ("--bundle", *REDIRECTED):
            value = inline if sep else (args[i + 1] if i + 1 < len(args) else "")
            i += 1 if sep else 2
            if name == "--bundle":
                written = str(scratch / "bundle")
            else:
                written = str(scratch / f"output{len(paths)}{Path(value).suffix}")
            paths[written] = value
            out += [name, written]
            continue
        out.append(word)
        i += 1
    return out, paths


def rebuild_bundle(bundle: Path, scratch: Path, cwd: Path | None = None) -> Path:
    """Rerun the bundle's recorded command into ``scratch/bundle``; returns that folder.

    The command runs in a fresh Python process from ``cwd`` (default: the current directory),
    with this copy of ``mteb_hybrid`` first on the path. In the files written, the scratch path
    is replaced by the recorded bundle path, so that they can be compared as text.
    """
    args, paths = _redirect(recorded_command(bundle), scratch)
    package_root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    done = subprocess.run(
        [sys.executable, "-m", "mteb_hybrid.cli", "leaderboard", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()
        reason = tail[-1] if tail else f"exit status {done.returncode}"
        raise BundleCheckError(
            f"{bundle}: rerunning `mteb-hybrid leaderboard {shlex.join(args)}` failed: {reason} "
            "(run --check from the folder the bundle's command was run in, with its inputs)"
        )
    folder = scratch / "bundle"
    for name in TABLE_FILES:
        path = folder / name
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            for written, recorded in paths.items():
                text = text.replace(written, recorded)
            path.write_text(text, encoding="utf-8")
    return folder


def compare_bundles(expected: Path, actual: Path, context: int = 1) -> list[str]:
    """One line per difference between two bundle folders: table files compared line by line
    (the first differing lines shown), plots by name."""
    problems: list[str] = []
    for name in TABLE_FILES:
        old, new = expected / name, actual / name
        if not old.is_file() or not new.is_file():
            if old.is_file() != new.is_file():
                where = "recomputed bundle" if old.is_file() else "committed bundle"
                problems.append(f"{name}: missing from the {where}")
            continue
        a = _comparable(name, old.read_text(encoding="utf-8").splitlines())
        b = _comparable(name, new.read_text(encoding="utf-8").splitlines())
        if a == b:
            continue
        changed = [
            (i1, i2, j1, j2)
            for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(
                None, a, b, autojunk=False
            ).get_opcodes()
            if tag != "equal"
        ]
        i1, i2, j1, j2 = changed[0]
        first_old = a[i1] if i1 < len(a) else "(end of file)"
        first_new = b[j1] if j1 < len(b) else "(end of file)"
        problems.append(
            f"{name}: {len(changed)} differing block(s); first at line {i1 + 1}: committed "
            f"{_short(first_old)!r}, recomputed {_short(first_new)!r}"
        )
    old_plots = {p.relative_to(expected).as_posix() for p in expected.rglob("*.png")}
    new_plots = {p.relative_to(actual).as_posix() for p in actual.rglob("*.png")}
    for name in sorted(old_plots - new_plots):
        problems.append(f"{name}: committed plot not recomputed")
    for name in sorted(new_plots - old_plots):
        problems.append(f"{name}: recomputed plot missing from the committed bundle")
    return problems


def _comparable(name: str, lines: list[str]) -> list[str]:
    """The lines that carry results: an HTML page from its body on (the head's style and sorting
    script are presentation, so a bundle made before a change of style still checks)."""
    if name.endswith(".html"):
        for i, line in enumerate(lines):
            if "</head>" in line:
                return lines[i + 1 :]
    return lines


def _short(line: str, width: int = 160) -> str:
    return line if len(line) <= width else line[: width - 3] + "..."


def check_bundle(bundle: str | os.PathLike[str], cwd: Path | None = None) -> list[str]:
    """Recompute ``bundle`` from its recorded command and inputs; the differences (none: ok)."""
    bundle = Path(bundle)
    if not bundle.is_dir():
        raise BundleCheckError(f"{bundle}: no such bundle folder")
    if cwd is None and (bundle / INPUTS_DIR).is_dir():
        cwd = bundle  # a bundle carrying its inputs: its command reads inputs/ from there
    scratch = Path(tempfile.gettempdir()) / f"mtebhybridcheck{secrets.token_hex(6)}"
    scratch.mkdir()
    try:
        return compare_bundles(bundle, rebuild_bundle(bundle, scratch, cwd))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
