"""MLQARRetrieval: LAReQA's MLQA-R (7 languages, 2 to 4 parallel answers) in three settings."""

from __future__ import annotations

from mteb.abstasks.task_metadata import TaskMetadata

from mteb_hybrid.data.lareqa import MLQA_R_COMMIT, MLQA_R_SHA256
from mteb_hybrid.evaluation.collection import RetrievalCollection
from mteb_hybrid.tasks.base import (
    MultiSettingRetrievalTask,
    all_pairs,
    eval_langs_for,
    mteb_mean_note,
)
from mteb_hybrid.tasks.lareqa_collection import LAREQA_CITATION, lareqa_collection

LANGUAGES = sorted(MLQA_R_SHA256)


class MLQARRetrieval(MultiSettingRetrievalTask):
    """MLQA-R answer-sentence retrieval: mono ``eng-eng``, cross ``eng-deu``, pooled ``eng-all``."""

    LANGUAGES = tuple(LANGUAGES)
    metadata = TaskMetadata(
        name="MLQARRetrieval",
        description=(
            "MLQA-R (LAReQA): retrieve the sentence answering a question. 7 languages, 4,199 "
            "questions with answers in 2 to 4 languages. Subsets: monolingual (eng-eng), "
            "cross-lingual (eng-deu; a question counts only where its answer exists in the corpus "
            "language) and pooled multilingual (eng-all: 20,534 sentences). Scored by exact mAP "
            "over the full ranking; pooled subsets add rank_distance (language bias). "
            "Non-commercial license." + mteb_mean_note(7, 42, 7)
        ),
        reference="https://github.com/google-research-datasets/lareqa",
        dataset={"path": "google-research-datasets/lareqa", "revision": MLQA_R_COMMIT},
        type="Retrieval",
        category="t2t",
        modalities=["text"],
        eval_splits=["test"],
        eval_langs=eval_langs_for(LANGUAGES, all_pairs(LANGUAGES)),
        main_score="map",
        date=("2019-10-01", "2020-04-30"),
        domains=["Encyclopaedic", "Written"],
        task_subtypes=["Question answering"],
        license="cc-by-nc-4.0",
        annotations_creators="human-annotated",
        dialect=[],
        sample_creation="human-translated",
        bibtex_citation=LAREQA_CITATION,
    )

    def build_collection(self) -> RetrievalCollection:
        """Sentences and questions of the 7 MLQA-R languages."""
        return lareqa_collection("mlqa-r", self.collection_languages, self.data_dir)
