from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mtsed.io.audio import AudioError, load_audio
from tests.conftest import write_tone


def test_stereo_22k_is_downmixed_and_resampled(tmp_path: Path):
    path = tmp_path / "stereo.flac"
    sr = 22050
    left = np.sin(2 * np.pi * 440 * np.arange(sr) / sr).astype(np.float32) * 0.5
    sf.write(str(path), np.stack([left, np.zeros_like(left)], axis=1), sr)
    signal = load_audio(path, 44100)
    assert signal.dtype == np.float32 and signal.ndim == 1
    assert abs(signal.size - 44100) <= 1
    assert np.max(np.abs(signal)) == pytest.approx(0.25, abs=0.01)  # mean of the two channels


def test_native_rate_is_untouched(tmp_path: Path):
    write_tone(tmp_path / "a.wav", 0.5, 1000)
    expected, _ = sf.read(str(tmp_path / "a.wav"), dtype="float32")
    np.testing.assert_array_equal(load_audio(tmp_path / "a.wav"), expected)


@pytest.mark.parametrize("kind", ["missing", "garbage", "empty", "nan"])
def test_bad_audio_names_the_file(tmp_path: Path, kind: str):
    path = tmp_path / f"{kind}.wav"
    if kind == "garbage":
        path.write_text("this is not audio")
    elif kind == "empty":
        sf.write(str(path), np.zeros(0, np.float32), 44100)
    elif kind == "nan":
        sf.write(str(path), np.array([0.0, np.nan, 0.1], np.float32), 44100, subtype="FLOAT")
    with pytest.raises(AudioError) as info:
        load_audio(path)
    assert str(path) in str(info.value)
