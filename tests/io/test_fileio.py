"""Arrays between stages: read back whole, or named with the stage to rerun."""

from pathlib import Path

import numpy as np
import pytest

from mtsed.io.fileio import read_frames, write_npy


def test_frames_round_trip(tmp_path: Path):
    array = np.arange(12, dtype=np.float32).reshape(4, 3)
    write_npy(tmp_path / "a.npy", array)
    assert np.array_equal(read_frames(tmp_path / "a.npy", 3, "dvc repro features"), array)
    assert np.array_equal(read_frames(tmp_path / "a.npy", None, "dvc repro features", mmap=True), array)


@pytest.mark.parametrize(
    "damage, message",
    [
        ("bands", r"a.npy: shape \(4, 5\), expected \(frames, 3\); rerun `dvc repro features@isolated`"),
        ("1-d", r"a.npy: shape \(20,\), expected \(frames, 3\)"),
        ("truncated", r"a.npy: not a readable .npy array .*; rerun `dvc repro features@isolated`"),
        ("missing", r"a.npy: no such file; rerun `dvc repro features@isolated`"),
    ],
)
def test_a_damaged_or_wrong_shaped_array_names_the_file_and_the_stage(tmp_path: Path, damage: str, message: str):
    path = tmp_path / "a.npy"
    if damage == "bands":
        write_npy(path, np.zeros((4, 5), np.float32))
    elif damage == "1-d":
        write_npy(path, np.zeros(20, np.float32))
    elif damage == "truncated":
        write_npy(path, np.zeros((400, 3), np.float32))
        path.write_bytes(path.read_bytes()[:300])
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        read_frames(path, 3, "dvc repro features@isolated")
