"""FloresRetrieval: FLORES-200 sentences (SIB-200 copy) as translation retrieval in 36 languages.

Every sentence is both a query and a document; the relevant documents of a query are its
translations (the same ``index_id`` in the other languages), never itself. With one sentence per
language per item there is no monolingual setting: subsets are cross-lingual (``swa-eng``,
``eng-swa``; the full matrix on request) and pooled (``swa-all``: all languages' sentences in one
ranking, the 35 translations relevant, with ``rank_distance``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from mteb.abstasks.task_metadata import TaskMetadata

from mteb_hybrid.data.flores import (
    FLORES_LANGUAGES,
    SIB200_COMMIT,
    SPLIT_ENV,
    SPLITS,
    check_split,
    dataset_code,
    label,
    load_flores,
    refuse_evaluating_training_split,
    resolve_variant,
    variant_lang_script,
)
from mteb_hybrid.data.languages import iso3
from mteb_hybrid.env import env_choice
from mteb_hybrid.evaluation.collection import (
    RetrievalCollection,
    Subset,
    relevant_within_items,
)
from mteb_hybrid.groups import TASK_GROUPS
from mteb_hybrid.runs import POOLED, TRAINING_METADATA, split_subset_name
from mteb_hybrid.tasks.base import eval_langs_for, mteb_mean_note, subset_name
from mteb_hybrid.tasks.pivot import PivotSubsetsTask, matrix_pairs, pivot_pairs

FULL_MATRIX_ENV = "MTEB_HYBRID_FLORES_FULL_MATRIX"
LANGUAGES = list(FLORES_LANGUAGES)
DEFAULT_SUBSETS = frozenset(subset_name(q, c) for q, c in pivot_pairs(LANGUAGES, mono=()))

FLORES_CITATION = r"""
@article{nllb2022,
  author = {{NLLB Team} and Costa-juss{\`a}, Marta R. and Cross, James and {\c{C}}elebi, Onur and Elbayad, Maha and Heafield, Kenneth and Heffernan, Kevin and Kalbassi, Elahe and Lam, Janice and Licht, Daniel and Maillard, Jean and Sun, Anna and Wang, Skyler and Wenzek, Guillaume and Youngblood, Al and Akula, Bapi and Barrault, Loic and Mejia Gonzalez, Gabriel and Hansanti, Prangthip and Hoffman, John and Jarrett, Semarley and Sadagopan, Kaushik Ram and Rowe, Dirk and Spruit, Shannon and Tran, Chau and Andrews, Pierre and Ayan, Necip Fazil and Bhosale, Shruti and Edunov, Sergey and Fan, Angela and Gao, Cynthia and Goswami, Vedanuj and Guzm{\'a}n, Francisco and Koehn, Philipp and Mourachko, Alexandre and Ropers, Christophe and Saleem, Safiyyah and Schwenk, Holger and Wang, Jeff},
  title = {No Language Left Behind: Scaling Human-Centered Machine Translation},
  journal = {arXiv preprint arXiv:2207.04672},
  year = {2022},
}

@inproceedings{adelani-etal-2024-sib,
  author = {Adelani, David Ifeoluwa and Liu, Hannah and Shen, Xiaoyu and Vassilyev, Nikita and Alabi, Jesujoba O. and Mao, Yanke and Gao, Haonan and Lee, En-Shiun Annie},
  booktitle = {Proceedings of the 18th Conference of the European Chapter of the Association for Computational Linguistics (Volume 1: Long Papers)},
  pages = {226--245},
  publisher = {Association for Computational Linguistics},
  title = {{SIB}-200: A Simple, Inclusive, and Big Evaluation Dataset for Topic Classification in 200+ Languages and Dialects},
  url = {https://aclanthology.org/2024.eacl-long.14},
  year = {2024},
}
"""  # noqa: E501


def flores_collection(
    sentences: dict[str, list[Any]], codes: Sequence[str], labels: Sequence[str]
) -> RetrievalCollection:
    """Sentences of every language as queries and documents; relevant: the same ``index_id``.

    ``sentences`` maps a variant to its parsed split (:func:`load_flores`); ``codes`` are the
    collection's language codes and ``labels`` their subset labels, in the variants' order. Ids
    are ``<label>-<index_id>``; query ``i`` is document ``i`` (``query_self_doc``); the
    ``index_id`` is each query's parallel item (``query_items``: parallel subsampling).
    """
    ids, texts, langs, items = [], [], [], []
    for position, rows in enumerate(sentences.values()):
        for row in rows:
            ids.append(f"{labels[position]}-{row.index_id}")
            texts.append(row.text)
            langs.append(position)
            items.append(row.index_id)
    lang_array = np.asarray(langs, dtype=np.int64)
    relevant = relevant_within_items(items)
    collection = RetrievalCollection(
        languages=list(codes),
        doc_ids=ids,
        doc_texts=texts,
        doc_langs=lang_array,
        query_ids=list(ids),
        query_texts=list(texts),
        query_langs=lang_array.copy(),
        relevant=relevant,
        query_self_doc=np.arange(len(ids), dtype=np.int64),
        query_items=[str(i) for i in items],
    )
    collection.metadata.update(
        dataset="sib-200",
        variants=list(sentences),
        items=len(set(items)),
        query_item=items,
    )
    return collection


class FloresRetrieval(PivotSubsetsTask):
    """Translation retrieval over FLORES-200 (SIB-200): cross ``swa-eng`` / ``eng-swa``, pooled.

    Args:
        split: ``"test"`` (204 items, default), ``"dev"`` (99) or ``"train"`` (701); default
            ``$MTEB_HYBRID_FLORES_SPLIT``. mteb's ``eval_splits`` / ``--eval-splits`` choose it too.
        languages: any SIB-200 variants (``["swh_Latn", "yor_Latn"]``) or codes of the 36 default
            languages (``"sw"``, ``"swa"``); default: the 36 XM3600 languages.
        full_cross_matrix: score every cross-lingual pair instead of ``X-eng`` / ``eng-X``
            (default: ``$MTEB_HYBRID_FLORES_FULL_MATRIX``).
        Other arguments: see :class:`MultiSettingRetrievalTask`.
    """

    LANGUAGES = tuple(LANGUAGES)
    # dataset codes; ISO 639-3 lists: mteb_hybrid.groups.language_groups("FloresRetrieval")
    LANGUAGE_GROUPS: dict[str, tuple[str, ...]] = TASK_GROUPS["FloresRetrieval"]
    DEFAULT_SUBSETS = DEFAULT_SUBSETS
    FULL_MATRIX_ENV = FULL_MATRIX_ENV
    metadata = TaskMetadata(
        name="FloresRetrieval",
        description=(
            "FLORES-200 sentences (as distributed by SIB-200) as translation retrieval in the 36 "
            "XM3600 languages: every sentence is a query and a document, its 35 translations "
            "(same index_id) are relevant and a query never retrieves itself. Test split: 204 "
            "items x 36 languages = 7,344 sentences (dev 99, train 701 as options). Subsets: "
            "cross-lingual (swa-eng and eng-swa by default, the full 36 x 35 matrix as an "
            "option) and pooled multilingual (swa-all: all sentences in one ranking, with "
            "rank_distance). There is NO monolingual setting: FLORES has one sentence per "
            "language per item. Quechua is Ayacucho (quy_Latn), labelled quy; it stands in for "
            "XM3600's Cusco Quechua (quz), which FLORES lacks. Low-resource group (XM3600): ben, "
            "mri, quy (for quz), swa, tel." + mteb_mean_note(0, 70, 36)
        ),
        reference="https://github.com/dadelani/sib-200",
        dataset={"path": "dadelani/sib-200", "revision": SIB200_COMMIT},
        type="Retrieval",
        category="t2t",
        modalities=["text"],
        eval_splits=["test"],
        eval_langs=eval_langs_for(LANGUAGES, matrix_pairs(LANGUAGES, mono=())),
        main_score="map",
        date=("2022-07-01", "2023-09-30"),
        domains=["Encyclopaedic", "News", "Written"],
        task_subtypes=[],
        license="cc-by-sa-4.0",
        annotations_creators="expert-annotated",
        dialect=[],
        sample_creation="human-translated",
        bibtex_citation=FLORES_CITATION,
    )

    def __init__(self, *, split: str | None = None, **kwargs: Any) -> None:
        self._labels: dict[str, str] = {}
        super().__init__(**kwargs)
        self.split = check_split(split or env_choice(SPLIT_ENV, SPLITS) or "test")
        if self.split != "test":
            self.metadata = self.metadata.model_copy(update={"eval_splits": [self.split]})
        extra = [c for c in self.collection_languages if c not in FLORES_LANGUAGES]
        if extra:
            pairs = (matrix_pairs if self.full_cross_matrix else pivot_pairs)(
                self.collection_languages, ()
            )
            names = {self._subset_name(q, c): (q, c) for q, c in pairs}
            langs = {
                name: [variant_lang_script(self._variant(q))]
                + [variant_lang_script(self._variant(x)) for x in self._corpus_langs(q, c)]
                for name, (q, c) in names.items()
            }
            self.metadata = self.metadata.model_copy(update={"eval_langs": langs})
            self.hf_subsets = list(names)

    # -- languages ----------------------------------------------------------------------------
    def resolve_languages(self, languages: list[str] | None) -> list[str] | None:
        """Codes of the 36 default languages (``"sw"``) or any SIB-200 variant (``"yor_Latn"``);
        labels in subset names must stay unique (``ace_Arab`` and ``ace_Latn`` cannot share)."""
        if not languages:
            return None
        codes = list(dict.fromkeys(dataset_code(resolve_variant(c)) for c in languages))
        labels: dict[str, str] = {}
        for code in codes:
            name = self._label_of(code)
            if name in labels:
                raise ValueError(
                    f"FloresRetrieval: {labels[name]} and {code} would both be labelled "
                    f"{name!r} in subset names; evaluate them in separate runs"
                )
            labels[name] = code
        self._labels = labels
        return codes

    def language_label(self, code: str) -> str:
        """Subset label of a language: ISO 639-3 as XM3600 uses it (``"fa"`` -> ``"fas"``),
        ``"quy"`` for Quechua, the FLORES language part for other variants (``"yor"``)."""
        return self._label_of(code)

    @staticmethod
    def _label_of(code: str) -> str:
        return iso3(code) if code in FLORES_LANGUAGES else label(code)

    @staticmethod
    def _variant(code: str) -> str:
        return resolve_variant(code)

    def _corpus_langs(self, query: str, corpus: str) -> list[str]:
        if corpus == POOLED:
            return [c for c in self.collection_languages if c != query]
        return [corpus]

    def _subset_name(self, query: str, corpus: str) -> str:
        right = POOLED if corpus == POOLED else self._label_of(corpus)
        return f"{self._label_of(query)}-{right}"

    def subset(self, hf_subset: str) -> Subset:
        """The :class:`Subset` behind a subset name (labels of extra variants included)."""
        parts = split_subset_name(hf_subset)
        if parts is None:
            raise ValueError(f"subset {hf_subset!r}: expected <query>-<corpus>, e.g. swa-eng")
        query, corpus = parts
        by_label = self._labels or {iso3(c): c for c in FLORES_LANGUAGES}

        def code(name: str) -> str:
            if name in by_label:
                return by_label[name]
            return next((c for c in FLORES_LANGUAGES if iso3(c) == name), name)

        corpus_lang = POOLED if corpus == POOLED else code(corpus)
        return Subset(name=hf_subset, query_lang=code(query), corpus_lang=corpus_lang)

    # -- data -----------------------------------------------------------------------------------
    def build_collection(self) -> RetrievalCollection:
        """Sentences of the task's languages in its split (local folder, cache or download)."""
        variants = [resolve_variant(c) for c in self.collection_languages]
        sentences = load_flores(variants, self.split, self.data_dir)
        labels = [self._label_of(c) for c in self.collection_languages]
        collection = flores_collection(sentences, self.collection_languages, labels)
        collection.metadata["split"] = self.split
        return collection

    def evaluate(
        self, model: Any, split: str = "test", subsets_to_run: list[str] | None = None, **kwargs
    ) -> dict[str, dict[str, Any]]:
        """Scores of one split; refuses a model trained on that same split of FLORES."""
        check_split(split)
        refuse_evaluating_training_split(_training_specs(model), split, self.metadata.name)
        if split != self.split:
            self.split = split
            self.unload_data()
        return super().evaluate(model, split, subsets_to_run, **kwargs)


def _training_specs(model: Any) -> list[str]:
    """``--train-data`` specs recorded beside a local model trained here (else none)."""
    import json
    from pathlib import Path

    meta = getattr(model, "mteb_model_meta", None)
    folder = ((getattr(meta, "loader_kwargs", None) or {}).get("model_path")) if meta else None
    if not folder or not (Path(folder) / TRAINING_METADATA).is_file():
        return []
    recorded = json.loads((Path(folder) / TRAINING_METADATA).read_text(encoding="utf-8"))
    data = recorded.get("data") or {}
    return [str(s) for s in (data.get("train_specs") or []) + (data.get("validation_specs") or [])]
