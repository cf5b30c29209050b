"""The prepare stage: both data sets, mixed from the clips or read from a real set on disk."""

from __future__ import annotations

import time
from pathlib import Path

from mtsed.config import DataConfig, PrepareConfig
from mtsed.config.layout import SETS, SUMMARY_FILE
from mtsed.data.datasets import Dataset, load_itc_irst, load_tut_sed_synthetic
from mtsed.data.default.clips import read_clip_manifest
from mtsed.data.default.mixing import ClipBank
from mtsed.data.default.synthetic import build_isolated_set, build_overlapping_set, describe
from mtsed.io.fileio import atomic_dir, write_json


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
            write_json(tmp / SUMMARY_FILE, summary)
        metrics[name] = summary
    metrics["seconds"] = round(time.perf_counter() - started, 2)
    return metrics
