"""Per-class threshold search on validation data (SPEC section 7).

Proposed system: alpha in 0.00..1.00 (step 0.01) x beta in 0.00..1.00 (step 0.05).
Baseline: alpha x median window 1..256 (step 6).  Each class keeps the pair with the best
event-based F1 over all validation recordings (the first such pair in grid order).  Votes
are computed for all 101 alphas at once, runs for all betas at once, and true positives
are counted by :func:`mtsed.metrics.matched_count`, so the full grid takes seconds.

Validation scores are out-of-fold: each validation recording is scored by the fold model
that did not train on it, and that fold's normalisation constant (the maximum of its raw
votes over its own validation recordings) scales its scores.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from mtsed.inference import class_votes, median_filter_binary, normalise
from mtsed.metrics import f_measure, matched_count
from mtsed.targets import run_bounds

ALPHAS = np.round(np.arange(101) * 0.01, 2)
BETAS = np.round(np.arange(21) * 0.05, 2)
WINDOWS = np.arange(1, 257, 6)


@dataclass(frozen=True)
class ValidationRecording:
    """Out-of-fold network outputs of one validation recording and its reference events."""

    outputs: np.ndarray  # (frames, 3C) proposed or (frames, C) baseline
    fold: str
    reference: dict[int, tuple[np.ndarray, np.ndarray]]  # class -> (onsets, offsets) in seconds


@dataclass(frozen=True)
class SearchResult:
    """Chosen thresholds per class, the validation F1 grid, and the normalisation constants."""

    alpha: np.ndarray  # (C,)
    second: np.ndarray  # (C,) beta (proposed) or median window (baseline)
    f1: np.ndarray  # (C, len(ALPHAS), len(BETAS) or len(WINDOWS)); NaN where undefined
    norm: dict[str, np.ndarray]  # fold -> (C,) constants at the chosen alpha (proposed only)


def _accumulate(active: np.ndarray, reference: tuple[np.ndarray, np.ndarray], frame_seconds: float,
                tp: np.ndarray, n_sys: np.ndarray) -> None:
    """Add each row's true positives and detections: ``active`` is ``(rows, frames)``."""
    rows, first, stop = run_bounds(active)
    onsets, offsets = first * frame_seconds, stop * frame_seconds
    np.add.at(n_sys, rows, 1)
    if len(reference[0]) == 0 or len(rows) == 0:
        return
    bounds = np.searchsorted(rows, np.arange(active.shape[0] + 1))
    for row in np.unique(rows):
        a, b = bounds[row], bounds[row + 1]
        tp[row] += matched_count(reference[0], reference[1], onsets[a:b], offsets[a:b])


def _best(f1: np.ndarray) -> tuple[int, int]:
    """First grid point (row-major) with the highest F1; NaN counts as no detection (0)."""
    flat = np.nan_to_num(f1, nan=-1.0)
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(flat)), flat.shape))  # type: ignore[return-value]


def _class_f1(activities: Iterable[tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]], frame_seconds: float) -> np.ndarray:
    """One class's F1 over a 2-D threshold grid, summed over recordings.

    ``activities`` yields, per recording, the activity for every grid point
    ``(first axis, second axis, frames)`` and the class's reference ``(onsets, offsets)``.
    """
    tp = n_sys = None
    n_ref = 0
    for active, reference in activities:
        if tp is None:
            tp, n_sys = np.zeros(active.shape[:2]), np.zeros(active.shape[:2])
        _accumulate(active.reshape(-1, active.shape[-1]), reference, frame_seconds, tp.reshape(-1), n_sys.reshape(-1))
        n_ref += len(reference[0])
    return np.array([f_measure(t, n_ref, n) for t, n in zip(tp.ravel(), n_sys.ravel())]).reshape(tp.shape)


def search_proposed(recordings: Sequence[ValidationRecording], n_classes: int, segment_frames: int,
                    frame_seconds: float) -> SearchResult:
    """Grid search of (alpha_c, beta_c) with confidence-score integration."""
    folds = sorted({r.fold for r in recordings})
    alpha, beta = np.zeros(n_classes), np.zeros(n_classes)
    norm = {fold: np.ones(n_classes) for fold in folds}
    grid = np.zeros((n_classes, len(ALPHAS), len(BETAS)))
    for c in range(n_classes):
        raw = []
        for r in recordings:
            y, p, q = (r.outputs[:, k * n_classes + c] for k in range(3))
            raw.append(class_votes(y, p, q, ALPHAS, segment_frames))  # (A, frames)
        constants = {f: np.max([v.max(axis=1) for v, r in zip(raw, recordings) if r.fold == f], axis=0) for f in folds}
        constants = {f: np.where(m > 0, m, 1.0) for f, m in constants.items()}
        grid[c] = _class_f1((
            (normalise(votes, constants[r.fold][:, None])[:, None, :] > BETAS[None, :, None], r.reference.get(c, _EMPTY))
            for votes, r in zip(raw, recordings)  # (A, B, frames) per recording
        ), frame_seconds)
        a, b = _best(grid[c])
        alpha[c], beta[c] = ALPHAS[a], BETAS[b]
        for f in folds:
            norm[f][c] = constants[f][a]
    return SearchResult(alpha, beta, grid, norm)


def search_baseline(recordings: Sequence[ValidationRecording], n_classes: int, frame_seconds: float) -> SearchResult:
    """Grid search of (alpha_c, median window_c) on thresholded activity."""
    alpha, window = np.zeros(n_classes), np.zeros(n_classes, dtype=int)
    grid = np.zeros((n_classes, len(ALPHAS), len(WINDOWS)))
    for c in range(n_classes):
        grid[c] = _class_f1((
            (_filtered(r.outputs[None, :, c] > ALPHAS[:, None]), r.reference.get(c, _EMPTY))
            for r in recordings
        ), frame_seconds)
        a, w = _best(grid[c])
        alpha[c], window[c] = ALPHAS[a], WINDOWS[w]
    return SearchResult(alpha, window, grid, {})


def _filtered(active: np.ndarray) -> np.ndarray:
    """``(A, frames)`` thresholded activity median-filtered with every window: ``(A, W, frames)``."""
    return np.stack([median_filter_binary(active, int(w)) for w in WINDOWS], axis=1)


_EMPTY = (np.zeros(0), np.zeros(0))
