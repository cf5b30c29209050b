"""Training stage: one network for one cross-validation fold."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from mtsed.config import ModelConfig, TrainConfig
from mtsed.config.layout import CHECKPOINT_FILE, HISTORY_FILE, MANIFEST_FILE, RESUME_FILE, RUN_CONFIG_FILE, STATS_FILE
from mtsed.config.systems import NETWORKS
from mtsed.data.windows import Recordings, SegmentDataset, WindowOptions, WindowSampler, validation_set
from mtsed.features.logmel import Standardiser
from mtsed.io.fileio import atomic_dir, read_json, write_json
from mtsed.model.device import pick_device
from mtsed.model.network import ModelSpec, count_parameters
from mtsed.model.training import chosen_epoch, load_checkpoint, tally_windows, train_model


def partial_dir(out_dir: Path) -> Path:
    """Where an unfinished run keeps its checkpoints between invocations (to resume)."""
    return out_dir.parent / f".{out_dir.name}.partial"


def _check_inputs(features_manifest: dict, targets_manifest: dict, fold: str, network: str, where: Path) -> None:
    if network not in NETWORKS:
        raise ValueError(f"network must be one of {', '.join(NETWORKS)}, got {network!r}")
    if fold not in features_manifest["folds"]:
        raise ValueError(f"{where}: no fold {fold!r}; the data set has folds {sorted(features_manifest['folds'])}")
    if features_manifest["labels"] != targets_manifest["labels"]:
        raise ValueError(f"{where}: features and targets were made for different labels")


def _windows(
    train_cfg: TrainConfig,
    features_dir: Path,
    targets_dir: Path,
    split: dict,
    standardiser: Standardiser,
    segment_frames: int,
) -> tuple[WindowSampler, SegmentDataset, SegmentDataset]:
    """Each epoch's training windows, the fixed validation windows of one fold, and its training
    recordings cut as validation is (consecutive segments, no augmentation: how the kept weights fit)."""
    options = WindowOptions(segment_frames, train_cfg.distance_targets, train_cfg.augment)
    train_windows = WindowSampler(
        Recordings(features_dir, targets_dir, split["train"]),
        standardiser,
        options,
        train_cfg.windows_per_epoch,
        train_cfg.seed,
        train_cfg.sampling,
        max(segment_frames // 4, 1),
    )
    return (
        train_windows,
        validation_set(Recordings(features_dir, targets_dir, split["validation"]), standardiser, options),
        validation_set(Recordings(features_dir, targets_dir, split["train"]), standardiser, options),
    )


def _fit(spec: ModelSpec, weights: dict, batch_size: int, data: dict[str, SegmentDataset]) -> dict[str, float]:
    """How the kept weights fit each named set of windows (``train``, ``validation``): frame F1
    and the distance head's median |error| by band."""
    figures: dict[str, float] = {}
    for name, windows in data.items():
        tally = tally_windows(spec, weights, windows, batch_size)
        figures[f"{name}_frame_f1"] = round(tally.frame_f1(), 4)
        figures.update({k: round(v, 2) for k, v in tally.median_abs_errors(name).items()})
    return figures


def _summary(history: dict, checkpoint: str, train_windows: WindowSampler, validation_data: SegmentDataset) -> dict:
    """The stage's metrics of one finished run."""
    best_epoch = chosen_epoch(history, checkpoint)
    segments = len(train_windows.epoch(0))
    return {
        "train_segments": segments,
        "validation_segments": len(validation_data),
        "epochs": len(history["train_loss"]),
        "best_epoch": best_epoch + 1,
        "best_validation_loss": round(history["validation_loss"][best_epoch], 5),
        "best_validation_frame_f1": round(history["validation_frame_f1"][best_epoch], 4),
        "final_train_loss": round(history["train_loss"][-1], 5),
        "segments_per_second": round(
            segments * len(history["train_seconds"]) / max(sum(history["train_seconds"]), 1e-9), 2
        ),
    }


def train(
    model_cfg: ModelConfig,
    train_cfg: TrainConfig,
    features_dir: Path,
    targets_dir: Path,
    fold: str,
    network: str,
    out_dir: Path,
    on_epoch: Callable[[int, dict[str, float]], None] | None = None,
    keep_epochs: bool = False,
) -> dict:
    """Train ``network`` on ``fold`` and write ``best.pt``, ``last.pt``, ``history.json``
    (and, with ``keep_epochs``, every epoch's weights as ``epoch-K.pt``).

    The fold's standardisation statistics, labels and segment length are stored in the
    checkpoint's config, so inference cannot pair the weights with mismatched features.
    An interrupted run resumes from ``.<out>.partial/last.pt`` on the next invocation.
    """
    started = time.perf_counter()
    features_manifest = read_json(features_dir / MANIFEST_FILE)
    targets_manifest = read_json(targets_dir / MANIFEST_FILE)
    _check_inputs(features_manifest, targets_manifest, fold, network, features_dir)
    stats = read_json(features_dir / STATS_FILE)[fold]
    segment_frames = int(targets_manifest["segment_frames"])
    standardiser = Standardiser.from_dict(stats)
    train_windows, validation_data, training_recordings = _windows(
        train_cfg, features_dir, targets_dir, features_manifest["folds"][fold], standardiser, segment_frames
    )
    labels = list(features_manifest["labels"])
    spec = ModelSpec.of(model_cfg, len(labels), int(features_manifest["n_mels"]), network)
    epochs = train_cfg.epochs.of(features_manifest["kind"])
    extra = {
        "dataset": features_manifest["dataset"],
        "kind": features_manifest["kind"],
        "fold": fold,
        "labels": labels,
        "segment_frames": segment_frames,
        "frame_seconds": features_manifest["frame_seconds"],
        "standardiser": stats,
    }
    work = partial_dir(out_dir)
    history = train_model(
        spec,
        train_cfg,
        epochs,
        train_windows,
        validation_data,
        work,
        extra_config=extra,
        on_epoch=on_epoch,
        name=f"fold {fold} of {network} ({features_manifest['dataset']})",
        keep_epochs=keep_epochs,
    )
    fit = _fit(
        spec,
        load_checkpoint(work / CHECKPOINT_FILE)["model"],
        train_cfg.batch_size,
        {"train": training_recordings, "validation": validation_data},
    )
    with atomic_dir(out_dir) as tmp:
        kept = [f"epoch-{k}.pt" for k in range(1, len(history["train_loss"]) + 1)] if keep_epochs else []
        for name in (CHECKPOINT_FILE, RESUME_FILE, *kept):
            shutil.copy2(work / name, tmp / name)
        write_json(tmp / HISTORY_FILE, history)
        write_json(
            tmp / RUN_CONFIG_FILE, {"model": asdict(spec), "train": asdict(train_cfg), "epochs": epochs, **extra}
        )
    shutil.rmtree(work, ignore_errors=True)
    return {
        "dataset": features_manifest["dataset"],
        "fold": fold,
        "network": network,
        "device": pick_device().type,
        "parameters": count_parameters(spec),
        **_summary(history, train_cfg.checkpoint, train_windows, validation_data),
        **fit,
        "seconds": round(time.perf_counter() - started, 2),
    }
