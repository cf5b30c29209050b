"""Data stages: curate clips, mix the default sets, extract features, encode targets."""

from __future__ import annotations

import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

from mtsed.config import ClipsConfig, DataConfig, FeatureConfig, PrepareConfig, TargetConfig
from mtsed.config.layout import SETS
from mtsed.data.datasets import Dataset, load_dataset, load_itc_irst, load_tut_sed_synthetic
from mtsed.data.default.clips import (
    BACKGROUND,
    curate_debian,
    curate_folder,
    download_bytes,
    read_clip_manifest,
    selected_entries,
    write_clip_manifest,
)
from mtsed.data.default.mixing import ClipBank
from mtsed.data.default.synthetic import build_isolated_set, build_overlapping_set, describe
from mtsed.data.targets import encode
from mtsed.features.logmel import Standardiser, log_mel
from mtsed.io.audio import load_audio
from mtsed.io.fileio import atomic_dir, read_json, write_json, write_npy
from mtsed.io.progress import progress


def clips(cfg: ClipsConfig, labels: set[str], out_dir: Path, cache_dir: Path) -> dict:
    """Curate real foreground clips of ``labels`` plus backgrounds into ``out_dir`` (nothing
    when no set is generated: ``labels`` is empty)."""
    started = time.perf_counter()
    with atomic_dir(out_dir) as tmp:
        if not labels:
            curated = []
        elif cfg.source == "debian":
            curated = curate_debian(cfg, tmp, cache_dir, roles=labels | {BACKGROUND})
        else:
            curated = curate_folder(cfg, Path(cfg.folder), tmp)
        write_clip_manifest(tmp, curated)
    per_role: dict[str, int] = {}
    for clip in curated:
        per_role[clip.role] = per_role.get(clip.role, 0) + 1
    return {
        "clips": len(curated),
        "download_mb": round(download_bytes(selected_entries(labels | {BACKGROUND}, cfg.extra_packages)) / 1e6, 1)
        if labels and cfg.source == "debian"
        else 0.0,
        "clip_minutes": round(sum(c.seconds for c in curated) / 60, 2),
        "clips_per_role": dict(sorted(per_role.items())),
        "seconds": round(time.perf_counter() - started, 2),
    }


def real_dataset(data: DataConfig, kind: str) -> Dataset:
    """The real set a user points ``data.<kind>`` at, read by its loader."""
    source = data.of(kind)
    if kind == "isolated":
        from mtsed.config import ITC_IRST_LABELS

        return load_itc_irst(source.root, source.labels or ITC_IRST_LABELS, source.test_sessions)
    return load_tut_sed_synthetic(source.root)


def prepare(data: DataConfig, cfg: PrepareConfig, clips_dir: Path, out_dir: Path) -> dict:
    """Both data sets into ``out_dir/isolated`` and ``out_dir/overlapping``: mixed from clips
    (``generated``), or the manifest of a real set on disk, its files referenced in place."""
    started = time.perf_counter()
    generated = [kind for kind in SETS if data.of(kind).generated]
    bank = ClipBank(clips_dir, read_clip_manifest(clips_dir), cfg.sample_rate) if generated else None
    builders = {"isolated": build_isolated_set, "overlapping": build_overlapping_set}
    metrics = {}
    for name in SETS:
        with atomic_dir(out_dir / name) as tmp:
            if data.of(name).generated:
                dataset = builders[name](cfg, bank, tmp, name)
            else:
                dataset = real_dataset(data, name).relocated(tmp)
                dataset.save()
            summary = describe(dataset, cfg.sample_rate)
            write_json(tmp / "summary.json", summary)
        metrics[name] = summary
    metrics["seconds"] = round(time.perf_counter() - started, 2)
    return metrics


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
        write_json(tmp / "stats.json", stats)
        write_json(
            tmp / "manifest.json",
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


def targets(
    feature_cfg: FeatureConfig, cfg: TargetConfig, dataset_dir: Path, features_dir: Path, out_dir: Path
) -> dict:
    """Triplet targets ``(frames, 3 * classes)`` per recording, aligned with its features."""
    started = time.perf_counter()
    dataset = load_dataset(dataset_dir)
    feature_manifest = read_json(features_dir / "manifest.json")
    frames = {r["id"]: r["frames"] for r in feature_manifest["recordings"]}
    active = 0
    with atomic_dir(out_dir) as tmp:
        for recording in progress(dataset.recordings, desc=f"targets {dataset.name}", unit="rec"):
            if recording.id not in frames:
                raise KeyError(f"{features_dir / 'manifest.json'}: no features for recording {recording.id}")
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
            tmp / "manifest.json",
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
