"""XM3600Retrieval on the fixture: both upstream layouts, exact scores against pytrec_eval."""

from __future__ import annotations

import json
import logging
import zipfile
from pathlib import Path

import numpy as np
import pytest

from mteb_hybrid.data.download import DataFileError
from mteb_hybrid.data.xm3600 import XM3600_LANGUAGES, load_xm3600
from tests.test_xm3600_helpers import (
    XM3600_FIXTURE,
    HashingEncoder,
    assert_matches_reference,
    embed_collection,
    reference_scores,
)

IMAGES = 6


@pytest.fixture(scope="module", autouse=True)
def fixtures_are_not_the_published_file():
    """The fixture is not the official captions.jsonl: declare it, as a user-supplied copy."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MTEB_HYBRID_VERIFY", "0")
        yield


@pytest.fixture(scope="module")
def captions_both():
    """The fixture read from captions.jsonl and from the Hugging Face layout."""
    official = load_xm3600(data_dir=XM3600_FIXTURE, source="official")
    hf = load_xm3600(data_dir=XM3600_FIXTURE, source="hf")
    return official, hf


@pytest.fixture(scope="module")
def scored_both():
    """Both layouts through the task: collection and scores of every default subset."""
    from mteb_hybrid.tasks.xm3600 import XM3600Retrieval

    out = {}
    for source in ("official", "hf"):
        task = XM3600Retrieval(data_dir=XM3600_FIXTURE, source=source)
        task.load_data()
        encoder = HashingEncoder()
        task.evaluate(encoder, "test", encode_kwargs={"batch_size": 64})
        out[source] = (task, task._results, encoder)
    return out


def test_layouts_give_the_same_captions(captions_both) -> None:
    official, hf = captions_both
    assert official.captions == hf.captions
    assert official.image_locales == hf.image_locales
    assert official.languages == list(XM3600_LANGUAGES)
    counts = official.counts()
    assert counts["bn"] == IMAGES  # one caption per image
    assert counts["mi"] == 9  # one or two
    assert official.images_without == {"fil": 1, "quz": 1}
    assert official.skipped_blank == {"hr": 1} == hf.skipped_blank
    odd = next(c for c in official.captions if c.id == "en-3d4e5f60718293a4-1")
    assert odd.text == "  a red\u00a0bicycle\tleaning on the  wall \n"  # kept verbatim
    scripts = {c.lang: c.text for c in official.captions if c.id.endswith("-0a1b2c3d4e5f6071-0")}
    assert scripts["te"] == "కుక్క" and scripts["zh"] == "狗" and scripts["he"] == "כלב"


def test_layouts_give_the_same_collection_and_scores(scored_both) -> None:
    (task_a, results_a, _), (task_b, results_b, _) = scored_both["official"], scored_both["hf"]
    a, b = task_a.collection, task_b.collection
    assert a.doc_ids == b.doc_ids and a.doc_texts == b.doc_texts and a.query_ids == b.query_ids
    assert np.array_equal(a.doc_langs, b.doc_langs)
    assert all(np.array_equal(x, y) for x, y in zip(a.relevant, b.relevant, strict=True))
    assert results_a.keys() == results_b.keys()
    for name in results_a:
        assert results_a[name].query_ids == results_b[name].query_ids
        for metric, value in results_a[name].scores.items():
            other = results_b[name].scores[metric]
            assert value == other or (np.isnan(value) and np.isnan(other)), (name, metric)


def test_collection_ids_relevance_and_self_exclusion(scored_both) -> None:
    task, _, _ = scored_both["official"]
    col = task.collection
    assert col.doc_ids == col.query_ids
    assert np.array_equal(col.query_self_doc, np.arange(len(col.query_ids)))
    index = {doc_id: i for i, doc_id in enumerate(col.doc_ids)}
    query = index["en-0a1b2c3d4e5f6071-0"]
    relevant = {col.doc_ids[d] for d in col.relevant[query]}
    assert "en-0a1b2c3d4e5f6071-0" not in relevant  # never itself
    assert {"en-0a1b2c3d4e5f6071-1", "en-0a1b2c3d4e5f6071-2", "bn-0a1b2c3d4e5f6071-0"} <= relevant
    image_captions = [i for i, d in enumerate(col.doc_ids) if d.split("-")[1] == "0a1b2c3d4e5f6071"]
    assert len(relevant) == len(image_captions) - 1
    assert all(d.split("-")[1] == "0a1b2c3d4e5f6071" for d in relevant)
    assert "hr-2c3d4e5f60718293-2" not in index  # the whitespace-only caption


def test_subsets_bn_has_no_monolingual_subset_and_default_vs_full_matrix() -> None:
    import mteb

    from mteb_hybrid.tasks.xm3600 import XM3600Retrieval

    task = XM3600Retrieval()
    assert "ben-ben" not in task.metadata.eval_langs and "ben-ben" not in task.hf_subsets
    assert "Bengali has one caption per image" in task.metadata.description
    assert {"ben-eng", "eng-ben", "ben-all", "mri-mri", "eng-eng", "deu-eng"} <= set(
        task.hf_subsets
    )
    assert "deu-fra" not in task.hf_subsets
    assert len(task.hf_subsets) == 35 + 2 * 35 + 36
    full = XM3600Retrieval(full_cross_matrix=True)
    assert len(full.hf_subsets) == 35 + 36 * 35 + 36 == len(task.metadata.eval_langs)
    stock = mteb.get_task("XM3600Retrieval")
    assert type(stock) is XM3600Retrieval and sorted(stock.hf_subsets) == sorted(task.hf_subsets)
    named = mteb.get_task("XM3600Retrieval", hf_subsets=["deu-fra", "eng-all"])
    assert sorted(named.hf_subsets) == ["deu-fra", "eng-all"]
    task.metadata._validate_metadata()
    assert task.metadata.main_score == "map"


@pytest.mark.parametrize("subset", ["eng-eng", "deu-deu", "mri-mri", "eng-deu", "ben-eng"])
def test_mono_and_cross_scores_match_pytrec_eval(scored_both, subset: str) -> None:
    from mteb_hybrid.tasks.base import parse_subset_name

    task, results, encoder = scored_both["official"]
    parsed = parse_subset_name(subset)
    q, d = embed_collection(task.collection, encoder)
    reference = reference_scores(task.collection, q, d, parsed.query_lang, parsed.corpus_lang)
    assert reference["per_query"], subset
    assert_matches_reference(results[subset], reference, pooled=False)


@pytest.mark.parametrize("subset", ["eng-all", "deu-all", "ben-all", "quz-all"])
def test_pooled_scores_and_rank_distance_match_pytrec_eval(scored_both, subset: str) -> None:
    from mteb_hybrid.tasks.base import parse_subset_name

    task, results, encoder = scored_both["official"]
    parsed = parse_subset_name(subset)
    q, d = embed_collection(task.collection, encoder)
    reference = reference_scores(task.collection, q, d, parsed.query_lang, parsed.corpus_lang)
    assert_matches_reference(results[subset], reference, pooled=True)
    assert results[subset].scores["rank_distance"] > 0


def test_ties_between_identical_captions_are_broken_as_trec_eval(scored_both) -> None:
    task, results, encoder = scored_both["official"]
    col = task.collection
    de = [i for i, d in enumerate(col.doc_ids) if d.startswith("de-")]
    texts = [col.doc_texts[i] for i in de]
    assert len(texts) != len(set(texts))  # the fixture has a duplicated German caption
    q, d = embed_collection(col, encoder)
    assert_matches_reference(
        results["deu-deu"], reference_scores(col, q, d, "de", "de"), pooled=False
    )


def test_self_exclusion_changes_scores(scored_both) -> None:
    """Without removing the query from its ranking, its own caption competes with the relevant ones:
    the leaky scores equal the reference that keeps the query's caption, and every query whose
    caption outscores a relevant one loses average precision."""
    from mteb_hybrid.evaluation.collection import Subset
    from mteb_hybrid.evaluation.evaluator import evaluate_subsets

    task, results, encoder = scored_both["official"]
    col = task.collection
    q, d = embed_collection(col, encoder)
    saved = col.query_self_doc.copy()
    try:
        col.query_self_doc = np.full(len(col.query_ids), -1)
        leaky = evaluate_subsets(
            col, q, d, [Subset("eng-eng", "en", "en")], similarity="dot", progress=False
        )["eng-eng"]
        leaky_reference = reference_scores(col, q, d, "en", "en")
    finally:
        col.query_self_doc = saved
    assert_matches_reference(leaky, leaky_reference, pooled=False)
    honest = results["eng-eng"]
    assert sorted(leaky.query_ids) == sorted(honest.query_ids)
    leaky_map = dict(zip(leaky.query_ids, leaky.per_query["map"], strict=True))
    honest_map = dict(zip(honest.query_ids, honest.per_query["map"], strict=True))
    assert all(leaky_map[qid] <= honest_map[qid] + 1e-12 for qid in honest_map)
    assert sum(leaky_map[qid] < honest_map[qid] for qid in honest_map) >= 1
    assert leaky.scores["map"] < honest.scores["map"]


def test_encoding_is_once_per_distinct_text(scored_both) -> None:
    task, _, encoder = scored_both["official"]
    distinct = len(set(task.collection.doc_texts))
    assert task.encoding_counts["documents_encoded"] == distinct
    assert [n for kind, n in encoder.calls] == [distinct, distinct]  # documents, then queries


def test_subsample_is_deterministic_and_recorded() -> None:
    from mteb_hybrid.tasks.xm3600 import XM3600Retrieval

    runs = []
    for _ in range(2):
        task = XM3600Retrieval(
            data_dir=XM3600_FIXTURE,
            source="official",
            queries_per_language=3,
            languages=["en", "de"],
        )
        task.load_data()
        scores = task.evaluate(HashingEncoder(), "test", encode_kwargs={})
        runs.append((scores, {k: r.query_ids for k, r in task._results.items()}))
    (scores, ids), (scores_again, ids_again) = runs
    assert ids == ids_again and scores == scores_again
    assert set(scores) == {"eng-eng", "deu-deu", "eng-deu", "deu-eng", "eng-all", "deu-all"}
    assert all(s["num_queries"] <= 3 for s in scores.values())
    assert scores["eng-all"]["queries_per_language"] == 3.0
    assert scores["eng-all"]["subsample_seed"] == 42.0
    assert scores["eng-all"]["subsample_parallel"] == 1.0
    # parallel subsample: English and German captions of the same images where both have them
    col = task.collection
    images = {lang: set() for lang in ("en", "de")}
    for i in task.query_indices():
        images[col.languages[col.query_langs[i]]].add(col.query_items[i])
    assert images["en"] == images["de"] and images["en"]
    assert scores["eng-all"]["main_score"] == scores["eng-all"]["map"]


def test_zip_archive_reads_like_the_jsonl(tmp_path: Path, captions_both) -> None:
    folder = tmp_path / "xm3600"
    folder.mkdir()
    with zipfile.ZipFile(folder / "captions.zip", "w") as archive:
        archive.write(XM3600_FIXTURE / "xm3600" / "captions.jsonl", "captions.jsonl")
    from_zip = load_xm3600(data_dir=tmp_path, source="official")
    assert from_zip.captions == captions_both[0].captions
    assert from_zip.source.endswith("captions.zip!captions.jsonl")


def test_checksum_policy_of_the_official_file(caplog, monkeypatch) -> None:
    """Unpinned: used with a warning naming its sha256; pinned: a mismatch is an error."""
    from mteb_hybrid.data import download, xm3600

    monkeypatch.setattr(download, "_WARNED", set())
    monkeypatch.setenv("MTEB_HYBRID_VERIFY", "1")
    digest = download.sha256_of(XM3600_FIXTURE / "xm3600" / "captions.jsonl")
    if xm3600.CAPTIONS_JSONL.sha256 is None:
        with caplog.at_level(logging.WARNING, logger="mteb_hybrid.data.download"):
            load_xm3600(languages=["en"], data_dir=XM3600_FIXTURE, source="official")
        assert any("NOT verified" in r.message and digest in r.message for r in caplog.records)
    pinned = xm3600.RemoteFile(xm3600.CAPTIONS_JSONL.relpath, xm3600.CAPTIONS_URL, "f" * 64)
    monkeypatch.setattr(xm3600, "CAPTIONS_JSONL", pinned)
    with pytest.raises(DataFileError, match="does not match"):
        load_xm3600(languages=["en"], data_dir=XM3600_FIXTURE, source="official")


def _write_jsonl(folder: Path, lines: list[str]) -> Path:
    (folder / "xm3600").mkdir(parents=True, exist_ok=True)
    path = folder / "xm3600" / "captions.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


GOOD = {"image/key": "aa", "image/locale": "en", "en": {"caption": ["a dog", "dog"]}}


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ([json.dumps(GOOD), '{"image/key": "bb", '], "captions.jsonl:2: not valid JSON"),
        (
            [json.dumps({"image/locale": "en"})],
            "captions.jsonl:1: missing string field 'image/key'",
        ),
        (
            [json.dumps({**GOOD, "en": {"text": ["x"]}})],
            "captions.jsonl:1 (image aa): field 'en' has no 'caption' list",
        ),
        ([json.dumps({**GOOD, "en": {"caption": "x"}})], "'caption' must be a list of strings"),
        ([json.dumps(GOOD), json.dumps(GOOD)], "captions.jsonl:2: image aa appears twice"),
        ([""], "holds no images"),
    ],
)
def test_bad_jsonl_gives_one_line_errors(tmp_path: Path, lines: list[str], expected: str) -> None:
    _write_jsonl(tmp_path, lines)
    with pytest.raises(DataFileError) as error:
        load_xm3600(languages=["en"], data_dir=tmp_path, source="official")
    message = str(error.value)
    assert expected in message and "\n" not in message
    assert str(tmp_path) in message


def test_bad_zip_and_missing_files_give_one_line_errors(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "xm3600").mkdir()
    (tmp_path / "xm3600" / "captions.zip").write_bytes(b"not a zip")
    with pytest.raises(DataFileError, match="not a valid zip archive") as error:
        load_xm3600(data_dir=tmp_path, source="official")
    assert "\n" not in str(error.value)
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("MTEB_HYBRID_DATA", str(empty))
    with pytest.raises(DataFileError, match="not found locally") as error:
        load_xm3600(data_dir=empty, source="official")
    with pytest.raises(DataFileError, match="no local mirror found.*mteb/xm3600"):
        load_xm3600(data_dir=empty, source="hf")
    with pytest.raises(ValueError, match="XM3600 has no language xx"):
        load_xm3600(languages=["xx"], data_dir=XM3600_FIXTURE)


def test_bad_hf_layout_gives_one_line_errors(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    repo = tmp_path / "mteb" / "xm3600"
    (repo / "data").mkdir(parents=True)
    pq.write_table(
        pa.table({"image_id": ["aa"], "image_locale": ["en"]}), repo / "data" / "en-0.parquet"
    )
    (repo / "README.md").write_text(
        "---\nconfigs:\n- config_name: default\n  data_files:\n  - split: en\n"
        "    path: data/en-*\n---\n"
    )
    for languages, expected in ((["en"], "captions"), (["de"], "no split for language de")):
        with pytest.raises(DataFileError) as error:
            load_xm3600(languages=languages, data_dir=tmp_path, source="hf")
        message = str(error.value)
        assert str(repo) in message and expected in message and "\n" not in message
