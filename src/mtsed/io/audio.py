"""Reading audio: any file libsndfile reads, as float32 mono at the working sample rate."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import librosa
import numpy as np
import soundfile as sf

from mtsed.io.fileio import atomic_path


class AudioError(ValueError):
    """An audio file cannot be used; the message names the file and the reason."""


def load_audio(path: str | Path, sample_rate: int = 44100) -> np.ndarray:
    """Read ``path``, downmix to mono by the channel mean, resample to ``sample_rate``.

    Raises :class:`AudioError` naming the file when it is missing, unreadable, empty or
    holds NaN/inf samples, so that one bad recording never fails anonymously.
    """
    path = existing(path)
    return decode_audio(str(path), str(path), sample_rate)


def existing(path: str | Path) -> Path:
    """``path`` as a Path, or an :class:`AudioError` if no such file."""
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"{path}: no such audio file")
    return path


def decode_audio(source: str | BinaryIO, name: str, sample_rate: int) -> np.ndarray:
    """Decode a file path or an in-memory file (e.g. read out of a package) to mono float32
    at ``sample_rate``; errors name ``name``."""
    try:
        data, native_rate = sf.read(source, dtype="float32", always_2d=True)
    except READ_ERRORS as error:
        raise unreadable(name, error) from None
    if data.size == 0:
        raise empty(name)
    mono = mono_of(data, name)
    if native_rate != sample_rate:
        mono = librosa.resample(mono, orig_sr=native_rate, target_sr=sample_rate, res_type="soxr_hq")
    return np.ascontiguousarray(mono, dtype=np.float32)


READ_ERRORS = (sf.LibsndfileError, RuntimeError, TypeError)


def unreadable(name: str | Path, error: Exception) -> AudioError:
    return AudioError(f"{name}: unreadable audio ({error})")


def empty(name: str | Path) -> AudioError:
    return AudioError(f"{name}: empty audio (no samples)")


def mono_of(data: np.ndarray, name: str | Path) -> np.ndarray:
    """Frames x channels downmixed by the channel mean; NaN or inf is an error naming ``name``."""
    if not np.all(np.isfinite(data)):
        raise AudioError(f"{name}: audio contains NaN or infinite samples")
    return data.mean(axis=1)


def audio_duration(path: str | Path) -> float:
    """Duration in seconds from the file header, without decoding (names the file on error)."""
    try:
        return float(sf.info(str(path)).duration)
    except (sf.LibsndfileError, RuntimeError) as error:
        raise unreadable(path, error) from None


def write_audio(path: str | Path, signal: np.ndarray, sample_rate: int, subtype: str = "PCM_16") -> None:
    """Atomically write a mono WAV file."""
    with atomic_path(path) as tmp:
        sf.write(str(tmp), signal, sample_rate, subtype=subtype, format="WAV")
