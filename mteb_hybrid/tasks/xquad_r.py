"""XQuADRRetrieval: LAReQA's XQuAD-R (11 languages, 1,190 parallel questions) in three settings."""

from __future__ import annotations

from mteb.abstasks.task_metadata import TaskMetadata

from mteb_hybrid.data.lareqa import XQUAD_R_COMMIT, XQUAD_R_SHA256
from mteb_hybrid.evaluation.collection import RetrievalCollection
from mteb_hybrid.tasks.base import (
    MultiSettingRetrievalTask,
    all_pairs,
    eval_langs_for,
    mteb_mean_note,
)
from mteb_hybrid.tasks.lareqa_collection import LAREQA_CITATION, lareqa_collection

LANGUAGES = sorted(XQUAD_R_SHA256)


class XQuADRRetrieval(MultiSettingRetrievalTask):
    """XQuAD-R answer-sentence retrieval: mono eng-eng, cross eng-deu, pooled eng-all."""

    LANGUAGES = tuple(LANGUAGES)
    metadata = TaskMetadata(
        name="XQuADRRetrieval",
        description=(
            "XQuAD-R (LAReQA): retrieve the sentence answering a question. 11 languages, 1,190 "
            "questions each, parallel across languages. Subsets: monolingual (eng-eng), "
            "cross-lingual (eng-deu: English questions, German sentences) and pooled multilingual "
            "(eng-all: all 13,014 sentences of all languages in one ranking, 11 relevant). Scored "
            "by exact mAP over the full ranking; pooled subsets add rank_distance (language bias)."
            + mteb_mean_note(11, 110, 11)
        ),
        reference="https://github.com/google-research-datasets/lareqa",
        dataset={"path": "google-research-datasets/lareqa", "revision": XQUAD_R_COMMIT},
        type="Retrieval",
        category="t2t",
        modalities=["text"],
        eval_splits=["test"],
        eval_langs=eval_langs_for(LANGUAGES, all_pairs(LANGUAGES)),
        main_score="map",
        date=("2019-10-01", "2020-04-30"),
        domains=["Encyclopaedic", "Written"],
        task_subtypes=["Question answering"],
        license="cc-by-sa-4.0",
        annotations_creators="human-annotated",
        dialect=[],
        sample_creation="human-translated",
        bibtex_citation=LAREQA_CITATION,
    )

    def build_collection(self) -> RetrievalCollection:
        """Sentences and questions of the 11 XQuAD-R languages."""
        return lareqa_collection("xquad-r", self.collection_languages, self.data_dir)
