"""Training-data loaders and their one-line errors (file, row, field)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mteb_hybrid.data.download import DataFileError
from mteb_hybrid.data.lareqa import parse_language_file
from mteb_hybrid.trainers.data import load_training_data
from mteb_hybrid.trainers.pairs import build_pair_dataset
from mteb_hybrid.trainers.records import TrainingDataError
from mteb_hybrid.trainers.sources.mmarco import iter_mmarco_records
from mteb_hybrid.trainers.sources.spec import parse_data_spec

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
XQUAD = SHARED / "xquad-r"
MLQA = SHARED / "mlqa-r"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "train"
SMALL = FIXTURES / "parallel_small.jsonl"


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return path


def good_rows() -> list[dict]:
    return [json.loads(line) for line in SMALL.read_text().splitlines()]


def one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


# ------------------------------------------------------------------------------ LAReQA


def test_lareqa_question_to_answer_sentence():
    data = load_training_data(f"lareqa:{XQUAD}?langs=en,de", require_cross=True)
    assert data.languages == ["de", "en"]
    assert data.num_ids == 1190 and data.num_rows == 2380
    parsed = parse_language_file(XQUAD / "de.json", "de")
    sentences = {s.id: s.text for s in parsed.sentences}
    first = parsed.questions[0]
    table = data.table.to_pydict()
    row = next(
        i for i, (q, lang) in enumerate(zip(table["id"], table["lang"], strict=True))
        if q == first.id and lang == "de"
    )  # fmt: skip
    assert table["query"][row] == first.text
    assert table["positive"][row] == sentences[first.answer_sentence_id]


def test_lareqa_paragraph_target_and_bare_folder_spec():
    spec = parse_data_spec(str(XQUAD))
    assert spec.kind == "lareqa"
    data = load_training_data(f"lareqa:{XQUAD}?langs=th&target=paragraph", require_cross=False)
    parsed = parse_language_file(XQUAD / "th.json", "th")
    assert (
        data.table.column("positive")[0].as_py()
        == parsed.paragraphs[parsed.questions[0].answer_paragraph_id]
    )


def test_mlqa_r_ids_have_two_to_four_languages():
    data = load_training_data(f"lareqa:{MLQA}", require_cross=True)
    per_id = data.languages_per_id()
    assert data.num_ids == 1148
    assert set(np.unique(per_id)) == {2, 3, 4}


def test_lareqa_unknown_language_file(tmp_path):
    (tmp_path / "xx.json").write_text('{"data": []}')
    with pytest.raises(TrainingDataError) as error:
        load_training_data(f"lareqa:{tmp_path}", require_cross=False)
    assert "xx.json" in one_line(error) and "'lang'" in str(error.value)


# ------------------------------------------------------------------------------ JSONL / Parquet


def test_jsonl_fixture_loads():
    data = load_training_data(str(SMALL), require_cross=True)
    assert data.num_ids == 20 and data.num_rows == 60
    assert data.languages == ["de", "en", "sw"]
    assert not data.has_negatives


@pytest.mark.parametrize(
    ("mutate", "line", "field", "words"),
    [
        (lambda rows: rows[4].pop("query"), 5, "query", "missing"),
        (lambda rows: rows[7].update(lang="xx"), 8, "lang", "unknown language code 'xx'"),
        (lambda rows: rows[2].update(positive="   "), 3, "positive", "empty"),
        (lambda rows: rows[9].update(id=["a"]), 10, "id", "list"),
        (lambda rows: rows[1].update(negative=""), 2, "negative", "empty"),
    ],
)
def test_jsonl_bad_record_names_file_line_field(tmp_path, mutate, line, field, words):
    rows = good_rows()
    mutate(rows)
    path = write_jsonl(tmp_path / "bad.jsonl", rows)
    with pytest.raises(TrainingDataError) as error:
        load_training_data(str(path), require_cross=True)
    message = one_line(error)
    assert str(path) in message and f"line {line}" in message
    assert f"'{field}'" in message and words in message


def test_id_with_one_language_only_fails_when_cross_is_asked(tmp_path):
    rows = good_rows()
    rows.append({"id": "lonely", "lang": "en", "query": "Who?", "positive": "Nobody."})
    path = write_jsonl(tmp_path / "lonely.jsonl", rows)
    with pytest.raises(TrainingDataError) as error:
        load_training_data(str(path), require_cross=True)
    message = one_line(error)
    assert f"{path}: line 61" in message and "'id'" in message and "lonely" in message
    assert load_training_data(str(path), require_cross=False).num_ids == 21


def test_duplicate_id_and_language(tmp_path):
    rows = good_rows()
    rows.append(dict(rows[0]))
    path = write_jsonl(tmp_path / "dup.jsonl", rows)
    with pytest.raises(TrainingDataError) as error:
        load_training_data(str(path), require_cross=False)
    assert f"{path}: line 61" in one_line(error) and "line 1" in str(error.value)


def test_negative_in_some_records_only(tmp_path):
    rows = good_rows()
    for row in rows[:10]:
        row["negative"] = "A distractor."
    path = write_jsonl(tmp_path / "neg.jsonl", rows)
    with pytest.raises(TrainingDataError) as error:
        load_training_data(str(path), require_cross=False)
    assert f"{path}: line 11" in one_line(error) and "'negative'" in str(error.value)


def test_invalid_json_line(tmp_path):
    path = tmp_path / "broken.jsonl"
    path.write_text(SMALL.read_text().splitlines()[0] + "\n{not json\n")
    with pytest.raises(TrainingDataError) as error:
        load_training_data(str(path), require_cross=False)
    assert f"{path}: line 2" in one_line(error)


def test_parquet_with_negatives_and_pairs(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = good_rows()
    for row in rows:
        row["negative"] = "NOT " + row["positive"]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "train.parquet")
    data = load_training_data(f"parquet:{tmp_path}", require_cross=True)
    assert data.has_negatives and data.num_rows == 60
    pairs = build_pair_dataset(data)
    assert len(pairs) == 20 * 3 * 3
    for row in pairs.select(range(0, len(pairs), 7)):
        assert row["negative"] == "NOT " + row["positive"]
        assert list(row) == ["query", "positive", "negative"]

    del rows[3]["query"]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "train.parquet")
    with pytest.raises(TrainingDataError) as error:
        load_training_data(str(tmp_path / "train.parquet"), require_cross=True)
    assert "train.parquet: row 4" in one_line(error) and "'query'" in str(error.value)


def test_parquet_missing_column(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"id": ["a"], "lang": ["en"], "query": ["q"]}), tmp_path / "x.parquet")
    with pytest.raises(TrainingDataError) as error:
        load_training_data(str(tmp_path / "x.parquet"), require_cross=False)
    assert "x.parquet: row 1" in one_line(error) and "'positive'" in str(error.value)


def test_error_type_is_a_data_file_error(tmp_path):
    path = write_jsonl(tmp_path / "e.jsonl", [{"id": 1, "lang": "en"}])
    with pytest.raises(DataFileError):
        load_training_data(str(path), require_cross=False)


# ------------------------------------------------------------------------------ pairs


def test_pair_dataset_has_every_language_combination():
    data = load_training_data(f"lareqa:{MLQA}?langs=en,de,hi", require_cross=False)
    pairs = build_pair_dataset(data)
    per_id = data.languages_per_id()
    assert len(pairs) == int((per_id**2).sum())
    raw = pairs.with_format("numpy")[:]
    combos = set(zip(raw["group"], raw["query_lang"], raw["passage_lang"], strict=True))
    assert len(combos) == len(pairs)
    row = pairs[5]
    q, p = int(raw["query_row"][5]), int(raw["passage_row"][5])
    assert row["query"] == data.table.column("query")[q].as_py()
    assert row["positive"] == data.table.column("positive")[p].as_py()


def test_spilled_table_is_memory_mapped_and_read_across_chunks(tmp_path):
    from mteb_hybrid.trainers.parallel import ParallelData
    from mteb_hybrid.trainers.sources.spec import iter_spec_records

    spilled = ParallelData.from_records(
        iter_spec_records(str(SMALL)), spill_dir=tmp_path, batch_rows=7
    ).validate(require_cross=True)
    assert spilled.table.column("query").num_chunks == 9  # 60 rows in batches of 7
    assert list(tmp_path.iterdir()) == []  # the file is unlinked once mapped
    in_memory = load_training_data(str(SMALL), require_cross=True)
    assert build_pair_dataset(spilled)[:] == build_pair_dataset(in_memory)[:]


def test_split_ids_keeps_translations_together():
    data = load_training_data(str(SMALL), require_cross=True)
    train, held = data.split_ids(0.25, seed=0)
    train_ids = set(train.table.column("id").to_pylist())
    held_ids = set(held.table.column("id").to_pylist())
    assert not train_ids & held_ids
    assert len(held_ids) == 5 and held.num_rows == 15 and train.num_rows == 45
    assert data.split_ids(0.25, seed=0)[1].table.equals(held.table)


# ------------------------------------------------------------------------------ specs


def test_spec_parsing_and_errors(tmp_path):
    spec = parse_data_spec("mmarco:?langs=en,de&max_ids=10")
    assert spec.kind == "mmarco" and spec.location == "" and spec.options["max_ids"] == "10"
    assert parse_data_spec(str(SMALL)).kind == "jsonl"
    with pytest.raises(TrainingDataError, match="unknown option 'target' for jsonl"):
        parse_data_spec(f"jsonl:{SMALL}?target=x")
    with pytest.raises(TrainingDataError, match="no such file or folder"):
        parse_data_spec(str(tmp_path / "missing.jsonl"))


# ------------------------------------------------------------------------------ mMARCO


def _write_mmarco(root: Path) -> None:
    """A tiny copy of unicamp-dl/mmarco's file layout (TSV, ids shared by all languages)."""
    (root / "data/google/queries/train").mkdir(parents=True)
    (root / "data/google/collections").mkdir(parents=True)
    triples = ["1\t10\t11", "1\t10\t12", "2\t20\t21", "3\t30\t31", "4\t40\t41"]
    (root / "data/triples.train.ids.small.tsv").write_text("\n".join(triples) + "\n")
    for name, word in (("english", "passage"), ("german", "Passage")):
        queries = "".join(f"{q}\t{name} query {q}\n" for q in (1, 2, 3, 4, 99))
        (root / f"data/google/queries/train/{name}_queries.train.tsv").write_text(queries)
        docs = "".join(f"{d}\t{word} {d}\n" for d in (5, 10, 11, 12, 20, 21, 30, 31, 40, 41))
        (root / f"data/google/collections/{name}_collection.tsv").write_text(docs)


def test_mmarco_streaming_join(tmp_path):
    _write_mmarco(tmp_path)
    records = list(iter_mmarco_records(str(tmp_path), languages=["en", "de"], max_ids=3))
    assert [(r.id, r.lang) for r in records] == [
        ("1", "en"), ("2", "en"), ("3", "en"), ("1", "de"), ("2", "de"), ("3", "de"),
    ]  # fmt: skip
    first = records[3]
    assert (first.query, first.positive, first.negative) == ("german query 1", "Passage 10",
                                                             "Passage 11")  # fmt: skip
    data = load_training_data(f"mmarco:{tmp_path}?langs=en,de&max_ids=all", require_cross=True)
    assert data.num_ids == 4 and data.has_negatives


def test_mmarco_missing_translation(tmp_path):
    _write_mmarco(tmp_path)
    collection = tmp_path / "data/google/collections/german_collection.tsv"
    collection.write_text(collection.read_text().replace("30\tPassage 30\n", ""))
    with pytest.raises(TrainingDataError) as error:
        list(iter_mmarco_records(str(tmp_path), languages=["de"], max_ids=None))
    message = one_line(error)
    assert "triples.train.ids.small.tsv: row 4" in message and "'positive'" in message
    with pytest.raises(TrainingDataError, match="unknown language code 'sw'"):
        list(iter_mmarco_records(str(tmp_path), languages=["sw"]))
