"""Result identity: options and data that change scores rerun through mteb's cache, never reuse
or merge, and the per-query sidecar always matches the JSON beside it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.fixtures.results.fake_models import make_encoder


class _Counting:
    """Wraps a fake encoder and counts the texts it encodes."""

    def __init__(self) -> None:
        self.encoder = make_encoder("fake/identity", 0.5, 0)
        self.texts = 0
        inner = self.encoder.encode

        def encode(inputs, **kwargs):
            out = inner(inputs, **kwargs)
            self.texts += len(out)
            return out

        self.encoder.encode = encode


def _evaluate(folder: Path, encoder: _Counting, **options) -> tuple[dict, dict]:
    import mteb

    from mteb_hybrid.evaluation.per_query import load_per_query
    from mteb_hybrid.tasks import XQuADRRetrieval

    task = XQuADRRetrieval(**options)
    mteb.evaluate(
        encoder.encoder,
        [task],
        cache=mteb.ResultCache(folder),
        encode_kwargs={"batch_size": 256},
        show_progress_bar=False,
    )
    (path,) = folder.rglob("XQuADRRetrieval.json")
    result = json.loads(path.read_text())
    scores = {s["hf_subset"]: s for s in result["scores"]["test"]}
    sidecar = load_per_query(path.with_name("XQuADRRetrieval.per_query.npz"))
    return scores, {"revision": result["dataset_revision"], "sidecar": sidecar}


def test_changing_queries_per_language_reruns_and_same_options_reuse(tmp_path, shared_data):
    encoder = _Counting()
    common = {"data_dir": shared_data, "languages": ["en", "de"]}
    five, first = _evaluate(tmp_path, encoder, queries_per_language=5, **common)
    assert five["eng-eng"]["num_queries"] == 5
    encoded = encoder.texts
    assert encoded > 0
    ten, second = _evaluate(tmp_path, encoder, queries_per_language=10, **common)
    assert encoder.texts > encoded  # evaluated again, not "Skipping evaluation"
    assert ten["eng-eng"]["num_queries"] == 10 and ten["eng-all"]["num_queries"] == 10
    assert second["revision"] != first["revision"]
    assert len(second["sidecar"]["eng-eng"]["query_ids"]) == 10
    # another seed draws other queries: another identity
    encoded = encoder.texts
    again, third = _evaluate(tmp_path, encoder, queries_per_language=10, **common)
    assert encoder.texts == encoded  # identical options: the cached result is reused
    assert third["revision"] == second["revision"] and again == ten


def test_fewer_languages_leave_no_stale_subsets(tmp_path, shared_data):
    encoder = _Counting()
    many, _ = _evaluate(
        tmp_path,
        encoder,
        data_dir=shared_data,
        languages=["en", "de", "es"],
        queries_per_language=5,
    )
    assert "spa-all" in many and "eng-spa" in many
    few, meta = _evaluate(
        tmp_path, encoder, data_dir=shared_data, languages=["en", "de"], queries_per_language=5
    )
    assert sorted(few) == ["deu-all", "deu-deu", "deu-eng", "eng-all", "eng-deu", "eng-eng"]
    assert sorted(meta["sidecar"]) == sorted(few)


def test_more_languages_after_fewer_are_not_merged_with_the_old_result(tmp_path, shared_data):
    encoder = _Counting()
    _evaluate(
        tmp_path, encoder, data_dir=shared_data, languages=["en", "de"], queries_per_language=5
    )
    encoded = encoder.texts
    many, meta = _evaluate(
        tmp_path,
        encoder,
        data_dir=shared_data,
        languages=["en", "de", "es"],
        queries_per_language=5,
    )
    assert len(many) == 3 + 6 + 3 and sorted(meta["sidecar"]) == sorted(many)
    # every subset was scored afresh against the 3-language pool: eng-all was encoded again
    assert encoder.texts > encoded
    from mteb_hybrid.tasks import XQuADRRetrieval

    task = XQuADRRetrieval(
        data_dir=shared_data, languages=["en", "de", "es"], queries_per_language=5
    )
    task.load_data()
    assert meta["revision"] == task.metadata.revision
    assert meta["revision"].startswith(XQuADRRetrieval.metadata.revision + "+")


def test_changed_data_content_changes_the_identity(tmp_path, shared_data, monkeypatch):
    from mteb_hybrid.tasks import XQuADRRetrieval

    data = tmp_path / "data" / "xquad-r"
    data.mkdir(parents=True)
    for lang in ("en", "de"):
        (data / f"{lang}.json").write_bytes((shared_data / "xquad-r" / f"{lang}.json").read_bytes())
    options = {"data_dir": tmp_path / "data", "languages": ["en", "de"]}
    original = XQuADRRetrieval(**options).apply_identity()
    payload = json.loads((data / "de.json").read_text())
    payload["data"][0]["paragraphs"][0]["qas"][0]["question"] += " (edited)"
    (data / "de.json").write_text(json.dumps(payload))
    monkeypatch.setenv("MTEB_HYBRID_VERIFY", "0")
    edited = XQuADRRetrieval(**options).apply_identity()
    assert edited != original
    assert XQuADRRetrieval(**options).apply_identity() == edited  # stable for equal data


def test_sidecar_that_does_not_match_its_json_is_a_one_line_error(tmp_path, shared_data):
    from mteb_hybrid.evaluation.per_query import per_query_path
    from mteb_hybrid.leaderboard.results import ResultsError, load_results

    encoder = _Counting()
    _evaluate(
        tmp_path, encoder, data_dir=shared_data, languages=["en", "de"], queries_per_language=5
    )
    (path,) = tmp_path.rglob("XQuADRRetrieval.json")
    sidecar = per_query_path(path)
    results = load_results([tmp_path])
    (run,) = results.runs
    assert results.per_query(run, "XQuADRRetrieval") is not None  # matching files load

    # a sidecar of another run (10 queries) beside this JSON (5 queries)
    stale = dict(np.load(sidecar))
    for key in list(stale):
        if key.endswith("/query_ids") or "/" in key:
            stale[key] = np.concatenate([stale[key], stale[key]])
    np.savez_compressed(sidecar, **stale)
    with pytest.raises(ResultsError) as error:
        load_results([tmp_path]).per_query(run, "XQuADRRetrieval")
    message = str(error.value)
    assert "\n" not in message and str(sidecar) in message and "num_queries 5" in message

    # a sidecar written for another dataset revision
    revision = stale["__revision__"]
    stale["__revision__"] = np.array("9bc8c7f+000000000000", dtype=str)
    for key in list(stale):
        if "/" in key:
            stale[key] = stale[key][: len(stale[key]) // 2]
    np.savez_compressed(sidecar, **stale)
    with pytest.raises(ResultsError, match="dataset revision 9bc8c7f\\+000000000000"):
        load_results([tmp_path]).per_query(run, "XQuADRRetrieval")

    # a sidecar missing a subset of the JSON
    stale["__revision__"] = revision
    np.savez_compressed(sidecar, **{k: v for k, v in stale.items() if not k.startswith("eng-all/")})
    with pytest.raises(ResultsError, match="no per-query values for subset eng-all"):
        load_results([tmp_path]).per_query(run, "XQuADRRetrieval")


def test_a_result_without_its_sidecar_is_evaluated_again(tmp_path, shared_data):
    encoder = _Counting()
    options = {"data_dir": shared_data, "languages": ["en", "de"], "queries_per_language": 5}
    _evaluate(tmp_path, encoder, **options)
    (path,) = tmp_path.rglob("XQuADRRetrieval.per_query.npz")
    path.unlink()  # a crash between the JSON and the sidecar
    encoded = encoder.texts
    _, meta = _evaluate(tmp_path, encoder, **options)
    assert encoder.texts > encoded and len(meta["sidecar"]["eng-eng"]["query_ids"]) == 5


def test_only_cache_refuses_a_result_of_other_options(tmp_path, shared_data):
    import mteb

    from mteb_hybrid.tasks import XQuADRRetrieval

    encoder = _Counting()
    _evaluate(
        tmp_path, encoder, data_dir=shared_data, languages=["en", "de"], queries_per_language=5
    )
    task = XQuADRRetrieval(data_dir=shared_data, languages=["en", "de"], queries_per_language=6)
    with pytest.raises(ValueError, match="other options or data"):
        mteb.evaluate(
            encoder.encoder,
            [task],
            cache=mteb.ResultCache(tmp_path),
            overwrite_strategy="only-cache",
            show_progress_bar=False,
        )


def test_shard_store_path_has_its_own_identity(tmp_path, shared_data, monkeypatch):
    """float16 shard rows score slightly differently from in-memory float32 rows: a result made
    through a shard store never shares mteb's cached result with one made in memory, and the
    in-memory path keeps the identity it had before shards existed."""
    from mteb_hybrid.tasks import XQuADRRetrieval

    options = {"data_dir": shared_data, "languages": ["en", "de"]}
    in_memory = XQuADRRetrieval(**options)
    in_memory.load_data()
    assert "document_store" not in in_memory.result_identity()
    before = in_memory.apply_identity()
    monkeypatch.setenv("MTEB_HYBRID_SHARD_DIR", str(tmp_path / "shards"))
    float16 = XQuADRRetrieval(**options).apply_identity()
    monkeypatch.setenv("MTEB_HYBRID_SHARD_DTYPE", "float32")
    float32 = XQuADRRetrieval(**options).apply_identity()
    assert len({before, float16, float32}) == 3
    monkeypatch.delenv("MTEB_HYBRID_SHARD_DIR")
    monkeypatch.setenv("MTEB_HYBRID_SHARD_THRESHOLD", "10")  # above 10 documents: sharded too
    assert XQuADRRetrieval(**options).apply_identity() == float32


def test_models_evaluated_one_after_another_on_one_task_get_their_own_scores(
    shared_data, monkeypatch
) -> None:
    """A freed model can leave its address (its ``id()``) to the next one; scores follow the model.

    Every ``id()`` in the task module is made equal, the worst case of address reuse: each model
    must still get the scores it gets on a task object of its own, never the previous model's.
    """
    import mteb_hybrid.tasks.base as base
    from mteb_hybrid.tasks import XQuADRRetrieval

    monkeypatch.setattr(base, "id", lambda obj: 0, raising=False)
    options = {"data_dir": shared_data, "languages": ["en", "de"], "queries_per_language": 10}
    shared_task = XQuADRRetrieval(**options)
    maps = []
    for noise, seed in [(0.2, 0), (1.5, 1)]:
        encoder = make_encoder(f"fake/noise-{noise}", noise, seed)
        on_shared = shared_task.evaluate(encoder, encode_kwargs={"batch_size": 256})
        on_own = XQuADRRetrieval(**options).evaluate(encoder, encode_kwargs={"batch_size": 256})
        assert on_shared == on_own
        maps.append(on_shared["eng-deu"]["map"])
        del encoder
    assert maps[0] > maps[1]  # two different models, so reused scores would have been caught
