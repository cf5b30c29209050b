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

from mtsed.segments import window_distances


def frame_counts(y_hat: np.ndarray, y: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """``[true positives, detections, reference]`` frames of ``y_hat > threshold`` vs ``y``."""
    active, reference = y_hat > threshold, y > 0.5
    return np.array([(active & reference).sum(), active.sum(), reference.sum()], dtype=np.int64)


def frame_f1(counts: Iterable[np.ndarray]) -> float | None:
    """Pooled frame-level F1 from :func:`frame_counts` of several recordings."""
    tp, n_sys, n_ref = np.sum(list(counts), axis=0)
    return float(2 * tp / (n_sys + n_ref)) if n_sys + n_ref else None


def inference_targets(targets: np.ndarray, segment_frames: int, reading: str) -> np.ndarray:
    """``(frames, 3C)`` targets as the network was trained to predict them, on the
    consecutive segments of inference: distances read inside each segment (``window``) or
    the stored recording-level ones (``recording``)."""
    if reading == "recording":
        return np.asarray(targets, np.float32)
    c = targets.shape[1] // 3
    out = np.array(targets, dtype=np.float32)
    for start in range(0, targets.shape[0], segment_frames):
        y = out[start:start + segment_frames, :c]
        p, q = window_distances(y, segment_frames)
        out[start:start + segment_frames, c:2 * c] = p
        out[start:start + segment_frames, 2 * c:] = q
    return out


def boundary_errors(outputs: np.ndarray, targets: np.ndarray, segment_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Onset and offset distance errors in frames on every active frame of every class.

    Shape:
        outputs, targets: ``(frames, 3C)`` laid out y, p, q (targets from :func:`inference_targets`).
    """
    c = targets.shape[1] // 3
    active = targets[:, :c] > 0.5
    onset = np.abs(outputs[:, c:2 * c] - targets[:, c:2 * c])[active] * segment_frames
    offset = np.abs(outputs[:, 2 * c:] - targets[:, 2 * c:])[active] * segment_frames
    return onset, offset


def median_or_none(values: Iterable[np.ndarray]) -> float | None:
    joined = np.concatenate([np.ravel(v) for v in values] or [np.zeros(0)])
    return float(np.median(joined)) if joined.size else None
