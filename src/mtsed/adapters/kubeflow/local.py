"""Run the whole DAG on this machine with ``kfp.local`` (no Docker, no cluster)."""

import json
from pathlib import Path

from mtsed.adapters.kubeflow.pipeline import SETS, Resources, build_pipeline
from mtsed.config.layout import TABLE_JSON_FILE


def run_local(params_yaml: str, pipeline_root: Path, tracking_uri: str = "") -> dict[str, Path]:
    """Execute every task as a subprocess in this Python environment; returns each set's
    evaluation report folder (``table.json``, ``table.md``, figures) under ``pipeline_root``."""
    from kfp import local

    pipeline_root = Path(pipeline_root).resolve()
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(pipeline_root), raise_on_error=True)
    build_pipeline(params_yaml, Resources(accelerator_type=""))(params_yaml=params_yaml, tracking_uri=tracking_uri)
    return find_reports(pipeline_root)


def find_reports(pipeline_root: Path) -> dict[str, Path]:
    """The newest evaluation report folder of each set under a local pipeline root."""
    pipeline_root = Path(pipeline_root)
    reports = {}
    for set_name in SETS:
        found = sorted(pipeline_root.glob(f"**/report/{set_name}/{TABLE_JSON_FILE}"), key=lambda p: p.stat().st_mtime)
        if not found:
            raise RuntimeError(f"{pipeline_root}: the run produced no evaluation report for {set_name}")
        reports[set_name] = found[-1].parent
    return reports


def summary(reports: dict[str, Path]) -> dict:
    """Scores per set and system, as the evaluate stage reports them."""
    from mtsed.stages.evaluation import report_metrics

    return {
        set_name: report_metrics(json.loads((folder / TABLE_JSON_FILE).read_text()))
        for set_name, folder in reports.items()
    }
