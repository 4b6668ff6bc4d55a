"""The built distributions: metadata, LICENSE and py.typed in both, and the wheel run for real.

The distributions are built offline (``python -m build --no-isolation``: hatchling and build come
with the ``dev`` extra), so these tests need no network. The slow test installs the wheel, not the
editable checkout, into a fresh virtual environment and runs the stock ``mteb run`` there, which is
what a user of the published package does and what CI's editable install would not notice (a
module or the ``.pth`` start-up hook missing from the wheel).
"""

from __future__ import annotations

import ast
import email
import hashlib
import json
import os
import re
import subprocess
import sys
import sysconfig
import tarfile
import venv
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

# sha256 of https://www.apache.org/licenses/LICENSE-2.0.txt, the unmodified licence text
APACHE_2_SHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"
REPO_URL = "https://github.com/mteb-hybrid/mteb-hybrid"
XQUAD_R_ISO3 = ["arb", "deu", "ell", "eng", "spa", "hin", "rus", "tha", "tur", "vie", "zho"]


def _version() -> str:
    """``__version__`` as written in ``mteb_hybrid/__init__.py`` (the single source)."""
    tree = ast.parse((REPO_ROOT / "mteb_hybrid" / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__version__" for t in node.targets
        ):
            return ast.literal_eval(node.value)
    raise AssertionError("mteb_hybrid/__init__.py defines no __version__")


@pytest.fixture(scope="module")
def dists(tmp_path_factory) -> tuple[Path, Path]:
    """(wheel, sdist) built offline; the wheel is built from the sdist, as `build` does."""
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(REPO_ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    (wheel,) = out.glob("mteb_hybrid-*.whl")
    (sdist,) = out.glob("mteb_hybrid-*.tar.gz")
    return wheel, sdist


def test_license_is_the_unmodified_apache_2_text() -> None:
    text = (REPO_ROOT / "LICENSE").read_bytes()
    assert hashlib.sha256(text).hexdigest() == APACHE_2_SHA256


def test_wheel_ships_license_py_typed_hook_and_metadata(dists) -> None:
    wheel, _ = dists
    version = _version()
    assert wheel.name == f"mteb_hybrid-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        dist_info = f"mteb_hybrid-{version}.dist-info"
        assert archive.read(f"{dist_info}/licenses/LICENSE") == (REPO_ROOT / "LICENSE").read_bytes()
        metadata = email.message_from_bytes(archive.read(f"{dist_info}/METADATA"))
    assert {"mteb_hybrid/py.typed", "mteb_hybrid_autoload.pth"} <= names
    # every module of the package is in the wheel (nothing left to the editable checkout)
    modules = {
        p.relative_to(REPO_ROOT).as_posix() for p in (REPO_ROOT / "mteb_hybrid").rglob("*.py")
    }
    assert modules <= names, sorted(modules - names)
    assert metadata["Version"] == version
    assert metadata["License-Expression"] == "Apache-2.0"
    assert metadata.get_all("License-File") == ["LICENSE"]
    assert "License ::" not in " ".join(metadata.get_all("Classifier"))  # PEP 639: expression only
    assert "Typing :: Typed" in metadata.get_all("Classifier")
    assert metadata["Author"] == "The mteb-hybrid developers"
    urls = dict(u.split(", ", 1) for u in metadata.get_all("Project-URL"))
    assert urls["Source"] == REPO_URL and urls["Issues"] == f"{REPO_URL}/issues"


def test_sdist_ships_license_py_typed_and_tests_but_no_results(dists) -> None:
    _, sdist = dists
    root = f"mteb_hybrid-{_version()}"
    with tarfile.open(sdist) as archive:
        names = {m.name for m in archive.getmembers()}
        pkg_info = email.message_from_bytes(archive.extractfile(f"{root}/PKG-INFO").read())
        license_text = archive.extractfile(f"{root}/LICENSE").read()
    assert license_text == (REPO_ROOT / "LICENSE").read_bytes()
    for path in ["mteb_hybrid/py.typed", "mteb_hybrid_autoload.pth", "pyproject.toml"]:
        assert f"{root}/{path}" in names, path
    assert f"{root}/tests/conftest.py" in names
    assert not any(n.startswith(f"{root}/leaderboards") for n in names)
    assert pkg_info["License-Expression"] == "Apache-2.0" and pkg_info["Version"] == _version()


def test_version_is_written_once() -> None:
    pyproject = (REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'^dynamic = \["version"\]', pyproject, re.M)
    assert not re.search(r"^version\s*=", pyproject, re.M)
    source = r'^\[tool\.hatch\.version\]\npath = "mteb_hybrid/__init__.py"'
    assert re.search(source, pyproject, re.M)


def _markdown_links(text: str) -> list[str]:
    """Targets of inline links and images, and of reference definitions, outside code."""
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    text = re.sub(r"`[^`\n]*`", "", text)
    inline = re.findall(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)", text)
    references = re.findall(r"^\s*\[[^\]]+\]:\s*(\S+)", text, flags=re.M)
    html = re.findall(r"(?:src|href)=\"([^\"]+)\"", text)
    return inline + references + html


def _github_anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    slug = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return slug.replace(" ", "-")


def test_readme_links_work_on_pypi() -> None:
    """No relative links (they break on PyPI); repo links name files that exist; anchors resolve."""
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    links = _markdown_links(readme)
    assert links, "no links found: the link parser is broken"
    prose = re.sub(r"```.*?```", "", readme, flags=re.S)
    headings = {_github_anchor(h) for h in re.findall(r"^#{1,6}\s+(.+?)\s*#*$", prose, flags=re.M)}
    prefixes = (
        f"{REPO_URL}/blob/main/",
        f"{REPO_URL}/tree/main/",
        "https://raw.githubusercontent.com/mteb-hybrid/mteb-hybrid/main/",
    )
    for link in links:
        if link.startswith("#"):
            assert link[1:] in headings, f"README anchor {link} matches no heading"
            continue
        assert re.match(r"(https?|mailto):", link), f"README link {link!r} is relative"
        for prefix in prefixes:
            if link.startswith(prefix):
                path = link[len(prefix) :].split("#")[0]
                assert (REPO_ROOT / path).exists(), f"README link {link} names no file in the repo"


def _xquad_r_slice(shared_data: Path, folder: Path, articles: int = 1) -> Path:
    """The first ``articles`` articles of every XQuAD-R language (real, parallel text)."""
    for source in sorted((shared_data / "xquad-r").glob("*.json")):
        payload = json.loads(source.read_text(encoding="utf-8"))
        payload["data"] = payload["data"][:articles]
        target = folder / "xquad-r" / source.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
    return folder


def _fresh_venv(folder: Path) -> Path:
    """A new virtual environment that sees this environment's packages but not its mteb_hybrid.

    ``venv --system-site-packages`` would expose the *base* interpreter's site-packages, not this
    virtual environment's, so the installed packages (torch, mteb, ...) are made visible with a
    path file listing this interpreter's ``sys.path`` entries instead. Path lines do not run the
    ``.pth`` files of those folders, so the editable install's path hook and its copy of the
    autoload hook stay inert; entries holding an ``mteb_hybrid`` package (the checkout) are left
    out. The new environment's own site-packages comes first on ``sys.path``, and pip (this
    environment's, found on that path) installs into it.
    """
    venv.EnvBuilder(with_pip=False, clear=True).create(folder)
    python = folder / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    entries = [
        p
        for p in dict.fromkeys([*sys.path, sysconfig.get_paths()["purelib"]])
        if p and Path(p).is_dir() and not (Path(p) / "mteb_hybrid").exists()
    ]
    (Path(site) / "_project_env.pth").write_text("\n".join(entries) + "\n", encoding="utf-8")
    return python


PROBE = """
import json, sys
autoload = sys.modules.get("mteb_hybrid._autoload")  # imported by the .pth at start-up
import importlib.metadata as md
import mteb_hybrid
dist = md.distribution("mteb-hybrid")
print(json.dumps({
    "package": mteb_hybrid.__file__,
    "autoload": getattr(autoload, "__file__", None),
    "version": mteb_hybrid.__version__,
    "dist_version": dist.version,
    "dist_files": [str(dist.locate_file(f)) for f in dist.files or []],
    "sys_path": sys.path,
}))
"""


@pytest.mark.slow
def test_wheel_in_a_fresh_venv_runs_stock_mteb(dists, shared_data, minilm_path, tmp_path) -> None:
    """Install the wheel (non-editable) and run `mteb run` on a real XQuAD-R slice with MiniLM."""
    wheel, _ = dists
    env_dir = tmp_path / "venv"
    python = _fresh_venv(env_dir)
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONHOME"}}
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INDEX="1")
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", str(wheel)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr[-3000:]

    probe = subprocess.run(
        [str(python), "-c", PROBE], capture_output=True, text=True, env=env, timeout=120
    )
    assert probe.returncode == 0, probe.stderr[-3000:]
    info = json.loads(probe.stdout)
    site = env_dir.resolve()
    assert Path(info["package"]).resolve().is_relative_to(site), info["package"]
    assert info["autoload"] and Path(info["autoload"]).resolve().is_relative_to(site)
    assert info["version"] == info["dist_version"] == _version()
    installed = {Path(f).name for f in info["dist_files"]}
    assert {"mteb_hybrid_autoload.pth", "LICENSE", "py.typed"} <= installed
    assert str(REPO_ROOT) not in info["sys_path"]

    check = subprocess.run(
        [str(python), "-m", "pip", "check"], capture_output=True, text=True, env=env, timeout=120
    )
    assert check.returncode == 0, check.stdout + check.stderr

    # No stock-CLI option shrinks XQuAD-R's collection (`-l` only filters subsets; the pooled
    # corpus would still hold all 13,014 sentences, minutes to encode here), so the data folder is
    # a real slice: the first article of every language (about 20 sentences each).
    data = _xquad_r_slice(shared_data, tmp_path / "data")
    env.update(
        MTEB_HYBRID_DATA=str(data),
        MTEB_HYBRID_VERIFY="0",  # the slice is not the published file
        MTEB_HYBRID_QUERIES_PER_LANGUAGE="5",
    )
    done = subprocess.run(
        [str(python), "-m", "mteb", "run", "-m", minilm_path, "-t", "XQuADRRetrieval"]
        + ["--output-folder", "out"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (result_file,) = (tmp_path / "out" / "results").glob("*/*/XQuADRRetrieval.json")
    scores = {s["hf_subset"]: s for s in json.loads(result_file.read_text())["scores"]["test"]}
    expected = (
        {f"{x}-{x}" for x in XQUAD_R_ISO3}
        | {f"{x}-{y}" for x in XQUAD_R_ISO3 for y in XQUAD_R_ISO3 if x != y}
        | {f"{x}-all" for x in XQUAD_R_ISO3}
    )
    assert set(scores) == expected and len(expected) == 132
    assert scores["eng-all"]["num_queries"] == 5
    assert scores["eng-eng"]["map"] > 0.5  # English MiniLM on ~20 English sentences
    assert "rank_distance" in scores["eng-all"]
    assert result_file.with_name("XQuADRRetrieval.per_query.npz").is_file()
