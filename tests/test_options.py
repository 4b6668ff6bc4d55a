"""Bad options and environment values stop at once with one line naming them; nothing is encoded
into a results folder that cannot be written."""

from __future__ import annotations

import os

import pytest

from mteb_hybrid.env import OptionError


@pytest.mark.parametrize("value", ["abc", "-3", "0", "2.5"])
def test_bad_queries_per_language_in_the_environment(monkeypatch, value):
    from mteb_hybrid.tasks import XQuADRRetrieval

    monkeypatch.setenv("MTEB_HYBRID_QUERIES_PER_LANGUAGE", value)
    with pytest.raises(OptionError) as error:
        XQuADRRetrieval()
    message = str(error.value)
    assert message.startswith(f"MTEB_HYBRID_QUERIES_PER_LANGUAGE='{value}'")
    assert "unset for all queries" in message and "\n" not in message


@pytest.mark.parametrize("value", [0, -1])
def test_bad_queries_per_language_argument(value):
    from mteb_hybrid.tasks import XQuADRRetrieval

    with pytest.raises(OptionError, match=f"queries_per_language={value}"):
        XQuADRRetrieval(queries_per_language=value)


@pytest.mark.parametrize("value", ["abc", "-1", "0", "inf"])
def test_bad_chunk_size_in_the_environment(monkeypatch, value):
    from mteb_hybrid.tasks import XQuADRRetrieval

    monkeypatch.setenv("MTEB_HYBRID_CHUNK_MB", value)
    with pytest.raises(OptionError, match=f"MTEB_HYBRID_CHUNK_MB='{value}': expected a number"):
        XQuADRRetrieval()


def test_good_environment_values_are_taken(monkeypatch):
    from mteb_hybrid.tasks import XQuADRRetrieval

    monkeypatch.setenv("MTEB_HYBRID_QUERIES_PER_LANGUAGE", " 7 ")
    monkeypatch.setenv("MTEB_HYBRID_CHUNK_MB", "0.5")
    task = XQuADRRetrieval()
    assert task.queries_per_language == 7 and task.max_chunk_bytes == 512 * 1024


def test_bad_flores_split_and_full_matrix_values(monkeypatch):
    from mteb_hybrid.tasks import FloresRetrieval, XM3600Retrieval

    monkeypatch.setenv("MTEB_HYBRID_FLORES_SPLIT", "devtest")
    with pytest.raises(OptionError, match="MTEB_HYBRID_FLORES_SPLIT='devtest': use one of train"):
        FloresRetrieval()
    monkeypatch.delenv("MTEB_HYBRID_FLORES_SPLIT")
    monkeypatch.setenv("MTEB_HYBRID_XM3600_FULL_MATRIX", "maybe")
    with pytest.raises(OptionError, match="MTEB_HYBRID_XM3600_FULL_MATRIX='maybe': use 1"):
        XM3600Retrieval()


def test_bad_source_and_corpus_values(monkeypatch, tmp_path):
    from mteb_hybrid.data.miracl import load_miracl
    from mteb_hybrid.data.xm3600 import load_xm3600

    monkeypatch.setenv("MTEB_HYBRID_XM3600_SOURCE", "web")
    with pytest.raises(OptionError, match="MTEB_HYBRID_XM3600_SOURCE='web'"):
        load_xm3600(["en"], tmp_path)
    monkeypatch.setenv("MTEB_HYBRID_MIRACL_CORPUS", "all")
    with pytest.raises(OptionError, match="MTEB_HYBRID_MIRACL_CORPUS='all'"):
        load_miracl(["en"], tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_results_folder_fails_before_encoding(tmp_path, shared_data):
    _read_only_case(tmp_path, shared_data)


def test_unwritable_results_folder_fails_before_encoding(tmp_path, shared_data):
    """A results folder that cannot be created (a file stands in its way): as for read-only."""
    (tmp_path / "results").write_text("not a folder")
    _read_only_case(tmp_path, shared_data, make_read_only=False)


def _read_only_case(tmp_path, shared_data, make_read_only=True):
    import mteb

    from mteb_hybrid.tasks import XQuADRRetrieval
    from tests.fixtures.results.fake_models import make_encoder

    encoder = make_encoder("fake/read-only", 0.5, 0)
    calls = []
    inner = encoder.encode
    encoder.encode = lambda *a, **k: calls.append(1) or inner(*a, **k)
    if make_read_only:
        (tmp_path / "results").mkdir()
        (tmp_path / "results").chmod(0o555)
    task = XQuADRRetrieval(data_dir=shared_data, languages=["en", "de"], queries_per_language=3)
    with pytest.raises(OptionError) as error:
        mteb.evaluate(encoder, [task], cache=mteb.ResultCache(tmp_path), show_progress_bar=False)
    assert "not writable" in str(error.value) and "\n" not in str(error.value)
    assert calls == []  # nothing was encoded
