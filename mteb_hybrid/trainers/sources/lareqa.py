"""LAReQA-format folders (one SQuAD v1.1 JSON per language) as training records.

A question becomes ``query``; its ``positive`` is the answer sentence (``target="sentence"``, the
LAReQA retrieval unit) or the whole paragraph (``target="paragraph"``). Question ids are shared
across languages, which is what makes the records parallel.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from mteb_hybrid.data.download import fetch
from mteb_hybrid.data.languages import LANGUAGES
from mteb_hybrid.data.lareqa import DATASETS, LanguageFile, parse_language_file, remote_file
from mteb_hybrid.trainers.records import TrainingDataError, TrainingRecord, check_record

TARGETS = ("sentence", "paragraph")


def lareqa_files(
    location: str | os.PathLike[str],
    languages: Sequence[str] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
) -> list[tuple[str, Path]]:
    """``(lang, path)`` of each language file: from a folder of ``<lang>.json`` files, or for a
    known dataset name (``xquad-r``, ``mlqa-r``) from the checksummed local copy, cache or download.
    """
    folder = Path(location)
    if folder.is_dir():
        files = sorted(folder.glob("*.json"))
        if not files:
            raise TrainingDataError(
                f"{folder}: no <lang>.json files; expected a LAReQA folder such as xquad-r/"
            )
        found = []
        for path in files:
            if path.stem not in LANGUAGES:
                raise TrainingDataError(
                    f"{path}: all questions: field 'lang' (the file name) has unknown code "
                    f"{path.stem!r}; name each file <code>.json with a code from "
                    f"{', '.join(sorted(LANGUAGES))}"
                )
            if languages is None or path.stem in languages:
                found.append((path.stem, path))
        missing = sorted(set(languages or ()) - {lang for lang, _ in found})
        if missing:
            raise TrainingDataError(f"{folder}: no file for language(s) {', '.join(missing)}")
        return found
    name = str(location)
    if name in DATASETS:
        langs = list(languages) if languages is not None else sorted(DATASETS[name][1])
        return [(lang, fetch(remote_file(name, lang), data_dir)) for lang in langs]
    raise TrainingDataError(
        f"{location}: not a folder of LAReQA <lang>.json files nor one of {sorted(DATASETS)}"
    )


def records_from_language_file(
    language_file: LanguageFile, source: str, target: str = "sentence"
) -> Iterator[TrainingRecord]:
    """Training records of one parsed language file (question -> answer sentence or paragraph)."""
    if target not in TARGETS:
        raise TrainingDataError(f"LAReQA target {target!r}: use one of {', '.join(TARGETS)}")
    sentences = {s.id: s.text for s in language_file.sentences}
    for number, question in enumerate(language_file.questions, start=1):
        if target == "sentence":
            positive = sentences[question.answer_sentence_id]
        else:
            positive = language_file.paragraphs[question.answer_paragraph_id]
        yield check_record(
            TrainingRecord(
                id=question.id,
                lang=language_file.lang,
                query=question.text,
                positive=positive,
                negative=None,
                source=source,
                row=number,
                unit="question",
            )
        )


def iter_lareqa_records(
    location: str | os.PathLike[str],
    *,
    target: str = "sentence",
    languages: Sequence[str] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
) -> Iterator[TrainingRecord]:
    """All training records of a LAReQA folder or named dataset, language by language."""
    if target not in TARGETS:
        raise TrainingDataError(f"LAReQA target {target!r}: use one of {', '.join(TARGETS)}")
    for lang, path in lareqa_files(location, languages, data_dir):
        yield from records_from_language_file(parse_language_file(path, lang), str(path), target)
