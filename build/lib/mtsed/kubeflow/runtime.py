"""What every component body calls: run one ``mtsed`` stage on artefact folders."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def run_stage(params_yaml: str, argv: Sequence[str], tracking_uri: str = "", parent_run_id: str = "",
              metrics_artifact: Any = None) -> dict:
    """Run ``mtsed <argv>`` with these parameters; log its numeric metrics to a KFP Metrics artefact."""
    from mtsed.cli import main
    from mtsed.tracking import PARENT_ENV, numeric_metrics

    if tracking_uri:
        os.environ["MLFLOW_TRACKING_URI"] = tracking_uri
    if parent_run_id:
        os.environ[PARENT_ENV] = parent_run_id
    with tempfile.TemporaryDirectory() as tmp:
        params, metrics = Path(tmp) / "params.yaml", Path(tmp) / "metrics.json"
        params.write_text(params_yaml)
        code = main(["--params", str(params), "--metrics", str(metrics), *argv])
        if code != 0:
            raise RuntimeError(f"mtsed {argv[0]} failed (exit code {code}); its error is printed above")
        values = json.loads(metrics.read_text())
    if metrics_artifact is not None:
        for key, value in numeric_metrics(values).items():
            metrics_artifact.log_metric(key, value)
    return values


def link_tree(root: Path, links: dict[str, str]) -> Path:
    """Make ``root/<relative>`` symlinks to artefact folders, so a stage sees the DVC layout."""
    for relative, target in links.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.symlink_to(Path(target).resolve(), target_is_directory=True)
    return root


def fold_links(model_paths: Sequence[str], prefix: str) -> dict[str, str]:
    """``<prefix>/fold-K`` -> the folder inside each collected training artefact."""
    links = {}
    for path in model_paths:
        for fold_dir in Path(path).glob("fold-*"):
            links[f"{prefix}/{fold_dir.name}"] = str(fold_dir)
    return links
