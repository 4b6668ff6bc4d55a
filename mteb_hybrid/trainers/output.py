"""The folders a training run reads and writes, checked before any data loads.

The base model: a value that reads as a path (absolute, ``./``, ``../``, ``~``, or more than one
``/``, which a Hub id ``org/name`` never has) must be an existing folder.

The output folder: refuse to overwrite the base model or another finished model.

A finished model is a folder a model was saved to (``modules.json``, ``config.json`` or
``model.safetensors``). Writing into the same run's finished folder again (a rerun with the same
settings, or a ``resume`` of it) is allowed; anything else needs ``overwrite=True``
(``--overwrite``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from mteb_hybrid.runs import TRAINING_METADATA
from mteb_hybrid.trainers.config import TrainConfig, TrainConfigError

MODEL_MARKERS = ("modules.json", "config.json", "model.safetensors")
# settings that do not make a run a different one
NOT_IDENTITY = ("resume", "overwrite")


def _identity(settings: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in settings.items() if k not in NOT_IDENTITY}


def check_output_folder(config: TrainConfig) -> None:
    """Raise :class:`TrainConfigError` (one line, naming the folder and ``--overwrite``) when
    ``config.output_dir`` is the base model's folder or holds a different finished model."""
    if config.overwrite:
        return
    output = Path(config.output_dir)
    base = Path(config.base_model)
    if base.exists() and output.exists() and output.resolve() == base.resolve():
        raise TrainConfigError(
            f"--output {output} is the base model's folder; training would overwrite it: "
            "choose another --output, or pass --overwrite"
        )
    if config.resume or not any((output / name).is_file() for name in MODEL_MARKERS):
        return  # a resume continues the run in its folder (its own settings check guards it)
    metadata = output / TRAINING_METADATA
    try:
        saved = json.loads(metadata.read_text())["settings"]
    except (OSError, ValueError, KeyError, TypeError):
        saved = None
    if isinstance(saved, dict) and _identity(saved) == _identity(config.to_dict()):
        return  # the same run, trained again
    raise TrainConfigError(
        f"--output {output} holds a different finished model; choose another --output, "
        "or pass --overwrite to replace it"
    )


def looks_like_a_path(value: str) -> bool:
    """Whether ``value`` can only be a local path (a Hub id is ``name`` or ``org/name``)."""
    return (
        os.path.isabs(value)
        or value.startswith((".", "~"))
        or value.count("/") > 1
        or (os.sep != "/" and os.sep in value)
    )


def check_base_model(config: TrainConfig) -> None:
    """Raise :class:`TrainConfigError` when ``--base-model`` names a local folder that is not
    there (before the training data loads)."""
    path = Path(config.base_model).expanduser()
    if looks_like_a_path(config.base_model) and not path.is_dir():
        what = "is a file, not a model folder" if path.exists() else "does not exist"
        raise TrainConfigError(
            f"--base-model {config.base_model} {what}; give a sentence-transformers model "
            "folder or a Hub id (org/name)"
        )
