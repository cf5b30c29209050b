"""`dvc repro` of the real dvc.yaml on tiny params: runs, skips when unchanged, pushes/pulls.

The tests read the shared tiny pipeline run (conftest's ``tracked_pipeline``) or a copy of it,
rather than each running the whole pipeline again."""

import shutil
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import copy_project, make_dvc_project, run_command

pytestmark = pytest.mark.slow


@pytest.fixture
def project(tracked_pipeline, tmp_path: Path) -> Path:
    return copy_project(tracked_pipeline[1], tmp_path)


def test_repro_then_nothing_to_do_then_push_and_pull(project: Path):
    for name in ("isolated", "overlapping"):
        assert (project / "data" / name / "manifest.json").is_file()
        assert (project / "features" / name / "stats.json").is_file()
        assert (project / "targets" / name / "manifest.json").is_file()
    assert (project / "dvc.lock").is_file()
    for name in ("isolated", "overlapping"):
        assert "| **overall** |" in (project / "reports" / name / "table.md").read_text()
        for system in ("proposed", "baseline", "multitask"):
            assert (project / "bundles" / name / system / "bundle.pt").is_file()

    second = run_command(["dvc", "repro"], project)  # a copy of the repro'd project: nothing to do
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

    from mtsed.adapters.kubeflow.local import find_reports, summary
    from mtsed.adapters.tracking import flatten

    printed = run_command(
        [sys.executable, "-m", "mtsed.cli", "pipeline", "local", "--root", str(tmp_path / "kfp-root")], project
    )
    assert "SUCCESS" in printed and "| **overall** |" in printed
    reports = find_reports(tmp_path / "kfp-root")
    kfp_metrics = summary(reports)
    for name in ("isolated", "overlapping"):
        dvc_metrics = json.loads((project / "metrics" / f"evaluate-{name}.json").read_text())
        assert flatten(kfp_metrics[name]) == pytest.approx(flatten(dvc_metrics), nan_ok=True)
        assert (reports[name] / "detection.png").is_file()


def _real_layouts(tmp_path: Path, clip_folder: Path) -> tuple[Path, Path]:
    """Tiny copies of the two real sets' published layouts, made from generated recordings."""
    from mtsed.config import params_from_dict
    from mtsed.data.datasets import load_dataset
    from mtsed.stages import clips, prepare
    from tests.conftest import tiny_params_dict

    params = params_from_dict(tiny_params_dict(clip_folder))
    made = tmp_path / "made"
    clips.clips(params.clips, {"beep", "chirp", "knock"}, made / "clips", tmp_path / "cache")
    raw = tiny_params_dict(clip_folder)
    raw["prepare"]["overlapping"]["mixtures"] = [3, 1, 1]
    prepare.prepare(params_from_dict(raw).data, params_from_dict(raw).prepare, made / "clips", made)
    tut, itc = tmp_path / "TUT-SED-synthetic-2016", tmp_path / "itc-irst"
    for k, recording in enumerate(load_dataset(made / "overlapping").recordings, start=1):
        (tut / "audio").mkdir(parents=True, exist_ok=True)
        (tut / "meta").mkdir(parents=True, exist_ok=True)
        shutil.copy(made / "overlapping" / recording.audio, tut / "audio" / f"TUT-SED-synthetic-2016-mix-{k}.wav")
        shutil.copy(made / "overlapping" / recording.events, tut / "meta" / f"TUT-SED-synthetic-2016-annot-{k}.txt")
    itc.mkdir()
    for recording in load_dataset(made / "isolated").recordings:
        shutil.copy(made / "isolated" / recording.audio, itc / f"{recording.id}.wav")
        shutil.copy(made / "isolated" / recording.events, itc / f"{recording.id}.txt")
    return tut, itc


def test_repro_on_the_real_sets_published_layouts(tmp_path: Path, clip_folder: Path):
    """`data.<set>.source` points the whole pipeline at a copy of TUT-SED-Synthetic-2016 and ITC-Irst."""
    tut, itc = _real_layouts(tmp_path, clip_folder)
    project = make_dvc_project(tmp_path, clip_folder)
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["data"] = {
        "isolated": {
            "source": "itc-irst",
            "root": str(itc),
            "test_sessions": ["session-04"],
            "labels": ["beep", "chirp"],
        },
        "overlapping": {"source": "tut-sed-synthetic-2016", "root": str(tut)},
    }
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    run_command(["dvc", "repro"], project)
    assert yaml.safe_load((project / "metrics" / "clips.json").read_text())["clips"] == 0  # nothing fetched or mixed
    isolated = (project / "reports" / "isolated" / "table.md").read_text()
    assert "itc-irst: 1 evaluation recordings" in isolated and "| beep |" in isolated and "| knock |" not in isolated
    overlapping = (project / "reports" / "overlapping" / "table.md").read_text()
    assert "tut-sed-synthetic-2016: 1 evaluation recordings" in overlapping and "| **overall** |" in overlapping
    manifest = yaml.safe_load((project / "data" / "overlapping" / "manifest.json").read_text())
    assert [r["split"] for r in manifest["recordings"]] == ["train", "train", "train", "validation", "evaluation"]
    assert manifest["recordings"][0]["audio"] == str(tut / "audio" / "TUT-SED-synthetic-2016-mix-1.wav")
