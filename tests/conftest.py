"""Shared fixtures: tiny generated audio and a shrunken copy of the real params.yaml."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml

from mtsed.config import Params, load_params, params_from_dict

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
os.environ["MTSED_TRACKING"] = "off"  # tests that check tracking switch it on explicitly
os.environ.pop("MTSED_PARENT_RUN_ID", None)

TINY_LABELS = ("beep", "chirp", "knock")


def write_tone(path: Path, seconds: float, freq: float, sr: int = 44100, channels: int = 1, seed: int = 0) -> None:
    """A decaying tone with a little noise: a stand-in foreground clip for unit tests."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    signal = 0.5 * np.sin(2 * np.pi * freq * t) * np.exp(-2 * t) + 0.01 * rng.standard_normal(t.size)
    data = np.repeat(signal[:, None], channels, axis=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), data.astype(np.float32), sr)


def make_clip_folder(root: Path) -> Path:
    """Scaper-layout folder: 4 clips for each tiny label and 4 noise backgrounds."""
    for k, label in enumerate(TINY_LABELS):
        for i in range(4):
            write_tone(root / "foreground" / label / f"{label}{i}.wav", 0.4 + 0.2 * i, 400 * (k + 1) + 50 * i, seed=i)
    rng = np.random.default_rng(1)
    (root / "background").mkdir(parents=True, exist_ok=True)
    for i in range(4):
        noise = 0.05 * rng.standard_normal(22050 * 3).astype(np.float32)
        sf.write(str(root / "background" / f"bg{i}.wav"), noise, 22050)
    return root


def small_spec(n_classes: int, filters: int = 8, hidden: int = 6, **kwargs):
    """A small network's spec; what a test does not name is the default recipe's (params.yaml's model section)."""
    from mtsed.model.network import ModelSpec

    model = load_params(REPO / "params.yaml").model
    fields = {
        "n_mels": 40,
        "dropout": model.dropout,
        "residual": model.residual,
        "network": "proposed",
        "distances": model.distances,
        **kwargs,
    }
    return ModelSpec(n_classes=n_classes, filters=filters, hidden=hidden, **fields)


def tiny_params_dict(clip_folder: Path | None = None) -> dict:
    """The real params.yaml shrunk to seconds of audio and the tiny labels."""
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    if clip_folder is not None:
        raw["clips"].update(source="folder", folder=str(clip_folder))
    raw["prepare"]["isolated"].update(labels=list(TINY_LABELS), sessions=4, test_sessions=1, session_seconds=12.0)
    raw["prepare"]["overlapping"].update(labels=list(TINY_LABELS), mixtures=[2, 1, 1], mixture_seconds=12.0)
    raw["features"]["workers"] = 1
    raw["targets"]["segment_frames"] = 64
    raw["model"].update(filters=8, hidden=8)
    raw["train"].update(windows_per_epoch=16, batch_size=4, epochs={"isolated": 2, "overlapping": 2})
    raw["train"]["folds"]["isolated"] = [0, 1, 2]
    raw["thresholds"]["variants"] = ["confidence-mean", "bounded", "activity"]
    raw["thresholds"]["multitask"] = ["bounded", "capped-8", "activity"]
    return raw


@pytest.fixture
def clip_folder(tmp_path: Path) -> Path:
    return make_clip_folder(tmp_path / "myclips")


@pytest.fixture
def tiny_params(clip_folder: Path) -> Params:
    return params_from_dict(tiny_params_dict(clip_folder))


@pytest.fixture(scope="session")
def tiny_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project folder after the data stages on tiny params: ``params.yaml``, ``data/``,
    ``features/<set>`` and ``targets/<set>`` for both sets. Shared: tests must not modify it."""
    from mtsed.config.layout import SETS
    from mtsed.stages import clips, features, prepare, targets

    root = tmp_path_factory.mktemp("workspace")
    raw = tiny_params_dict(make_clip_folder(root / "myclips"))
    (root / "params.yaml").write_text(yaml.safe_dump(raw))
    params = params_from_dict(raw)
    clips.clips(params.clips, set(TINY_LABELS), root / "data" / "clips", root / "cache")
    prepare.prepare(params.data, params.prepare, root / "data" / "clips", root / "data")
    for name in SETS:
        features.features(params.features, root / "data" / name, root / "features" / name)
        targets.targets(
            params.features, params.targets, root / "data" / name, root / "features" / name, root / "targets" / name
        )
    return root


@pytest.fixture(scope="session")
def tiny_trained(tiny_workspace: Path) -> Path:
    """``tiny_workspace`` plus every fold model of both networks, their ensemble outputs and
    the bundles of every system, made by the stage functions (``models/``, ``outputs/``, ``bundles/``)."""
    from mtsed.config import load_params
    from mtsed.config.layout import SETS
    from mtsed.config.systems import NETWORKS
    from mtsed.stages import detector, training

    root = tiny_workspace
    params = load_params(root / "params.yaml")
    for name in SETS:
        for system in NETWORKS:
            models = root / "models" / name / system
            if (root / "bundles" / name / system / "bundle.pt").is_file():
                continue
            for fold in params.train.folds.of(name):
                training.train(
                    params.model,
                    params.train,
                    root / "features" / name,
                    root / "targets" / name,
                    str(fold),
                    system,
                    models / f"fold-{fold}",
                )
            outputs = root / "outputs" / name / system
            detector.ensemble(root / "features" / name, models, outputs)
            detector.thresholds(
                params.features,
                params.thresholds,
                root / "data" / name,
                outputs,
                models,
                root / "bundles" / name / system,
            )
        if not (root / "bundles" / name / "multitask" / "bundle.pt").is_file():
            detector.thresholds(
                params.features,
                params.thresholds,
                root / "data" / name,
                root / "outputs" / name / "proposed",
                root / "models" / name / "proposed",
                root / "bundles" / name / "multitask",
                "multitask",
            )
    return root


def run_command(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run a command with this interpreter's scripts on PATH; fail the test with its output."""
    env = {
        **os.environ,
        **(env or {}),
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "DVC_NO_ANALYTICS": "1",
    }
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done.stdout + done.stderr


def make_dvc_project(tmp_path: Path, clip_folder: Path) -> Path:
    """A git + DVC project with the real dvc.yaml and source, tiny params, a local remote."""
    root = tmp_path / "project"
    root.mkdir()
    shutil.copy(REPO / "dvc.yaml", root)
    shutil.copy(REPO / ".dvcignore", root)
    shutil.copytree(REPO / "src", root / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    (root / "params.yaml").write_text(yaml.safe_dump(tiny_params_dict(clip_folder)))
    run_command(["git", "init", "-q"], root)
    run_command(["dvc", "init", "-q"], root)
    run_command(["dvc", "config", "core.analytics", "false"], root)
    run_command(["dvc", "remote", "add", "-d", "local", str(tmp_path / "remote")], root)
    return root


GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}


@pytest.fixture(scope="session")
def tracked_pipeline(tmp_path_factory: pytest.TempPathFactory):
    """The one tiny pipeline run the slow end-to-end tests share: the real dvc.yaml in a git + DVC
    project, executed twice and logged over HTTP to a real MLflow server: the whole ``dvc repro``
    (``run-alpha``) and a forced re-run of one evaluation (``run-beta``). Yields (server URL,
    project). Tests read the project; one that changes it works on :func:`copy_project`."""
    from tests.services import mlflow_server

    tmp = tmp_path_factory.mktemp("pipeline")
    project = make_dvc_project(tmp, make_clip_folder(tmp / "clips"))
    run_command(["git", "add", "-A"], project)
    run_command(["git", "commit", "-q", "-m", "tiny project"], project, GIT_ENV)
    with mlflow_server(f"sqlite:///{tmp / 'mlflow.db'}", tmp / "artefacts", tmp / "server.log") as url:
        env = {"MLFLOW_TRACKING_URI": url, "MTSED_TRACKING": "on"}
        run_command(["mtsed", "tracked", "--name", "run-alpha", "--", "dvc", "repro"], project, env)
        run_command(
            [
                "mtsed",
                "tracked",
                "--name",
                "run-beta",
                "--",
                "dvc",
                "repro",
                "--force",
                "--single-item",
                "evaluate@isolated",
            ],
            project,
            env,
        )
        yield url, project


def copy_project(project: Path, tmp_path: Path) -> Path:
    """A copy of a reproduced project (outputs, DVC cache and lock) with its own DVC remote."""
    copy = tmp_path / "project"
    shutil.copytree(project, copy, symlinks=True)
    run_command(["dvc", "remote", "modify", "local", "url", str(tmp_path / "remote")], copy)
    return copy
