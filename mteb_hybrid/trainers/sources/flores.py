"""SIB-200 (FLORES-200) sentences as parallel training records: translation pairs.

Each ``index_id`` is one item; its record in language X has the sentence as both ``query`` and
``positive``, so a cross-lingual pair (X query, Y positive) is a translation pair. Monolingual
pairs of FLORES are identity pairs (the same sentence twice) and teach nothing: train with
cross-lingual and multilingual batches only (ratios such as ``0:1:0`` or ``0:0.5:0.5``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence

from mteb_hybrid.data.flores import (
    FLORES_LANGUAGES,
    check_split,
    dataset_code,
    load_flores_files,
    resolve_variant,
)
from mteb_hybrid.trainers.records import TrainingDataError, TrainingRecord, check_record


def iter_flores_records(
    *,
    split: str = "train",
    languages: Sequence[str] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
) -> Iterator[TrainingRecord]:
    """Records of one SIB-200 split (default ``train``) in the given languages (default: 36)."""
    try:
        check_split(split)
        variants = [resolve_variant(code) for code in (languages or FLORES_LANGUAGES)]
    except ValueError as error:
        raise TrainingDataError(f"flores: {error}") from None
    for variant, (path, sentences) in load_flores_files(variants, split, data_dir).items():
        source = str(path)
        for line, sentence in enumerate(sentences, start=2):
            yield check_record(
                TrainingRecord(
                    id=sentence.index_id,
                    lang=dataset_code(variant),
                    query=sentence.text,
                    positive=sentence.text,
                    negative=None,
                    source=source,
                    row=line,
                    unit="line",
                )
            )
