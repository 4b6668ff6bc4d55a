"""Base class for tasks scored in several settings from one embedding table.

A subclass declares its ``TaskMetadata`` (one hf_subset per setting, named ``"eng-deu"``: query
language first, ``"eng-all"`` for the pooled corpus) and implements :meth:`build_collection`.
Evaluation encodes every distinct text once, then scores every subset in one streamed pass with
exact full-ranking metrics (see :mod:`mteb_hybrid.evaluation`).
"""

from __future__ import annotations

import logging
import os
import weakref
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar

import numpy as np
from mteb.abstasks.retrieval import AbsTaskRetrieval

from mteb_hybrid.data.languages import either_code, from_iso3, iso3
from mteb_hybrid.env import OptionError, env_positive_float, env_positive_int, positive_int
from mteb_hybrid.evaluation.blocks import DocumentBlocks
from mteb_hybrid.evaluation.collection import RetrievalCollection, Subset, content_digest
from mteb_hybrid.evaluation.evaluator import SubsetResult, evaluate_subsets
from mteb_hybrid.evaluation.ranking import DEFAULT_MAX_CHUNK_BYTES
from mteb_hybrid.evaluation.subsample import independent_subsample, parallel_subsample
from mteb_hybrid.runs import POOLED, split_subset_name
from mteb_hybrid.tasks.encoding import encode_collection
from mteb_hybrid.tasks.sharded_encoding import (
    encode_collection_sharded,
    model_identity,
    shard_settings,
    task_store_folder,
)

logger = logging.getLogger(__name__)

CHUNK_ENV = "MTEB_HYBRID_CHUNK_MB"
QUERIES_ENV = "MTEB_HYBRID_QUERIES_PER_LANGUAGE"
DEVICE_ENV = "MTEB_HYBRID_DEVICE"
LANGUAGES_ENV = "MTEB_HYBRID_LANGUAGES"

# (task name, model name, model revision), {subset: SubsetResult}
PerQuerySink = Callable[[tuple[str, str, str], dict[str, SubsetResult]], None]


def subset_name(query_lang: str, corpus_lang: str) -> str:
    """hf_subset name of a setting: ``("en", "de")`` -> ``"eng-deu"``, pooled -> ``"eng-all"``."""
    corpus = POOLED if corpus_lang == POOLED else iso3(corpus_lang)
    return f"{iso3(query_lang)}-{corpus}"


def parse_subset_name(name: str) -> Subset:
    """Inverse of :func:`subset_name`."""
    parts = split_subset_name(name)
    if parts is None:
        raise ValueError(f"subset {name!r}: expected <query>-<corpus>, e.g. eng-deu or eng-all")
    query, corpus = parts
    corpus_lang = POOLED if corpus == POOLED else from_iso3(corpus)
    return Subset(name=name, query_lang=from_iso3(query), corpus_lang=corpus_lang)


def eval_langs_for(languages: list[str], pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    """``TaskMetadata.eval_langs`` for the given (query, corpus) pairs (corpus may be POOLED)."""
    from mteb_hybrid.data.languages import lang_script

    eval_langs: dict[str, list[str]] = {}
    for query, corpus in pairs:
        if corpus == POOLED:
            langs = [lang_script(query)] + [lang_script(c) for c in languages if c != query]
        elif corpus == query:
            langs = [lang_script(query)]
        else:
            langs = [lang_script(query), lang_script(corpus)]
        eval_langs[subset_name(query, corpus)] = langs
    return eval_langs


def mteb_mean_note(mono: int, cross: int, multi: int) -> str:
    """The sentence each task's description ends with: what mteb's one number for the task is.

    mteb's tooling (``TaskResult.get_score``, ``ModelResult``, benchmark tables) averages
    ``main_score`` over every subset with equal weight, and mteb 2.26 has no per-task hook to
    change that aggregate (it is computed from the saved JSON, not by the task). So the setting
    with most subsets dominates it; ``tests/test_mteb_aggregate.py`` checks these counts against
    the task's default subsets.
    """
    total = mono + cross + multi
    counts = ", ".join(
        f"{n} {name}"
        for n, name in ((mono, "monolingual"), (cross, "cross-lingual"), (multi, "pooled"))
        if n
    )
    heaviest = max((mono, "monolingual"), (cross, "cross-lingual"), (multi, "pooled"))
    return (
        f" Note: mteb's one number for this task is the plain mean of main_score over its "
        f"{total} default subsets ({counts}), so the {heaviest[1]} setting carries "
        f"{heaviest[0] / total:.0%} of it; mteb offers no hook to weight the settings equally: "
        "read the per-setting macro averages (mteb-hybrid leaderboard)."
    )


def all_pairs(languages: list[str]) -> list[tuple[str, str]]:
    """Every mono, every cross pair and every pooled setting, in that order."""
    mono = [(x, x) for x in languages]
    cross = [(x, y) for x in languages for y in languages if x != y]
    pooled = [(x, POOLED) for x in languages]
    return mono + cross + pooled


def _similarity_of(model: Any) -> str:
    meta = getattr(model, "mteb_model_meta", None)
    name = getattr(meta, "similarity_fn_name", None)
    value = str(getattr(name, "value", name) or "cosine").lower()
    if value in {"cosine", "dot", "euclidean"}:
        return value
    raise ValueError(
        f"similarity function {value!r} of model {getattr(meta, 'name', model)!r} is not "
        "supported by the multi-setting evaluator; use a cosine, dot or euclidean model"
    )


def _device_of(model: Any) -> str | None:
    if os.environ.get(DEVICE_ENV):
        return os.environ[DEVICE_ENV]
    inner = getattr(model, "model", None)
    device = getattr(inner, "device", None)
    return str(device) if device is not None else None


class _LazySplits(Mapping):
    """``task.dataset`` view: ``dataset[hf_subset][split]`` builds mteb's split data on access."""

    def __init__(self, task: MultiSettingRetrievalTask) -> None:
        self._task = task

    def __getitem__(self, hf_subset: str) -> dict[str, Any]:
        if hf_subset not in self._task.metadata.eval_langs:
            raise KeyError(hf_subset)
        return {split: self._task.stock_split(hf_subset) for split in self._task.eval_splits}

    def __iter__(self) -> Iterator[str]:
        return iter(self._task.hf_subsets)

    def __len__(self) -> int:
        return len(self._task.hf_subsets)


class MultiSettingRetrievalTask(AbsTaskRetrieval):
    """An ``AbsTaskRetrieval`` whose subsets are settings over one multilingual collection.

    Args:
        data_dir: folder holding the dataset files (else ``$MTEB_HYBRID_DATA``, the cache, or a
            download).
        queries_per_language: score a deterministic subsample of this many queries per language
            (seeded by the task seed; recorded in the scores as ``num_queries``, and as
            ``queries_per_language`` / ``subsample_seed`` / ``subsample_parallel`` when set).
            Parallel collections draw the same items in every language, others each language
            on its own (:mod:`mteb_hybrid.evaluation.subsample`). Default
            ``$MTEB_HYBRID_QUERIES_PER_LANGUAGE``, which also reaches tasks built by ``mteb run``.
        max_chunk_bytes: memory bound of the streamed scoring (default 256 MiB, or
            ``$MTEB_HYBRID_CHUNK_MB``).
        languages: restrict the collection to these dataset language codes (``["en", "de"]``);
            the pooled corpus is then theirs only. Default: every language of the task.
    """

    LANGUAGES: tuple[str, ...] = ()
    # receives the per-query results of every evaluation; mteb_hybrid.registration connects it
    # to the sidecars written beside mteb's result JSON
    per_query_sink: ClassVar[PerQuerySink | None] = None

    collection: RetrievalCollection | None = None

    def __init__(
        self,
        data_dir: str | os.PathLike[str] | None = None,
        queries_per_language: int | None = None,
        max_chunk_bytes: int | None = None,
        languages: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if languages is None and os.environ.get(LANGUAGES_ENV, "").strip():
            languages = [c.strip() for c in os.environ[LANGUAGES_ENV].split(",") if c.strip()]
            try:
                languages = self.resolve_languages(self._dataset_codes(languages))
            except ValueError as error:
                raise OptionError(f"{LANGUAGES_ENV}: {error}") from None
        else:
            languages = self.resolve_languages(languages)
        self.collection_languages = list(languages) if languages else list(self.LANGUAGES)
        if languages:
            self.hf_subsets = [s for s in self.hf_subsets if self._covers(s)]
        self.data_dir = data_dir
        if queries_per_language is None:
            queries_per_language = env_positive_int(QUERIES_ENV, unset_means="all queries")
        else:
            queries_per_language = positive_int(
                "queries_per_language", queries_per_language, unset_means="all queries (None)"
            )
        self.queries_per_language = queries_per_language
        if max_chunk_bytes is None:
            chunk_mb = env_positive_float(CHUNK_ENV, unset_means="256 MiB")
            max_chunk_bytes = (
                int(chunk_mb * 1024 * 1024) if chunk_mb is not None else DEFAULT_MAX_CHUNK_BYTES
            )
        elif not isinstance(max_chunk_bytes, int) or max_chunk_bytes <= 0:
            raise OptionError(f"max_chunk_bytes={max_chunk_bytes!r}: expected bytes above 0")
        self.max_chunk_bytes = max_chunk_bytes
        shard_settings(0)  # a bad MTEB_HYBRID_SHARD_* value stops here, not after loading data
        self._results: dict[str, SubsetResult] = {}
        self._results_key: tuple | None = None
        self._results_model: Callable[[], Any] | None = None
        self.encoding_counts: dict[str, int] = {}

    def resolve_languages(self, languages: list[str] | None) -> list[str] | None:
        """The collection's language codes for a ``languages=`` argument (``None``: all).

        Dataset codes (``"de"``) and ISO 639-3 codes (``"deu"``) are both accepted; unknown codes
        are a one-line error; tasks that accept other spellings override this.
        """
        if languages:
            languages = list(dict.fromkeys(either_code(code) for code in languages))
        unknown = sorted(set(languages or ()) - set(self.LANGUAGES))
        if unknown:
            raise ValueError(
                f"{self.metadata.name} has no language {', '.join(unknown)}: "
                f"use some of {', '.join(self.LANGUAGES)}"
            )
        return languages

    def _dataset_codes(self, codes: list[str]) -> list[str]:
        """Dataset codes for codes given as ISO 639-3 labels (``eng``, ``eng-Latn``) or as
        dataset codes (``en``); unknown codes are kept for :meth:`resolve_languages` to refuse."""
        by_label = {self.language_label(c): c for c in self.LANGUAGES}
        out = []
        for code in codes:
            base = code.split("-")[0] if code not in self.LANGUAGES else code
            out.append(by_label.get(base, code))
        return list(dict.fromkeys(out))

    def filter_languages(
        self,
        languages: Any,
        script: Any = None,
        hf_subsets: Any = None,
        exclusive_language_filter: bool = False,
    ) -> MultiSettingRetrievalTask:
        """mteb's language filter (``mteb run -l eng deu``), which also narrows the collection:
        only the named languages' files are read and the pooled corpus is theirs only."""
        chosen = []
        if languages:
            wanted = set(self._dataset_codes([str(c) for c in languages]))
            chosen = [c for c in self.collection_languages if c in wanted]
            languages = [self.language_label(c) for c in chosen] or list(languages)
        super().filter_languages(languages, script, hf_subsets, exclusive_language_filter)
        if chosen and chosen != self.collection_languages:
            self.collection_languages = chosen
            self.hf_subsets = [s for s in self.hf_subsets if self._covers(s)]
        return self

    def language_label(self, code: str) -> str:
        """The ISO 639-3 label of a collection language in subset names (``"en"`` -> ``"eng"``)."""
        return iso3(code)

    @classmethod
    def from_shared_options(cls, **options: Any) -> MultiSettingRetrievalTask:
        """The task built from options shared by several tasks (a sweep's ``--languages``):
        ``languages`` it lacks are left out with a warning; fewer than two left is an error."""
        wanted = [either_code(code) for code in options.get("languages") or ()]
        if wanted:
            kept = [lang for lang in wanted if lang in cls.LANGUAGES]
            if len(kept) < 2:
                raise ValueError(
                    f"{cls.metadata.name} has only {kept or 'none'} of the languages {wanted}; "
                    f"give at least two of {', '.join(cls.LANGUAGES)}"
                )
            if kept != wanted:
                left_out = sorted(set(wanted) - set(kept))
                logger.warning(
                    "%s: languages %s not in the task, left out", cls.metadata.name, left_out
                )
            options["languages"] = kept
        return cls(**options)

    def _covers(self, hf_subset: str) -> bool:
        subset = self.subset(hf_subset)
        return subset.query_lang in self.collection_languages and (
            subset.corpus_lang == POOLED or subset.corpus_lang in self.collection_languages
        )

    # -- to implement -------------------------------------------------------------------------
    def build_collection(self) -> RetrievalCollection:
        """Load the dataset files and build the collection every subset is a view of."""
        raise NotImplementedError

    # -- data -----------------------------------------------------------------------------------
    def load_data(self, num_proc: int | None = None, **kwargs: Any) -> None:
        """Build the collection (files are read once; subsets are views of it)."""
        if self.data_loaded:
            return
        self.collection = self.build_collection()
        self._data_digest = content_digest(self.collection)
        self.dataset = _LazySplits(self)  # type: ignore[assignment]
        self.data_loaded = True
        self.apply_identity()

    # -- result identity ------------------------------------------------------------------------
    def result_identity(self) -> dict[str, Any]:
        """Everything the scores depend on besides the model: the data's content digest, the
        collection languages, the subsets and splits run, the query subsample and its seed, and
        the task's own options (:meth:`identity_options`), and, when the documents go through an
        on-disk shard store, its dtype (float16 rows score slightly differently from the in-memory
        float32 path, so the two never share a cached result). Needs the data loaded."""
        qpl = self.queries_per_language
        identity = {
            "data": self._data_digest,
            "languages": list(self.collection_languages),
            "hf_subsets": sorted(self.hf_subsets),
            "eval_splits": list(self.eval_splits),
            "queries_per_language": qpl,
            "subsample_seed": self.seed if qpl else None,
            **self.identity_options(),
        }
        assert self.collection is not None
        sharded = shard_settings(len(self.collection.doc_ids))
        if sharded is not None:  # absent on the in-memory path: its results keep their revision
            identity["document_store"] = f"shards-{sharded.dtype}"
        return identity

    def identity_options(self) -> dict[str, Any]:
        """Task-specific options that change scores (a corpus choice, a split); none here."""
        return {}

    def apply_identity(self) -> str:
        """Set this task object's dataset revision to ``<published revision>+<12 hex>`` of
        :meth:`result_identity`, so mteb's result cache (which compares dataset revisions) reruns
        instead of reusing or merging a result made with other options or data; returns it."""
        import hashlib
        import json

        if not self.data_loaded:
            self.load_data()
            return self.metadata.revision
        blob = json.dumps(self.result_identity(), sort_keys=True, default=str)
        tag = hashlib.sha256(blob.encode("utf-8")).hexdigest()[:12]
        revision = f"{type(self).metadata.revision}+{tag}"
        if self.metadata.revision != revision:
            dataset = {**self.metadata.dataset, "revision": revision}
            self.metadata = self.metadata.model_copy(update={"dataset": dataset})
        return revision

    def unload_data(self) -> None:
        """Free the collection and the cached scores."""
        super().unload_data()
        self.collection = None
        self._results = {}
        self._results_key = None
        self._results_model = None

    def subset(self, hf_subset: str) -> Subset:
        """The :class:`Subset` behind an hf_subset name."""
        return parse_subset_name(hf_subset)

    def query_indices(self) -> np.ndarray:
        """Queries to score: all, or a seeded subsample of ``queries_per_language`` per language.

        The same items in every language where the collection has ``query_items`` (parallel
        tasks), else an independent draw per language.
        """
        assert self.collection is not None
        col = self.collection
        if not self.queries_per_language:
            return np.arange(len(col.query_ids))
        n, n_lang = self.queries_per_language, len(col.languages)
        if col.query_items is not None:
            return parallel_subsample(col.query_langs, col.query_items, n_lang, n, self.seed)
        return independent_subsample(col.query_langs, n_lang, n, self.seed)

    def stock_split(self, hf_subset: str) -> dict[str, Any]:
        """mteb's ``RetrievalSplitData`` for one subset (its own corpus), for the stock path."""
        from datasets import Dataset

        if self.collection is None:
            self.load_data()
        col = self.collection
        assert col is not None
        subset = self.subset(hf_subset)
        if subset.corpus_lang == POOLED:
            doc_mask = np.ones(len(col.doc_ids), dtype=bool)
        else:
            doc_mask = col.doc_langs == col.languages.index(subset.corpus_lang)
        docs = np.flatnonzero(doc_mask)
        chosen = set(self.query_indices().tolist())
        queries = [i for i in col.queries_of(subset.query_lang) if i in chosen]
        relevant = {}
        for i in queries:
            rel = {col.doc_ids[d]: 1 for d in col.relevant[i] if doc_mask[d]}
            if rel:
                relevant[col.query_ids[i]] = rel
        corpus = {"id": [col.doc_ids[d] for d in docs], "text": [col.doc_texts[d] for d in docs]}
        if col.doc_titles is not None:
            corpus["title"] = [col.doc_titles[d] for d in docs]
        kept = [i for i in queries if col.query_ids[i] in relevant]
        return {
            "corpus": Dataset.from_dict(corpus),
            "queries": Dataset.from_dict(
                {"id": [col.query_ids[i] for i in kept], "text": [col.query_texts[i] for i in kept]}
            ),
            "relevant_docs": relevant,
            "top_ranked": None,
        }

    # -- evaluation -----------------------------------------------------------------------------
    def evaluate(
        self,
        model: Any,
        split: str = "test",
        subsets_to_run: list[str] | None = None,
        *,
        encode_kwargs: dict[str, Any],
        prediction_folder: Any = None,
        num_proc: int | None = None,
        timer: Any = None,
        **kwargs: Any,
    ) -> dict[str, dict[str, Any]]:
        """Scores of the requested subsets; the first call encodes once and scores all subsets."""
        if not self.data_loaded:
            self.load_data(num_proc=num_proc)
        self.apply_identity()
        wanted = list(self.hf_subsets)
        if subsets_to_run is not None:
            wanted = [s for s in wanted if s in subsets_to_run]
        key = (split, repr(sorted(encode_kwargs.items())))
        if key != self._results_key or not self._holds_results_of(model):
            self._results, self._results_key = {}, key
            self._results_model = _reference(model)
        missing = [s for s in self.hf_subsets if s not in self._results]
        if any(s in missing for s in wanted):
            self._results.update(self.score_subsets(model, missing, split, encode_kwargs))
        scores: dict[str, dict[str, Any]] = {}
        for hf_subset in wanted:
            values: dict[str, Any] = dict(self._results[hf_subset].scores)
            values["main_score"] = values[self.metadata.main_score]  # as mteb does
            scores[hf_subset] = values
        sink = type(self).per_query_sink
        if sink is not None:
            meta = getattr(model, "mteb_model_meta", None)
            key = (
                self.metadata.name,
                str(getattr(meta, "name", None)),
                str(getattr(meta, "revision", None)),
            )
            sink(key, dict(self._results))
        return scores

    def _holds_results_of(self, model: Any) -> bool:
        """Whether the cached scores were made by this very model object.

        Identity through a weak reference, never ``id()``: a model freed after its evaluation
        can leave its address to the next one (a sweep evaluating models one after another on
        the same task object), and an ``id()`` key would hand that one the old model's scores.
        """
        return self._results_model is not None and self._results_model() is model

    def score_subsets(
        self, model: Any, hf_subsets: list[str], split: str, encode_kwargs: dict[str, Any]
    ) -> dict[str, SubsetResult]:
        """Encode the collection once and score the given subsets exactly.

        A corpus above ``$MTEB_HYBRID_SHARD_THRESHOLD`` documents (default 2,000,000), or any
        corpus while ``$MTEB_HYBRID_SHARD_DIR`` is set, is encoded into an on-disk shard store
        (resumable; :mod:`mteb_hybrid.tasks.sharded_encoding`) and scored from it block by block.
        """
        assert self.collection is not None
        subsets = [self.subset(name) for name in hf_subsets]
        chosen = self.query_indices()
        needed_langs = {s.query_lang for s in subsets}
        chosen = np.array(
            [
                i
                for i in chosen
                if self.collection.languages[self.collection.query_langs[i]] in needed_langs
            ],
            dtype=np.int64,
        )
        encode_kwargs = {"batch_size": 32, **encode_kwargs}
        settings = shard_settings(len(self.collection.doc_ids))
        doc_emb: np.ndarray | DocumentBlocks
        if settings is None:
            query_emb, doc_emb, self.encoding_counts = encode_collection(
                model,
                self.collection,
                task_metadata=self.metadata,
                hf_split=split,
                hf_subset=hf_subsets[0],
                encode_kwargs=encode_kwargs,
                query_indices=chosen,
            )
        else:  # documents on disk, shard by shard; the scorer reads them as blocks
            name, revision = model_identity(model)
            folder = task_store_folder(self, model, settings.root)
            query_emb, doc_emb, self.encoding_counts = encode_collection_sharded(
                model,
                self.collection,
                folder,
                model_name=name,
                revision=revision,
                task_metadata=self.metadata,
                hf_split=split,
                hf_subset=hf_subsets[0],
                encode_kwargs=encode_kwargs,
                query_indices=chosen,
                settings=settings,
            )
        results = evaluate_subsets(
            self.collection,
            query_emb,
            doc_emb,
            subsets,
            query_indices=chosen,
            similarity=_similarity_of(model),
            device=_device_of(model),
            max_chunk_bytes=self.max_chunk_bytes,
            progress=encode_kwargs.get("show_progress_bar", True),
        )
        for subset in subsets:
            if subset.corpus_lang == POOLED:
                pooled = float(len(self.collection.languages))
                results[subset.name].scores["pooled_languages"] = pooled
        if self.queries_per_language:
            for result in results.values():
                result.scores["queries_per_language"] = float(self.queries_per_language)
                result.scores["subsample_seed"] = float(self.seed)
                parallel = self.collection.query_items is not None
                result.scores["subsample_parallel"] = 1.0 if parallel else 0.0
        return results


def _reference(model: Any) -> Callable[[], Any]:
    """A weak reference to ``model``; a strong one for objects that cannot be weakly referenced."""
    try:
        return weakref.ref(model)
    except TypeError:
        return lambda: model
