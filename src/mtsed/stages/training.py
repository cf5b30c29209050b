"""Training stage: one model for one cross-validation fold and one system."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from mtsed.config import ModelConfig, TrainConfig
from mtsed.features.logmel import Standardiser
from mtsed.io.fileio import atomic_dir, read_json, write_json
from mtsed.model.network import CRNN, ModelSpec, count_parameters
from mtsed.data.windows import Recordings, WindowOptions, WindowSampler, validation_set
from mtsed.config.systems import NETWORKS
from mtsed.model.device import pick_device
from mtsed.model.training import TrainSettings, chosen_epoch, train_model


def partial_dir(out_dir: Path) -> Path:
    """Where an unfinished run keeps its checkpoints between invocations (to resume)."""
    return out_dir.parent / f".{out_dir.name}.partial"


def _check_inputs(features_manifest: dict, targets_manifest: dict, fold: str, system: str, where: Path) -> None:
    if system not in NETWORKS:
        raise ValueError(f"system must be one of the networks {NETWORKS}, got {system!r}")
    if fold not in features_manifest["folds"]:
        raise ValueError(f"{where}: no fold {fold!r}; the data set has folds {sorted(features_manifest['folds'])}")
    if features_manifest["labels"] != targets_manifest["labels"]:
        raise ValueError(f"{where}: features and targets were made for different labels")


def train(
    model_cfg: ModelConfig,
    train_cfg: TrainConfig,
    features_dir: Path,
    targets_dir: Path,
    fold: str,
    system: str,
    out_dir: Path,
    on_epoch: Callable[[int, dict[str, float]], None] | None = None,
    keep_epochs: bool = False,
) -> dict:
    """Train ``system`` on ``fold`` and write ``best.pt``, ``last.pt``, ``history.json``
    (and, with ``keep_epochs``, every epoch's weights as ``epoch-K.pt``).

    The fold's standardisation statistics, labels and segment length are stored in the
    checkpoint's config, so inference cannot pair the weights with mismatched features.
    An interrupted run resumes from ``.<out>.partial/last.pt`` on the next invocation.
    """
    started = time.perf_counter()
    features_manifest = read_json(features_dir / "manifest.json")
    targets_manifest = read_json(targets_dir / "manifest.json")
    _check_inputs(features_manifest, targets_manifest, fold, system, features_dir)
    stats = read_json(features_dir / "stats.json")[fold]
    standardiser = Standardiser.from_dict(stats)
    segment_frames = int(targets_manifest["segment_frames"])
    split = features_manifest["folds"][fold]
    options = WindowOptions(segment_frames, train_cfg.distance_targets, train_cfg.augment)
    train_windows = WindowSampler(Recordings(features_dir, targets_dir, split["train"]), standardiser, options,
                                  train_cfg.windows_per_epoch, train_cfg.seed, train_cfg.sampling, max(segment_frames // 4, 1))
    validation_data = validation_set(Recordings(features_dir, targets_dir, split["validation"]), standardiser, options)
    labels = list(features_manifest["labels"])
    spec = ModelSpec(
        n_classes=len(labels), n_mels=int(features_manifest["n_mels"]), filters=model_cfg.filters,
        hidden=model_cfg.hidden, dropout=model_cfg.dropout, residual=model_cfg.residual, system=system,
        distances=model_cfg.distances,
    )
    settings = TrainSettings(
        epochs=train_cfg.epochs.of(features_manifest["kind"]), batch_size=train_cfg.batch_size,
        learning_rate=train_cfg.learning_rate, seed=train_cfg.seed, num_workers=train_cfg.num_workers,
        loss_weights=train_cfg.loss_weights.as_tuple(), lr_schedule=train_cfg.lr_schedule, warmup=train_cfg.warmup,
        distance_loss=train_cfg.distance_loss, cpu_precision=train_cfg.cpu_precision, checkpoint=train_cfg.checkpoint,
    )
    extra = {
        "dataset": features_manifest["dataset"], "kind": features_manifest["kind"], "fold": fold,
        "labels": labels, "segment_frames": segment_frames, "frame_seconds": features_manifest["frame_seconds"],
        "standardiser": stats, "windows_per_epoch": train_cfg.windows_per_epoch, "sampling": train_cfg.sampling,
        "distance_targets": train_cfg.distance_targets, "augment": asdict(train_cfg.augment),
    }
    work = partial_dir(out_dir)
    history = train_model(spec, settings, train_windows, validation_data, work, extra_config=extra, on_epoch=on_epoch,
                          name=f"fold {fold} of {system} ({features_manifest['dataset']})", keep_epochs=keep_epochs)
    with atomic_dir(out_dir) as tmp:
        kept = [f"epoch-{k}.pt" for k in range(1, len(history["train_loss"]) + 1)] if keep_epochs else []
        for name in ("best.pt", "last.pt", *kept):
            shutil.copy2(work / name, tmp / name)
        write_json(tmp / "history.json", history)
        write_json(tmp / "config.json", {"model": asdict(spec), "train": asdict(settings), **extra})
    shutil.rmtree(work, ignore_errors=True)
    best_epoch = chosen_epoch(history, settings.checkpoint)
    train_seconds = sum(history["train_seconds"])
    return {
        "dataset": features_manifest["dataset"], "fold": fold, "system": system, "device": pick_device().type,
        "parameters": count_parameters(CRNN(spec)), "train_segments": len(train_windows.epoch(0)),
        "validation_segments": len(validation_data), "epochs": len(history["train_loss"]),
        "best_epoch": best_epoch + 1, "best_validation_loss": round(history["validation_loss"][best_epoch], 5),
        "best_validation_frame_f1": round(history["validation_frame_f1"][best_epoch], 4),
        "final_train_loss": round(history["train_loss"][-1], 5),
        "segments_per_second": round(len(train_windows.epoch(0)) * len(history["train_seconds"]) / max(train_seconds, 1e-9), 2),
        "seconds": round(time.perf_counter() - started, 2),
    }
