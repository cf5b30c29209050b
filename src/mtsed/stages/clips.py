"""The clips stage: the real sound clips the default sets are mixed from."""

from __future__ import annotations

import time
from pathlib import Path

from mtsed.config import ClipsConfig
from mtsed.data.default.clips import (
    BACKGROUND,
    curate_debian,
    curate_folder,
    download_bytes,
    selected_entries,
    write_clip_manifest,
)
from mtsed.io.fileio import atomic_dir


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
