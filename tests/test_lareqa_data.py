"""LAReQA loading on the real files, and the checksummed download path over loopback HTTP."""

from __future__ import annotations

import functools
import http.server
import json
import logging
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from mteb_hybrid.data import download, lareqa
from mteb_hybrid.data.download import DataFileError

# (paragraphs, sentences, questions) per language, from ../shared/data/README.md
XQUAD_R_COUNTS = {
    "ar": (240, 1222, 1190),
    "de": (240, 1276, 1190),
    "el": (240, 1234, 1190),
    "en": (240, 1180, 1190),
    "es": (240, 1215, 1190),
    "hi": (240, 1244, 1190),
    "ru": (240, 1219, 1190),
    "th": (240, 852, 1190),
    "tr": (240, 1167, 1190),
    "vi": (240, 1209, 1190),
    "zh": (240, 1196, 1190),
}
MLQA_R_COUNTS = {
    "ar": (439, 2545, 517),
    "de": (456, 2362, 512),
    "en": (978, 6264, 1148),
    "es": (454, 1787, 500),
    "hi": (425, 2426, 507),
    "vi": (451, 2828, 511),
    "zh": (443, 2322, 504),
}


@pytest.mark.parametrize(
    ("dataset", "counts"), [("xquad-r", XQUAD_R_COUNTS), ("mlqa-r", MLQA_R_COUNTS)]
)
def test_counts_match_the_published_tables(shared_data: Path, dataset: str, counts) -> None:
    files = lareqa.load_lareqa(dataset, data_dir=shared_data)
    assert sorted(files) == sorted(counts)
    for lang, (paragraphs, sentences, questions) in counts.items():
        got = files[lang]
        assert (len(got.paragraphs), len(got.sentences), len(got.questions)) == (
            paragraphs,
            sentences,
            questions,
        ), lang


def test_answer_sentence_holds_the_answer(shared_data: Path) -> None:
    english = lareqa.load_lareqa("xquad-r", ["en"], shared_data)["en"]
    by_id = {s.id: s for s in english.sentences}
    first = english.questions[0]
    assert first.text == "How many points did the Panthers defense surrender?"
    assert "308" in by_id[first.answer_sentence_id].text
    # the answer text lies in the chosen sentence (except the few that span a sentence break)
    raw = json.loads((shared_data / "xquad-r" / "en.json").read_text())
    answers = {
        qa["id"]: qa["answers"][0]["text"]
        for article in raw["data"]
        for p in article["paragraphs"]
        for qa in p["qas"]
    }
    inside = [answers[q.id] in by_id[q.answer_sentence_id].text for q in english.questions]
    assert sum(inside) / len(inside) > 0.99


class _MirrorHandler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder; the first ``failures[0]`` GETs answer 503 (a flaky server)."""

    failures = [0]

    def do_GET(self) -> None:
        if self.failures[0] > 0:
            self.failures[0] -= 1
            self.send_error(503, "try again")
            return
        super().do_GET()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def http_mirror(shared_data: Path, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A loopback HTTP server over a copy of the real files (the copy can be corrupted)."""
    root = tmp_path / "mirror"
    shutil.copytree(shared_data / "xquad-r", root / "xquad-r")
    _MirrorHandler.failures[0] = 0
    handler = functools.partial(_MirrorHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()


def _remote(base: str, lang: str) -> download.RemoteFile:
    real = lareqa.remote_file("xquad-r", lang)
    return download.RemoteFile(real.relpath, f"{base}/{real.relpath}", real.sha256)


def test_download_verifies_and_caches(http_mirror, tmp_path, monkeypatch) -> None:
    base, _ = http_mirror
    monkeypatch.setenv("MTEB_HYBRID_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("MTEB_HYBRID_DATA", raising=False)
    monkeypatch.delenv("MTEB_HYBRID_OFFLINE", raising=False)
    path = download.fetch(_remote(base, "de"))
    assert path == tmp_path / "cache" / "xquad-r" / "de.json"
    assert download.sha256_of(path) == lareqa.XQUAD_R_SHA256["de"]
    assert len(lareqa.parse_language_file(path, "de").questions) == 1190
    # a second fetch uses the cache (the server is not needed)
    assert (
        download.fetch(
            download.RemoteFile(
                path.parent.name + "/de.json", "http://0.0.0.0:9/x", lareqa.XQUAD_R_SHA256["de"]
            )
        )
        == path
    )


def test_corrupt_download_leaves_nothing_in_the_cache(http_mirror, tmp_path, monkeypatch) -> None:
    base, root = http_mirror
    (root / "xquad-r" / "es.json").write_bytes(b'{"data": [')  # truncated upstream
    monkeypatch.setenv("MTEB_HYBRID_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("MTEB_HYBRID_OFFLINE", raising=False)
    with pytest.raises(DataFileError, match="does not match"):
        download.fetch(_remote(base, "es"))
    assert [p for p in (tmp_path / "cache").rglob("*") if p.is_file()] == []


def test_broken_transfer_is_retried(http_mirror, tmp_path, monkeypatch) -> None:
    base, _ = http_mirror
    monkeypatch.setenv("MTEB_HYBRID_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("MTEB_HYBRID_OFFLINE", raising=False)
    monkeypatch.setattr(download, "DOWNLOAD_RETRIES", 1)
    _MirrorHandler.failures[0] = 1  # the first request fails, the retry succeeds
    path = download.fetch(_remote(base, "tr"))
    assert download.sha256_of(path) == lareqa.XQUAD_R_SHA256["tr"]
    assert _MirrorHandler.failures[0] == 0


def test_failed_download_is_one_line_naming_url_and_fix(http_mirror, tmp_path, monkeypatch):
    base, _ = http_mirror
    monkeypatch.setenv("MTEB_HYBRID_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("MTEB_HYBRID_OFFLINE", raising=False)
    monkeypatch.setattr(download, "DOWNLOAD_RETRIES", 0)
    remote = download.RemoteFile("xquad-r/xx.json", f"{base}/xquad-r/xx.json", "0" * 64)  # 404
    with pytest.raises(DataFileError) as error:
        download.fetch(remote)
    message = str(error.value)
    assert message.startswith(f"{remote.url}: download failed") and "MTEB_HYBRID_DATA" in message
    assert "\n" not in message
    assert [p for p in (tmp_path / "cache").rglob("*") if p.is_file()] == []


def test_unpinned_download_is_kept_with_a_warning_naming_its_sha256(
    http_mirror, tmp_path, monkeypatch, caplog
) -> None:
    base, _ = http_mirror
    monkeypatch.setenv("MTEB_HYBRID_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("MTEB_HYBRID_OFFLINE", raising=False)
    monkeypatch.setattr(download, "_WARNED", set())
    remote = download.RemoteFile("xquad-r/vi.json", f"{base}/xquad-r/vi.json", None)
    with caplog.at_level(logging.WARNING, logger="mteb_hybrid.data.download"):
        path = download.fetch(remote)
    assert path == tmp_path / "cache" / "xquad-r" / "vi.json"
    warned = [r.message for r in caplog.records if "NOT verified" in r.message]
    assert warned and lareqa.XQUAD_R_SHA256["vi"] in warned[0]


def test_truncated_local_file_names_the_file_and_the_fix(shared_data, tmp_path) -> None:
    folder = tmp_path / "data" / "xquad-r"
    folder.mkdir(parents=True)
    (folder / "en.json").write_bytes((shared_data / "xquad-r" / "en.json").read_bytes()[:5000])
    with pytest.raises(DataFileError) as error:
        lareqa.load_lareqa("xquad-r", ["en"], tmp_path / "data")
    message = str(error.value)
    assert str(folder / "en.json") in message and "re-download" in message
    assert "\n" not in message


def test_missing_file_offline_says_how_to_fix(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MTEB_HYBRID_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("MTEB_HYBRID_OFFLINE", "1")
    monkeypatch.delenv("MTEB_HYBRID_DATA", raising=False)
    with pytest.raises(DataFileError) as error:
        lareqa.load_lareqa("mlqa-r", ["de"], tmp_path / "nowhere")
    message = str(error.value)
    assert "MTEB_HYBRID_DATA" in message and "unset MTEB_HYBRID_OFFLINE" in message
    assert "\n" not in message


@pytest.mark.parametrize("value", ["maybe", "2"])
def test_bad_offline_value_is_one_line_naming_the_variable(tmp_path, monkeypatch, value):
    monkeypatch.setenv("MTEB_HYBRID_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("MTEB_HYBRID_OFFLINE", value)
    with pytest.raises(DataFileError, match=f"MTEB_HYBRID_OFFLINE='{value}': use 1"):
        lareqa.load_lareqa("mlqa-r", ["de"], tmp_path / "nowhere")


def test_quick_start_on_a_fresh_machine_downloads_despite_hub_offline(
    http_mirror, tmp_path, monkeypatch, caplog
) -> None:
    """The README quick start where ../shared/data does not exist: the Hub variables are set, the
    data folder is missing, so the files come from the (loopback) LAReQA server into the cache,
    verified, and the stock evaluation loop scores them; one line says the folder was skipped."""
    import mteb

    from mteb_hybrid.tasks import XQuADRRetrieval
    from tests.fixtures.results.fake_models import make_encoder

    base, root = http_mirror
    (root / lareqa.XQUAD_R_COMMIT).mkdir()
    shutil.copytree(root / "xquad-r", root / lareqa.XQUAD_R_COMMIT / "xquad-r")
    monkeypatch.setattr(lareqa, "LAREQA_REPO", base)
    monkeypatch.setattr(download, "_WARNED", set())
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.delenv("MTEB_HYBRID_OFFLINE", raising=False)
    monkeypatch.setenv("MTEB_HYBRID_DATA", str(tmp_path / "shared" / "data"))  # does not exist
    monkeypatch.setenv("MTEB_HYBRID_CACHE", str(tmp_path / "cache"))
    task = XQuADRRetrieval(languages=["en", "de"], queries_per_language=3)
    with caplog.at_level(logging.WARNING, logger="mteb_hybrid.data.download"):
        mteb.evaluate(
            make_encoder("fake/quick-start", 0.5, 0),
            [task],
            cache=mteb.ResultCache(tmp_path / "results"),
            show_progress_bar=False,
        )
    (result,) = (tmp_path / "results").rglob("XQuADRRetrieval.json")
    scores = {s["hf_subset"]: s for s in json.loads(result.read_text())["scores"]["test"]}
    assert scores["eng-all"]["num_queries"] == 3 and scores["eng-all"]["map"] > 0
    for lang in ("en", "de"):
        cached = tmp_path / "cache" / "xquad-r" / f"{lang}.json"
        assert download.sha256_of(cached) == lareqa.XQUAD_R_SHA256[lang]
    skipped = [r.message for r in caplog.records if "no such folder" in r.message]
    assert len(skipped) == 1 and "MTEB_HYBRID_DATA=" in skipped[0] and "\n" not in skipped[0]
    # with our own switch on, the same fresh machine stops with one line naming it
    monkeypatch.setenv("MTEB_HYBRID_OFFLINE", "1")
    monkeypatch.setenv("MTEB_HYBRID_CACHE", str(tmp_path / "cache2"))
    with pytest.raises(DataFileError, match="MTEB_HYBRID_OFFLINE=1"):
        XQuADRRetrieval(languages=["en", "de"]).load_data()


def test_malformed_json_is_reported(tmp_path) -> None:
    bad = tmp_path / "en.json"
    bad.write_text('{"data": [{"title": "x", "paragraphs": [{"context": "c"}]}]}')
    with pytest.raises(DataFileError, match="no field 'sentences'"):
        lareqa.parse_language_file(bad, "en")
