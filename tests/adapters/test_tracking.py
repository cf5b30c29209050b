"""MLflow tracking: one parent run per pipeline execution, one child per stage and fold."""

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from mtsed.adapters import tracking
from mtsed.config import load_params
from tests.conftest import REPO


def test_flatten_and_numeric_metrics():
    tree = {"a": {"b": 1, "c": {"d": 2.5}}, "e": "text", "f": True}
    assert tracking.flatten(tree) == {"a.b": 1, "a.c.d": 2.5, "e": "text", "f": True}
    assert tracking.numeric_metrics(tree) == {"a.b": 1.0, "a.c.d": 2.5}


def test_hashes_change_with_their_content(tiny_workspace: Path, tmp_path: Path):
    params = load_params(tiny_workspace / "params.yaml")
    changed = replace(params, model=replace(params.model, hidden=9))
    assert tracking.params_hash(params) == tracking.params_hash(load_params(tiny_workspace / "params.yaml"))
    assert tracking.params_hash(params) != tracking.params_hash(changed)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x.txt").write_text("one")
    first = tracking.data_hash([tmp_path / "d"])
    (tmp_path / "d" / "x.txt").write_text("two")
    assert tracking.data_hash([tmp_path / "d"]) != first


def test_uri_precedence(monkeypatch, tmp_path: Path, tiny_workspace: Path):
    cfg = load_params(tiny_workspace / "params.yaml").tracking
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert tracking.tracking_uri(cfg, tmp_path) == f"sqlite:///{tmp_path.resolve()}/mlflow.db"
    assert tracking.tracking_uri(replace(cfg, uri="http://host:5000"), tmp_path) == "http://host:5000"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:////x/y.db")
    assert tracking.tracking_uri(replace(cfg, uri="http://host:5000"), tmp_path) == "sqlite:////x/y.db"


def _mtsed(*args: str) -> list[str]:
    return [sys.executable, "-m", "mtsed.cli", *args]


def _train_cmd(ws: Path, fold: str, out: Path) -> str:
    return " ".join(
        _mtsed(
            "--params",
            str(ws / "params.yaml"),
            "--metrics",
            str(out) + ".json",
            "train",
            "--features",
            str(ws / "features/isolated"),
            "--targets",
            str(ws / "targets/isolated"),
            "--fold",
            fold,
            "--network",
            "proposed",
            "--out",
            str(out),
        )
    )


def test_a_pipeline_execution_is_one_parent_with_a_child_per_fold(tiny_workspace: Path, tmp_path: Path):
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = {**os.environ, "MTSED_TRACKING": "on", "MLFLOW_TRACKING_URI": uri}
    script = " && ".join(_train_cmd(tiny_workspace, f, tmp_path / f"fold-{f}") for f in ("0", "1"))
    done = subprocess.run(
        _mtsed(
            "--params", str(tiny_workspace / "params.yaml"), "tracked", "--name", "test-run", "--", "sh", "-c", script
        ),
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("mtsed")
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if r.data.tags.get("mtsed.stage") == "pipeline"]
    assert len(parents) == 1 and parents[0].info.status == "FINISHED" and parents[0].info.run_name == "test-run"
    parent = parents[0]
    assert parent.data.tags["mtsed.set"] == "isolated,overlapping" and parent.data.params["model.hidden"] == "8"
    for fold in ("0", "1"):  # each stage adds its summary to the parent, under names shared by every execution
        assert parent.data.metrics[f"isolated.proposed.fold-{fold}.segments_per_second"] > 0
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parents[0].info.run_id]
    assert sorted(r.data.tags["mtsed.fold"] for r in children) == ["0", "1"]
    for child in children:
        tags = child.data.tags
        assert (
            tags["mtsed.stage"] == "train" and tags["mtsed.network"] == "proposed" and tags["mtsed.set"] == "isolated"
        )
        assert tags["mtsed.params_hash"] == parents[0].data.tags["mtsed.params_hash"]
        assert len(tags["mtsed.data_hash"]) == 16 and tags["mlflow.source.git.commit"]
        assert child.data.params["model.hidden"] == "8" and child.data.params["train.windows_per_epoch"] == "16"
        curve = client.get_metric_history(child.info.run_id, "validation_loss")
        assert [m.step for m in curve] == [1, 2]
        assert child.data.metrics["epochs"] == 2.0 and child.data.metrics["best_validation_loss"] > 0
        artefacts = {a.path for a in client.list_artifacts(child.info.run_id)}
        assert {"best.pt", "config.json", "history.json"} <= artefacts


def test_an_unreachable_tracking_server_does_not_lose_the_model(tiny_workspace: Path, tmp_path: Path):
    env = {
        **os.environ,
        "MTSED_TRACKING": "on",
        "MLFLOW_TRACKING_URI": "http://127.0.0.1:9",
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        "MLFLOW_HTTP_REQUEST_TIMEOUT": "2",
    }
    out = tmp_path / "fold-0"
    done = subprocess.run(["sh", "-c", _train_cmd(tiny_workspace, "0", out)], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "MLflow tracking disabled" in done.stderr
    assert (out / "best.pt").is_file() and (out / "last.pt").is_file()


@pytest.mark.parametrize("argv", [["tracked"], ["tracked", "--"]])
def test_tracked_needs_a_command(argv, tiny_workspace: Path, capsys):
    from mtsed.cli.main import main

    assert main(["--params", str(tiny_workspace / "params.yaml"), *argv]) == 2
    assert "give the command" in capsys.readouterr().err


def test_a_server_created_experiment_is_not_half_logged_without_the_server(tmp_path: Path, monkeypatch, capsys):
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    MlflowClient(uri).create_experiment("mtsed", artifact_location="mlflow-artifacts:/")
    monkeypatch.setenv("MTSED_TRACKING", "on")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    run = tracking.Run(load_params(REPO / "params.yaml").tracking, "x", {})
    assert not run.active and "make ui" in capsys.readouterr().err


def test_the_exit_handler_fails_its_parent_and_the_runs_killed_stages_left_open(tmp_path: Path, monkeypatch):
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MTSED_TRACKING", "on")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    params = load_params(REPO / "params.yaml")
    parent = tracking.pipeline_run(params, "kfp", execution="job-1")
    other = tracking.pipeline_run(params, "kfp", execution="job-2")
    killed = tracking.Run(params.tracking, "train-0", {}, parent_id=parent.run_id)  # its pod died: still RUNNING
    done = tracking.Run(params.tracking, "train-1", {}, parent_id=parent.run_id)
    done.end()
    assert sorted(tracking.close_execution(params.tracking, "job-1", succeeded=False)) == sorted(
        [parent.run_id, killed.run_id]
    )
    client = MlflowClient(uri)
    status = {
        run_id: client.get_run(run_id).info.status
        for run_id in (parent.run_id, killed.run_id, done.run_id, other.run_id)
    }
    assert status == {
        parent.run_id: "FAILED",
        killed.run_id: "FAILED",
        done.run_id: "FINISHED",
        other.run_id: "RUNNING",
    }
    assert client.get_run(parent.run_id).data.tags["mtsed.outcome"] == "failed"
    assert tracking.close_execution(params.tracking, "job-2", succeeded=True) == [other.run_id]
    assert client.get_run(other.run_id).info.status == "FINISHED"


def test_a_tracked_command_that_ran_no_stage_tags_its_parent(tmp_path: Path):
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = {**os.environ, "MTSED_TRACKING": "on", "MLFLOW_TRACKING_URI": uri}
    done = subprocess.run(
        _mtsed("--params", str(REPO / "params.yaml"), "tracked", "--name", "nothing", "--", "true"),
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 0 and "no stage ran" in done.stderr
    client = MlflowClient(uri)
    (parent,) = client.search_runs([client.get_experiment_by_name("mtsed").experiment_id])
    assert parent.info.status == "FINISHED" and parent.data.tags["mtsed.outcome"] == "no stage ran"
    assert "holds no results" in parent.data.tags["mlflow.note.content"]
