"""Headline figures of one task as functions of its subset scores.

Every figure is computed from a vector ``x`` of one metric over the task's subsets (the mteb JSON
means, or bootstrap resamples of them: any leading axes are kept), so the same code gives point
estimates and bootstrap distributions:

- **setting macro** (``mAP mono`` ...): the mean over the subsets of one setting (mono: every
  ``X-X``; cross: every ``X-Y``; multi: every pooled ``X-all``), each subset weighing the same;
- **language score**: the mean over every subset a language takes part in (as query or corpus
  language; pooled subsets count for their query language), any setting;
- **group** (``unseen``, ``low-resource``): the mean of the group's language scores;
- **one subset** (the low-resource table's ``ben→eng`` ...): that subset's own score;
- **worst language**: the lowest language score; **spread**: the standard deviation of the
  language scores across languages (population, ddof 0).

Subsets a model lacks (``nan``) are left out of its averages.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from mteb_hybrid.groups import GAP_GROUPS
from mteb_hybrid.groups import language_groups as task_language_groups
from mteb_hybrid.leaderboard.results import SETTINGS, SubsetScores
from mteb_hybrid.runs import POOLED

logger = logging.getLogger(__name__)

SETTING_METRICS = ("map", "ndcg_at_10")
METRIC_LABELS = {
    "map": "mAP",
    "ndcg_at_10": "nDCG@10",
    "recall_at_10": "R@10",
    "rank_distance": "RD",
}


@dataclass(frozen=True)
class Column:
    """One figure of the table.

    ``kind``: ``setting`` (macro over a setting's subsets), ``subset`` (one subset's score, from
    ``languages`` = (query, corpus) in ``setting``), ``group``, ``language`` (one language's
    score), ``gap``, ``worst`` or ``spread``. ``scale``: 100 for scores shown x100, 1 for rank
    distance. ``lower_is_better`` flips the sense of "best" and of the significance direction.
    ``chance_normalised``: the figure divided by its random-ranking expectation
    (:mod:`.chance`), per run; it repeats the test of the figure it normalises.
    """

    key: str
    label: str
    metric: str
    kind: str
    setting: str | None = None
    languages: tuple[str, ...] = ()
    lower_is_better: bool = False
    scale: float = 100.0
    chance_normalised: bool = False
    # ``gap`` columns: mean of ``languages`` minus the mean of ``other_languages``
    other_languages: tuple[str, ...] = ()


@dataclass
class Layout:
    """The subsets of one task and split, and which languages and settings each belongs to."""

    subsets: list[str]
    settings: list[str]
    query_langs: list[str]
    corpus_langs: list[str]
    languages: list[str] = field(default_factory=list)

    @classmethod
    def from_scores(cls, scores: Sequence[SubsetScores]) -> Layout:
        """Union of the subsets of every model, in first-seen order."""
        seen: dict[str, SubsetScores] = {}
        for item in scores:
            seen.setdefault(item.subset, item)
        items = list(seen.values())
        layout = cls(
            subsets=[i.subset for i in items],
            settings=[i.setting for i in items],
            query_langs=[i.query_lang for i in items],
            corpus_langs=[i.corpus_lang for i in items],
        )
        langs: list[str] = []
        for i in items:
            langs.append(i.query_lang)
            if i.setting == "cross":
                langs.append(i.corpus_lang)
        layout.languages = sorted({lang for lang in langs if lang})
        return layout

    @property
    def present_settings(self) -> list[str]:
        """Settings with at least one subset, in mono, cross, multi order (then ``other``)."""
        found = set(self.settings)
        return [s for s in (*SETTINGS, "other") if s in found]

    def setting_weights(self, setting: str) -> np.ndarray:
        """Indicator of the subsets of one setting, shape ``(S,)``."""
        return np.array([s == setting for s in self.settings], dtype=np.float64)

    def subset_weights(self, query: str, corpus: str, setting: str) -> np.ndarray:
        """Indicator of the one subset of ``setting`` from ``query`` to ``corpus``, ``(S,)``."""
        return np.array(
            [
                (s, q, c) == (setting, query, corpus)
                for s, q, c in zip(self.settings, self.query_langs, self.corpus_langs, strict=True)
            ],
            dtype=np.float64,
        )

    def has_subset(self, query: str, corpus: str, setting: str) -> bool:
        """Whether the layout holds the subset of ``setting`` from ``query`` to ``corpus``."""
        return (setting, query, corpus) in zip(
            self.settings, self.query_langs, self.corpus_langs, strict=True
        )

    def language_weights(self) -> np.ndarray:
        """``(L, S)`` indicator: subset ``s`` involves language ``l`` (query, or cross corpus)."""
        matrix = np.zeros((len(self.languages), len(self.subsets)))
        index = {lang: i for i, lang in enumerate(self.languages)}
        for s, (setting, query, corpus) in enumerate(
            zip(self.settings, self.query_langs, self.corpus_langs, strict=True)
        ):
            if query in index:
                matrix[index[query], s] = 1.0
            if setting == "cross" and corpus in index:
                matrix[index[corpus], s] = 1.0
        return matrix

    def vector(self, scores: Sequence[SubsetScores], metric: str) -> np.ndarray:
        """One model's metric over the layout's subsets, ``nan`` where missing."""
        by_subset = {s.subset: s.metric(metric) for s in scores}
        return np.array([by_subset.get(name, np.nan) for name in self.subsets], dtype=np.float64)


def weighted_mean(weights: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``nan``-aware weighted means: ``weights`` ``(K, S)`` or ``(S,)``, ``x`` ``(..., S)``."""
    x = np.asarray(x)
    dtype = x.dtype if x.dtype.kind == "f" else np.float64
    w = np.atleast_2d(weights).astype(dtype)
    flat = x.reshape(-1, x.shape[-1])  # one 2-d product (BLAS), not a stack of small ones
    finite = np.isfinite(flat)
    numerator = np.where(finite, flat, 0.0) @ w.T
    denominator = finite.astype(dtype) @ w.T
    with np.errstate(invalid="ignore", divide="ignore"):
        out = numerator / denominator
    out = np.where(denominator > 0, out, np.nan).reshape(*x.shape[:-1], w.shape[0])
    return out[..., 0] if weights.ndim == 1 else out


def language_scores(layout: Layout, x: np.ndarray) -> np.ndarray:
    """Per-language scores ``(..., L)``."""
    return weighted_mean(layout.language_weights(), x)


# column kinds read straight from the subset values (one weighted mean), not from language scores
DIRECT_KINDS = frozenset({"setting", "subset"})


def column_value(column: Column, layout: Layout, x: np.ndarray) -> np.ndarray:
    """The figure ``column`` from subset values ``x`` of ``column.metric`` (leading axes kept)."""
    if column.kind in DIRECT_KINDS:
        return weighted_mean(direct_weights(column, layout), x)
    return _from_language_scores(column, layout, language_scores(layout, x))


def direct_weights(column: Column, layout: Layout) -> np.ndarray:
    """``(S,)`` indicator of the subsets a ``setting`` or ``subset`` column averages."""
    if column.kind == "setting":
        return layout.setting_weights(column.setting or "")
    query, corpus = column.languages
    return layout.subset_weights(query, corpus, column.setting or "")


def column_values(columns: Sequence[Column], layout: Layout, x: np.ndarray) -> list[np.ndarray]:
    """:func:`column_value` of several columns of one metric, sharing one weighted-mean pass."""
    index: dict[tuple, int] = {}  # one weight row per distinct (kind, setting, languages)
    weights = []
    for c in columns:
        key = (c.kind, c.setting, c.languages)
        if c.kind in DIRECT_KINDS and key not in index:
            index[key] = len(weights)
            weights.append(direct_weights(c, layout))
    direct = len(weights)
    if any(c.kind not in DIRECT_KINDS for c in columns):
        weights.extend(layout.language_weights())
    if not weights:
        return []
    means = weighted_mean(np.stack(weights), x)
    scores = means[..., direct:]
    return [
        means[..., index[(c.kind, c.setting, c.languages)]]
        if c.kind in DIRECT_KINDS
        else _from_language_scores(c, layout, scores)
        for c in columns
    ]


def _from_language_scores(column: Column, layout: Layout, scores: np.ndarray) -> np.ndarray:
    if column.kind == "language":
        return scores[..., layout.languages.index(column.languages[0])]
    if column.kind == "group":
        index = [layout.languages.index(lang) for lang in column.languages]
        with np.errstate(all="ignore"):
            return _nanmean(scores[..., index])
    if column.kind == "gap":
        first = [layout.languages.index(lang) for lang in column.languages]
        second = [layout.languages.index(lang) for lang in column.other_languages]
        with np.errstate(all="ignore"):
            return _nanmean(scores[..., first]) - _nanmean(scores[..., second])
    if column.kind == "worst":
        return _nanreduce(scores, np.nanmax if column.lower_is_better else np.nanmin)
    if column.kind == "spread":
        return _nanreduce(scores, np.nanstd)
    raise ValueError(f"unknown column kind {column.kind!r}")


def worst_language(column: Column, layout: Layout, x: np.ndarray) -> str | None:
    """The language of the ``worst`` figure for a point estimate ``x`` ``(S,)``."""
    scores = language_scores(layout, x)
    if not np.isfinite(scores).any():
        return None
    pick = np.nanargmax if column.lower_is_better else np.nanargmin
    return layout.languages[int(pick(scores))]


def _nanmean(values: np.ndarray) -> np.ndarray:
    finite = np.isfinite(values)
    count = finite.sum(axis=-1)
    total = np.where(finite, values, 0.0).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _nanreduce(values: np.ndarray, reduce) -> np.ndarray:  # noqa: ANN001 - numpy reduction
    finite = np.isfinite(values).any(axis=-1)
    safe = np.where(finite[..., None], values, 0.0)
    with np.errstate(all="ignore"):
        out = reduce(safe, axis=-1)
    return np.where(finite, out, np.nan)


def headline_columns(
    layout: Layout,
    groups: Mapping[str, Sequence[str]] | None = None,
    metrics: Sequence[str] = SETTING_METRICS,
    has_rank_distance: bool = True,
    gap: tuple[str, str] | None = None,
) -> list[Column]:
    """The table's columns for one task: setting macros, rank distance, groups, their ``gap``
    (the first group's mean minus the second's, e.g. high- minus low-resource), worst, spread."""
    columns = []
    for metric in metrics:
        for setting in layout.present_settings:
            columns.append(
                Column(
                    key=f"{metric}_{setting}",
                    label=f"{METRIC_LABELS.get(metric, metric)} {setting}",
                    metric=metric,
                    kind="setting",
                    setting=setting,
                )
            )
    if has_rank_distance and "multi" in layout.present_settings:
        columns.append(
            Column(
                key="rank_distance",
                label="rank dist. ↓",
                metric="rank_distance",
                kind="setting",
                setting="multi",
                lower_is_better=True,
                scale=1.0,
            )
        )
    main = metrics[0]
    main_label = METRIC_LABELS.get(main, main)
    for name, langs in _ordered_groups(groups or {}):
        present = tuple(lang for lang in langs if lang in layout.languages)
        if present and set(present) != set(layout.languages):
            columns.append(
                Column(
                    key=f"group_{name}",
                    label=f"{name} {main_label}",
                    metric=main,
                    kind="group",
                    languages=present,
                )
            )
    by_key = {c.key: c for c in columns}
    if gap and f"group_{gap[0]}" in by_key and f"group_{gap[1]}" in by_key:
        columns.append(
            Column(
                key="gap",
                label=f"gap {gap[0]} − {gap[1]} {main_label} ↓",
                metric=main,
                kind="gap",
                languages=by_key[f"group_{gap[0]}"].languages,
                other_languages=by_key[f"group_{gap[1]}"].languages,
                lower_is_better=True,
            )
        )
    if len(layout.languages) > 1:
        columns.append(
            Column(key="worst", label=f"worst lang. {main_label}", metric=main, kind="worst")
        )
        columns.append(
            Column(
                key="spread",
                label="lang. spread ↓",
                metric=main,
                kind="spread",
                lower_is_better=True,
            )
        )
    return columns


def _ordered_groups(groups: Mapping[str, Sequence[str]]) -> list[tuple[str, Sequence[str]]]:
    """Groups with the ones the research question is about (low-resource, unseen) first."""
    first = ("low-resource", "unseen")
    return sorted(
        groups.items(), key=lambda item: (item[0] not in first, list(groups).index(item[0]))
    )


def language_columns(layout: Layout, metric: str = "map") -> list[Column]:
    """One column per language (its language score), for the per-language table."""
    return [
        Column(key=f"lang_{lang}", label=lang, metric=metric, kind="language", languages=(lang,))
        for lang in layout.languages
    ]


def focus_columns(
    layout: Layout, languages: Sequence[str], metric: str = "map", pivot: str = "eng"
) -> list[Column]:
    """Per language of ``languages`` (e.g. the low-resource group), its own subsets: ``X→eng``,
    ``eng→X`` (cross) and ``X→all`` (its queries against the pooled corpus), where the layout
    holds them; each column is that one subset's score."""
    columns = []
    for lang in languages:
        for query, corpus, setting in (
            (lang, lang, "mono"),
            (lang, pivot, "cross"),
            (pivot, lang, "cross"),
            (lang, POOLED, "multi"),
        ):
            if lang == pivot or not layout.has_subset(query, corpus, setting):
                continue
            columns.append(
                Column(
                    key=f"subset_{query}-{corpus}",
                    label=f"{query}→{corpus}",
                    metric=metric,
                    kind="subset",
                    setting=setting,
                    languages=(query, corpus),
                )
            )
    return columns


def language_groups(
    task_name: str, trained_on: Sequence[str] | str | None = None
) -> dict[str, list[str]]:
    """Language groups of a task (ISO 639-3) from :mod:`mteb_hybrid.groups`; ``{}`` for a task
    it does not know.

    ``trained_on``: the training languages (or a dataset / task name), which adds ``seen`` /
    ``unseen`` groups.
    """
    try:
        groups = task_language_groups(task_name, trained_on or None)
    except ValueError as error:  # a task it does not know: no groups
        logger.debug("no language groups for %s: %s", task_name, error)
        return {}
    return {str(k): [str(v) for v in vs] for k, vs in groups.items()}


def gap_groups(task_name: str) -> tuple[str, str] | None:
    """The two groups whose difference a task reports (``mteb_hybrid.groups.GAP_GROUPS``)."""
    return GAP_GROUPS.get(task_name)
