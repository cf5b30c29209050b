"""From network outputs to event lists (SPEC section 6).

The proposed system integrates confidence: in each non-overlapping T-frame segment every
frame whose activity ``y_hat`` exceeds ``alpha_c`` votes ``y_hat`` for all frames of the
event it predicts, ``[t - p_hat*T, t + q_hat*T]``.  Votes are summed with a difference
array (O(frames) however long the events), normalised per class by a constant fixed on
validation data, averaged over fold models, and runs above ``beta_c`` become events.  The
baseline thresholds ``y_hat`` at ``alpha_c`` and median-filters the binary activity.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from mtsed.events import Event
from mtsed.model import CRNN
from mtsed.targets import active_runs

BOUND_TOLERANCE = 1e-4  # frames: absorbs float32 rounding in p_hat * T


@torch.no_grad()
def network_outputs(model: CRNN, features: np.ndarray, segment_frames: int, batch_size: int = 16) -> np.ndarray:
    """Per-frame outputs ``(frames, n_outputs)`` over consecutive T-frame segments.

    ``features`` are standardised ``(frames, bands)`` (a memory map is fine); only one batch
    of segments is on the device at a time, so memory stays bounded on long recordings.
    """
    device = next(model.parameters()).device
    model.eval()
    n_frames = features.shape[0]
    starts = list(range(0, max(n_frames, 1), segment_frames))
    out = np.zeros((n_frames, model.spec.n_outputs), np.float32)
    for i in range(0, len(starts), batch_size):
        chunk = starts[i:i + batch_size]
        batch = np.zeros((len(chunk), segment_frames, features.shape[1]), np.float32)
        for j, start in enumerate(chunk):
            piece = features[start:start + segment_frames]
            batch[j, :len(piece)] = piece
        with torch.autocast(device.type, dtype=torch.float16, enabled=device.type == "cuda"):
            result = model(torch.from_numpy(batch).to(device)).float().cpu().numpy()
        for j, start in enumerate(chunk):
            stop = min(start + segment_frames, n_frames)
            out[start:stop] = result[j, :stop - start]
    return out


def vote_bounds(p_hat: np.ndarray, q_hat: np.ndarray, segment_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Inclusive first and last frame each frame votes for, clipped to the recording."""
    frames = np.arange(p_hat.shape[0]).reshape(-1, *([1] * (p_hat.ndim - 1)))
    lo = np.ceil(frames - p_hat * segment_frames - BOUND_TOLERANCE).astype(np.int64)
    hi = np.floor(frames + q_hat * segment_frames + BOUND_TOLERANCE).astype(np.int64)
    return np.clip(lo, 0, p_hat.shape[0] - 1), np.clip(hi, 0, p_hat.shape[0] - 1)


def class_votes(y_hat: np.ndarray, p_hat: np.ndarray, q_hat: np.ndarray, alphas: np.ndarray, segment_frames: int) -> np.ndarray:
    """Raw confidence ``f(n)`` of one class for every alpha at once: ``(len(alphas), frames)``.

    Shape:
        y_hat, p_hat, q_hat: ``(frames,)`` outputs of one class; alphas: ``(A,)``.
    """
    n = y_hat.shape[0]
    lo, hi = vote_bounds(p_hat, q_hat, segment_frames)
    voting = y_hat[None, :] > np.asarray(alphas, np.float64)[:, None]  # (A, frames)
    rows, cols = np.nonzero(voting)
    weights = y_hat[cols].astype(np.float64)
    width = n + 1
    diff = np.bincount(rows * width + lo[cols], weights, minlength=len(alphas) * width)
    diff -= np.bincount(rows * width + hi[cols] + 1, weights, minlength=len(alphas) * width)
    return np.cumsum(diff.reshape(len(alphas), width), axis=1)[:, :n]


def confidence_scores(outputs: np.ndarray, alpha: np.ndarray, segment_frames: int) -> np.ndarray:
    """Raw confidence ``(frames, C)`` of every class at its own ``alpha_c``."""
    y_hat, p_hat, q_hat = np.split(outputs, 3, axis=1)
    return np.stack(
        [class_votes(y_hat[:, c], p_hat[:, c], q_hat[:, c], alpha[c:c + 1], segment_frames)[0] for c in range(y_hat.shape[1])],
        axis=1,
    )


def normalise(raw: np.ndarray, constant: np.ndarray) -> np.ndarray:
    """Scores in [0, 1]: raw votes over the per-class validation constant, clipped."""
    return np.clip(raw / np.maximum(constant, 1e-12), 0.0, 1.0)


def median_filter_binary(active: np.ndarray, window: int) -> np.ndarray:
    """Median of a binary sequence over an odd ``window`` along the last axis (edges
    replicated, as ``scipy.ndimage.median_filter(mode="nearest")``), via moving sums."""
    if window <= 1:
        return active.astype(bool)
    half = window // 2
    x = active.astype(np.int32)
    padded = np.concatenate([np.repeat(x[..., :1], half, -1), x, np.repeat(x[..., -1:], half, -1)], axis=-1)
    sums = np.cumsum(np.concatenate([np.zeros_like(x[..., :1]), padded], axis=-1), axis=-1)
    return (sums[..., window:] - sums[..., :-window]) > half


def baseline_activity(y_hat: np.ndarray, alpha: np.ndarray, window: np.ndarray) -> np.ndarray:
    """Binary activity ``(frames, C)``: ``y_hat > alpha_c``, median-filtered per class."""
    active = y_hat > alpha[None, :]
    return np.stack([median_filter_binary(active[:, c], int(window[c])) for c in range(active.shape[1])], axis=1)


def events_from_activity(active: np.ndarray, labels: Sequence[str], frame_seconds: float, file: str = "") -> list[Event]:
    """Each maximal run of active frames becomes one event ``[first, last + 1)`` in seconds."""
    events = [
        Event(first * frame_seconds, (last + 1) * frame_seconds, label, file)
        for c, label in enumerate(labels)
        for first, last in active_runs(active[:, c])
    ]
    return sorted(events, key=lambda e: (e.onset, e.offset, e.label))
