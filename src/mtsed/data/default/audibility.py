"""How much of what the labels call active can be heard: a diagnostic of generated data.

An event of a generated mixture is annotated over its whole (silence-trimmed) clip and
scaled by its RMS against the background, so parts of it may sit under the background or
under louder events.  A frame the labels call active but in which the event is quieter
than the rest of the mixture in every mel band cannot be detected from the audio; the
share of such frames bounds what any detector can recall and says whether a data set's
misses are the network's or the labels'.

Mel powers of the parts are added to get the rest of the mixture (phases ignored, a good
approximation for independent sources: the same one training-time remixing makes).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from mtsed.config import FeatureConfig
from mtsed.data.default.mixing import Mixture
from mtsed.features.logmel import log_mel
from mtsed.io.events import Event


@dataclass(frozen=True)
class EventAudibility:
    """One reference event: its annotated frames and how many of them are masked (the
    event quieter than the rest of the mixture in every mel band)."""

    event: Event
    frames: int
    masked: int


def _mel_power(signal: np.ndarray, start: int, n_frames: int, cfg: FeatureConfig) -> tuple[int, np.ndarray]:
    """``(first frame, mel power (frames, bands))`` of ``signal`` placed at sample ``start``
    of a recording of ``n_frames`` frames: computed over the frames it reaches only, with
    an ``n_fft`` margin of silence so that they equal the whole recording's frames."""
    hop = cfg.hop_length
    first = max(0, (start - cfg.n_fft) // hop)
    local = np.zeros(start - first * hop + signal.size + cfg.n_fft, np.float32)
    local[start - first * hop : start - first * hop + signal.size] = signal
    power = np.exp(log_mel(local, cfg).astype(np.float64)) - cfg.log_eps
    return first, np.maximum(power[: max(n_frames - first, 0)], 0.0)


def event_audibility(mixture: Mixture, cfg: FeatureConfig) -> list[EventAudibility]:
    """Per reference event of ``mixture`` (built with ``keep_stems``), its masked frames."""
    if not mixture.stems:
        raise ValueError("event_audibility needs a mixture built with keep_stems=True")
    n_frames = 1 + mixture.signal.size // cfg.hop_length
    total = np.zeros((n_frames, cfg.n_mels))
    parts = []
    for stem in mixture.stems:
        first, power = _mel_power(stem.signal, stem.start, n_frames, cfg)
        total[first : first + len(power)] += power
        parts.extend((event, first, power) for event in stem.events)
    fps = cfg.sample_rate / cfg.hop_length
    result = []
    for event, first, power in parts:
        lo, hi = int(round(event.onset * fps)), min(int(round(event.offset * fps)), n_frames)
        own = np.zeros((max(hi - lo, 0), cfg.n_mels))
        a, b = max(lo, first), min(hi, first + len(power))
        own[a - lo : b - lo] = power[a - first : b - first]
        rest = total[lo:hi] - own
        masked = int(np.sum(np.all(own < rest, axis=1)))
        result.append(EventAudibility(event, max(hi - lo, 0), masked))
    return result


def masked_share_by_class(events: Iterable[EventAudibility]) -> dict[str, dict[str, float]]:
    """Per label: events, annotated frames, the share of frames masked, and the share of
    events masked over more than half their frames."""
    groups: dict[str, list[EventAudibility]] = defaultdict(list)
    for item in events:
        groups[item.event.label].append(item)
    table = {}
    for label in sorted(groups):
        items = groups[label]
        frames = sum(i.frames for i in items)
        table[label] = {
            "events": len(items),
            "frames": frames,
            "masked_frames": sum(i.masked for i in items) / max(frames, 1),
            "mostly_masked_events": sum(i.masked * 2 > i.frames for i in items) / len(items),
        }
    return table
