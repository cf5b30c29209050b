"""The targets stage: each recording's triplet targets, aligned with its features."""

from __future__ import annotations

import time
from pathlib import Path

from mtsed.config import FeatureConfig, TargetConfig
from mtsed.config.layout import MANIFEST_FILE
from mtsed.data.datasets import load_dataset
from mtsed.data.targets import encode
from mtsed.io.fileio import atomic_dir, read_json, write_json, write_npy
from mtsed.io.progress import progress


def targets(
    feature_cfg: FeatureConfig, cfg: TargetConfig, dataset_dir: Path, features_dir: Path, out_dir: Path
) -> dict:
    """Triplet targets ``(frames, 3 * classes)`` per recording, aligned with its features."""
    started = time.perf_counter()
    dataset = load_dataset(dataset_dir)
    feature_manifest = read_json(features_dir / MANIFEST_FILE)
    frames = {r["id"]: r["frames"] for r in feature_manifest["recordings"]}
    active = 0
    with atomic_dir(out_dir) as tmp:
        for recording in progress(dataset.recordings, desc=f"targets {dataset.name}", unit="rec"):
            if recording.id not in frames:
                raise KeyError(f"{features_dir / MANIFEST_FILE}: no features for recording {recording.id}")
            triplets = encode(
                dataset.events(recording),
                frames[recording.id],
                dataset.labels,
                feature_cfg.frame_seconds,
                cfg.segment_frames,
            )
            active += int(triplets.y.sum())
            write_npy(tmp / f"{recording.id}.npy", triplets.stacked())
        write_json(
            tmp / MANIFEST_FILE,
            {
                "dataset": dataset.name,
                "labels": list(dataset.labels),
                "segment_frames": cfg.segment_frames,
                "frame_seconds": feature_cfg.frame_seconds,
                "layout": "columns: y for each class, then p for each class, then q for each class",
                "recordings": [{"id": r.id, "frames": frames[r.id], "file": f"{r.id}.npy"} for r in dataset.recordings],
            },
        )
    total = sum(frames.values()) * len(dataset.labels)
    return {
        "recordings": len(dataset.recordings),
        "active_fraction": round(active / max(total, 1), 4),
        "seconds": round(time.perf_counter() - started, 2),
    }
