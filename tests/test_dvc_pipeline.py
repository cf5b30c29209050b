"""`dvc repro` of the real dvc.yaml on tiny params: runs, skips when unchanged, pushes/pulls."""

import shutil
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import make_dvc_project, run_command

pytestmark = pytest.mark.slow


@pytest.fixture
def project(tmp_path: Path, clip_folder: Path) -> Path:
    return make_dvc_project(tmp_path, clip_folder)


def test_repro_then_nothing_to_do_then_push_and_pull(project: Path):
    run_command(["dvc", "repro"], project)
    for name in ("isolated", "overlapping"):
        assert (project / "data" / name / "manifest.json").is_file()
        assert (project / "features" / name / "stats.json").is_file()
        assert (project / "targets" / name / "manifest.json").is_file()
    assert (project / "dvc.lock").is_file()
    for name in ("isolated", "overlapping"):
        assert "| **overall** |" in (project / "reports" / name / "table.md").read_text()
        assert (project / "bundles" / name / "proposed" / "bundle.pt").is_file()

    second = run_command(["dvc", "repro"], project)
    assert "Running stage" not in second
    status = run_command(["dvc", "status"], project)
    assert "up to date" in status

    params = yaml.safe_load((project / "params.yaml").read_text())
    params["targets"]["segment_frames"] = 32
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    third = run_command(["dvc", "repro"], project)
    assert "Running stage 'targets@isolated'" in third and "Running stage 'prepare'" not in third
    assert "Running stage 'features@isolated'" not in third

    run_command(["dvc", "push"], project)
    shutil.rmtree(project / "data")
    shutil.rmtree(project / ".dvc" / "cache")
    run_command(["dvc", "pull"], project)
    assert (project / "data" / "overlapping" / "manifest.json").is_file()
    assert list((project / "data" / "overlapping" / "audio").glob("*.wav"))


def test_kubeflow_local_run_matches_dvc_repro(project: Path, tmp_path: Path):
    """The same stages as a Kubeflow DAG (kfp.local, subprocesses) give the same evaluation."""
    import json

    from mtsed.kubeflow.local import find_reports, summary
    from mtsed.tracking import flatten

    run_command(["dvc", "repro"], project)
    printed = run_command([sys.executable, "-m", "mtsed.cli", "pipeline", "local", "--root", str(tmp_path / "kfp-root")], project)
    assert "SUCCESS" in printed and "| **overall** |" in printed
    reports = find_reports(tmp_path / "kfp-root")
    kfp_metrics = summary(reports)
    for name in ("isolated", "overlapping"):
        dvc_metrics = json.loads((project / "metrics" / f"evaluate-{name}.json").read_text())
        assert flatten(kfp_metrics[name]) == pytest.approx(flatten(dvc_metrics), nan_ok=True)
        assert (reports[name] / "detection.png").is_file()
