"""FLORES-200 sentences as distributed by SIB-200: one TSV per language variant and split.

SIB-200 (Adelani et al., 2024) annotates 1,004 FLORES-200 sentences with topics and splits them
into train (701), dev (99) and test (204). Every language variant's folder
``data/annotated/<variant>/{train,dev,test}.tsv`` holds the same ``index_id``s in the same order:
one sentence per language per item, so the data are parallel. Format: a header line
``index_id<TAB>category<TAB>text``, no quoting (sentences may hold quote characters), UTF-8.

Files are looked up as ``<data folder>/sib-200/<variant>/<split>.tsv`` (``$MTEB_HYBRID_DATA``),
then in the cache, then downloaded from the pinned commit; every file is checked against the
sha256 of all 205 variants at that commit (``sib200_sha256.txt`` beside this module).
"""

from __future__ import annotations

import csv
import functools
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mteb_hybrid.data.download import DataFileError, RemoteFile, fetch
from mteb_hybrid.data.languages import LANGUAGES, iso3, lang_script

SIB200_REPO = "https://raw.githubusercontent.com/dadelani/sib-200"
SIB200_COMMIT = "593cea88519930f776c1a4a1980b6a35b39dca57"
SPLITS: tuple[str, ...] = ("train", "dev", "test")
COLUMNS: tuple[str, ...] = ("index_id", "category", "text")
CHECKSUM_FILE = Path(__file__).with_name("sib200_sha256.txt")
SPLIT_ENV = "MTEB_HYBRID_FLORES_SPLIT"

# dataset code (the codes XM3600Retrieval uses) -> SIB-200 / FLORES-200 variant, for the 36
# XM3600 languages. Cusco Quechua (XM3600 ``quz``) has no FLORES text: Ayacucho ``quy`` stands in
# for it and is labelled ``quy``, never ``quz``.
FLORES_VARIANTS: dict[str, str] = {
    "ar": "arb_Arab", "bn": "ben_Beng", "cs": "ces_Latn", "da": "dan_Latn", "de": "deu_Latn",
    "el": "ell_Grek", "en": "eng_Latn", "es": "spa_Latn", "fa": "pes_Arab", "fi": "fin_Latn",
    "fil": "tgl_Latn", "fr": "fra_Latn", "he": "heb_Hebr", "hi": "hin_Deva", "hr": "hrv_Latn",
    "hu": "hun_Latn", "id": "ind_Latn", "it": "ita_Latn", "ja": "jpn_Jpan", "ko": "kor_Hang",
    "mi": "mri_Latn", "nl": "nld_Latn", "no": "nob_Latn", "pl": "pol_Latn", "pt": "por_Latn",
    "quy": "quy_Latn", "ro": "ron_Latn", "ru": "rus_Cyrl", "sv": "swe_Latn", "sw": "swh_Latn",
    "te": "tel_Telu", "th": "tha_Thai", "tr": "tur_Latn", "uk": "ukr_Cyrl", "vi": "vie_Latn",
    "zh": "zho_Hans",
}  # fmt: skip
FLORES_LANGUAGES: tuple[str, ...] = tuple(FLORES_VARIANTS)
# The XM3600 low-resource group (Thapliyal et al., 2022) as FLORES has it: quy stands in for quz.
FLORES_LOW_RESOURCE: tuple[str, ...] = ("bn", "mi", "quy", "sw", "te")
# dataset code here -> the XM3600 language it stands in for
STAND_INS: dict[str, str] = {"quy": "quz"}
_CODE_OF_VARIANT = {variant: code for code, variant in FLORES_VARIANTS.items()}


@dataclass(frozen=True)
class FloresSentence:
    """One sentence of one item (``index_id``) in one language variant."""

    index_id: str
    category: str
    text: str


@functools.cache
def checksums() -> dict[str, str]:
    """``"<variant>/<split>.tsv"`` -> sha256, for every file of all 205 SIB-200 variants."""
    table = {}
    for line in CHECKSUM_FILE.read_text(encoding="utf-8").splitlines():
        if line.strip():
            digest, relpath = line.split(maxsplit=1)
            table[relpath.strip()] = digest
    return table


@functools.cache
def variants() -> tuple[str, ...]:
    """Every SIB-200 language variant at the pinned commit (``ace_Arab`` ... ``zul_Latn``)."""
    return tuple(sorted({relpath.split("/", 1)[0] for relpath in checksums()}))


def resolve_variant(code: str) -> str:
    """The SIB-200 variant of a language code: ``"en"``, ``"eng"`` and ``"eng_Latn"`` all give
    ``"eng_Latn"``; an ISO 639-3 code with several variants (``"ace"``) must name the script.
    """
    text = code.strip()
    if text in FLORES_VARIANTS:
        return FLORES_VARIANTS[text]
    if text in variants():
        return text
    known = {iso3(c): v for c, v in FLORES_VARIANTS.items()}
    if text in known:
        return known[text]
    if text == "quz":
        raise ValueError(
            "FLORES-200 has no Cusco Quechua (quz); use quy (Ayacucho Quechua, quy_Latn), "
            "which FloresRetrieval reports as quy"
        )
    matches = [v for v in variants() if v.split("_", 1)[0] == text]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise ValueError(
            f"language {code!r} has several SIB-200 variants ({', '.join(matches)}); name one"
        )
    raise ValueError(
        f"unknown SIB-200 language {code!r}: use a FLORES-200 code such as eng_Latn or swh_Latn "
        f"(205 variants, see mteb_hybrid.data.flores.variants()) or a code of "
        f"{', '.join(FLORES_LANGUAGES)}"
    )


def dataset_code(variant: str) -> str:
    """The package's language code of a variant: ``"swh_Latn"`` -> ``"sw"``; others keep theirs."""
    return _CODE_OF_VARIANT.get(variant, variant)


def label(variant: str) -> str:
    """ISO 639-3 label of a variant in subset names: ``"pes_Arab"`` -> ``"fas"`` (as XM3600
    names Persian), ``"quy_Latn"`` -> ``"quy"``, other variants their FLORES language part."""
    code = _CODE_OF_VARIANT.get(variant)
    return iso3(code) if code is not None else variant.split("_", 1)[0]


def variant_lang_script(variant: str) -> str:
    """mteb language-script code of a variant (``"swh_Latn"`` -> ``"swa-Latn"``)."""
    code = _CODE_OF_VARIANT.get(variant)
    if code is not None and code in LANGUAGES:
        return lang_script(code)
    language, _, script = variant.partition("_")
    return f"{language}-{script}"


def check_split(split: str) -> str:
    """``split`` if SIB-200 has it, else a one-line error naming the splits."""
    if split not in SPLITS:
        raise ValueError(f"SIB-200 has no split {split!r}: use one of {', '.join(SPLITS)}")
    return split


def remote_file(variant: str, split: str) -> RemoteFile:
    """The checksummed :class:`RemoteFile` of one variant's split."""
    check_split(split)
    relpath = f"{variant}/{split}.tsv"
    if relpath not in checksums():
        resolve_variant(variant)  # raises the one-line error for unknown codes
    return RemoteFile(
        relpath=f"sib-200/{relpath}",
        url=f"{SIB200_REPO}/{SIB200_COMMIT}/data/annotated/{relpath}",
        sha256=checksums()[relpath],
    )


def parse_split_file(path: str | os.PathLike[str]) -> list[FloresSentence]:
    """Read one SIB-200 TSV; a bad header or line is a one-line error naming file and line."""
    path = Path(path)
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader, None)
        if header is None or tuple(header) != COLUMNS:
            found = "an empty file" if header is None else "\\t".join(header)
            raise DataFileError(
                f"{path}: line 1: expected the header {chr(9).join(COLUMNS)!r} but found "
                f"{found!r}; the file is not a SIB-200 TSV (columns {', '.join(COLUMNS)})"
            )
        sentences = []
        for line_number, row in enumerate(reader, start=2):
            if len(row) != len(COLUMNS):
                missing = COLUMNS[len(row)] if len(row) < len(COLUMNS) else None
                problem = (
                    f"has no column {missing!r}"
                    if missing
                    else f"has {len(row)} tab-separated fields, expected {len(COLUMNS)}"
                )
                raise DataFileError(
                    f"{path}: line {line_number}: {problem}; each line needs "
                    f"index_id<TAB>category<TAB>text (truncated or corrupt: re-download it)"
                )
            index_id, category, text = row
            if not index_id.strip() or not text.strip():
                field = "index_id" if not index_id.strip() else "text"
                raise DataFileError(
                    f"{path}: line {line_number}: field {field!r} is empty; every line needs an "
                    "index_id and a sentence"
                )
            sentences.append(FloresSentence(index_id.strip(), category, text))
    return sentences


def load_flores_files(
    languages: Sequence[str],
    split: str = "test",
    data_dir: str | os.PathLike[str] | None = None,
) -> dict[str, tuple[Path, list[FloresSentence]]]:
    """As :func:`load_flores`, with each variant's verified file path beside its sentences."""
    check_split(split)
    wanted = list(dict.fromkeys(resolve_variant(code) for code in languages))
    paths = {variant: fetch(remote_file(variant, split), data_dir) for variant in wanted}
    loaded = {variant: parse_split_file(path) for variant, path in paths.items()}
    if wanted:
        pivot = "eng_Latn" if "eng_Latn" in wanted else wanted[0]
        pivot_ids = [s.index_id for s in loaded[pivot]]
        for variant in wanted:
            ids = [s.index_id for s in loaded[variant]]
            if ids != pivot_ids:
                line = next(
                    (i for i, (a, b) in enumerate(zip(ids, pivot_ids, strict=False)) if a != b),
                    min(len(ids), len(pivot_ids)),
                )
                mine = ids[line] if line < len(ids) else "end of file"
                theirs = pivot_ids[line] if line < len(pivot_ids) else "end of file"
                raise DataFileError(
                    f"{paths[variant]}: line {line + 2}: index_id {mine!r} differs from "
                    f"{paths[pivot]}'s {theirs!r} ({len(ids)} vs {len(pivot_ids)} items); every "
                    f"language of a split needs the same index_ids in the same order: use the "
                    f"SIB-200 files of commit {SIB200_COMMIT[:7]}"
                )
    return {variant: (paths[variant], loaded[variant]) for variant in paths}


def load_flores(
    languages: Sequence[str],
    split: str = "test",
    data_dir: str | os.PathLike[str] | None = None,
) -> dict[str, list[FloresSentence]]:
    """Fetch (local folder, cache or verified download) and parse one split of each language.

    ``languages`` are any codes :func:`resolve_variant` takes; the result is keyed by variant, in
    the order given. Every language must hold the same ``index_id``s in the same order as
    English (or the first language when English is not asked for): a difference is a
    one-line error naming both files.
    """
    files = load_flores_files(languages, split, data_dir)
    return {variant: sentences for variant, (_, sentences) in files.items()}


def trained_splits(specs: Sequence[str]) -> set[str]:
    """SIB-200 splits named by ``flores:`` training-data specs (``flores:?split=train&...``)."""
    from urllib.parse import parse_qsl

    found = set()
    for spec in specs:
        body, _, query = str(spec).strip().partition("?")
        if body.rstrip(":") == "flores" or body.startswith("flores:"):
            found.add(dict(parse_qsl(query)).get("split", "train"))
    return found


def refuse_evaluating_training_split(train_specs: Sequence[str], split: str, where: str) -> None:
    """One-line error when a model trained on a SIB-200 split would be evaluated on that split."""
    if split in trained_splits(train_specs):
        raise ValueError(
            f"{where}: the model was trained on SIB-200 split {split!r} (--train-data "
            f"flores:?split={split}) and would be evaluated on the same sentences; evaluate on "
            f"another split (e.g. {'test' if split != 'test' else 'dev'}) or train on 'train'"
        )
