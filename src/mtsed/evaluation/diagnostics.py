"""What a trained network learned, apart from how its outputs are post-processed.

Two figures, on any split: the frame-level F1 of the activity head (``y_hat > 0.5``
against the reference activity, all classes and frames pooled), and, for the proposed
network, the median error in frames of its distance head on active frames
(``|p_hat*T - p*T|`` and ``|q_hat*T - q*T|``), measured against the targets it was
trained on, read on the consecutive T-frame segments inference uses.  Next to event-level
F1 on the same split they show on every run whether a system under-fits (training
figures low), over-fits (training high, evaluation low) or loses in post-processing
(frame F1 high, event F1 low).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from mtsed.data.windows import window_distances
from mtsed.evaluation.metrics import OFFSET_LENGTH_FRACTION, T_COLLAR
from mtsed.measures.f1 import f1


def frame_counts(y_hat: np.ndarray, y: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """``[true positives, detections, reference]`` frames of ``y_hat > threshold`` vs ``y``."""
    active, reference = y_hat > threshold, y > 0.5
    return np.array([(active & reference).sum(), active.sum(), reference.sum()], dtype=np.int64)


def frame_f1(counts: Iterable[np.ndarray]) -> float | None:
    """Pooled frame-level F1 from :func:`frame_counts` of several recordings."""
    value = f1(*np.sum(list(counts), axis=0))
    return None if np.isnan(value) else value


def inference_targets(targets: np.ndarray, segment_frames: int, reading: str) -> np.ndarray:
    """``(frames, 3C)`` targets as the network was trained to predict them, on the
    consecutive segments of inference: distances read inside each segment (``window``) or
    the stored recording-level ones (``recording``)."""
    if reading == "recording":
        return np.asarray(targets, np.float32)
    c = targets.shape[1] // 3
    out = np.array(targets, dtype=np.float32)
    for start in range(0, targets.shape[0], segment_frames):
        y = out[start : start + segment_frames, :c]
        p, q = window_distances(y, segment_frames)
        out[start : start + segment_frames, c : 2 * c] = p
        out[start : start + segment_frames, 2 * c :] = q
    return out


def boundary_errors(outputs: np.ndarray, targets: np.ndarray, segment_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Onset and offset distance errors in frames on every active frame of every class.

    Shape:
        outputs, targets: ``(frames, 3C)`` laid out y, p, q (targets from :func:`inference_targets`).
    """
    c = targets.shape[1] // 3
    active = targets[:, :c] > 0.5
    onset = np.abs(outputs[:, c : 2 * c] - targets[:, c : 2 * c])[active] * segment_frames
    offset = np.abs(outputs[:, 2 * c :] - targets[:, 2 * c :])[active] * segment_frames
    return onset, offset


def median_or_none(values: Iterable[np.ndarray]) -> float | None:
    joined = np.concatenate([np.ravel(v) for v in values] or [np.zeros(0)])
    return float(np.median(joined)) if joined.size else None


def signed_distance_errors(
    outputs: np.ndarray, targets: np.ndarray, segment_frames: int
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per boundary (``onset``, ``offset``), the true distance and the signed error
    ``p_hat*T - p*T`` in frames on every active frame of every class (positive: the head
    places the boundary farther away than it is).

    Shape:
        outputs, targets: ``(frames, 3C)`` laid out y, p, q (targets from :func:`inference_targets`).
    """
    c = targets.shape[1] // 3
    active = targets[:, :c] > 0.5
    out = {}
    for name, cols in (("onset", slice(c, 2 * c)), ("offset", slice(2 * c, 3 * c))):
        truth = targets[:, cols][active] * segment_frames
        out[name] = (truth, outputs[:, cols][active] * segment_frames - truth)
    return out


MISS_REASONS = ("hit", "not found", "fragmented", "onset", "offset")


def miss_reason(
    onset: float,
    offset: float,
    estimates: np.ndarray,
    collar: float = T_COLLAR,
    offset_fraction: float = OFFSET_LENGTH_FRACTION,
) -> str:
    """Why one reference event is or is not detected by estimates ``(n, 2)`` of its class
    (sed_eval's collars: onset within ``collar`` s, offset within ``max(collar, fraction x length)``):
    ``hit``; ``not found`` (no estimate overlaps it); ``fragmented`` (several overlap it, none
    hits); ``onset`` (the overlapping estimate's onset is outside the collar); ``offset``."""
    offset_collar = max(collar, offset_fraction * (offset - onset))
    if len(estimates):
        onset_ok = np.abs(estimates[:, 0] - onset) <= collar
        offset_ok = np.abs(estimates[:, 1] - offset) <= offset_collar
        if (onset_ok & offset_ok).any():
            return "hit"
        overlapping = (estimates[:, 0] < offset) & (estimates[:, 1] > onset)
    else:
        overlapping = np.zeros(0, bool)
    if not overlapping.any():
        return "not found"
    if overlapping.sum() > 1:
        return "fragmented"
    return "onset" if not onset_ok[overlapping][0] else "offset"


def miss_reasons(reference: dict, estimated: dict, labels: Iterable[str]) -> dict[str, dict[str, int]]:
    """Counts of :func:`miss_reason` per class over recordings (``{recording: [Event]}`` each)."""
    counts = {label: dict.fromkeys(MISS_REASONS, 0) for label in labels}
    for rid, events in reference.items():
        found = estimated.get(rid, [])
        for event in events:
            mine = np.array([(e.onset, e.offset) for e in found if e.label == event.label], float).reshape(-1, 2)
            counts[event.label][miss_reason(event.onset, event.offset, mine)] += 1
    return counts
