"""Sections ``features``, ``targets`` and ``model``: what the network sees and its sizes."""

from __future__ import annotations

from dataclasses import dataclass

from mtsed.config.base import _require

DISTANCE_ENCODINGS = ("linear", "log")  # how the distance head encodes d/T (mtsed.model.distances)
RESIDUALS = ("sum", "concat")  # how the residual branch joins the recurrent one (METHOD.md section 4)


@dataclass(frozen=True)
class FeatureConfig:
    """Stage ``features``: log mel spectrogram (METHOD.md section 1)."""

    sample_rate: int = 44100
    n_mels: int = 40
    fmin: float = 50.0
    fmax: float = 22050.0
    win_length: int = 1764
    hop_length: int = 882
    n_fft: int = 2048
    log_eps: float = 1e-8
    workers: int = 2

    def __post_init__(self) -> None:
        _require(self.sample_rate >= 8000, "sample_rate", "must be >= 8000")
        _require(self.n_mels >= 1, "n_mels", "must be >= 1")
        _require(0 <= self.fmin < self.fmax, "fmin", "must be >= 0 and below fmax")
        _require(self.fmax <= self.sample_rate / 2, "fmax", "must not exceed the Nyquist frequency")
        _require(self.win_length >= 1, "win_length", "must be >= 1")
        _require(1 <= self.hop_length <= self.win_length, "hop_length", "must be in 1..win_length")
        _require(self.n_fft >= self.win_length, "n_fft", "must be >= win_length")
        _require(self.log_eps > 0, "log_eps", "must be positive")
        _require(self.workers >= 1, "workers", "must be >= 1")

    @property
    def frame_seconds(self) -> float:
        """Seconds between consecutive frames (the hop)."""
        return self.hop_length / self.sample_rate


@dataclass(frozen=True)
class TargetConfig:
    """Stage ``targets``: triplet encoding (METHOD.md section 2)."""

    segment_frames: int = 512

    def __post_init__(self) -> None:
        _require(self.segment_frames >= 1, "segment_frames", "must be >= 1")


@dataclass(frozen=True)
class ModelConfig:
    """Sizes of the CRNN (METHOD.md section 4); the paper uses filters = hidden = 256."""

    filters: int = 64  # F
    hidden: int = 64  # H per GRU direction
    dropout: float = 0.25
    residual: str = "sum"  # "sum" or "concat"
    distances: str = "log"  # linear (paper): p = d/T; log: log1p(d)/log1p(T) (mtsed.model.distances)

    def __post_init__(self) -> None:
        _require(self.filters >= 1, "filters", "must be >= 1")
        _require(self.hidden >= 1, "hidden", "must be >= 1")
        _require(0 <= self.dropout < 1, "dropout", "must be in [0, 1)")
        _require(self.residual in RESIDUALS, "residual", f"must be one of {', '.join(RESIDUALS)}")
        _require(self.distances in DISTANCE_ENCODINGS, "distances", f"must be one of {', '.join(DISTANCE_ENCODINGS)}")
