"""The import rules of docs/ARCHITECTURE.md, read from the source with ``ast``.

Every module of ``mteb_hybrid`` belongs to a room; a room may import only the rooms listed for it
in :data:`MAY_IMPORT`, some rooms never import some libraries, and no module imports a CLI module
(``mteb_hybrid/cli.py`` loads the subcommands by name). Imports inside functions and under
``TYPE_CHECKING`` count too. ``python tests/test_architecture.py`` prints the room graph.
"""

from __future__ import annotations

import ast
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "mteb_hybrid"

# room -> the modules in it: a package (every module below it) or single modules
ROOMS: dict[str, tuple[str, ...]] = {
    "floor": (
        "mteb_hybrid.runs",
        "mteb_hybrid.files",
        "mteb_hybrid.provenance",
        "mteb_hybrid.default_model",
        "mteb_hybrid.coverage_report",
        "mteb_hybrid.env",
    ),
    "data": ("mteb_hybrid.data",),
    "groups": ("mteb_hybrid.groups",),
    "evaluation": ("mteb_hybrid.evaluation",),
    "tasks": ("mteb_hybrid.tasks",),
    "seam": (
        "mteb_hybrid",
        "mteb_hybrid._autoload",
        "mteb_hybrid.registration",
        "mteb_hybrid.local_models",
        "mteb_hybrid.mteb_cli",
        "mteb_hybrid.scale_cli",
    ),
    "coverage": ("mteb_hybrid.coverage",),
    "trainers": ("mteb_hybrid.trainers",),
    "sweep": ("mteb_hybrid.sweep",),
    "leaderboard": ("mteb_hybrid.leaderboard",),
    "mteb-results": ("mteb_hybrid.leaderboard.mteb_results",),
    "cli": ("mteb_hybrid.cli",),
}
# room -> the other rooms it may import
MAY_IMPORT: dict[str, set[str]] = {
    "floor": set(),
    "data": {"floor"},
    "groups": {"floor", "data"},
    "evaluation": {"floor"},
    "tasks": {"floor", "data", "groups", "evaluation"},
    "seam": {"floor", "evaluation", "tasks"},
    "coverage": {"floor", "tasks", "seam"},
    "trainers": {"floor", "data"},
    "sweep": {"floor", "data", "groups", "trainers", "tasks", "evaluation", "seam", "coverage"},
    "leaderboard": {"floor", "data", "groups", "evaluation", "mteb-results"},
    "mteb-results": set(),
    "cli": {"floor", "data", "coverage"},
}
MODELS = {"mteb", "torch", "sentence_transformers", "transformers", "accelerate"}
# room -> libraries it never imports; "torch" in LAZY_ONLY: only inside functions
NEVER: dict[str, set[str]] = {
    "floor": {"mteb", "sentence_transformers", "transformers", "datasets"},
    "data": MODELS,
    "groups": MODELS | {"datasets"},
    "evaluation": MODELS - {"torch"} | {"datasets"},
    "trainers": {"mteb"},
    "leaderboard": MODELS | {"datasets"},
    "mteb-results": MODELS - {"mteb"} | {"datasets"},
}
LAZY_ONLY: dict[str, set[str]] = {
    "floor": {"torch"},
    "evaluation": {"torch"},
    "mteb-results": {"mteb"},
}


def module_name(path: Path) -> str:
    """``mteb_hybrid/tasks/base.py`` -> ``mteb_hybrid.tasks.base`` (packages: their name)."""
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def room_of(module: str) -> str | None:
    """The room of a module (the longest matching entry of :data:`ROOMS`)."""
    best, length = None, -1
    for room, prefixes in ROOMS.items():
        for prefix in prefixes:
            matches = module == prefix or (
                module.startswith(prefix + ".") and prefix != "mteb_hybrid"
            )
            if matches and len(prefix) > length:
                best, length = room, len(prefix)
    return best


def is_cli(module: str) -> bool:
    """A command-line module: ``mteb_hybrid.cli``, any ``*.cli`` or ``*.__main__``."""
    return module == "mteb_hybrid.cli" or module.endswith((".cli", ".__main__"))


def imports(source: str, module: str) -> Iterator[tuple[int, str, bool]]:
    """``(line, imported module, at module level)`` for every import statement in ``source``."""
    tree = ast.parse(source)
    top_level = {id(node) for node in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, id(node) in top_level
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".")[: len(module.split(".")) - node.level + 1]
                base = ".".join([*package[:-1], base] if base else package[:-1])
            for alias in node.names:
                target = f"{base}.{alias.name}"
                # "from mteb_hybrid.x import y": y may be a module or a name in x
                yield node.lineno, target if _is_module(target) else base, id(node) in top_level


def _is_module(name: str) -> bool:
    path = PACKAGE.parent.joinpath(*name.split("."))
    return name.startswith("mteb_hybrid") and (path.with_suffix(".py").is_file() or path.is_dir())


def violations(module: str, source: str) -> list[str]:
    """Every broken rule of one module's imports, one line each."""
    room = room_of(module)
    if room is None:
        return [f"{module}: in no room; add it to ROOMS here and to docs/ARCHITECTURE.md"]
    found: list[str] = []
    for line, target, top in dict.fromkeys(imports(source, module)):
        where = f"{module}:{line} imports {target}"
        if target.startswith("mteb_hybrid"):
            other = room_of(target)
            if is_cli(target) and not (module == "mteb_hybrid.cli"):
                found.append(f"{where}: nothing imports a CLI module")
            elif other is not None and other != room and other not in MAY_IMPORT[room]:
                found.append(f"{where}: {room} may not import {other}")
            continue
        library = target.split(".")[0]
        if library in NEVER.get(room, set()):
            found.append(f"{where}: {room} never imports {library}")
        elif top and library in LAZY_ONLY.get(room, set()):
            found.append(f"{where}: {room} imports {library} only inside functions")
    return found


def package_modules() -> Iterator[tuple[str, str]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        yield module_name(path), path.read_text(encoding="utf-8")


def test_no_forbidden_import_arrow() -> None:
    found = [line for module, source in package_modules() for line in violations(module, source)]
    assert not found, "\n".join(found)


def test_the_checker_catches_each_kind_of_forbidden_import() -> None:
    cases = {
        "mteb_hybrid.leaderboard.board": "from mteb_hybrid.sweep.plan import RunSpec",
        "mteb_hybrid.tasks.base": "def f():\n    from mteb_hybrid.registration import register",
        "mteb_hybrid.sweep.runner": "import mteb_hybrid.leaderboard.cli",
        "mteb_hybrid.trainers.trainer": "from mteb_hybrid.sweep import cli",
        "mteb_hybrid.data.lareqa": "from mteb_hybrid.trainers.config import TrainConfig",
        "mteb_hybrid.evaluation.ranking": "import mteb",
        "mteb_hybrid.evaluation.metrics": "import torch",
        "mteb_hybrid.newroom": "import json",
        "mteb_hybrid.leaderboard.results": "def f():\n    import mteb",
        "mteb_hybrid.leaderboard.mteb_results": "import mteb",
    }
    for module, source in cases.items():
        assert violations(module, source), f"{module}: {source!r} passed"
    allowed = "def f():\n    import torch"
    assert not violations("mteb_hybrid.evaluation.ranking", allowed)
    lazy_mteb = "def f():\n    from mteb.results import TaskResult"
    assert not violations("mteb_hybrid.leaderboard.mteb_results", lazy_mteb)
    assert not violations("mteb_hybrid.cli", "from mteb_hybrid.default_model import x")


def room_graph() -> Counter[tuple[str, str]]:
    """``(room, imported room)`` -> number of import statements, across the package."""
    graph: Counter[tuple[str, str]] = Counter()
    for module, source in package_modules():
        for _, target, _ in imports(source, module):
            if target.startswith("mteb_hybrid"):
                here, there = room_of(module), room_of(target)
                if here != there:
                    graph[(str(here), str(there))] += 1
    return graph


if __name__ == "__main__":
    for (here, there), count in sorted(room_graph().items()):
        print(f"{here:12s} -> {there:12s} {count:3d}")
    sys.exit(0)
