"""MIRACLMultilingualRetrieval: MIRACL dev, monolingual and pooled over all 18 languages' corpora.

MIRACL has no parallel queries, so there are no cross-lingual subsets. The pooled subset ``X-all``
ranks language X's queries against the passages of every language at once with relevance
unchanged, so a model that pulls in other-language passages loses score.
"""

from __future__ import annotations

from typing import Any

from mteb.abstasks.task_metadata import TaskMetadata

from mteb_hybrid.data.miracl import MIRACL_LANGUAGES, MIRACL_REPOS, MiraclLanguage, load_miracl
from mteb_hybrid.evaluation.collection import RetrievalCollection, build_collection
from mteb_hybrid.runs import POOLED
from mteb_hybrid.tasks.base import MultiSettingRetrievalTask, eval_langs_for, mteb_mean_note

LANGUAGES = list(MIRACL_LANGUAGES)

MIRACL_CITATION = r"""
@article{10.1162/tacl_a_00595,
  author = {Zhang, Xinyu and Thakur, Nandan and Ogundepo, Odunayo and Kamalloo, Ehsan and Alfonso-Hermelo, David and Li, Xiaoguang and Liu, Qun and Rezagholizadeh, Mehdi and Lin, Jimmy},
  doi = {10.1162/tacl_a_00595},
  journal = {Transactions of the Association for Computational Linguistics},
  pages = {1114-1131},
  title = {{MIRACL: A Multilingual Retrieval Dataset Covering 18 Diverse Languages}},
  volume = {11},
  year = {2023},
}
"""  # noqa: E501


def miracl_pairs(languages: list[str]) -> list[tuple[str, str]]:
    """Every monolingual and every pooled setting."""
    return [(x, x) for x in languages] + [(x, POOLED) for x in languages]


def miracl_collection(data: dict[str, MiraclLanguage]) -> RetrievalCollection:
    """Passages of every language as documents, queries with their positive passages.

    MIRACL ids repeat across languages (Wikipedia article numbers), so ids are prefixed with the
    language: ``"de-1803#4"`` for passages, ``"de-32"`` for queries.
    """
    languages = list(data)
    documents, titles, queries, relevant = [], {}, [], {}
    for lang, part in data.items():
        for doc_id, title, text in part.corpus:
            documents.append((f"{lang}-{doc_id}", lang, text))
            titles[f"{lang}-{doc_id}"] = title
        for query_id, text in part.queries:
            queries.append((f"{lang}-{query_id}", lang, text))
            relevant[f"{lang}-{query_id}"] = [f"{lang}-{d}" for d in part.relevant[query_id]]
    collection = build_collection(languages, documents, queries, relevant)
    collection.doc_titles = [titles[doc_id] for doc_id in collection.doc_ids]
    collection.metadata.update(
        dataset="miracl",
        missing_relevant={
            lang: p.missing_relevant for lang, p in data.items() if p.missing_relevant
        },
        stats={lang: p.stats for lang, p in data.items()},
    )
    return collection


class MIRACLMultilingualRetrieval(MultiSettingRetrievalTask):
    """MIRACL dev: monolingual ``eng-eng`` and pooled ``eng-all`` (all 18 corpora together).

    Args:
        corpus: ``"hard-negatives"`` (default, ``mteb/MIRACLRetrievalHardNegatives``) or ``"full"``
            (``mteb/MIRACLRetrieval``); default ``$MTEB_HYBRID_MIRACL_CORPUS``.
        Other arguments: see :class:`MultiSettingRetrievalTask`.
    """

    LANGUAGES = tuple(LANGUAGES)
    metadata = TaskMetadata(
        name="MIRACLMultilingualRetrieval",
        description=(
            "MIRACL dev (18 languages) in two settings: monolingual (eng-eng: each language's "
            "queries against its own corpus, as in MIRACLRetrievalHardNegatives) and pooled "
            "multilingual (eng-all: the same queries against the corpora of all 18 languages at "
            "once, relevance unchanged, so retrieving other-language passages costs score). "
            "MIRACL has no parallel queries, hence no cross-lingual subsets. Corpus: the "
            "hard-negatives pools by default, the full Wikipedia corpora as an option. Main "
            "score nDCG@10; recall@100 as in the hybrid-batch paper. Qrels with score 0 are "
            "not relevant." + mteb_mean_note(18, 0, 18)
        ),
        reference="http://miracl.ai",
        dataset={
            "path": MIRACL_REPOS["hard-negatives"][0],
            "revision": MIRACL_REPOS["hard-negatives"][1],
        },
        type="Retrieval",
        category="t2t",
        modalities=["text"],
        eval_splits=["dev"],
        eval_langs=eval_langs_for(LANGUAGES, miracl_pairs(LANGUAGES)),
        main_score="ndcg_at_10",
        date=("2022-06-01", "2023-01-30"),
        domains=["Encyclopaedic", "Written"],
        task_subtypes=[],
        license="cc-by-sa-4.0",
        annotations_creators="expert-annotated",
        dialect=[],
        sample_creation="created",
        bibtex_citation=MIRACL_CITATION,
        adapted_from=["MIRACLRetrievalHardNegatives"],
    )

    def __init__(self, *, corpus: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.corpus = corpus

    def build_collection(self) -> RetrievalCollection:
        """Corpora, queries and positive qrels of the task's languages."""
        return miracl_collection(load_miracl(self.collection_languages, self.data_dir, self.corpus))
