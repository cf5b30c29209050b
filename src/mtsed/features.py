"""Log mel spectrogram features and per-band standardisation (SPEC section 1)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import librosa
import numpy as np

from mtsed.config import FeatureConfig


@lru_cache(maxsize=4)
def _mel_basis(cfg: FeatureConfig) -> np.ndarray:
    return librosa.filters.mel(
        sr=cfg.sample_rate, n_fft=cfg.n_fft, n_mels=cfg.n_mels, fmin=cfg.fmin, fmax=cfg.fmax
    ).astype(np.float32)


def n_frames(n_samples: int, cfg: FeatureConfig) -> int:
    """Number of frames for a signal of ``n_samples`` (centred frames, one per hop)."""
    return 1 + n_samples // cfg.hop_length


def log_mel(signal: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """Log mel spectrogram, shape ``(frames, n_mels)``, float32.

    Frames are centred: frame ``t`` covers ``t * hop`` seconds, which is the time axis the
    targets use.  Power spectrum over a Hann window of ``win_length`` samples zero-padded
    to ``n_fft``, mel filterbank between ``fmin`` and ``fmax``, then ``log(mel + eps)``.
    """
    if signal.ndim != 1:
        raise ValueError(f"log_mel expects a mono signal, got shape {signal.shape}")
    spec = librosa.stft(
        signal.astype(np.float32),
        n_fft=cfg.n_fft,
        hop_length=cfg.hop_length,
        win_length=cfg.win_length,
        window="hann",
        center=True,
        pad_mode="constant",
    )
    power = np.abs(spec) ** 2
    mel = _mel_basis(cfg) @ power
    return np.log(mel + cfg.log_eps).T.astype(np.float32)


@dataclass(frozen=True)
class Standardiser:
    """Per-band mean and standard deviation, fitted on training recordings only."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, features: Iterable[np.ndarray], min_std: float = 1e-5) -> Standardiser:
        """Fit on frames of several ``(frames, bands)`` arrays without concatenating them."""
        count, total, total_sq = 0, None, None
        for array in features:
            block = np.asarray(array, dtype=np.float64)
            total = block.sum(axis=0) if total is None else total + block.sum(axis=0)
            total_sq = (block**2).sum(axis=0) if total_sq is None else total_sq + (block**2).sum(axis=0)
            count += block.shape[0]
        if count == 0 or total is None or total_sq is None:
            raise ValueError("cannot fit a standardiser on zero frames")
        mean = total / count
        std = np.sqrt(np.maximum(total_sq / count - mean**2, 0.0))
        return cls(mean.astype(np.float32), np.maximum(std, min_std).astype(np.float32))

    def apply(self, features: np.ndarray) -> np.ndarray:
        """Standardise ``(frames, bands)`` features band by band."""
        return ((features - self.mean) / self.std).astype(np.float32)

    def to_dict(self) -> dict[str, list[float]]:
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, data: dict[str, list[float]]) -> Standardiser:
        return cls(np.asarray(data["mean"], np.float32), np.asarray(data["std"], np.float32))
