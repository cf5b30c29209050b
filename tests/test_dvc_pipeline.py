"""`dvc repro` of the real dvc.yaml on tiny params: runs, skips when unchanged, pushes/pulls."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, tiny_params_dict

pytestmark = pytest.mark.slow


def _run(args: list[str], cwd: Path) -> str:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "DVC_NO_ANALYTICS": "1"}
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


@pytest.fixture
def project(tmp_path: Path, clip_folder: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    shutil.copy(REPO / "dvc.yaml", root)
    shutil.copytree(REPO / "src", root / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    (root / "params.yaml").write_text(yaml.safe_dump(tiny_params_dict(clip_folder)))
    _run(["git", "init", "-q"], root)
    _run(["dvc", "init", "-q"], root)
    _run(["dvc", "config", "core.analytics", "false"], root)
    _run(["dvc", "remote", "add", "-d", "local", str(tmp_path / "remote")], root)
    return root


def test_repro_then_nothing_to_do_then_push_and_pull(project: Path):
    _run(["dvc", "repro"], project)
    for name in ("isolated", "overlapping"):
        assert (project / "data" / name / "manifest.json").is_file()
        assert (project / "features" / name / "stats.json").is_file()
        assert (project / "targets" / name / "manifest.json").is_file()
    assert (project / "dvc.lock").is_file()
    for name in ("isolated", "overlapping"):
        assert "| **overall** |" in (project / "reports" / name / "table.md").read_text()
        assert (project / "bundles" / name / "proposed" / "bundle.pt").is_file()

    second = _run(["dvc", "repro"], project)
    assert "Running stage" not in second
    status = _run(["dvc", "status"], project)
    assert "up to date" in status

    params = yaml.safe_load((project / "params.yaml").read_text())
    params["targets"]["segment_frames"] = 32
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    third = _run(["dvc", "repro"], project)
    assert "Running stage 'targets@isolated'" in third and "Running stage 'prepare'" not in third
    assert "Running stage 'features@isolated'" not in third

    _run(["dvc", "push"], project)
    shutil.rmtree(project / "data")
    shutil.rmtree(project / ".dvc" / "cache")
    _run(["dvc", "pull"], project)
    assert (project / "data" / "overlapping" / "manifest.json").is_file()
    assert list((project / "data" / "overlapping" / "audio").glob("*.wav"))


def test_kubeflow_local_run_matches_dvc_repro(project: Path, tmp_path: Path):
    """The same stages as a Kubeflow DAG (kfp.local, subprocesses) give the same evaluation."""
    import json

    from mtsed.kubeflow.local import find_reports, summary
    from mtsed.tracking import flatten

    _run(["dvc", "repro"], project)
    printed = _run([sys.executable, "-m", "mtsed.cli", "pipeline", "local", "--root", str(tmp_path / "kfp-root")], project)
    assert "SUCCESS" in printed and "| **overall** |" in printed
    reports = find_reports(tmp_path / "kfp-root")
    kfp_metrics = summary(reports)
    for name in ("isolated", "overlapping"):
        dvc_metrics = json.loads((project / "metrics" / f"evaluate-{name}.json").read_text())
        assert flatten(kfp_metrics[name]) == pytest.approx(flatten(dvc_metrics), nan_ok=True)
        assert (reports[name] / "detection.png").is_file()
