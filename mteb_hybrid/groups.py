"""Language groups of the tasks, for leaderboards: low-resource averages, worst language, gaps.

This module imports neither mteb nor torch (only the data constants), so leaderboards can use it
cheaply. Codes are ISO 639-3 as in the subset names (``"ben"`` in ``ben-eng``, ``ben-all``).

    >>> language_groups("XM3600Retrieval")["low-resource"]
    ['ben', 'mri', 'quz', 'swa', 'tel']
    >>> unseen_when_trained_on("XQuADRRetrieval", "MLQARRetrieval")
    ['ell', 'rus', 'tha', 'tur']
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

from mteb_hybrid.data.flores import FLORES_LANGUAGES, FLORES_LOW_RESOURCE, STAND_INS
from mteb_hybrid.data.languages import iso3
from mteb_hybrid.data.lareqa import MLQA_R_SHA256, XQUAD_R_SHA256
from mteb_hybrid.data.miracl import MIRACL_LANGUAGES
from mteb_hybrid.data.xm3600 import XM3600_LANGUAGES, XM3600_LOW_RESOURCE

# task name -> its languages (dataset codes)
TASK_LANGUAGES: dict[str, tuple[str, ...]] = {
    "XQuADRRetrieval": tuple(sorted(XQUAD_R_SHA256)),
    "MLQARRetrieval": tuple(sorted(MLQA_R_SHA256)),
    "XM3600Retrieval": XM3600_LANGUAGES,
    "MIRACLMultilingualRetrieval": MIRACL_LANGUAGES,
    "FloresRetrieval": FLORES_LANGUAGES,
}
# task name -> {group: languages (dataset codes)}; tasks not listed have one group, "all".
TASK_GROUPS: dict[str, dict[str, tuple[str, ...]]] = {
    "XM3600Retrieval": {
        "low-resource": XM3600_LOW_RESOURCE,
        "high-resource": tuple(x for x in XM3600_LANGUAGES if x not in XM3600_LOW_RESOURCE),
    },
    # the XM3600 groups on FLORES text; quy (Ayacucho) stands in for XM3600's quz (Cusco)
    "FloresRetrieval": {
        "low-resource": FLORES_LOW_RESOURCE,
        "high-resource": tuple(x for x in FLORES_LANGUAGES if x not in FLORES_LOW_RESOURCE),
    },
}
# task name -> {language here: the XM3600 language it stands in for} (ISO 639-3)
STAND_IN_LANGUAGES: dict[str, dict[str, str]] = {
    "FloresRetrieval": {iso3(code): iso3(other) for code, other in STAND_INS.items()},
}
# groups whose difference is reported as the gap: (better-resourced group, the other)
GAP_GROUPS: dict[str, tuple[str, str]] = {
    "XM3600Retrieval": ("high-resource", "low-resource"),
    "FloresRetrieval": ("high-resource", "low-resource"),
}
# training data names accepted by ``unseen_when_trained_on`` besides task names
TRAINING_ALIASES: dict[str, str] = {"xquad-r": "XQuADRRetrieval", "mlqa-r": "MLQARRetrieval"}


def task_languages(task_name: str) -> list[str]:
    """ISO 639-3 codes of a task's languages."""
    try:
        return [iso3(code) for code in TASK_LANGUAGES[task_name]]
    except KeyError:
        raise ValueError(
            f"no language list for task {task_name!r}: known tasks are {', '.join(TASK_LANGUAGES)}"
        ) from None


def _training_languages(training: str | Iterable[str]) -> set[str]:
    if isinstance(training, str):
        name = TRAINING_ALIASES.get(training.lower(), training)
        return set(task_languages(name))
    return {code if len(code) == 3 else iso3(code) for code in training}


def unseen_when_trained_on(task_name: str, training: str | Iterable[str]) -> list[str]:
    """Languages of ``task_name`` absent from the training data (zero-shot languages).

    ``training`` is a task name (``"MLQARRetrieval"``), a dataset name (``"mlqa-r"``) or language
    codes (``["en", "de"]`` or ``["eng", "deu"]``). MLQA-R -> XQuAD-R gives el, ru, th, tr.
    """
    seen = _training_languages(training)
    return [code for code in task_languages(task_name) if code not in seen]


def language_groups(
    task_name: str, trained_on: str | Iterable[str] | None = None
) -> dict[str, list[str]]:
    """Named language groups of a task (ISO 639-3), e.g. ``low-resource`` / ``high-resource``.

    Tasks without published groups give ``{"all": [...]}``. With ``trained_on`` the groups
    ``seen`` and ``unseen`` (languages in / not in the training data) are added.
    """
    languages = task_languages(task_name)
    groups = {
        name: [iso3(code) for code in codes]
        for name, codes in TASK_GROUPS.get(task_name, {}).items()
    } or {"all": languages}
    if trained_on is not None:
        unseen = unseen_when_trained_on(task_name, trained_on)
        groups["seen"] = [code for code in languages if code not in unseen]
        groups["unseen"] = unseen
    return groups


def group_summary(
    per_language: Mapping[str, float],
    groups: Mapping[str, Sequence[str]],
    gap: tuple[str, str] | None = None,
) -> dict[str, float | str]:
    """Macro average per group, the worst language and the gap between two groups.

    ``per_language`` maps ISO 639-3 codes to a score (e.g. each query language's pooled mAP);
    languages without a score (or a NaN) are left out of the averages. Returns
    ``{"<group>": mean, ..., "worst_language": code, "worst_score": value,
    "gap": mean(gap[0]) - mean(gap[1])}`` (``gap`` only when ``gap`` names two groups).
    """
    scored = {k: float(v) for k, v in per_language.items() if v is not None and not math.isnan(v)}
    summary: dict[str, float | str] = {}
    for name, codes in groups.items():
        values = [scored[c] for c in codes if c in scored]
        summary[name] = sum(values) / len(values) if values else math.nan
    if scored:
        worst = min(scored, key=lambda code: (scored[code], code))
        summary["worst_language"] = worst
        summary["worst_score"] = scored[worst]
    if gap is not None:
        summary["gap"] = float(summary[gap[0]]) - float(summary[gap[1]])
    return summary
