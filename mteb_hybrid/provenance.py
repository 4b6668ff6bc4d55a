"""What produced a result: package versions, the git commit, the device, the command line.

No heavy imports: torch is asked for the device only when it is already installed.
"""

from __future__ import annotations

import os
import platform
import shlex
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any


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


def software_record(names: Iterable[str]) -> dict[str, Any]:
    """Python, platform, the versions of ``names`` (None if missing) and the source's git commit."""
    versions = package_versions(names, keep_missing=True)
    python = versions.pop("python")
    return {"python": python, "platform": platform.platform(), **versions, "git": _git_state()}


def _git_state() -> str | None:
    """``<commit>`` or ``<commit>+dirty`` of the checkout this package runs from, else None."""
    root = Path(__file__).resolve().parents[1]

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10, check=True
        )
        return done.stdout.strip()

    try:
        commit = git("rev-parse", "--short=12", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{commit}{'+dirty' if dirty else ''}" if commit else None


def device_description() -> str:
    """``"cpu (2 cores)"`` or the CUDA devices' names."""
    cores = os.cpu_count()
    try:
        import torch
    except ImportError:
        return f"cpu ({cores} cores)"
    if torch.cuda.is_available():
        names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        return f"cuda: {', '.join(names)}"
    return f"cpu ({cores} cores)"


def command_line(ctx: Any, program: str = "mteb-hybrid") -> str:
    """The command as typed, rebuilt from a click context's options given on the command line."""
    import click
    from click.core import ParameterSource

    words = [program, ctx.info_name or ""]
    arguments: list[str] = []
    for param in ctx.command.params:
        name = param.name or ""
        if ctx.get_parameter_source(name) not in (ParameterSource.COMMANDLINE, None):
            continue
        value = ctx.params.get(name)
        if isinstance(param, click.Argument):
            arguments += [str(v) for v in (value if isinstance(value, tuple) else (value,))]
            continue
        if ctx.get_parameter_source(name) is None:
            continue
        option = max(param.opts, key=len)
        if isinstance(param, click.Option) and param.is_flag:
            if param.secondary_opts and not value:
                option = max(param.secondary_opts, key=len)
            words.append(option)
        elif isinstance(value, tuple):
            for item in value:
                words += [option, str(item)]
        else:
            words += [option, str(value)]
    return shlex.join([*words, *arguments])
