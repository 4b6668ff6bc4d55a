"""MIRACLMultilingualRetrieval on the fixture: mteb's layout, mono and pooled, vs pytrec_eval."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mteb_hybrid.data.download import DataFileError
from mteb_hybrid.data.miracl import MIRACL_LANGUAGES, load_miracl
from tests.test_xm3600_helpers import (
    MIRACL_FIXTURE,
    HashingEncoder,
    assert_matches_reference,
    embed_collection,
    reference_scores,
)

REPO = MIRACL_FIXTURE / "mteb" / "MIRACLRetrievalHardNegatives"


@pytest.fixture(scope="module")
def scored():
    """The task on the fixture, every subset scored with the exact fake encoder."""
    from mteb_hybrid.tasks.miracl import MIRACLMultilingualRetrieval

    task = MIRACLMultilingualRetrieval(data_dir=MIRACL_FIXTURE)
    task.load_data()
    encoder = HashingEncoder()
    scores = task.evaluate(encoder, "dev", encode_kwargs={"batch_size": 64})
    return task, scores, encoder


def test_collection_prefixes_ids_and_keeps_positive_qrels_only(scored) -> None:
    task, _, _ = scored
    col = task.collection
    assert col.languages == list(MIRACL_LANGUAGES)
    assert len(col.doc_ids) == 18 * 8 and len(set(col.doc_ids)) == len(col.doc_ids)
    assert (
        "de-1803#4" not in col.doc_ids and "de-1001#0" in col.doc_ids and "sw-1001#0" in col.doc_ids
    )
    assert len(col.query_ids) == 18 * 3  # query 7 has only score-0 judgements
    assert "en-7" not in col.query_ids
    index = {d: i for i, d in enumerate(col.doc_ids)}
    query = col.query_ids.index("en-0")
    assert [col.doc_ids[d] for d in col.relevant[query]] == sorted(
        ["en-1001#0", "en-1001#1"], key=index.get
    )  # 3000#0 has score 0: not relevant
    assert col.doc_titles is not None
    assert col.doc_titles[index["en-1002#0"]] == "market"
    assert col.query_self_doc.tolist() == [-1] * len(col.query_ids)


def test_same_data_as_mteb_own_miracl_loader() -> None:
    """mteb's RetrievalDatasetLoader (what MIRACLRetrievalHardNegatives uses) reads the fixture."""
    from mteb.abstasks.retrieval_dataset_loaders import RetrievalDatasetLoader

    ours = load_miracl(["de", "te"], data_dir=MIRACL_FIXTURE)
    for lang in ("de", "te"):
        stock = RetrievalDatasetLoader(
            hf_repo=str(REPO), revision="main", split="dev", config=lang
        ).load()
        corpus = stock["corpus"]
        assert [(r["id"], r["title"], r["text"]) for r in corpus] == ours[lang].corpus
        positives = {
            q: sorted(d for d, s in docs.items() if s > 0)
            for q, docs in stock["relevant_docs"].items()
            if any(s > 0 for s in docs.values())
        }
        assert positives == {q: sorted(d) for q, d in ours[lang].relevant.items()}
        stock_queries = {r["id"]: r["text"] for r in stock["queries"]}
        assert all(stock_queries[q] == t for q, t in ours[lang].queries)


def test_subsets_metadata_and_main_score(scored) -> None:
    import mteb

    task, scores, _ = scored
    assert set(task.hf_subsets) == {f"{c}-{c}" for c in _iso(MIRACL_LANGUAGES)} | {
        f"{c}-all" for c in _iso(MIRACL_LANGUAGES)
    }
    task.metadata._validate_metadata()
    assert task.metadata.main_score == "ndcg_at_10"
    assert scores["eng-eng"]["main_score"] == scores["eng-eng"]["ndcg_at_10"]
    assert "recall_at_100" in scores["eng-all"] and scores["eng-all"]["num_queries"] == 3
    assert type(mteb.get_task("MIRACLMultilingualRetrieval")) is type(task)


def _iso(codes):
    from mteb_hybrid.data.languages import iso3

    return [iso3(c) for c in codes]


@pytest.mark.parametrize("subset", ["eng-eng", "deu-deu", "yor-yor", "zho-zho"])
def test_mono_scores_match_pytrec_eval(scored, subset: str) -> None:
    from mteb_hybrid.tasks.base import parse_subset_name

    task, _, encoder = scored
    parsed = parse_subset_name(subset)
    q, d = embed_collection(task.collection, encoder)
    reference = reference_scores(task.collection, q, d, parsed.query_lang, parsed.corpus_lang)
    assert_matches_reference(task._results[subset], reference, pooled=False)


@pytest.mark.parametrize("subset", ["eng-all", "swa-all", "jpn-all"])
def test_pooled_scores_match_pytrec_eval_and_cost_score(scored, subset: str) -> None:
    from mteb_hybrid.tasks.base import parse_subset_name

    task, scores, encoder = scored
    parsed = parse_subset_name(subset)
    q, d = embed_collection(task.collection, encoder)
    reference = reference_scores(task.collection, q, d, parsed.query_lang, parsed.corpus_lang)
    assert_matches_reference(task._results[subset], reference, pooled=True)
    mono = subset.replace("-all", "-" + subset.split("-")[0])
    assert scores[subset]["map"] <= scores[mono]["map"]  # more candidates, same relevance
    assert scores[subset]["rank_distance"] == 0.0  # relevant passages lie in one language


def test_titles_reach_the_encoder(scored) -> None:
    task, _, encoder = scored
    distinct = len(
        {(t, x) for t, x in zip(task.collection.doc_titles, task.collection.doc_texts, strict=True)}
    )
    assert encoder.calls[0] == ("document", distinct)


def _copy_repo(tmp_path: Path) -> Path:
    target = tmp_path / "mteb" / "MIRACLRetrievalHardNegatives"
    shutil.copytree(REPO, target)
    return target


def test_relevant_passages_missing_from_corpus_are_counted(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    repo = _copy_repo(tmp_path)
    path = repo / "en-qrels" / "dev-00000-of-00001.parquet"
    table = pq.read_table(path)
    extra = pa.table(
        {"query-id": ["3"], "corpus-id": ["99999#0"], "score": pa.array([1], type=pa.int64())}
    )
    pq.write_table(pa.concat_tables([table, extra]), path)
    data = load_miracl(["en"], data_dir=tmp_path)
    assert data["en"].missing_relevant == 1
    assert data["en"].relevant["3"] == ["1002#0"]


def test_bad_layout_gives_one_line_errors(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    repo = _copy_repo(tmp_path)
    pq.write_table(
        pa.table({"query-id": ["0"], "corpus-id": ["1001#0"]}),
        repo / "de-qrels" / "dev-00000-of-00001.parquet",
    )
    with pytest.raises(DataFileError) as error:
        load_miracl(["de"], data_dir=tmp_path)
    assert "de-qrels" in str(error.value) and "'score'" in str(error.value)
    assert "\n" not in str(error.value)
    shutil.rmtree(repo / "fi-corpus")
    with pytest.raises(DataFileError) as error:
        load_miracl(["fi"], data_dir=tmp_path)
    assert "fi-corpus" in str(error.value) and "\n" not in str(error.value)
    with pytest.raises(DataFileError, match="no local mirror found.*mteb/MIRACLRetrieval"):
        load_miracl(["en"], data_dir=tmp_path, corpus="full")
    with pytest.raises(ValueError, match="unknown MIRACL corpus"):
        load_miracl(["en"], data_dir=tmp_path, corpus="tiny")
