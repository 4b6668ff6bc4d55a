"""FloresRetrieval: SIB-200 files, subsets, groups, errors and exact scores against pytrec_eval."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mteb_hybrid.data.download import DataFileError
from mteb_hybrid.data.flores import (
    FLORES_LANGUAGES,
    checksums,
    load_flores,
    refuse_evaluating_training_split,
    resolve_variant,
)
from tests.test_xm3600_helpers import HashingEncoder, assert_matches_reference, reference_scores

HEADER = "index_id\tcategory\ttext\n"
# a tiny parallel set in the exact upstream layout; "kahawa" and "coffee" lines repeat texts
# across languages so that exact score ties occur
FIXTURE_ROWS = {
    "eng_Latn": ["The cat sleeps.", "Coffee is hot.", "Rain falls today.", "A red bicycle."],
    "swh_Latn": ["Paka analala.", "Coffee is hot.", "Mvua inanyesha leo.", "Baiskeli nyekundu."],
    "quy_Latn": ["Michi puñun.", "Kafeqa rupha.", "Para chayamun.", "Puka bicicleta."],
    "tel_Telu": ["పిల్లి నిద్రపోతుంది.", "కాఫీ వేడిగా ఉంది.", "వర్షం పడుతోంది.", "ఎర్ర సైకిల్."],
}
IDS = ["11", "7", "205", "42"]


def write_fixture(root: Path, split: str = "test", rows=FIXTURE_ROWS, ids=IDS) -> Path:
    """SIB-200 TSVs (``sib-200/<variant>/<split>.tsv``) under ``root``."""
    for variant, texts in rows.items():
        folder = root / "sib-200" / variant
        folder.mkdir(parents=True, exist_ok=True)
        lines = [f"{i}\tscience/technology\t{t}\n" for i, t in zip(ids, texts, strict=True)]
        (folder / f"{split}.tsv").write_text(HEADER + "".join(lines), encoding="utf-8")
    return root


@pytest.fixture
def unverified(monkeypatch):
    """Fixture files are not the published ones: declare them user-supplied."""
    monkeypatch.setenv("MTEB_HYBRID_VERIFY", "0")


def test_checksum_table_is_the_published_one(shared_data) -> None:
    published = {}
    for line in (shared_data / "sib-200" / "ALL-LANGUAGES.sha256").read_text().splitlines():
        digest, relpath = line.split()
        published[relpath] = digest
    assert checksums() == published
    assert len({p.split("/")[0] for p in published}) == 205


def test_real_test_split_is_verified_and_parallel(shared_data) -> None:
    data = load_flores(["en", "swa", "quy_Latn", "te", "mri"], "test", shared_data)
    assert list(data) == ["eng_Latn", "swh_Latn", "quy_Latn", "tel_Telu", "mri_Latn"]
    assert all(len(rows) == 204 for rows in data.values())
    ids = [r.index_id for r in data["eng_Latn"]]
    assert all([r.index_id for r in rows] == ids for rows in data.values())
    quoted = [r.text for rows in data.values() for r in rows if '"' in r.text]
    assert quoted  # quote characters are kept verbatim (QUOTE_NONE)
    assert {len(v) for v in (load_flores(["en"], s, shared_data) for s in ("dev", "train"))}


def test_language_codes_resolve_and_quz_is_refused() -> None:
    assert resolve_variant("sw") == resolve_variant("swa") == "swh_Latn"
    assert resolve_variant("fas") == "pes_Arab" and resolve_variant("yor") == "yor_Latn"
    with pytest.raises(ValueError, match="no Cusco Quechua.*quy"):
        resolve_variant("quz")
    with pytest.raises(ValueError, match="several SIB-200 variants.*ace_Arab"):
        resolve_variant("ace")
    with pytest.raises(ValueError, match="unknown SIB-200 language 'xx'"):
        resolve_variant("xx")


def test_task_metadata_subsets_and_groups() -> None:
    import mteb

    from mteb_hybrid.groups import language_groups, task_languages
    from mteb_hybrid.tasks import FloresRetrieval

    task = FloresRetrieval()
    task.metadata._validate_metadata()
    assert len(task.hf_subsets) == 35 * 2 + 36 == 106
    assert not any(a == b for a, b in (s.split("-") for s in task.hf_subsets))  # no mono
    assert {"swa-eng", "eng-swa", "quy-all", "ben-eng", "eng-tel", "mri-all"} <= set(
        task.hf_subsets
    )
    assert not any("quz" in s for s in task.metadata.eval_langs)
    assert "NO monolingual setting" in task.metadata.description
    assert "stands in" in task.metadata.description
    assert len(FloresRetrieval(full_cross_matrix=True).hf_subsets) == 36 * 35 + 36
    assert type(mteb.get_task("FloresRetrieval")) is FloresRetrieval
    groups = language_groups("FloresRetrieval")
    assert groups["low-resource"] == ["ben", "mri", "quy", "swa", "tel"]
    assert len(groups["high-resource"]) == 31
    assert set(task_languages("FloresRetrieval")) == {
        s.split("-")[0] for s in task.hf_subsets
    }  # the same ISO 639-3 codes as the subset names
    assert len(FLORES_LANGUAGES) == 36


def test_xm3600_and_flores_share_language_labels() -> None:
    from mteb_hybrid.tasks import FloresRetrieval, XM3600Retrieval

    flores = {s.split("-")[0] for s in FloresRetrieval().hf_subsets}
    xm3600 = {s.split("-")[0] for s in XM3600Retrieval().hf_subsets}
    assert flores - xm3600 == {"quy"} and xm3600 - flores == {"quz"}


@pytest.fixture
def fixture_task(tmp_path, unverified):
    from mteb_hybrid.tasks import FloresRetrieval

    write_fixture(tmp_path)
    task = FloresRetrieval(data_dir=tmp_path, languages=["en", "sw", "quy", "te"])
    task.load_data()
    return task


def test_collection_relevance_is_translations_never_itself(fixture_task) -> None:
    col = fixture_task.collection
    assert col.doc_ids == col.query_ids and len(col.doc_ids) == 16
    index = {d: i for i, d in enumerate(col.doc_ids)}
    relevant = {col.doc_ids[d] for d in col.relevant[index["swa-7"]]}
    assert relevant == {"eng-7", "quy-7", "tel-7"}
    assert np.array_equal(col.query_self_doc, np.arange(16))
    assert sorted(fixture_task.hf_subsets) == sorted(
        ["swa-eng", "eng-swa", "quy-eng", "eng-quy", "tel-eng", "eng-tel"]
        + ["eng-all", "swa-all", "quy-all", "tel-all"]
    )


def test_exact_scores_equal_pytrec_eval_on_the_fixture(fixture_task) -> None:
    """Integer embeddings: every subset equals pytrec_eval (ties included), rank distance too."""
    encoder = HashingEncoder()
    fixture_task.evaluate(encoder, "test", encode_kwargs={"batch_size": 8})
    col = fixture_task.collection
    q = np.stack([encoder.embed(t) for t in col.query_texts])
    d = np.stack([encoder.embed(t) for t in col.doc_texts])
    for name in fixture_task.hf_subsets:
        subset = fixture_task.subset(name)
        reference = reference_scores(col, q, d, subset.query_lang, subset.corpus_lang)
        assert_matches_reference(
            fixture_task._results[name], reference, pooled=subset.corpus_lang == "all"
        )
    # "Coffee is hot." is the same text in English and Swahili: found first, exactly
    result = fixture_task._results["swa-eng"]
    per_query = dict(zip(result.query_ids, result.per_query["map"], strict=True))
    assert per_query["swa-7"] == 1.0


def test_bad_files_name_file_line_and_fix(tmp_path, unverified) -> None:
    write_fixture(tmp_path)
    swahili = tmp_path / "sib-200" / "swh_Latn" / "test.tsv"
    text = swahili.read_text(encoding="utf-8")
    swahili.write_text(text.replace("7\tscience/technology\t", "7\tscience/technology"), "utf-8")
    with pytest.raises(DataFileError, match=r"swh_Latn/test.tsv: line 3: has no column 'text'"):
        load_flores(["en", "sw"], "test", tmp_path)
    swahili.write_text(text.replace("205\t", "206\t"), "utf-8")
    with pytest.raises(DataFileError, match=r"swh_Latn/test.tsv: line 4: index_id '206' differs"):
        load_flores(["en", "sw"], "test", tmp_path)
    swahili.write_text("id\ttext\n1\tx\n", "utf-8")
    with pytest.raises(DataFileError, match=r"line 1: expected the header"):
        load_flores(["sw"], "test", tmp_path)
    with pytest.raises(ValueError, match=r"no split 'valid': use one of train, dev, test"):
        load_flores(["en"], "valid", tmp_path)
    from mteb_hybrid.tasks import FloresRetrieval

    with pytest.raises(ValueError, match="unknown SIB-200 language 'klingon'"):
        FloresRetrieval(languages=["klingon"])


def test_unpublished_file_fails_verification(tmp_path) -> None:
    write_fixture(tmp_path)
    with pytest.raises(DataFileError, match="does not match the expected"):
        load_flores(["en"], "test", tmp_path)


def test_split_option_and_same_split_refusal(tmp_path, unverified) -> None:
    from mteb_hybrid.tasks import FloresRetrieval

    write_fixture(tmp_path, split="dev")
    task = FloresRetrieval(data_dir=tmp_path, languages=["en", "sw"], split="dev")
    assert task.eval_splits == ["dev"]
    task.evaluate(HashingEncoder(), "dev", encode_kwargs={"batch_size": 8})
    assert task.collection.metadata["split"] == "dev"
    refuse_evaluating_training_split(["flores:?split=train&langs=en,sw"], "test", "x")
    with pytest.raises(ValueError, match="trained on SIB-200 split 'dev'"):
        refuse_evaluating_training_split(["xquad-r", "flores:?split=dev"], "dev", "x")


def test_extra_variant_gets_its_own_subsets(tmp_path, unverified) -> None:
    from mteb_hybrid.tasks import FloresRetrieval

    rows = dict(FIXTURE_ROWS)
    rows["yor_Latn"] = ["Ologbo sun.", "Kofi gbona.", "Ojo n ro.", "Keke pupa."]
    write_fixture(tmp_path, rows=rows)
    task = FloresRetrieval(data_dir=tmp_path, languages=["en", "yor_Latn"])
    assert task.hf_subsets == ["yor-eng", "eng-yor", "eng-all", "yor-all"]
    assert task.metadata.eval_langs["yor-eng"] == ["yor-Latn", "eng-Latn"]
    scores = task.evaluate(HashingEncoder(), "test", encode_kwargs={"batch_size": 8})
    assert scores["yor-eng"]["num_queries"] == 4
    with pytest.raises(ValueError, match="both be labelled 'ace'"):
        FloresRetrieval(languages=["ace_Arab", "ace_Latn"])


@pytest.mark.slow
def test_real_minilm_matches_pytrec_eval(shared_data, minilm_path) -> None:
    """Real test split, four languages (two low-resource), real MiniLM: scores equal pytrec_eval
    and a hand rank distance computed on the very embeddings the evaluator used."""
    import mteb

    from mteb_hybrid.tasks import FloresRetrieval

    model = mteb.get_model(minilm_path)
    recorded: dict[str, np.ndarray] = {}
    original = model.encode

    def recording_encode(inputs, **kwargs):
        texts = [t for batch in inputs for t in batch["text"]]
        out = original(inputs, **kwargs)
        recorded.update(zip(texts, np.asarray(out, dtype=np.float32), strict=True))
        return out

    model.encode = recording_encode
    task = FloresRetrieval(data_dir=shared_data, languages=["en", "sw", "quy", "te"])
    scores = task.evaluate(model, "test", encode_kwargs={"batch_size": 64})
    col = task.collection
    q = np.stack([recorded[t] for t in col.query_texts])
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    assert len(scores) == 3 * 2 + 4 and scores["swa-eng"]["num_queries"] == 204
    # MiniLM has no query/document prompts: a sentence is encoded once, as a document, unless
    # it has surrounding whitespace (mteb strips documents, never queries)
    padded = sum(t != t.strip() for t in col.query_texts)
    assert task.encoding_counts == {
        "documents_encoded": 816,
        "queries_encoded": padded,
        "queries_reused": 816 - padded,
    }
    direct = model.model.encode_query(col.query_texts[:8], convert_to_numpy=True)
    assert np.allclose(direct, np.stack([recorded[t] for t in col.query_texts[:8]]), atol=1e-5)
    for name in ("swa-eng", "eng-quy", "tel-eng", "swa-all", "quy-all", "eng-all"):
        subset = task.subset(name)
        reference = reference_scores(col, q, q, subset.query_lang, subset.corpus_lang)
        ours = task._results[name]
        for metric, value in reference["means"].items():
            assert ours.scores[metric] == pytest.approx(value, abs=1e-4), (name, metric)
        if subset.corpus_lang == "all":
            hand = np.mean([v["rank_distance"] for v in reference["per_query"].values()])
            assert ours.scores["rank_distance"] == pytest.approx(hand, abs=0.05), name
    # an English model: Swahili (Latin script) is retrieved better than Telugu ([UNK]s)
    assert scores["swa-eng"]["map"] > scores["tel-eng"]["map"]


def test_training_records_from_sib200(shared_data) -> None:
    from mteb_hybrid.trainers.data import load_training_data
    from mteb_hybrid.trainers.sources.spec import iter_spec_records, parse_data_spec

    spec = f"flores:?split=dev&langs=en,sw,quy&data_dir={shared_data}"
    assert parse_data_spec(spec).kind == "flores"
    records = list(iter_spec_records(spec))
    assert len(records) == 3 * 99
    assert {r.lang for r in records} == {"en", "sw", "quy"}
    assert all(r.query == r.positive for r in records)
    by_id: dict[str, set[str]] = {}
    for r in records:
        by_id.setdefault(r.id, set()).add(r.lang)
    assert len(by_id) == 99 and all(langs == {"en", "sw", "quy"} for langs in by_id.values())
    data = load_training_data([spec], require_cross=True)
    assert data.num_ids == 99
    from mteb_hybrid.trainers.records import TrainingDataError

    with pytest.raises(TrainingDataError, match="no split 'validation'"):
        list(iter_spec_records("flores:?split=validation"))


def test_sweep_refuses_training_and_evaluating_one_split(tmp_path) -> None:
    from mteb_hybrid.sweep.config import SweepConfig
    from mteb_hybrid.sweep.runner import run_sweep

    def never(*args, **kwargs):
        raise AssertionError("nothing may run")

    config = SweepConfig(
        base_model="base",
        train_data=["flores:?split=test&langs=en,sw"],
        ratios=[(0.0, 1.0, 0.0)],
        seeds=[0],
        tasks=["FloresRetrieval"],
        output=tmp_path / "sweep",
    )
    with pytest.raises(ValueError, match="trained on SIB-200 split 'test'"):
        run_sweep(config, train_fn=never, evaluate_fn=never)
    assert not (tmp_path / "sweep").exists()


def test_models_with_query_prompts_encode_queries_apart(tiny_models, tmp_path) -> None:
    """Reuse needs identical query and document encodings: a query prompt turns it off."""
    import mteb

    from mteb_hybrid.tasks.encoding import symmetric_encoding

    plain = mteb.get_model(str(tiny_models[0]))
    assert symmetric_encoding(plain)
    plain.model.prompts = {"query": "query: ", "document": ""}
    assert not symmetric_encoding(plain)
    assert not symmetric_encoding(HashingEncoder())


def test_leaderboard_reports_groups_gap_and_worst_language(shared_data, tmp_path) -> None:
    """Fake models through mteb on the real test split: low-/high-resource means and their gap."""
    import mteb

    from mteb_hybrid.leaderboard.board import build_leaderboard
    from mteb_hybrid.leaderboard.export import render
    from mteb_hybrid.leaderboard.results import load_results
    from mteb_hybrid.tasks import FloresRetrieval
    from tests.fixtures.results.fake_models import make_encoder

    task = FloresRetrieval(data_dir=shared_data, languages=["en", "de", "fr", "sw", "quy", "te"])
    cache = mteb.ResultCache(tmp_path)
    for name, noise in (("fake/a", 0.5), ("fake/b", 1.5)):
        mteb.evaluate(make_encoder(name, noise, 1), [task], cache=cache, show_progress_bar=False)
    board = build_leaderboard(load_results([tmp_path]), settings=None, baseline="none")
    table = board.tables[0]
    keys = [c.key for c in table.columns]
    assert {"group_low-resource", "group_high-resource", "gap", "worst"} <= set(keys)
    low, high, gap = (
        next(c for c in table.columns if c.key == key)
        for key in ("group_low-resource", "group_high-resource", "gap")
    )
    assert set(low.languages) == {"swa", "quy", "tel"} and set(high.languages) == {
        "eng",
        "deu",
        "fra",
    }
    assert len(table.rows) == 2
    for row in table.rows:
        cell = {key: table.cells[(row.label, key)].value for key in keys}
        assert cell["gap"] == pytest.approx(
            cell["group_high-resource"] - cell["group_low-resource"]
        )
        assert cell["gap"] > 0  # a trigram model serves Latin-script English better than Telugu
    text = render(board, "md")
    assert "gap high-resource − low-resource" in text and "how far the worse-served" in text
    assert high.languages and gap.lower_is_better
