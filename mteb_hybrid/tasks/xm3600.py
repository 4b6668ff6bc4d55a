"""XM3600Retrieval: Crossmodal-3600 captions as text-to-text retrieval in three settings.

Every caption is both a query and a document; the captions of the same image are relevant to each
other (independent descriptions, not translations), and a query never retrieves itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from mteb.abstasks.task_metadata import TaskMetadata

from mteb_hybrid.data.xm3600 import (
    DEFAULT_HF_REPO,
    HF_REPOS,
    XM3600_LANGUAGES,
    XM3600_SINGLE_CAPTION,
    XM3600Captions,
    load_xm3600,
)
from mteb_hybrid.evaluation.collection import RetrievalCollection, relevant_within_items
from mteb_hybrid.groups import TASK_GROUPS
from mteb_hybrid.tasks.base import eval_langs_for, mteb_mean_note, subset_name
from mteb_hybrid.tasks.pivot import PIVOT, PivotSubsetsTask, matrix_pairs, pivot_pairs

FULL_MATRIX_ENV = "MTEB_HYBRID_XM3600_FULL_MATRIX"
LANGUAGES = list(XM3600_LANGUAGES)

XM3600_CITATION = r"""
@inproceedings{thapliyal-etal-2022-crossmodal,
  author = {Thapliyal, Ashish V. and Pont Tuset, Jordi and Chen, Xi and Soricut, Radu},
  booktitle = {Proceedings of the 2022 Conference on Empirical Methods in Natural Language Processing},
  pages = {715--729},
  publisher = {Association for Computational Linguistics},
  title = {Crossmodal-3600: A Massively Multilingual Multimodal Evaluation Dataset},
  url = {https://aclanthology.org/2022.emnlp-main.45},
  year = {2022},
}
"""  # noqa: E501


def mono_languages(languages: Sequence[str]) -> list[str]:
    """Languages with a monolingual setting (those with several captions per image)."""
    return [lang for lang in languages if lang not in XM3600_SINGLE_CAPTION]


def default_pairs(languages: Sequence[str]) -> list[tuple[str, str]]:
    """Every mono pair, ``X-eng`` and ``eng-X`` for every X, and every pooled setting."""
    return pivot_pairs(languages, mono_languages(languages), PIVOT)


def full_pairs(languages: Sequence[str]) -> list[tuple[str, str]]:
    """Every mono pair, the full cross-lingual matrix (36 x 35 pairs) and every pooled setting."""
    return matrix_pairs(languages, mono_languages(languages))


DEFAULT_SUBSETS = frozenset(subset_name(q, c) for q, c in default_pairs(LANGUAGES))


def xm3600_collection(data: XM3600Captions) -> RetrievalCollection:
    """Captions as queries and documents; relevant: the other captions of the same image.

    Built with arrays rather than id lists: the full set has 261,375 captions with about 72
    relevant captions each. Query ``i`` is document ``i`` (``query_self_doc``), so a query is
    removed from its own ranking. A caption's image is its parallel item (``query_items``).
    """
    lang_index = {lang: i for i, lang in enumerate(data.languages)}
    captions = data.captions
    ids = [c.id for c in captions]
    texts = [c.text for c in captions]
    langs = np.array([lang_index[c.lang] for c in captions], dtype=np.int64)
    relevant = relevant_within_items([c.image for c in captions])
    collection = RetrievalCollection(
        languages=list(data.languages),
        doc_ids=ids,
        doc_texts=texts,
        doc_langs=langs,
        query_ids=list(ids),
        query_texts=list(texts),
        query_langs=langs.copy(),
        relevant=relevant,
        query_self_doc=np.arange(len(captions), dtype=np.int64),
        query_items=[c.image for c in captions],
    )
    collection.metadata.update(
        dataset="xm3600",
        source=data.source,
        images=len({c.image for c in captions}),
        captions_per_language=data.counts(),
        skipped_blank_captions=data.skipped_blank,
        images_without_language=data.images_without,
    )
    return collection


class XM3600Retrieval(PivotSubsetsTask):
    """Caption-to-caption retrieval over XM3600: mono ``eng-eng``, cross ``eng-deu``, pooled.

    Args:
        full_cross_matrix: score every cross-lingual pair (36 x 35) instead of the default
            ``X-eng`` / ``eng-X`` pairs (default: ``$MTEB_HYBRID_XM3600_FULL_MATRIX``).
        source: ``"official"``, ``"hf"`` or ``"auto"`` (see :func:`load_xm3600`).
        hf_repo: the Hugging Face copy read by ``source="hf"`` (``mteb/xm3600`` or
            ``floschne/xm3600``).
        Other arguments: see :class:`MultiSettingRetrievalTask`.
    """

    LANGUAGES = tuple(LANGUAGES)
    # dataset codes; ISO 639-3 lists: mteb_hybrid.groups.language_groups("XM3600Retrieval")
    LANGUAGE_GROUPS: dict[str, tuple[str, ...]] = TASK_GROUPS["XM3600Retrieval"]
    metadata = TaskMetadata(
        name="XM3600Retrieval",
        description=(
            "Crossmodal-3600 captions as text-to-text retrieval: 36 languages, 3,600 images, "
            "261,375 captions. Every caption is a query and a document; the other captions of "
            "the same image are relevant (independent descriptions, not translations) and a query "
            "never retrieves itself. Subsets: monolingual (eng-eng; Bengali has one caption per "
            "image and so no monolingual subset), cross-lingual (deu-eng and eng-deu by default, "
            "the full 36 x 36 matrix as an option) and pooled multilingual (eng-all: all "
            "captions in one ranking). Scored by exact mAP over the full ranking; pooled subsets "
            "add rank_distance (each language's best rank first). Low-resource languages per "
            "the XM3600 paper: bn, mi, quz, sw, te." + mteb_mean_note(35, 70, 36)
        ),
        reference="https://google.github.io/crossmodal-3600/",
        dataset={"path": DEFAULT_HF_REPO, "revision": str(HF_REPOS[DEFAULT_HF_REPO])},
        type="Retrieval",
        category="t2t",
        modalities=["text"],
        eval_splits=["test"],
        eval_langs=eval_langs_for(LANGUAGES, full_pairs(LANGUAGES)),
        main_score="map",
        date=("2021-01-01", "2022-05-25"),
        domains=["Encyclopaedic", "Written"],
        task_subtypes=[],
        license="cc-by-4.0",
        annotations_creators="human-annotated",
        dialect=[],
        sample_creation="created",
        bibtex_citation=XM3600_CITATION,
    )

    DEFAULT_SUBSETS = DEFAULT_SUBSETS
    FULL_MATRIX_ENV = FULL_MATRIX_ENV

    def __init__(
        self, *, source: str | None = None, hf_repo: str = DEFAULT_HF_REPO, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.source = source
        self.hf_repo = hf_repo

    def build_collection(self) -> RetrievalCollection:
        """All captions of the task's languages (official file or Hugging Face copy)."""
        data = load_xm3600(self.collection_languages, self.data_dir, self.source, self.hf_repo)
        return xm3600_collection(data)
