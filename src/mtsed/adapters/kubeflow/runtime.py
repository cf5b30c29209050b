"""What every component body calls: run one ``mtsed`` stage on artefact folders."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mtsed.config.layout import FOLD_GLOB


def run_stage(
    params_yaml: str,
    stage: str,
    options: Mapping[str, str],
    tracking_uri: str = "",
    parent_run_id: str = "",
    metrics_artifact: Any = None,
) -> dict:
    """Run one stage (:func:`mtsed.adapters.runner.run_stage`) with these parameters, parsed
    once here; log its numeric metrics to a KFP Metrics artefact."""
    import yaml

    from mtsed.adapters.runner import run_stage as run
    from mtsed.adapters.tracking import PARENT_ENV, numeric_metrics
    from mtsed.config import params_from_dict

    if tracking_uri:
        os.environ["MLFLOW_TRACKING_URI"] = tracking_uri
    if parent_run_id:
        os.environ[PARENT_ENV] = parent_run_id
    values = run(stage, params_from_dict(yaml.safe_load(params_yaml)), options)
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
        for fold_dir in Path(path).glob(FOLD_GLOB):
            links[f"{prefix}/{fold_dir.name}"] = str(fold_dir)
    return links
