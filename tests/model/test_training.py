import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from mtsed.data.targets import encode
from mtsed.data.windows import Recordings, SegmentDataset, WindowOptions, WindowSampler, validation_set
from mtsed.features.logmel import Standardiser
from mtsed.io.events import Event
from mtsed.model.training import load_checkpoint, train_model
from tests.conftest import REPO, small_spec

T = 32


def _tiny_set(folder: Path, n: int = 4) -> tuple[WindowSampler, SegmentDataset]:
    """Recordings whose class-0 events are loud in the low bands: learnable in a few steps."""
    rng = np.random.default_rng(0)
    (folder / "f").mkdir(parents=True)
    (folder / "t").mkdir(parents=True)
    for i in range(n):
        x = rng.normal(0, 0.1, size=(64, 40)).astype(np.float32)
        start = 8 + 4 * i
        x[start : start + 12, :10] += 3.0
        targets = encode([Event(start * 0.02, (start + 12) * 0.02, "a")], 64, ("a", "b"), 0.02, T).stacked()
        np.save(folder / "f" / f"r{i}.npy", x)
        np.save(folder / "t" / f"r{i}.npy", targets)
    std = Standardiser(np.zeros(40, np.float32), np.ones(40, np.float32))
    ids = [f"r{i}" for i in range(n)]
    options = WindowOptions(T)
    train = WindowSampler(Recordings(folder / "f", folder / "t", ids[:-1]), std, options, count=12, seed=5)
    return train, validation_set(Recordings(folder / "f", folder / "t", ids[-1:]), std, options)


SPEC = small_spec(2, filters=8, hidden=8, dropout=0.1, distances="linear")


def _recipe(epochs: int, **changes) -> tuple:
    """``(train section, epochs)``: the default recipe (params.yaml) with ``changes``, for ``epochs`` epochs."""
    import dataclasses

    from mtsed.config import LossWeights, load_params

    if "loss_weights" in changes:
        changes["loss_weights"] = LossWeights(*changes["loss_weights"])
    return dataclasses.replace(load_params(REPO / "params.yaml").train, **changes), epochs


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_a_tiny_set_is_overfitted(tmp_path: Path, precision: str):
    train, val = _tiny_set(tmp_path)
    settings = _recipe(25, batch_size=4, learning_rate=3e-3, cpu_precision=precision)
    history = train_model(SPEC, *settings, train, val, tmp_path / "run")
    assert history["train_loss"][-1] < 0.5 * history["train_loss"][0]
    best = load_checkpoint(tmp_path / "run" / "best.pt")
    assert '"filters": 8' in best["config"] and f'"cpu_precision": "{precision}"' in best["config"]
    assert {v.dtype for v in best["model"].values() if v.is_floating_point()} == {torch.float32}  # fp32 master weights


def test_the_forward_precision_is_fp16_on_cuda_and_the_setting_on_the_cpu():
    from mtsed.model.training import autocast_dtype

    assert autocast_dtype(torch.device("cuda"), "fp32") == torch.float16
    assert autocast_dtype(torch.device("cpu"), "bf16") == torch.bfloat16
    assert autocast_dtype(torch.device("cpu"), "fp32") is None


@pytest.mark.parametrize("schedule", ["constant", "cosine"])
def test_resumed_run_ends_with_the_same_weights(tmp_path: Path, schedule: str):
    train, val = _tiny_set(tmp_path)
    settings = _recipe(4, batch_size=2, learning_rate=1e-3, seed=7, lr_schedule=schedule, loss_weights=(1.0, 5.0, 0.5))
    full = train_model(SPEC, *settings, train, val, tmp_path / "full")
    train_model(SPEC, *settings, train, val, tmp_path / "part", stop_after=2)  # "killed" after 2 epochs
    assert load_checkpoint(tmp_path / "part" / "last.pt")["epoch"] == 2
    resumed = train_model(SPEC, *settings, train, val, tmp_path / "part")
    for key in ("train_loss", "validation_loss"):
        assert resumed[key] == full[key]
    a, b = load_checkpoint(tmp_path / "full" / "last.pt"), load_checkpoint(tmp_path / "part" / "last.pt")
    for key in a["model"]:
        torch.testing.assert_close(a["model"][key], b["model"][key], rtol=0, atol=0)


def test_checkpoints_refuse_pickled_code(tmp_path: Path):
    class Evil:
        def __reduce__(self):
            return (os.getcwd, ())  # any callable: weights_only must refuse to call it

    torch.save({"model": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(pickle.UnpicklingError):
        load_checkpoint(tmp_path / "evil.pt")


def test_a_checkpoint_from_other_settings_is_not_resumed(tmp_path: Path):
    train, val = _tiny_set(tmp_path)
    train_model(SPEC, *_recipe(2, batch_size=2, seed=1), train, val, tmp_path / "run")
    with pytest.warns(UserWarning, match="other settings"):
        history = train_model(SPEC, *_recipe(3, batch_size=2, seed=2), train, val, tmp_path / "run")
    assert len(history["train_loss"]) == 3


def test_cosine_schedule_decays_the_learning_rate_to_zero(tmp_path: Path):
    train, val = _tiny_set(tmp_path)
    settings = _recipe(2, batch_size=4, learning_rate=1e-3, lr_schedule="cosine")
    train_model(SPEC, *settings, train, val, tmp_path / "run")
    state = load_checkpoint(tmp_path / "run" / "last.pt")
    assert state["scheduler"]["last_epoch"] == 2 * 3  # 12 windows in batches of 4, two epochs
    assert state["optimiser"]["param_groups"][0]["lr"] == pytest.approx(0.0, abs=1e-12)


def test_a_log_gets_one_line_per_epoch_and_no_bar_updates(tmp_path: Path, capsys):
    """stderr is not a terminal under pytest, as in `dvc repro` or a Kubeflow pod."""
    train, val = _tiny_set(tmp_path)
    history = train_model(SPEC, *_recipe(3, batch_size=2, seed=1), train, val, tmp_path / "run")
    err = capsys.readouterr().err
    assert "\r" not in err
    lines = [line for line in err.splitlines() if line.startswith("epoch ")]
    assert [line.split(":")[0] for line in lines] == ["epoch 1/3", "epoch 2/3", "epoch 3/3"]
    assert f"train loss {history['train_loss'][0]:.4f}" in lines[0] and "segments/s" in lines[0]


def test_an_interrupt_says_where_it_stopped_and_the_rerun_says_it_resumes(tmp_path: Path, capsys):
    from mtsed.model.training import TrainingInterrupted

    train, val = _tiny_set(tmp_path)
    settings = _recipe(4, batch_size=2, seed=3)

    def ctrl_c_after_two(epoch: int, _: dict) -> None:
        if epoch == 2:
            raise KeyboardInterrupt

    with pytest.raises(
        TrainingInterrupted,
        match=r"fold 0 of proposed: stopped during training; last saved epoch 2/4 in .*last.pt; "
        r"rerun to resume",
    ):
        train_model(SPEC, *settings, train, val, tmp_path / "run", on_epoch=ctrl_c_after_two, name="fold 0 of proposed")
    capsys.readouterr()
    history = train_model(SPEC, *settings, train, val, tmp_path / "run", name="fold 0 of proposed")
    assert "resuming fold 0 of proposed at epoch 3/4" in capsys.readouterr().err and len(history["train_loss"]) == 4


def test_warmup_rises_linearly_then_the_schedule_takes_over():
    from mtsed.model.training import learning_rate_factor

    assert [learning_rate_factor(s, 100, "constant", 0.1) for s in (0, 4, 9, 10, 99)] == pytest.approx(
        [0.1, 0.5, 1.0, 1.0, 1.0]
    )
    assert learning_rate_factor(50, 100, "cosine", 0.0) == pytest.approx(0.5)
    assert learning_rate_factor(0, 100, "cosine", 0.0) == pytest.approx(1.0)
    assert learning_rate_factor(5, 100, "cosine", 0.1) == pytest.approx(0.6)


def test_a_log_distance_network_trains_and_records_its_encoding(tmp_path: Path):
    train, val = _tiny_set(tmp_path)
    spec = small_spec(2, filters=8, hidden=8, dropout=0.1, distances="log")
    settings = _recipe(2, batch_size=4, learning_rate=3e-3, distance_loss="smooth-l1", warmup=0.2, lr_schedule="cosine")
    history = train_model(spec, *settings, train, val, tmp_path / "run")
    assert history["train_loss"][-1] < history["train_loss"][0] and all(np.isfinite(history["validation_loss"]))
    import json

    config = json.loads(load_checkpoint(tmp_path / "run" / "best.pt")["config"])
    assert config["model"]["distances"] == "log" and config["train"]["distance_loss"] == "smooth-l1"


def test_the_checkpoint_kept_is_the_epoch_its_criterion_prefers(tmp_path: Path):
    from mtsed.model.training import chosen_epoch

    train, val = _tiny_set(tmp_path)
    for criterion in ("loss", "frame-f1", "last"):
        settings = _recipe(5, batch_size=4, learning_rate=3e-3, checkpoint=criterion)
        history = train_model(SPEC, *settings, train, val, tmp_path / criterion)
        assert len(history["validation_frame_f1"]) == 5 and all(0 <= f <= 1 for f in history["validation_frame_f1"])
        kept = load_checkpoint(tmp_path / criterion / "best.pt")["epoch"]
        assert kept == chosen_epoch(history, criterion) + 1
    assert chosen_epoch({"validation_loss": [3.0, 1.0, 2.0], "validation_frame_f1": [0.2, 0.1, 0.3]}, "loss") == 1
    assert chosen_epoch({"validation_loss": [3.0, 1.0, 2.0], "validation_frame_f1": [0.2, 0.1, 0.3]}, "frame-f1") == 2
    assert chosen_epoch({"validation_loss": [3.0, 1.0, 2.0], "validation_frame_f1": [0.2, 0.1, 0.3]}, "last") == 2
