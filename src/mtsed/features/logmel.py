"""Log mel spectrogram features and per-band standardisation (METHOD.md section 1)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import librosa
import numpy as np
from threadpoolctl import ThreadpoolController

from mtsed.config import FeatureConfig

MEL_BLOCK = 512  # frames per filterbank product (see _log_mel_of)


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
    return _log_mel_of(_stft(signal, cfg, centred=True), cfg)


def log_mel_frames(padded: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """Log mel of every full ``n_fft`` frame, one per hop, of an already zero-padded piece
    of signal: frame ``t`` of :func:`log_mel` is this function's frame 0 on
    ``padded_signal[t*hop : t*hop + n_fft]`` (what streaming uses, :mod:`mtsed.features.streaming`)."""
    return _log_mel_of(_stft(padded, cfg, centred=False), cfg)


def _stft(signal: np.ndarray, cfg: FeatureConfig, centred: bool) -> np.ndarray:
    """Hann-windowed STFT; ``centred`` zero-pads ``n_fft/2`` on both ends first."""
    return librosa.stft(
        signal.astype(np.float32),
        n_fft=cfg.n_fft,
        hop_length=cfg.hop_length,
        win_length=cfg.win_length,
        window="hann",
        center=centred,
        pad_mode="constant",
    )


def _log_mel_of(spec: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """Log mel of an STFT, the filterbank product taken over :data:`MEL_BLOCK` frames at a
    time: a BLAS product's rounding can depend on the matrix width, and fixed blocks make
    whole-file and streamed features agree bit for bit (and bound the memory it takes)."""
    basis = _mel_basis(cfg)
    out = np.empty((spec.shape[1], cfg.n_mels), np.float32)
    with _blas().limit(limits=1, user_api="blas"):
        for start in range(0, spec.shape[1], MEL_BLOCK):
            power = np.ascontiguousarray(np.abs(spec[:, start : start + MEL_BLOCK]) ** 2)
            out[start : start + power.shape[1]] = np.log(basis @ power + cfg.log_eps).T
    return out


@lru_cache(maxsize=1)
def _blas() -> ThreadpoolController:
    """The filterbank product runs on one BLAS thread.  OpenBLAS splits a product
    differently over more threads, which changes the last bits, so features would depend on
    the machine's core count; and with two threads, the networks that run right after were
    several times slower (``detect`` on a 5 s clip: 108 ms instead of 22 ms on 2 cores)."""
    return ThreadpoolController()


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
