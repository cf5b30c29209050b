"""The features stage: log-mel features of every recording of a set, and per-fold statistics."""

from __future__ import annotations

import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

from mtsed.config import FeatureConfig
from mtsed.config.layout import MANIFEST_FILE, STATS_FILE
from mtsed.data.datasets import load_dataset
from mtsed.features.logmel import Standardiser, log_mel
from mtsed.io.audio import load_audio
from mtsed.io.fileio import atomic_dir, write_json, write_npy
from mtsed.io.progress import progress


def _extract(path: Path, cfg: FeatureConfig) -> np.ndarray:
    return log_mel(load_audio(path, cfg.sample_rate), cfg)


def features(cfg: FeatureConfig, dataset_dir: Path, out_dir: Path) -> dict:
    """Log-mel features of every recording (``<id>.npy``, memory-mappable), a manifest, and
    per-fold standardisation statistics fitted on each fold's training recordings only."""
    started = time.perf_counter()
    dataset = load_dataset(dataset_dir)
    frames: dict[str, int] = {}
    with atomic_dir(out_dir) as tmp, ProcessPoolExecutor(max_workers=cfg.workers) as pool:
        jobs = {pool.submit(_extract, dataset.audio_path(r), cfg): r for r in dataset.recordings}
        for job in progress(as_completed(jobs), total=len(jobs), desc=f"features {dataset.name}", unit="rec"):
            recording = jobs[job]
            array = job.result()
            write_npy(tmp / f"{recording.id}.npy", array)
            frames[recording.id] = int(array.shape[0])
        folds = dataset.folds()
        stats = {
            fold.name: Standardiser.fit(np.load(tmp / f"{rid}.npy", mmap_mode="r") for rid in fold.train).to_dict()
            for fold in folds
        }
        write_json(tmp / STATS_FILE, stats)
        write_json(
            tmp / MANIFEST_FILE,
            {
                "dataset": dataset.name,
                "kind": dataset.kind,
                "labels": list(dataset.labels),
                "frame_seconds": cfg.frame_seconds,
                "n_mels": cfg.n_mels,
                "recordings": [
                    {"id": r.id, "split": r.split, "session": r.session, "frames": frames[r.id], "file": f"{r.id}.npy"}
                    for r in dataset.recordings
                ],
                "folds": {f.name: {"train": list(f.train), "validation": list(f.validation)} for f in folds},
            },
        )
    seconds = time.perf_counter() - started
    total_frames = sum(frames.values())
    return {
        "recordings": len(frames),
        "frames": total_frames,
        "seconds": round(seconds, 2),
        "realtime_factor": round(total_frames * cfg.frame_seconds / max(seconds, 1e-9), 1),
    }
