"""Declared dependencies are the imported ones, and README's dependency tables say the same.

Imports are read with ``ast`` (nothing is imported); import names are mapped to distributions with
``importlib.metadata.packages_distributions`` (``yaml`` -> ``PyYAML``). Rules:

- the package: every third-party import is a runtime dependency, except an import guarded by
  ``except ImportError`` / ``ModuleNotFoundError``, which must be in an extra; every runtime
  dependency is imported somewhere in the package;
- tests and benchmarks: every third-party import is a runtime dependency or in the ``dev`` extra
  (what CI installs).
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

FIRST_PARTY = {"mteb_hybrid", "tests"}
IMPORT_ERRORS = {"ImportError", "ModuleNotFoundError"}


def normalize(name: str) -> str:
    """PEP 503 normalised distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    """Distribution name of a PEP 508 requirement string (extras, versions, markers dropped)."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    assert match, f"pyproject.toml: cannot read the requirement {requirement!r}"
    return normalize(match.group(1))


def pyproject() -> dict:
    return tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def runtime_dependencies() -> set[str]:
    return {requirement_name(r) for r in pyproject()["project"]["dependencies"]}


def extra_dependencies() -> dict[str, set[str]]:
    extras = pyproject()["project"].get("optional-dependencies", {})
    return {extra: {requirement_name(r) for r in reqs} for extra, reqs in extras.items()}


def _guarded(node: ast.Try) -> bool:
    for handler in node.handlers:
        caught = handler.type
        names = caught.elts if isinstance(caught, ast.Tuple) else [caught]
        if any(isinstance(n, ast.Name) and n.id in IMPORT_ERRORS for n in names):
            return True
    return False


def imports_of(path: Path) -> Iterator[tuple[str, bool, int]]:
    """(top-level module, guarded by an import-error handler, line) of each absolute import."""

    def visit(node: ast.AST, guarded: bool) -> Iterator[tuple[str, bool, int]]:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name.split(".")[0], guarded, node.lineno
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.split(".")[0], guarded, node.lineno
        if isinstance(node, ast.Try):
            for child in node.body:
                yield from visit(child, guarded or _guarded(node))
            for child in [*node.handlers, *node.orelse, *node.finalbody]:
                yield from visit(child, guarded)
            return
        for child in ast.iter_child_nodes(node):
            yield from visit(child, guarded)

    yield from visit(ast.parse(path.read_text(encoding="utf-8"), str(path)), False)


def third_party_imports(folder: Path) -> Iterator[tuple[str, bool, str]]:
    """(module, guarded, "file:line") for imports that are neither stdlib nor first party."""
    local = {p.stem for p in folder.rglob("*.py")}  # scripts importing their neighbours
    for path in sorted(folder.rglob("*.py")):
        for module, guarded, line in imports_of(path):
            if module in sys.stdlib_module_names or module in FIRST_PARTY | local:
                continue
            yield module, guarded, f"{path.relative_to(REPO_ROOT)}:{line}"


@functools.cache
def _packages_distributions() -> dict[str, list[str]]:
    return importlib.metadata.packages_distributions()


def distributions_of(module: str) -> set[str]:
    """Distributions providing an import name (the name itself when none is installed)."""
    found = _packages_distributions().get(module) or [module]
    return {normalize(d) for d in found}


def test_import_scanner_sees_guarded_and_nested_imports(tmp_path) -> None:
    """The scanner itself: a test of the rules would pass vacuously if it missed imports."""
    source = tmp_path / "mod.py"
    source.write_text(
        "import os, numpy.linalg\nfrom yaml import safe_load\n"
        "def f():\n    from torch import nn\n"
        "try:\n    import tomllib\nexcept ModuleNotFoundError:\n    import tomli\n"
        "try:\n    import fcntl\nexcept (OSError, ImportError):\n    pass\n"
        "try:\n    import click\nexcept ValueError:\n    pass\n"
        "from . import sibling\n",
        encoding="utf-8",
    )
    found = {(m, g) for m, g, _ in imports_of(source)}
    assert found == {
        ("os", False),
        ("numpy", False),
        ("yaml", False),
        ("torch", False),
        ("tomllib", True),
        ("tomli", False),
        ("fcntl", True),
        ("click", False),
    }
    assert distributions_of("yaml") == {"pyyaml"}


def test_every_package_import_is_declared() -> None:
    runtime = runtime_dependencies()
    optional = set().union(*extra_dependencies().values())
    missing = []
    for module, guarded, where in third_party_imports(REPO_ROOT / "mteb_hybrid"):
        declared = runtime | optional if guarded else runtime
        if not distributions_of(module) & declared:
            kind = "an extra" if guarded else "[project] dependencies"
            missing.append(f"{where}: import {module} ({distributions_of(module)}) not in {kind}")
    assert not missing, "\n".join(missing)


def test_every_runtime_dependency_is_imported_by_the_package() -> None:
    imported: set[str] = set()
    for module, guarded, _ in third_party_imports(REPO_ROOT / "mteb_hybrid"):
        if not guarded:
            imported |= distributions_of(module)
    unused = runtime_dependencies() - imported
    assert not unused, f"declared in [project] dependencies but imported nowhere: {unused}"


@pytest.mark.parametrize("folder", ["tests", "benchmarks"])
def test_test_and_benchmark_imports_are_in_what_ci_installs(folder: str) -> None:
    """Everything tests and benchmarks import is installed by CI, except a benchmark's guarded
    import (``try: import faiss`` / ``except ImportError``): the benchmark runs without it and
    says so (faiss is compared, not used: README "Scale")."""
    installed_by_ci = runtime_dependencies() | extra_dependencies()["dev"]
    missing = [
        f"{where}: import {module}"
        for module, guarded, where in third_party_imports(REPO_ROOT / folder)
        if not distributions_of(module) & installed_by_ci
        and not (folder == "benchmarks" and guarded)
    ]
    assert not missing, "\n".join(missing) + "\n(add them to the dev extra)"


def readme_dependency_tables() -> dict[str, set[str]]:
    """``{"package": {...}, "dev package": {...}}`` from README's Dependencies section."""
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"^## Dependencies\n(.*?)(?=^## |\Z)", readme, flags=re.M | re.S)
    assert match, "README.md has no '## Dependencies' section"
    tables: dict[str, set[str]] = {}
    header = None
    for line in match.group(1).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if "|" in line else []
        if not cells:
            header = None
        elif header is None:
            header = cells[0]
            tables[header] = set()
        elif not set(cells[0]) <= set("-: "):
            tables[header].add(requirement_name(cells[0].strip("`")))
    return tables


def test_readme_dependency_tables_match_pyproject() -> None:
    tables = readme_dependency_tables()
    assert tables.keys() == {"package", "dev package"}, tables.keys()
    assert tables["package"] == runtime_dependencies()
    assert tables["dev package"] == extra_dependencies()["dev"]
