"""Network outputs over a recording, and the two primitives of post-processing (SPEC section 6).

The proposed system integrates confidence: in each non-overlapping T-frame segment every
frame whose activity ``y_hat`` exceeds ``alpha_c`` votes ``y_hat`` for all frames of the
event it predicts, ``[t - p_hat*T, t + q_hat*T]``.  Votes are summed with a difference
array (O(frames) however long the events).  The baseline median-filters thresholded
activity.  How these become events is :mod:`mtsed.decoders`.
"""

from __future__ import annotations

import numpy as np
import torch

from mtsed.distances import decode_outputs
from mtsed.model import CRNN

BOUND_TOLERANCE = 1e-4  # frames: absorbs float32 rounding in p_hat * T
VOTE_RESIDUE = 1e-9  # summed votes below this are the rounding left by a difference array, not votes


PRECISIONS = ("auto", "fp32", "bf16")


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast type of an inference precision: ``auto`` is fp16 on CUDA and fp32
    elsewhere; ``bf16`` (CPUs with AVX-512 BF16 or AMX, and GPUs) is opt-in, since its
    events differ from fp32's by a measured amount (benchmarks/RESULTS.md)."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; known: {', '.join(PRECISIONS)}")
    if precision == "bf16":
        return torch.bfloat16
    return torch.float16 if precision == "auto" and device.type == "cuda" else None


def default_batch_size(device: torch.device) -> int:
    """Segments per forward pass: 16 on CPU (x1.12 from 16 to 64 is not worth ~1 GB more
    peak memory, benchmarks/RESULTS.md), 64 on a GPU."""
    return 64 if device.type == "cuda" else 16


def network_outputs(model: CRNN, features: np.ndarray, segment_frames: int, batch_size: int | None = None,
                    precision: str = "auto") -> np.ndarray:
    """Per-frame outputs ``(frames, n_outputs)`` over consecutive T-frame segments, the
    distances decoded to ``d / T`` whatever the network's encoding (:mod:`mtsed.distances`).

    ``features`` are standardised ``(frames, bands)`` (a memory map is fine); only one batch
    of segments is read and on the device at a time, so memory stays bounded.
    """
    runner = SegmentRunner(model, segment_frames, batch_size, precision)
    step = segment_frames * runner.batch_size
    for start in range(0, features.shape[0], step):
        runner.push(np.asarray(features[start:start + step], np.float32))
    return runner.finish()


class SegmentRunner:
    """A network over consecutive T-frame segments of frames that arrive in pieces.

    Segments start at frame 0 and are run in batches of ``batch_size`` consecutive ones as
    soon as a batch is full; the last batch holds what is left, the last segment padded
    with zeros.  So the outputs do not depend on how the frames were split, which lets
    :mod:`mtsed.streaming` equal whole-file inference bit for bit.
    """

    def __init__(self, model: CRNN, segment_frames: int, batch_size: int | None = None, precision: str = "auto") -> None:
        self.model = model.eval()
        self.device = next(model.parameters()).device
        self.dtype = autocast_dtype(precision, self.device)
        self.segment_frames = segment_frames
        self.batch_size = batch_size or default_batch_size(self.device)
        self._pending: list[np.ndarray] = []
        self._pending_frames = 0
        self._outputs: list[np.ndarray] = []

    def push(self, frames: np.ndarray) -> None:
        """Queue standardised ``(frames, bands)`` and run every batch they complete."""
        self._pending.append(frames)
        self._pending_frames += len(frames)
        step = self.segment_frames * self.batch_size
        if self._pending_frames >= step:
            queued = np.concatenate(self._pending)
            full = len(queued) // step * step
            for start in range(0, full, step):
                self._run(queued[start:start + step], self.batch_size)
            self._pending, self._pending_frames = [queued[full:]], len(queued) - full

    def finish(self) -> np.ndarray:
        """Run what is left and return the outputs of every frame pushed."""
        if self._pending_frames or not self._outputs:
            queued = np.concatenate(self._pending) if self._pending else np.zeros((0, self.model.spec.n_mels), np.float32)
            self._run(queued, max(1, -(-len(queued) // self.segment_frames)))
        self._pending, self._pending_frames = [], 0
        return np.concatenate(self._outputs)

    @torch.no_grad()
    def _run(self, frames: np.ndarray, segments: int) -> None:
        batch = np.zeros((segments * self.segment_frames, frames.shape[1]), np.float32)
        batch[:len(frames)] = frames
        batch = batch.reshape(segments, self.segment_frames, -1)
        with torch.autocast(self.device.type, dtype=self.dtype or torch.float32, enabled=self.dtype is not None):
            result = self.model(torch.from_numpy(batch).to(self.device)).float().cpu().numpy()
        spec = self.model.spec
        result = decode_outputs(result, spec.distances, spec.n_classes, self.segment_frames)
        self._outputs.append(result.reshape(segments * self.segment_frames, -1)[:len(frames)])


def vote_bounds(p_hat: np.ndarray, q_hat: np.ndarray, segment_frames: int, radius: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Inclusive first and last frame each frame votes for, clipped to the recording; a
    ``radius`` > 0 caps each reach at that many frames (a vote stays near its frame)."""
    frames = np.arange(p_hat.shape[0]).reshape(-1, *([1] * (p_hat.ndim - 1)))
    back, ahead = p_hat * segment_frames, q_hat * segment_frames
    if radius > 0:
        back, ahead = np.minimum(back, radius), np.minimum(ahead, radius)
    lo = np.ceil(frames - back - BOUND_TOLERANCE).astype(np.int64)
    hi = np.floor(frames + ahead + BOUND_TOLERANCE).astype(np.int64)
    return np.clip(lo, 0, p_hat.shape[0] - 1), np.clip(hi, 0, p_hat.shape[0] - 1)


def class_votes(y_hat: np.ndarray, p_hat: np.ndarray, q_hat: np.ndarray, alphas: np.ndarray, segment_frames: int,
                unit: bool = False, radius: float = 0.0, closeness: float = 0.0) -> np.ndarray:
    """Raw confidence ``f(n)`` of one class for every alpha at once: ``(len(alphas), frames)``;
    with ``unit``, every vote weighs 1, which counts the voters of each frame.

    ``radius`` > 0 caps each vote's reach at that many frames either side; ``closeness``
    > 0 weighs a vote by ``k / (k + d)``, ``d`` the frames from its frame to the nearer
    boundary it places, so frames near a boundary decide where it is.

    Shape:
        y_hat, p_hat, q_hat: ``(frames,)`` outputs of one class; alphas: ``(A,)``.
    """
    n = y_hat.shape[0]
    lo, hi = vote_bounds(p_hat, q_hat, segment_frames, radius)
    voting = y_hat[None, :] > np.asarray(alphas, np.float64)[:, None]  # (A, frames)
    rows, cols = np.nonzero(voting)
    strength = np.ones(n) if unit else y_hat.astype(np.float64)
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
    for k, window in enumerate(windows):
        half = int(window) // 2
        if half == 0:
            out[:, k] = x > 0
            continue
        start = widest - half
        out[:, k] = (sums[:, start + window:start + window + n] - sums[:, start:start + n]) > half
    return out
