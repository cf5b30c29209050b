from pathlib import Path

import numpy as np
import pytest

from mtsed.config import AugmentConfig
from mtsed.data.augment import NONE
from mtsed.data.targets import encode
from mtsed.data.windows import (
    Recordings,
    SegmentDataset,
    WindowOptions,
    WindowSampler,
    draw_windows,
    grid_windows,
    validation_set,
    window_distances,
    window_starts,
)
from mtsed.features.logmel import Standardiser
from mtsed.io.events import Event


def test_window_starts_cover_the_end_and_short_recordings():
    assert window_starts(10, 4, 3) == [0, 3, 6]
    assert window_starts(11, 4, 3) == [0, 3, 6, 7]
    assert window_starts(3, 4, 2) == [0]
    assert window_starts(4, 4, 1) == [0]
    assert grid_windows([10, 3], 4, 3) == [(0, 0), (0, 3), (0, 6), (1, 0)]


def test_random_windows_reach_every_start_frame_uniformly():
    rng = np.random.default_rng(0)
    windows = draw_windows([20, 10, 2], 60_000, 8, rng)
    starts = {(r, s) for r, s in windows}
    assert starts == {(0, s) for s in range(13)} | {(1, s) for s in range(3)} | {(2, 0)}  # 13 + 3 + 1 starts
    per_recording = np.bincount([r for r, _ in windows]) / len(windows)
    np.testing.assert_allclose(per_recording, np.array([13, 3, 1]) / 17, atol=0.01)


def _write(folder: Path, rid: str, frames: int, width: int, value: float) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / f"{rid}.npy", np.full((frames, width), value, np.float32) + np.arange(frames)[:, None])


def test_windows_are_standardised_padded_and_masked(tmp_path: Path):
    _write(tmp_path / "f", "long", 10, 40, 0.0)
    _write(tmp_path / "t", "long", 10, 6, 0.0)
    _write(tmp_path / "f", "short", 3, 40, 1.0)
    _write(tmp_path / "t", "short", 3, 6, 1.0)
    std = Standardiser(np.full(40, 1.0, np.float32), np.full(40, 2.0, np.float32))
    recordings = Recordings(tmp_path / "f", tmp_path / "t", ["long", "short"])
    data = SegmentDataset(recordings, std, [(0, 3), (1, 0)], WindowOptions(4, "recording"))
    x, y, mask = data[0]
    assert x.shape == (4, 40) and y.shape == (4, 6)
    np.testing.assert_allclose(x[:, 0].numpy(), (np.arange(3, 7) - 1.0) / 2.0)
    x, y, mask = data[1]
    np.testing.assert_array_equal(mask.numpy(), [1, 1, 1, 0])
    assert x[3].abs().sum() == 0 and y[3].abs().sum() == 0
    np.testing.assert_array_equal(y[:3, 0].numpy(), [1, 2, 3])


def test_window_distances_see_boundaries_inside_the_window_only():
    T = 10
    y = np.zeros((T, 2), np.float32)
    y[:4, 0] = 1  # starts before the window: its onset counts at frame 0
    y[6:, 0] = 1  # ends after it: its last frame counts at frame 9
    y[2:5, 1] = 1
    p, q = window_distances(y, T)
    np.testing.assert_allclose(p[:, 0] * T, [0, 1, 2, 3, 0, 0, 0, 1, 2, 3])
    np.testing.assert_allclose(q[:, 0] * T, [3, 2, 1, 0, 0, 0, 3, 2, 1, 0])
    np.testing.assert_allclose(p[:, 1] * T, [0, 0, 0, 1, 2, 0, 0, 0, 0, 0])
    np.testing.assert_allclose(q[:, 1] * T, [0, 0, 2, 1, 0, 0, 0, 0, 0, 0])


def test_window_reading_clips_the_recording_targets_at_the_window(tmp_path: Path):
    T, frames = 16, 64
    targets = encode([Event(0.1, 1.0, "a"), Event(0.6, 0.7, "b")], frames, ("a", "b"), 0.02, T).stacked()
    (tmp_path / "f").mkdir()
    (tmp_path / "t").mkdir()
    np.save(tmp_path / "f" / "r.npy", np.zeros((frames, 40), np.float32))
    np.save(tmp_path / "t" / "r.npy", targets)
    std = Standardiser(np.zeros(40, np.float32), np.ones(40, np.float32))
    recordings = Recordings(tmp_path / "f", tmp_path / "t", ["r"])
    window = SegmentDataset(recordings, std, [(0, 20)], WindowOptions(T, "window"))[0][1].numpy()
    stored = SegmentDataset(recordings, std, [(0, 20)], WindowOptions(T, "recording"))[0][1].numpy()
    t = np.arange(20, 36)
    np.testing.assert_allclose(window[:, 2], np.minimum(stored[:, 2], (t - 20) / T) * (window[:, 0] > 0))
    np.testing.assert_allclose(window[:, 4], np.minimum(stored[:, 4], (35 - t) / T) * (window[:, 0] > 0))
    assert stored[:, 2].max() == 1.0 and window[:, 2].max() < 1.0  # recording-level distances reach beyond T


def test_remix_needs_window_distances():
    with pytest.raises(ValueError, match="distances: window"):
        WindowOptions(16, "recording", AugmentConfig(remix=0.5))


def _sampler(tmp_path: Path, aug: AugmentConfig = NONE, seed: int = 3) -> WindowSampler:
    rng = np.random.default_rng(0)
    for folder in ("f", "t"):
        (tmp_path / folder).mkdir(exist_ok=True)
    for i, frames in enumerate((50, 70)):
        np.save(tmp_path / "f" / f"r{i}.npy", rng.standard_normal((frames, 40)).astype(np.float32))
        np.save(
            tmp_path / "t" / f"r{i}.npy", encode([Event(0.1 * (i + 1), 0.5, "a")], frames, ("a",), 0.02, 16).stacked()
        )
    std = Standardiser(np.zeros(40, np.float32), np.ones(40, np.float32))
    return WindowSampler(
        Recordings(tmp_path / "f", tmp_path / "t", ["r0", "r1"]), std, WindowOptions(16, "window", aug), 12, seed
    )


def test_epochs_are_a_function_of_seed_and_epoch_alone(tmp_path: Path):
    aug = AugmentConfig(remix=0.7, time_masks=2, time_mask_frames=4, freq_masks=1, freq_mask_bands=5)
    sampler = _sampler(tmp_path, aug)
    first, again, other = sampler.epoch(2), sampler.epoch(2), sampler.epoch(3)
    assert first.windows == again.windows and first.windows != other.windows
    for i in range(len(first)):
        for a, b in zip(first[i], again[i]):
            np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_remixed_windows_hold_both_events_and_consistent_distances(tmp_path: Path):
    plain = _sampler(tmp_path).epoch(0)
    mixed = _sampler(tmp_path, AugmentConfig(remix=1.0)).epoch(0)
    for i in range(len(plain)):
        y_plain, y_mixed = plain[i][1].numpy(), mixed[i][1].numpy()
        assert (y_mixed[:, 0] >= y_plain[:, 0]).all()
        p, q = window_distances(y_mixed[:, :1], 16)
        np.testing.assert_allclose(y_mixed[:, 1:2], p)
        np.testing.assert_allclose(y_mixed[:, 2:3], q)
        assert not np.allclose(mixed[i][0].numpy(), plain[i][0].numpy())


def test_validation_windows_are_consecutive_and_plain(tmp_path: Path):
    sampler = _sampler(tmp_path, AugmentConfig(remix=1.0))
    data = validation_set(sampler.recordings, sampler.standardiser, sampler.options)
    assert data.windows == [(0, 0), (0, 16), (0, 32), (0, 34), (1, 0), (1, 16), (1, 32), (1, 48), (1, 54)]
    assert not data.options.augmentation.active


def test_mismatched_lengths_are_named(tmp_path: Path):
    _write(tmp_path / "f", "r", 10, 40, 0.0)
    _write(tmp_path / "t", "r", 9, 6, 0.0)
    with pytest.raises(
        ValueError, match=r"t/r\.npy: 9 target frames but 10 feature frames; rerun `dvc repro targets@t`"
    ):
        Recordings(tmp_path / "f", tmp_path / "t", ["r"])


def test_a_count_of_zero_gives_every_window_once_as_the_paper(tmp_path: Path):
    sampler = _sampler(tmp_path)
    sampler = WindowSampler(sampler.recordings, sampler.standardiser, sampler.options, 0, seed=1)
    epoch = sampler.epoch(0)
    assert sorted(epoch.windows) == grid_windows([50, 70], 16, 1) and len(epoch) == 35 + 55
    assert epoch.windows != sampler.epoch(1).windows
