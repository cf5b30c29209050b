"""What one foreground event of the generated sets sounds like, and what its annotation says.

The data sets the default imitates annotate events as people hear them, not as clips were cut:

- ITC-Irst and the TUT Sound Events sets annotate a walk, a burst of typing, a series of
  barks as one event. A clip of an impulsive class (one step: median 0.27 s; one key click:
  0.13 s) is not such an event. So a class whose clips are mostly short (median under
  ``impulsive_seconds``) gives **sequences**: hits drawn from the split's own clips of that
  class, at the class's natural rate (``rates_hz``, else ``default_rate_hz``) with natural
  variation (each sequence's rate, each interval and each hit's level vary), lasting
  ``sequence_seconds``. A sequence is annotated as one event from its first hit's onset to its
  last hit's offset, split where the silence between two hits exceeds ``split_gap_seconds``
  (a walker who stops and walks on is two walks).
- TUT-SED-Synthetic-2016 draws a random 3-15 s segment from each sample: a clip longer than
  ``stretch_seconds[0]`` gives a random **stretch** of that many seconds (whole if shorter).
- Any other clip is one event, whole.

Every hit comes from the pool the caller passes (one split's clips), so clip pools stay
disjoint across splits. :class:`Sound` keeps the hits' own level, so an event-to-background
ratio means the same loudness for a walk as for one step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from statistics import median

import numpy as np

from mtsed.config import EventConfig
from mtsed.data.default.clips import Clip


@dataclass(frozen=True)
class Sound:
    """One event's signal and its annotated spans ``(start, end)`` in samples from its start."""

    signal: np.ndarray
    spans: tuple[tuple[int, int], ...]
    level: float  # RMS over the sounding parts: what an event-to-background ratio scales


def rms(signal: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(signal, dtype=np.float64)))) if signal.size else 0.0


def impulsive_labels(pools: dict[str, Sequence[Clip]], labels: Sequence[str], cfg: EventConfig) -> frozenset[str]:
    """The labels whose clips (all splits' pools together) have a median under ``impulsive_seconds``."""
    if not cfg.sequences:
        return frozenset()
    return frozenset(
        label for label in labels if pools[label] and median(c.seconds for c in pools[label]) < cfg.impulsive_seconds
    )


def whole(signal: np.ndarray) -> Sound:
    return Sound(signal, ((0, signal.size),), rms(signal))


def stretch(rng: np.random.Generator, signal: np.ndarray, sample_rate: int, seconds: tuple[float, float]) -> Sound:
    """A random stretch of ``seconds`` (uniform) of a long clip; a clip no longer than the
    shortest stretch is whole."""
    if seconds[1] <= 0 or signal.size <= seconds[0] * sample_rate:
        return whole(signal)
    length = min(int(rng.uniform(*seconds) * sample_rate), signal.size)
    start = int(rng.integers(signal.size - length + 1))
    return whole(signal[start : start + length])


def sequence(
    rng: np.random.Generator, hits: Sequence[np.ndarray], sample_rate: int, rate_hz: float, cfg: EventConfig
) -> Sound:
    """Hits (a new draw from ``hits`` each time) at ``rate_hz`` with natural variation, for
    a random duration within ``sequence_seconds``; annotated per :func:`annotate`."""
    duration = rng.uniform(*cfg.sequence_seconds) * sample_rate
    rate = rate_hz * float(np.exp(rng.normal(0.0, cfg.rate_jitter / 2)))  # this walker's pace
    placed: list[tuple[int, np.ndarray]] = []
    cursor = 0
    while not placed or cursor < duration:
        hit = hits[int(rng.integers(len(hits)))] * float(10 ** (rng.uniform(-3, 3) / 20))  # +-3 dB from hit to hit
        placed.append((cursor, hit))
        interval = sample_rate / rate * float(np.exp(rng.normal(0.0, cfg.rate_jitter)))
        cursor += max(int(interval), 1)
    length = max(start + hit.size for start, hit in placed)
    signal = np.zeros(length, np.float32)
    for start, hit in placed:
        signal[start : start + hit.size] += hit
    energy = sum(float(np.sum(np.square(h, dtype=np.float64))) for _, h in placed)
    level = float(np.sqrt(energy / sum(h.size for _, h in placed)))
    return Sound(
        signal, annotate([(s, s + h.size) for s, h in placed], int(cfg.split_gap_seconds * sample_rate)), level
    )


@dataclass(frozen=True)
class EventMaker:
    """Makes each event's :class:`Sound` from the clips of its label in one split's pool:
    a sequence for an ``impulsive`` label, else a whole clip or (``stretches``) a stretch."""

    cfg: EventConfig
    impulsive: frozenset[str]
    sample_rate: int
    stretches: bool

    def __call__(self, rng: np.random.Generator, label: str, clips: Sequence[np.ndarray]) -> Sound:
        if label in self.impulsive:
            return sequence(rng, clips, self.sample_rate, self.cfg.rate_of(label), self.cfg)
        clip = clips[int(rng.integers(len(clips)))]
        return stretch(rng, clip, self.sample_rate, self.cfg.stretch_seconds) if self.stretches else whole(clip)


def annotate(hits: Sequence[tuple[int, int]], split_gap: int) -> tuple[tuple[int, int], ...]:
    """One span per run of hits whose silences are at most ``split_gap`` samples."""
    spans: list[list[int]] = []
    for start, end in sorted(hits):
        if spans and start - spans[-1][1] <= split_gap:
            spans[-1][1] = max(spans[-1][1], end)
        else:
            spans.append([start, end])
    return tuple((s, e) for s, e in spans)
