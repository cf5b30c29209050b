from pathlib import Path

import numpy as np
import pytest

from mtsed.features import Standardiser
from mtsed.segments import SegmentDataset, window_starts


def test_window_starts_cover_the_end_and_short_recordings():
    assert window_starts(10, 4, 3) == [0, 3, 6]
    assert window_starts(11, 4, 3) == [0, 3, 6, 7]
    assert window_starts(3, 4, 2) == [0]
    assert window_starts(4, 4, 1) == [0]


def _write(folder: Path, rid: str, frames: int, width: int, value: float) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / f"{rid}.npy", np.full((frames, width), value, np.float32) + np.arange(frames)[:, None])


def test_windows_are_standardised_padded_and_masked(tmp_path: Path):
    _write(tmp_path / "f", "long", 10, 40, 0.0)
    _write(tmp_path / "t", "long", 10, 6, 0.0)
    _write(tmp_path / "f", "short", 3, 40, 1.0)
    _write(tmp_path / "t", "short", 3, 6, 1.0)
    std = Standardiser(np.full(40, 1.0, np.float32), np.full(40, 2.0, np.float32))
    data = SegmentDataset(tmp_path / "f", tmp_path / "t", ["long", "short"], std, segment_frames=4, hop=3)
    assert len(data) == 4  # starts 0, 3, 6 of "long" and the padded "short"
    x, y, mask = data[1]
    assert x.shape == (4, 40) and y.shape == (4, 6)
    np.testing.assert_allclose(x[:, 0].numpy(), (np.arange(3, 7) - 1.0) / 2.0)
    x, y, mask = data[3]
    np.testing.assert_array_equal(mask.numpy(), [1, 1, 1, 0])
    assert x[3].abs().sum() == 0 and y[3].abs().sum() == 0
    np.testing.assert_array_equal(y[:3, 0].numpy(), [1, 2, 3])


def test_mismatched_lengths_are_named(tmp_path: Path):
    _write(tmp_path / "f", "r", 10, 40, 0.0)
    _write(tmp_path / "t", "r", 9, 6, 0.0)
    std = Standardiser(np.zeros(40, np.float32), np.ones(40, np.float32))
    with pytest.raises(ValueError, match="r: 10 feature frames but 9 target frames"):
        SegmentDataset(tmp_path / "f", tmp_path / "t", ["r"], std, 4, 2)
