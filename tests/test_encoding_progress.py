"""Encoding shows one tqdm bar per pass (texts, texts/s) and never switches datasets' bars off."""

from __future__ import annotations

import numpy as np
import pytest

from mteb_hybrid.tasks import XQuADRRetrieval


@pytest.fixture(scope="module")
def tiny_task(shared_data, tiny_models):
    import mteb

    model = mteb.get_model(str(tiny_models[0]))
    task = XQuADRRetrieval(data_dir=shared_data, languages=["de", "en"], queries_per_language=20)
    task.load_data()
    return model, task


def test_each_encoding_pass_prints_one_bar_in_texts(tiny_task, capfd) -> None:
    from datasets import are_progress_bars_disabled

    model, task = tiny_task
    task.evaluate(model, "test", encode_kwargs={"batch_size": 64})
    err = capfd.readouterr().err
    docs = len(set(task.collection.doc_texts))
    assert "XQuADRRetrieval: documents: 100%" in err
    assert f"{docs}/{docs}" in err
    assert "XQuADRRetrieval: queries: 100%" in err
    assert "text/s" in err
    assert not are_progress_bars_disabled(), "datasets' bars must stay on after encoding"


def test_chunks_keep_rows_in_place_and_the_bar_can_be_turned_off(
    tiny_task, monkeypatch, capfd
) -> None:
    """Many small chunks, sorted by length: each row still holds its own text's embedding; with
    ``show_progress_bar=False`` no encoding bar is printed."""
    from mteb_hybrid.tasks import encoding
    from mteb_hybrid.tasks.encoding import encode_collection

    monkeypatch.setattr(encoding, "CHUNK_BATCHES", 1)

    model, task = tiny_task
    col = task.collection
    _, doc_emb, _ = encode_collection(
        model,
        col,
        task_metadata=task.metadata,
        hf_split="test",
        hf_subset="eng-eng",
        encode_kwargs={"batch_size": 64, "show_progress_bar": False},
        query_indices=task.query_indices()[:4],
    )
    direct = model.model.encode([t.strip() for t in col.doc_texts], batch_size=64)
    np.testing.assert_allclose(doc_emb, direct, atol=1e-5)
    assert "XQuADRRetrieval: documents" not in capfd.readouterr().err
