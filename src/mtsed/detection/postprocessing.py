"""The two primitives of post-processing (METHOD.md section 6): confidence votes and median filters.

The proposed system integrates confidence: in each non-overlapping T-frame segment every
frame whose activity ``y_hat`` exceeds ``alpha_c`` votes ``y_hat`` for all frames of the
event it predicts, ``[t - p_hat*T, t + q_hat*T]``.  Votes are summed with a difference
array (O(frames) however long the events).  The baseline median-filters thresholded
activity.  How these become events is :mod:`mtsed.detection.decoders`.
"""

from __future__ import annotations

import numpy as np

BOUND_TOLERANCE = 1e-4  # frames: absorbs float32 rounding in p_hat * T
VOTE_RESIDUE = 1e-9  # summed votes below this are the rounding left by a difference array, not votes


def vote_bounds(
    p_hat: np.ndarray, q_hat: np.ndarray, segment_frames: int, radius: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Inclusive first and last frame each frame votes for, clipped to the recording; a
    ``radius`` > 0 caps each reach at that many frames (a vote stays near its frame)."""
    frames = np.arange(p_hat.shape[0]).reshape(-1, *([1] * (p_hat.ndim - 1)))
    back, ahead = p_hat * segment_frames, q_hat * segment_frames
    if radius > 0:
        back, ahead = np.minimum(back, radius), np.minimum(ahead, radius)
    lo = np.ceil(frames - back - BOUND_TOLERANCE).astype(np.int64)
    hi = np.floor(frames + ahead + BOUND_TOLERANCE).astype(np.int64)
    return np.clip(lo, 0, p_hat.shape[0] - 1), np.clip(hi, 0, p_hat.shape[0] - 1)


def class_votes(
    y_hat: np.ndarray,
    p_hat: np.ndarray,
    q_hat: np.ndarray,
    alphas: np.ndarray,
    segment_frames: int,
    unit: bool = False,
    radius: float = 0.0,
    closeness: float = 0.0,
    per_region: bool = False,
) -> np.ndarray:
    """Raw confidence ``f(n)`` of one class for every alpha at once: ``(len(alphas), frames)``;
    with ``unit``, every vote weighs 1, which counts the voters of each frame.

    ``per_region`` divides each frame's vote by the length of the region it votes for: a
    frame spreads its ``y_hat`` over the event it places instead of giving it to every frame
    of it.  Inside an event whose frames agree on its extent the sum is their ``y_hat``
    whatever the event's length, and so also on either side of a segment edge.

    ``radius`` > 0 caps each vote's reach at that many frames either side; ``closeness``
    > 0 weighs a vote by ``k / (k + d)``, ``d`` the frames from its frame to the nearer
    boundary it places, so frames near a boundary decide where it is.

    Shape:
        y_hat, p_hat, q_hat: ``(frames,)`` outputs of one class; alphas: ``(A,)``.
    """
    n = y_hat.shape[0]
    lo, hi = vote_bounds(p_hat, q_hat, segment_frames, radius)
    voting = y_hat[None, :] > np.asarray(alphas, np.float64)[:, None]  # (A, frames)
    rows, cols = np.divmod(np.flatnonzero(voting), n)  # np.nonzero's order, several times faster
    strength = np.ones(n) if unit else y_hat.astype(np.float64)
    if per_region:
        strength = strength / (hi - lo + 1)
    if closeness > 0:
        nearer = np.minimum(p_hat, q_hat).astype(np.float64) * segment_frames
        strength = strength * closeness / (closeness + nearer)
    weights = strength[cols]
    width = n + 1
    diff = np.bincount(rows * width + lo[cols], weights, minlength=len(alphas) * width)
    diff -= np.bincount(rows * width + hi[cols] + 1, weights, minlength=len(alphas) * width)
    votes = np.cumsum(diff.reshape(len(alphas), width), axis=1)[:, :n]
    return np.where(votes > VOTE_RESIDUE, votes, 0.0)


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


def median_filter_many(active: np.ndarray, windows: np.ndarray) -> np.ndarray:
    """:func:`median_filter_binary` of ``(rows, frames)`` with every odd window at once:
    ``(rows, len(windows), frames)``.  One prefix sum over the signal padded for the
    largest window serves all windows (edge replication agrees for every smaller one)."""
    widest = int(max(windows)) // 2
    x = active.astype(np.int32)
    padded = np.concatenate([np.repeat(x[:, :1], widest, 1), x, np.repeat(x[:, -1:], widest, 1)], axis=1)
    sums = np.concatenate([np.zeros((x.shape[0], 1), np.int32), np.cumsum(padded, axis=1, dtype=np.int32)], axis=1)
    n = x.shape[1]
    out = np.empty((x.shape[0], len(windows), n), bool)
    counts = np.empty((x.shape[0], n), np.int32)
    for k, window in enumerate(windows):
        half = int(window) // 2
        if half == 0:
            out[:, k] = x > 0
            continue
        start = widest - half
        np.subtract(sums[:, start + window : start + window + n], sums[:, start : start + n], out=counts)
        np.greater(counts, half, out=out[:, k])
    return out
