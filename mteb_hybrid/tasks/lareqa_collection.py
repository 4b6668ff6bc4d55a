"""Build a multi-setting collection from LAReQA files (shared by XQuAD-R and MLQA-R)."""

from __future__ import annotations

import os

from mteb_hybrid.data.lareqa import load_lareqa
from mteb_hybrid.evaluation.collection import RetrievalCollection, build_collection

LAREQA_CITATION = r"""
@inproceedings{roy-etal-2020-lareqa,
  author = {Roy, Uma and Constant, Noah and Al-Rfou, Rami and Barua, Aditya and Phillips, Aaron and Yang, Yinfei},
  booktitle = {Proceedings of the 2020 Conference on Empirical Methods in Natural Language Processing (EMNLP)},
  pages = {5919--5930},
  publisher = {Association for Computational Linguistics},
  title = {{LAReQA}: Language-Agnostic Answer Retrieval from a Multilingual Pool},
  url = {https://aclanthology.org/2020.emnlp-main.477},
  year = {2020},
}
"""


def lareqa_collection(
    dataset: str, languages: list[str], data_dir: str | os.PathLike[str] | None = None
) -> RetrievalCollection:
    """Sentences of every language as documents, questions as queries.

    A question (id shared across languages) is relevant to the answer sentence of that id in every
    language that has the question; query ids are ``"<lang>-<question id>"``, and the question id
    is the query's parallel item (``query_items``).
    """
    files = load_lareqa(dataset, languages, data_dir)
    answers: dict[str, list[str]] = {}
    for language_file in files.values():
        for question in language_file.questions:
            answers.setdefault(question.id, []).append(question.answer_sentence_id)
    documents = [(s.id, s.lang, s.text) for f in files.values() for s in f.sentences]
    queries = [(f"{q.lang}-{q.id}", q.lang, q.text) for f in files.values() for q in f.questions]
    relevant = {f"{q.lang}-{q.id}": answers[q.id] for f in files.values() for q in f.questions}
    items = {f"{q.lang}-{q.id}": q.id for f in files.values() for q in f.questions}
    collection = build_collection(languages, documents, queries, relevant, query_items=items)
    collection.metadata["dataset"] = dataset
    return collection
