"""Local model directories for mteb: a real name and a content-derived revision.

mteb 2.26 cannot run ``mteb run -m ./my-model`` (it takes the path for a Hub id, or finds no loader
for it), and a SentenceTransformer loaded from a folder is named ``no_model_name/available``, so two
local models share one result cache entry. Here a folder becomes ``ModelMeta(name="local/<folder
name>", revision=<sha256 of its files, 12 hex>)`` with the sentence-transformers loader bound to
the folder, so results of different local models never collide and a retrained model gets a new
revision.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

from mteb_hybrid.runs import CHECKPOINTS

MODEL_MARKERS = ("modules.json", "config_sentence_transformers.json", "config.json")
SKIPPED_DIRS = {CHECKPOINTS, ".git", "__pycache__", "runs", "eval"}
GENERIC_DIR_NAMES = {"model", "models", "final", "output", "best", "latest"}


def is_local_model_dir(name: str) -> bool:
    """Whether ``name`` is an existing folder that holds a model (absolute or relative path)."""
    path = Path(name).expanduser()
    return path.is_dir() and any((path / marker).is_file() for marker in MODEL_MARKERS)


def content_revision(path: str | os.PathLike[str], length: int = 12) -> str:
    """Hash of the model files (names and bytes), skipping checkpoints and logs."""
    root = Path(path)
    digest = hashlib.sha256()
    for file in sorted(root.rglob("*")):
        relative = file.relative_to(root)
        if not file.is_file() or SKIPPED_DIRS.intersection(relative.parts[:-1]):
            continue
        if relative.parts[0].startswith("checkpoint-"):
            continue
        digest.update(str(relative.as_posix()).encode())
        with file.open("rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
    return digest.hexdigest()[:length]


def local_model_name(folder: Path) -> str:
    """``local/<folder>``; a generic folder name (``model``) is prefixed with its parent's."""
    name = folder.name
    if name.lower() in GENERIC_DIR_NAMES and folder.parent.name:
        name = f"{folder.parent.name}-{name}"
    return f"local/{name}"


def mirror_with_max_length(model_dir: str | os.PathLike[str], parent: Path, length: int) -> Path:
    """A local model at another ``max_seq_length``: ``<parent>/<name>-len<N>``, links to its
    files with ``sentence_bert_config.json`` rewritten, so its results carry their own name and
    revision and never pass for the model at its native length. Rebuilt on every call."""
    source = Path(model_dir).resolve()
    name = local_model_name(source).split("/", 1)[1]
    folder = parent / f"{name}-len{int(length)}"
    if folder.exists():
        shutil.rmtree(folder)
    for file in sorted(source.rglob("*")):
        relative = file.relative_to(source)
        if not file.is_file() or {CHECKPOINTS, ".git"}.intersection(relative.parts):
            continue
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if relative.as_posix() != "sentence_bert_config.json":
            target.symlink_to(file)
    settings_file = source / "sentence_bert_config.json"
    settings = json.loads(settings_file.read_text()) if settings_file.is_file() else {}
    settings["max_seq_length"] = int(length)
    (folder / "sentence_bert_config.json").write_text(json.dumps(settings, indent=2) + "\n")
    return folder


def load_local_model(model_name: str, revision: str | None = None, **kwargs: Any) -> Any:
    """mteb loader: a SentenceTransformer from ``model_path`` carrying the local ModelMeta."""
    from mteb.models.sentence_transformer_wrapper import SentenceTransformerEncoderWrapper

    path = kwargs.pop("model_path")
    wrapper = SentenceTransformerEncoderWrapper(model=path, revision=None, **kwargs)
    wrapper.mteb_model_meta = local_model_meta(path)
    return wrapper


def local_model_meta(path: str | os.PathLike[str]) -> Any:
    """A ``ModelMeta`` for a local sentence-transformers folder."""
    from mteb.models.model_meta import ModelMeta, ScoringFunction

    folder = Path(path).expanduser().resolve()
    revision = content_revision(folder)
    similarity = "cosine"
    config = folder / "config_sentence_transformers.json"
    if config.is_file():
        similarity = json.loads(config.read_text()).get("similarity_fn_name") or "cosine"
    embed_dim = None
    max_tokens = None
    for sub in sorted(folder.glob("*Pooling*")) + [folder]:
        pooling = sub / "config.json"
        if sub != folder and pooling.is_file():
            embed_dim = json.loads(pooling.read_text()).get("word_embedding_dimension")
            break
    bert_config = folder / "sentence_bert_config.json"
    if bert_config.is_file():
        max_tokens = json.loads(bert_config.read_text()).get("max_seq_length")
    meta = ModelMeta.create_empty(
        overwrites={
            "name": local_model_name(folder),
            "revision": revision,
            "loader": load_local_model,
            "loader_kwargs": {"model_path": str(folder)},
            "similarity_fn_name": ScoringFunction(similarity),
            "framework": ["Sentence Transformers", "PyTorch"],
            "reference": folder.as_uri(),
            "embed_dim": embed_dim,
            "max_tokens": max_tokens,
            "open_weights": True,
        }
    )
    return meta
