"""The train stage on tiny real-pipeline data: outputs, checkpoints, errors, a real kill."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from mtsed.config import load_params
from mtsed.model.training import load_checkpoint
from mtsed.stages import training
from mtsed.stages.training import partial_dir


def _train(workspace: Path, out: Path, fold: str = "0", network: str = "proposed", name: str = "isolated") -> dict:
    params = load_params(workspace / "params.yaml")
    return training.train(
        params.model, params.train, workspace / "features" / name, workspace / "targets" / name, fold, network, out
    )


@pytest.mark.parametrize("network, outputs", [("proposed", 9), ("baseline", 3)])
def test_train_stage_writes_a_self_describing_model(tiny_workspace: Path, tmp_path: Path, network: str, outputs: int):
    out = tmp_path / "models" / "fold-1"
    metrics = _train(tiny_workspace, out, fold="1", network=network)
    assert sorted(p.name for p in out.iterdir()) == ["best.pt", "config.json", "history.json", "last.pt"]
    assert not partial_dir(out).exists()
    best = load_checkpoint(out / "best.pt")
    config = json.loads(best["config"])
    assert config["fold"] == "1" and config["labels"] == ["beep", "chirp", "knock"]
    stats = json.loads((tiny_workspace / "features/isolated/stats.json").read_text())["1"]
    assert config["standardiser"] == stats  # the fold's own statistics travel with the weights
    assert best["model"]["output.weight"].shape[0] == outputs
    history = json.loads((out / "history.json").read_text())
    assert metrics["epochs"] == len(history["train_loss"]) == 2
    chosen = metrics["best_epoch"] - 1  # params.yaml's train.checkpoint: frame-f1
    assert history["validation_frame_f1"][chosen] == max(history["validation_frame_f1"])
    assert metrics["best_validation_loss"] == pytest.approx(history["validation_loss"][chosen], abs=1e-5)
    assert metrics["segments_per_second"] > 0 and metrics["train_segments"] > 0


def test_overlapping_set_uses_its_own_epochs(tiny_workspace: Path, tmp_path: Path):
    metrics = _train(tiny_workspace, tmp_path / "m", name="overlapping")
    assert metrics["epochs"] == load_params(tiny_workspace / "params.yaml").train.epochs.overlapping


def test_unknown_fold_and_network_are_named(tiny_workspace: Path, tmp_path: Path):
    with pytest.raises(ValueError, match=r"no fold '7'.*\['0', '1', '2'\]"):
        _train(tiny_workspace, tmp_path / "m", fold="7")
    with pytest.raises(ValueError, match="network must be one of"):
        _train(tiny_workspace, tmp_path / "m", network="fancy")


def _cli_train(workspace: Path, params: Path, out: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "mtsed.cli",
        "--params",
        str(params),
        "train",
        "--features",
        str(workspace / "features/isolated"),
        "--targets",
        str(workspace / "targets/isolated"),
        "--fold",
        "0",
        "--network",
        "proposed",
        "--out",
        str(out),
    ]


def test_a_killed_training_process_resumes_to_the_same_weights(tiny_workspace: Path, tmp_path: Path):
    params = tmp_path / "params.yaml"
    params.write_text((tiny_workspace / "params.yaml").read_text().replace("isolated: 2", "isolated: 12"))
    assert load_params(params).train.epochs.isolated == 12
    env = {**os.environ, "MTSED_TRACKING": "off"}
    subprocess.run(_cli_train(tiny_workspace, params, tmp_path / "full"), check=True, env=env, capture_output=True)

    killed = tmp_path / "killed"
    process = subprocess.Popen(
        _cli_train(tiny_workspace, params, killed), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    last = partial_dir(killed) / "last.pt"
    deadline = time.monotonic() + 120
    while not (last.exists() and load_checkpoint(last)["epoch"] >= 3) and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    epoch_at_kill = load_checkpoint(last)["epoch"]
    assert 3 <= epoch_at_kill < 12 and not killed.exists()  # really killed part-way

    subprocess.run(_cli_train(tiny_workspace, params, killed), check=True, env=env, capture_output=True)
    a, b = load_checkpoint(tmp_path / "full/last.pt"), load_checkpoint(killed / "last.pt")
    assert a["history"]["train_loss"] == b["history"]["train_loss"]
    for key in a["model"]:
        torch.testing.assert_close(a["model"][key], b["model"][key], rtol=0, atol=0)
