"""The training API: :func:`train` runs one hybrid-batch fine-tune from a :class:`TrainConfig`.

It wires the pieces together and knows nothing of mteb: data specs -> validated parallel table
-> pair dataset -> :class:`HybridBatchSampler` inside sentence-transformers'
``SentenceTransformerTrainer`` with (cached) MultipleNegativesRankingLoss -> a model folder with
its training metadata. Checkpoints go to ``<output>/checkpoints``; ``resume`` continues from one,
and the sampler (deterministic in seed, epoch and the run's length) replays the same batch order.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from mteb_hybrid.files import write_json_atomic
from mteb_hybrid.runs import CHECKPOINTS, TRAINER_STATE_FILE
from mteb_hybrid.trainers.checkpoints import (
    MARKERS_KEY,
    completion,
    discard_incomplete,
    mark_checkpoints_complete,
    newest_complete,
    whole_run_loss,
)
from mteb_hybrid.trainers.config import TrainConfig, TrainConfigError
from mteb_hybrid.trainers.data import load_training_data
from mteb_hybrid.trainers.output import check_base_model, check_output_folder
from mteb_hybrid.trainers.parallel import ParallelData

logger = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """What a finished run produced."""

    output_dir: Path
    global_step: int
    epoch: float
    train_loss: float | None
    best_validation_loss: float | None
    wall_time_s: float
    metadata: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        """One line for the console: where the model went, steps, time, mean loss."""
        loss = self.train_loss or float("nan")
        return (
            f"saved {self.output_dir} after {self.global_step} steps "
            f"({self.wall_time_s:.0f} s, mean training loss {loss:.4f})"
        )


def prepare_data(config: TrainConfig) -> tuple[ParallelData, ParallelData | None]:
    """Training data and optional validation data (held-out ids never share an id with training)."""
    from mteb_hybrid.data.download import cache_dir

    require_cross = config.batch_ratio.cross > 0
    spill = (
        cache_dir() / "train-tables"
        if any(s.startswith("mmarco") for s in config.train_data)
        else None
    )
    train_data = load_training_data(config.train_data, require_cross=require_cross, spill_dir=spill)
    validation = None
    if config.validation_data:
        validation = load_training_data(config.validation_data, require_cross=require_cross)
    elif config.validation_fraction > 0:
        train_data, validation = train_data.split_ids(config.validation_fraction, config.seed)
    return train_data, validation


def build_model(config: TrainConfig) -> Any:
    """Load the base model and apply max length and prompts."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(config.base_model)
    if config.max_seq_length:
        model.max_seq_length = config.max_seq_length
    if config.prompts:
        model.prompts = {"query": config.query_prompt, "document": config.passage_prompt}
    return model


def build_loss(config: TrainConfig, model: Any) -> Any:
    """InfoNCE with in-batch negatives: MNRL, or its cached (GradCache) variant."""
    from sentence_transformers.sentence_transformer.losses import (
        CachedMultipleNegativesRankingLoss,
        MultipleNegativesRankingLoss,
    )

    if config.loss == "cached-mnrl":
        return CachedMultipleNegativesRankingLoss(
            model,
            scale=config.scale,
            mini_batch_size=config.mini_batch_size,
            gather_across_devices=config.gather_across_devices,
        )
    return MultipleNegativesRankingLoss(
        model, scale=config.scale, gather_across_devices=config.gather_across_devices
    )


def sampler_factory(config: TrainConfig, world_size: int | None = None) -> partial:
    """The ``batch_sampler`` argument: a partial of :class:`HybridBatchSampler` with our seed.

    ``world_size`` should be the trainer's (``args.world_size``), so that the sampler's global
    batches match how accelerate shards them.
    """
    from mteb_hybrid.trainers.sampler import HybridBatchSampler

    return partial(
        HybridBatchSampler,
        ratio=config.ratio,
        ratio_schedule=config.ratio_schedule,
        max_steps=config.max_steps,
        epochs=config.epochs,
        language_sampling=config.language_sampling,
        temperature=config.temperature,
        sampler_seed=config.seed,
        world_size=world_size,
    )


def build_training_args(config: TrainConfig, has_validation: bool) -> Any:
    """``SentenceTransformerTrainingArguments`` for the run."""
    import torch
    from sentence_transformers import SentenceTransformerTrainingArguments

    if config.precision != "fp32" and not torch.cuda.is_available():
        raise TrainConfigError(
            f"--precision {config.precision} needs a CUDA GPU and none is visible; use fp32"
        )
    eval_steps = config.eval_steps or config.save_steps or 100
    save_steps = config.save_steps
    early = config.early_stopping_patience is not None
    if early and (save_steps is None or save_steps % eval_steps):
        save_steps = eval_steps  # the best checkpoint must exist at every evaluation
    prompts = None
    if config.prompts:
        prompts = {
            "query": config.query_prompt,
            "positive": config.passage_prompt,
            "negative": config.passage_prompt,
        }
    extra: dict[str, Any] = {}
    if config.gradient_checkpointing:  # renamed activation_checkpointing in transformers 5
        fields = SentenceTransformerTrainingArguments.__dataclass_fields__
        name = "activation_checkpointing" if "activation_checkpointing" in fields else None
        extra[name or "gradient_checkpointing"] = True
    if not torch.cuda.is_available() and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        extra["use_cpu"] = True  # torchrun on CPU: accelerate needs this to run gloo DDP
    args = SentenceTransformerTrainingArguments(
        output_dir=str(Path(config.output_dir) / CHECKPOINTS),
        dataloader_pin_memory=torch.cuda.is_available(),
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        weight_decay=config.weight_decay,
        num_train_epochs=config.epochs,
        max_steps=config.max_steps or -1,
        warmup_steps=config.warmup if config.warmup < 1 else int(config.warmup),
        bf16=config.precision == "bf16",
        fp16=config.precision == "fp16",
        seed=config.seed,
        save_strategy="steps" if save_steps else "no",
        save_steps=save_steps or 500,
        save_total_limit=config.save_total_limit,
        eval_strategy="steps" if has_validation else "no",
        eval_steps=eval_steps if has_validation else None,
        load_best_model_at_end=early,
        metric_for_best_model="eval_loss" if early else None,
        greater_is_better=False if early else None,
        logging_steps=config.logging_steps,
        report_to="none",
        prompts=prompts,
        dataloader_num_workers=config.dataloader_num_workers,
        **extra,
    )
    args.batch_sampler = sampler_factory(config, world_size=args.world_size)
    return args


def _resume_checkpoint(config: TrainConfig, checkpoints: Path) -> str | None:
    """The checkpoint to resume from: the newest complete one (incomplete ones, interrupted
    while written, are deleted with a warning), or the one ``--resume`` names."""
    existing, incomplete = newest_complete(checkpoints)
    if not config.resume:
        if existing or incomplete:
            name = (existing or incomplete[0]).name
            raise TrainConfigError(
                f"{config.output_dir} already has checkpoints ({name}); "
                "pass --resume to continue that run or choose another --output"
            )
        return None
    if config.resume == "latest":
        discard_incomplete(checkpoints)
        checkpoint = existing
    else:
        checkpoint = Path(config.resume)
        if checkpoint.is_dir() and completion(checkpoint) is None:
            raise TrainConfigError(
                f"--resume: {checkpoint} is incomplete (interrupted while written); "
                "pass --resume without a folder to take the newest complete checkpoint"
            )
    if not checkpoint or not Path(checkpoint).is_dir():
        raise TrainConfigError(
            f"--resume: no checkpoint at {checkpoint or checkpoints}; "
            "run without --resume first, with --save-steps"
        )
    return str(checkpoint)


def _run_settings(config: TrainConfig, world_size: int) -> dict[str, Any]:
    """What decides the batch order: saved beside the checkpoints, compared on resume."""
    return {**config.data_order(), "world_size": world_size}


def _saved_run_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """The run file's content: the batch-order settings, and that checkpoints carry markers."""
    return {**settings, MARKERS_KEY: True}


def _check_resume_settings(run_file: Path, settings: dict[str, Any]) -> None:
    """Stop a resume whose batch order would differ from the checkpointed run's."""
    if not run_file.is_file():
        return
    saved = json.loads(run_file.read_text())
    saved.setdefault("ratio_schedule", "independent")  # written before schedules existed
    for key, value in settings.items():
        if key in saved and saved[key] != value:
            raise TrainConfigError(
                f"--resume: {key} was {saved[key]!r} in the checkpointed run, now "
                f"{value!r}; resume with the same settings so the batch order replays"
            )


def _check_same_plan(sampler: Any) -> None:
    """Under torch.distributed, stop unless every rank planned the same batches."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return
    digests: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(digests, sampler.plan_digest(0))
    if len(set(digests)) != 1:
        raise RuntimeError(f"ranks planned different batches: {digests}")


def train(config: TrainConfig, *, callbacks: list[Any] | None = None) -> TrainResult:
    """Fine-tune ``config.base_model`` with hybrid batches; save the model to ``output_dir``."""
    from sentence_transformers import SentenceTransformerTrainer
    from transformers import EarlyStoppingCallback, set_seed

    from mteb_hybrid.trainers.metadata import write_training_metadata
    from mteb_hybrid.trainers.pairs import build_pair_dataset

    started = time.time()
    output = Path(config.output_dir)
    checkpoints = output / CHECKPOINTS
    check_base_model(config)
    resume_from = _resume_checkpoint(config, checkpoints)
    check_output_folder(config)
    set_seed(config.seed)

    train_data, validation = prepare_data(config)
    logger.info("training data: %s", json.dumps(train_data.summary()))
    train_pairs = build_pair_dataset(train_data)
    eval_pairs = build_pair_dataset(validation) if validation is not None else None

    args = build_training_args(config, has_validation=eval_pairs is not None)
    run_file = checkpoints / TRAINER_STATE_FILE
    settings = _run_settings(config, args.world_size)
    if resume_from:
        _check_resume_settings(run_file, settings)
    try:
        sampler = args.batch_sampler(train_pairs, batch_size=config.batch_size)
        if eval_pairs is not None:
            args.batch_sampler(eval_pairs, batch_size=config.batch_size)
    except ValueError as error:  # data too small for the batch size or ratio
        raise TrainConfigError(str(error)) from None
    model = build_model(config)
    trainer_callbacks = list(callbacks or [])
    if config.early_stopping_patience is not None:
        trainer_callbacks.append(
            EarlyStoppingCallback(
                early_stopping_patience=config.early_stopping_patience,
                early_stopping_threshold=config.early_stopping_threshold,
            )
        )
    trainer = SentenceTransformerTrainer(
        model=model,
        args=args,
        train_dataset=train_pairs,
        eval_dataset=eval_pairs,
        loss=build_loss(config, model),
        callbacks=trainer_callbacks,
    )
    _check_same_plan(sampler)
    if trainer.is_world_process_zero() and not resume_from:
        checkpoints.mkdir(parents=True, exist_ok=True)
        write_json_atomic(run_file, _saved_run_settings(settings))
    mark_checkpoints_complete(trainer, checkpoints)
    output_stats = trainer.train(resume_from_checkpoint=resume_from)

    state = trainer.state
    eval_losses = [e["eval_loss"] for e in state.log_history if "eval_loss" in e]
    best = state.best_metric if config.early_stopping_patience is not None else None
    if best is None and eval_losses:
        best = min(eval_losses)
    result = TrainResult(
        output_dir=output,
        global_step=state.global_step,
        epoch=float(state.epoch or 0.0),
        train_loss=whole_run_loss(
            resume_from, getattr(output_stats, "training_loss", None), state.global_step
        ),
        best_validation_loss=best,
        wall_time_s=time.time() - started,
    )
    if trainer.is_world_process_zero():
        card = trainer.model.model_card_data
        card.set_language(train_data.languages)
        card.add_tags(["mteb-hybrid", "hybrid-batch-training"])
        if config.model_name:
            card.model_name = config.model_name
        trainer.model.save_pretrained(str(output))
        result.metadata = write_training_metadata(
            output,
            config=config,
            result=result,
            sampler=sampler,
            train_data=train_data,
            validation=validation,
            resumed_from=resume_from,
        )
    return result
