"""Many-language tasks: cross-lingual subsets around a pivot by default, the matrix on request.

With 36 languages the full cross-lingual matrix has 1,260 subsets. By default such a task runs
``X-eng`` and ``eng-X`` for every language X (plus its monolingual and pooled subsets) and the
full matrix only when asked (``full_cross_matrix=True`` or the task's environment variable). The
task's metadata declares every subset, so ``mteb.get_task(..., hf_subsets=[...])`` can still name
any pair.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mteb_hybrid.env import env_flag
from mteb_hybrid.runs import POOLED
from mteb_hybrid.tasks.base import MultiSettingRetrievalTask

PIVOT = "en"


def pivot_pairs(
    languages: Sequence[str], mono: Sequence[str], pivot: str = PIVOT
) -> list[tuple[str, str]]:
    """The ``mono`` pairs, ``X-pivot`` and ``pivot-X`` for every X, and every pooled setting."""
    cross = []
    if pivot in languages:
        for x in languages:
            if x != pivot:
                cross += [(x, pivot), (pivot, x)]
    return [(x, x) for x in mono] + cross + [(x, POOLED) for x in languages]


def matrix_pairs(languages: Sequence[str], mono: Sequence[str]) -> list[tuple[str, str]]:
    """The ``mono`` pairs, every cross-lingual pair and every pooled setting."""
    cross = [(x, y) for x in languages for y in languages if x != y]
    return [(x, x) for x in mono] + cross + [(x, POOLED) for x in languages]


def truthy(value: str | None) -> bool:
    """Whether an environment value means yes (``1``, ``true``, ``yes``, ``on``)."""
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


class PivotSubsetsTask(MultiSettingRetrievalTask):
    """A multi-setting task whose default cross-lingual subsets go through a pivot language.

    Subclasses set ``DEFAULT_SUBSETS`` (the subset names run by default) and ``FULL_MATRIX_ENV``.

    Args:
        full_cross_matrix: score every cross-lingual pair instead of ``X-eng`` / ``eng-X``
            (default: the task's ``FULL_MATRIX_ENV`` variable).
        Other arguments: see :class:`MultiSettingRetrievalTask`.
    """

    DEFAULT_SUBSETS: frozenset[str] = frozenset()
    FULL_MATRIX_ENV = ""

    def __init__(self, *, full_cross_matrix: bool | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if full_cross_matrix is None:
            full_cross_matrix = (
                bool(env_flag(self.FULL_MATRIX_ENV)) if self.FULL_MATRIX_ENV else False
            )
        self.full_cross_matrix = full_cross_matrix
        self.hf_subsets = [s for s in self.hf_subsets if self._offered(s)]

    def _offered(self, hf_subset: str) -> bool:
        """Whether a subset is run by default (all of them with ``full_cross_matrix``)."""
        return self._covers(hf_subset) and (
            self.full_cross_matrix or hf_subset in self.DEFAULT_SUBSETS
        )

    def filter_languages(
        self,
        languages: Sequence[str] | None,
        script: Sequence[str] | None = None,
        hf_subsets: Sequence[str] | None = None,
        exclusive_language_filter: bool = False,
    ) -> PivotSubsetsTask:
        """mteb's language filter, kept to the default subsets unless subsets are named."""
        super().filter_languages(languages, script, hf_subsets, exclusive_language_filter)
        if hf_subsets is None:
            self.hf_subsets = [s for s in self.hf_subsets if self._offered(s)]
        return self
