"""mMARCO (MS MARCO passages machine-translated into 14 languages) as parallel training records.

Read from the Hugging Face Hub repository ``unicamp-dl/mmarco`` (or a local folder with the same
layout) as plain TSV files, streamed line by line, never loaded whole:

1. ``data/triples.train.ids.small.tsv`` (``qid \\t positive pid \\t negative pid``, ids shared by
   every language): the first triple of each query id, up to ``max_ids`` query ids;
2. per language, ``data/<translation>/queries/train/<language>_queries.train.tsv`` and
   ``data/<translation>/collections/<language>_collection.tsv`` (``id \\t text``): only the texts
   of the wanted ids are kept, and the collection scan stops once all of them are found.

Memory is bounded by ``max_ids`` and one language's texts; records are emitted language by
language. The layout was taken from the repository's file listing and is not exercised online
in the tests (they use a local copy in the same layout); pass ``revision=`` to pin a commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from mteb_hybrid.trainers.records import TrainingDataError, TrainingRecord, check_record

DEFAULT_ROOT = "hf://datasets/unicamp-dl/mmarco"
TRIPLES_PATH = "data/triples.train.ids.small.tsv"
QUERIES_PATH = "data/{translation}/queries/train/{name}_queries.train.tsv"
COLLECTION_PATH = "data/{translation}/collections/{name}_collection.tsv"

# dataset language code -> mMARCO file-name language
MMARCO_LANGUAGES: dict[str, str] = {
    "ar": "arabic",
    "de": "german",
    "en": "english",
    "es": "spanish",
    "fr": "french",
    "hi": "hindi",
    "id": "indonesian",
    "it": "italian",
    "ja": "japanese",
    "nl": "dutch",
    "pt": "portuguese",
    "ru": "russian",
    "vi": "vietnamese",
    "zh": "chinese",
}
TRANSLATIONS = ("google", "helsinki")


def read_tsv(url: str) -> Iterator[list[str]]:
    """Stream the fields of each line of a TSV file (local path or any fsspec URL, e.g. hf://)."""
    import fsspec

    try:
        handle = fsspec.open(url, "rt", encoding="utf-8").open()
    except (OSError, ValueError) as error:
        raise TrainingDataError(
            f"{url}: cannot open ({error}); check the network, the repository layout or "
            "point the mmarco spec at a local copy"
        ) from None
    with handle:
        for line in handle:
            yield line.rstrip("\n").rstrip("\r").split("\t")


def _root_url(root: str, revision: str | None) -> str:
    root = root.rstrip("/")
    if root.startswith("hf://") and revision and "@" not in root:
        return f"{root}@{revision}"
    return root


def _collect_texts(url: str, wanted: set[str], field: str) -> dict[str, str]:
    """Texts of the wanted ids in an ``id \\t text`` file; stops once every id is found."""
    texts: dict[str, str] = {}
    for number, fields in enumerate(read_tsv(url), start=1):
        if len(fields) < 2:
            raise TrainingDataError(
                f"{url}: line {number}: field {field!r} is missing; expected 'id<TAB>text'"
            )
        if fields[0] in wanted:
            texts[fields[0]] = fields[1]
            if len(texts) == len(wanted):
                break
    return texts


def read_triples(url: str, max_ids: int | None) -> dict[str, tuple[int, str, str]]:
    """``{qid: (line, positive pid, negative pid)}``: the first triple per query id."""
    triples: dict[str, tuple[int, str, str]] = {}
    for number, fields in enumerate(read_tsv(url), start=1):
        if len(fields) != 3 or not all(fields):
            raise TrainingDataError(
                f"{url}: line {number}: field 'positive' or 'negative' is missing; expected "
                "'qid<TAB>positive pid<TAB>negative pid'"
            )
        if fields[0] not in triples:
            triples[fields[0]] = (number, fields[1], fields[2])
            if max_ids is not None and len(triples) >= max_ids:
                break
    if not triples:
        raise TrainingDataError(f"{url}: no training triples")
    return triples


def _lookup(texts: dict[str, str], key: str, url: str, field: str, where: str) -> str:
    try:
        return texts[key]
    except KeyError:
        raise TrainingDataError(
            f"{where}: field {field!r}: id {key} is not in {url}; the translation is incomplete, "
            "drop this language or lower max_ids"
        ) from None


def iter_mmarco_records(
    root: str = DEFAULT_ROOT,
    *,
    languages: Sequence[str] | None = None,
    max_ids: int | None = 100_000,
    translation: str = "google",
    revision: str | None = "main",
    negatives: bool = True,
) -> Iterator[TrainingRecord]:
    """Parallel records (query -> positive passage, optional hard negative) for each language."""
    langs: Iterable[str] = languages if languages is not None else sorted(MMARCO_LANGUAGES)
    unknown = [lang for lang in langs if lang not in MMARCO_LANGUAGES]
    if unknown:
        raise TrainingDataError(
            f"mmarco: field 'lang' has unknown language code {unknown[0]!r}; mMARCO has "
            f"{', '.join(sorted(MMARCO_LANGUAGES))}"
        )
    if translation not in TRANSLATIONS:
        raise TrainingDataError(
            f"mmarco: translation {translation!r}: use one of {', '.join(TRANSLATIONS)}"
        )
    base = _root_url(root, revision)
    triples_url = f"{base}/{TRIPLES_PATH}"
    triples = read_triples(triples_url, max_ids)
    wanted_pids = {pos for _, pos, _ in triples.values()}
    if negatives:
        wanted_pids |= {neg for _, _, neg in triples.values()}
    for lang in langs:
        name = MMARCO_LANGUAGES[lang]
        queries_url = f"{base}/{QUERIES_PATH.format(translation=translation, name=name)}"
        collection_url = f"{base}/{COLLECTION_PATH.format(translation=translation, name=name)}"
        queries = _collect_texts(queries_url, set(triples), "query")
        passages = _collect_texts(collection_url, wanted_pids, "positive")
        for qid, (number, pos, neg) in triples.items():
            where = f"{triples_url}: row {number}"
            yield check_record(
                TrainingRecord(
                    id=qid,
                    lang=lang,
                    query=_lookup(queries, qid, queries_url, "query", where),
                    positive=_lookup(passages, pos, collection_url, "positive", where),
                    negative=(
                        _lookup(passages, neg, collection_url, "negative", where)
                        if negatives
                        else None
                    ),
                    source=triples_url,
                    row=number,
                    unit="row",
                )
            )
