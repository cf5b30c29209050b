"""Per-class threshold selection on validation data (METHOD.md section 7), made to generalise.

The grid is the paper's: alpha in 0.00..1.00 (step 0.01) times beta in 0.00..1.00 (step
0.05), or times a median window in 1..256 (step 6).  For every class and grid point the
search counts true positives and detections over all validation recordings (votes for all
alphas at once, runs for all second parameters at once, true positives of all grid points
at once by :func:`mtsed.evaluation.metrics.matched_counts`), so the whole grid takes seconds.

Picking each class's own F1 peak overfits small validation sets: a class with 20
validation events has a jagged F1 surface whose peak is luck.  So the choice is made on
a steadier objective (both parts are params, ``thresholds:``):

- **plateau, not peak**: counts are averaged over neighbouring grid points (``smoothing``
  steps of alpha and of the second parameter) before F1 is computed, which favours the
  middle of a broad good region over a narrow spike;
- **shrinkage**: each class maximises ``w * F1_class + (1 - w) * F1_all``, where
  ``F1_all`` is the F1 of all classes together under one shared pair and
  ``w = n / (n + shrinkage_events)`` grows with the class's ``n`` validation events, so
  classes with little evidence lean on the shared choice.

Validation scores are out-of-fold: each validation recording is scored by the fold model
that did not train on it, and for summed votes that fold's normalisation constant (the
maximum of its raw votes over its own validation recordings) scales its scores.

The F1 at the chosen point is in-sample: it was picked on the very counts it is read
from, and more so for a decoder whose grid has more ways to fit.  Choosing *between*
decoders on it favours the one that overfits most, so :func:`held_out_from` scores each
group of validation recordings at the thresholds the other groups choose.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import uniform_filter

from mtsed.config import ThresholdConfig
from mtsed.detection.decoders import ClassOutputs, Decoder, grid_events, raw_votes
from mtsed.evaluation.metrics import matched_counts
from mtsed.measures.f1 import f1


@dataclass(frozen=True)
class ValidationRecording:
    """Out-of-fold network outputs of one validation recording and its reference events."""

    outputs: np.ndarray  # (frames, 3C) proposed or (frames, C) baseline
    fold: str
    reference: dict[int, tuple[np.ndarray, np.ndarray]]  # class -> (onsets, offsets) in seconds


@dataclass(frozen=True)
class GridCounts:
    """True positives and detections per class and grid point, reference events per class,
    and the summed-vote normalisation constants per fold (class x alpha)."""

    tp: np.ndarray  # (C, A, S)
    n_sys: np.ndarray  # (C, A, S)
    n_ref: np.ndarray  # (C,)
    constants: dict[str, np.ndarray]  # fold -> (C, A); empty unless the decoder normalises
    alphas: np.ndarray  # (A,)
    second_grid: np.ndarray  # (S,) the second parameter: beta or median window

    def f1(self) -> np.ndarray:
        """Class-wise F1 on the grid: 0 where nothing was detected, NaN only for a class
        without validation events."""
        return f1(self.tp, self.n_sys, self.n_ref[:, None, None])


@dataclass(frozen=True)
class Selection:
    """Chosen grid indices per class, and the validation F1 of each class there."""

    alpha_index: np.ndarray
    second_index: np.ndarray
    validation_f1: np.ndarray  # raw (unsmoothed) class F1 at the chosen point; NaN if undefined


def _vote_constants(
    dec: Decoder,
    recordings: Sequence[ValidationRecording],
    c: int,
    n_classes: int,
    segment_frames: int,
    alphas: np.ndarray,
) -> dict[str, np.ndarray]:
    """Per fold, the maximum summed vote over its validation recordings, for every alpha."""
    maxima: dict[str, np.ndarray] = {}
    for r in recordings:
        out = ClassOutputs.of(r.outputs, c, n_classes)
        peak = raw_votes(dec, out, alphas, segment_frames).max(axis=1)
        maxima[r.fold] = np.maximum(maxima.get(r.fold, 0.0), peak)
    return {fold: np.where(m > 0, m, 1.0) for fold, m in maxima.items()}


def grid_counts(
    dec: Decoder,
    recordings: Sequence[ValidationRecording],
    n_classes: int,
    segment_frames: int,
    frame_seconds: float,
    alphas: np.ndarray | None = None,
) -> GridCounts:
    """Count true positives and detections of every class on the whole grid."""
    alphas = dec.first_grid if alphas is None else alphas
    folds = sorted({r.fold for r in recordings})
    shape = (n_classes, len(alphas), len(dec.second_grid))
    tp, n_sys, n_ref = np.zeros(shape), np.zeros(shape), np.zeros(n_classes, int)
    constants = {fold: np.ones((n_classes, len(alphas))) for fold in folds} if dec.normalised else {}
    for c in range(n_classes):
        per_fold = _vote_constants(dec, recordings, c, n_classes, segment_frames, alphas) if dec.normalised else {}
        for fold, values in per_fold.items():
            constants[fold][c] = values
        for r in recordings:
            out = ClassOutputs.of(r.outputs, c, n_classes)
            rows, onsets, offsets, n_rows = grid_events(
                dec, out, segment_frames, per_fold.get(r.fold), alphas, frame_seconds
            )
            ref_on, ref_off = r.reference.get(c, (np.zeros(0), np.zeros(0)))
            n_ref[c] += len(ref_on)
            n_sys[c] += np.bincount(rows, minlength=n_rows).reshape(n_sys[c].shape)
            found = matched_counts(rows, n_rows, ref_on, ref_off, onsets * frame_seconds, offsets * frame_seconds)
            tp[c] += found.reshape(tp[c].shape)
    return GridCounts(tp, n_sys, n_ref, constants, np.asarray(alphas), np.asarray(dec.second_grid))


def select(counts: GridCounts, cfg: ThresholdConfig) -> Selection:
    """Each class's grid point on the smoothed, shrunk objective (see the module docstring)."""
    size = (1, 2 * cfg.smoothing[0] + 1, 2 * cfg.smoothing[1] + 1)
    tp = uniform_filter(counts.tp, size=size, mode="nearest")
    n_sys = uniform_filter(counts.n_sys, size=size, mode="nearest")
    n_ref = counts.n_ref.astype(float)
    own = f1(tp, n_sys, n_ref[:, None, None], nothing_to_find=0.0)
    shared = np.nan_to_num(f1(tp.sum(axis=0), n_sys.sum(axis=0), n_ref.sum()))
    weight = n_ref / (n_ref + cfg.shrinkage_events) if cfg.shrinkage_events > 0 else np.ones_like(n_ref)
    objective = weight[:, None, None] * own + (1 - weight[:, None, None]) * shared[None]
    flat = objective.reshape(len(n_ref), -1).argmax(axis=1)
    a, s = np.unravel_index(flat, objective.shape[1:])
    raw = counts.f1()
    return Selection(a, s, raw[np.arange(len(n_ref)), a, s])


def fixed_selection(dec: Decoder, counts: GridCounts) -> Selection:
    """The fixed defaults (alpha 0.5, or the decoder's own, and its default second parameter) as a selection."""
    n = len(counts.n_ref)
    a = np.full(n, int(np.argmin(np.abs(counts.alphas - dec.fixed_first))))
    s = np.full(n, int(np.argmin(np.abs(counts.second_grid - dec.fixed_second))))
    return Selection(a, s, counts.f1()[np.arange(n), a, s])


def chosen_constants(counts: GridCounts, alpha_index: np.ndarray) -> dict[str, list[float]]:
    """Per fold, each class's normalisation constant at its chosen alpha (summed votes only)."""
    rows = np.arange(len(alpha_index))
    return {fold: [float(v) for v in values[rows, alpha_index]] for fold, values in counts.constants.items()}


def counts_at(counts: GridCounts, selection: Selection) -> np.ndarray:
    """``(3, C)``: true positives, detections and reference events of each class at its selected point."""
    rows = np.arange(len(counts.n_ref))
    return np.stack(
        [
            counts.tp[rows, selection.alpha_index, selection.second_index],
            counts.n_sys[rows, selection.alpha_index, selection.second_index],
            counts.n_ref.astype(float),
        ]
    )


def pooled_f1(counts: np.ndarray) -> float:
    """F1 of all classes together from ``(3, C)`` counts (tp, detections, references); NaN
    without reference events."""
    return f1(*counts.sum(axis=1))


def micro_f1(counts: GridCounts, selection: Selection) -> float:
    """Validation F1 of all classes together at the selected points."""
    return pooled_f1(counts_at(counts, selection))


def validation_groups(recordings: Sequence[ValidationRecording]) -> list[list[int]]:
    """Recordings held out together by :func:`held_out_from`: one group per fold when the
    validation data span several folds, else alternate recordings in two halves (one group
    of a lone recording: nothing can be held out)."""
    folds = sorted({r.fold for r in recordings})
    if len(folds) > 1:
        return [[i for i, r in enumerate(recordings) if r.fold == fold] for fold in folds]
    if len(recordings) < 2:
        return [list(range(len(recordings)))]
    return [list(range(0, len(recordings), 2)), list(range(1, len(recordings), 2))]


def group_counts(
    dec: Decoder,
    recordings: Sequence[ValidationRecording],
    groups: Sequence[Sequence[int]],
    n_classes: int,
    segment_frames: int,
    frame_seconds: float,
) -> list[GridCounts]:
    """:func:`grid_counts` of each group of validation recordings on its own."""
    return [
        grid_counts(dec, [recordings[i] for i in group], n_classes, segment_frames, frame_seconds) for group in groups
    ]


def held_out_from(per_group: Sequence[GridCounts], cfg: ThresholdConfig) -> np.ndarray:
    """``(3, C)``: true positives, detections and reference events of each class, summed over
    groups of validation recordings (:func:`group_counts`), each group counted at the
    thresholds that :func:`select` chooses under ``cfg`` on all the other groups: F1 on
    recordings the choice never saw (with a single group, the in-sample counts at its own choice)."""
    total = np.zeros((3, len(per_group[0].n_ref)))
    for k, held in enumerate(per_group):
        others = [c for j, c in enumerate(per_group) if j != k] or [held]
        pooled = GridCounts(
            sum(c.tp for c in others),
            sum(c.n_sys for c in others),
            sum(c.n_ref for c in others),
            {},
            held.alphas,
            held.second_grid,
        )
        total += counts_at(held, select(pooled, cfg))
    return total


def counts_f1(counts: np.ndarray) -> np.ndarray:
    """Class-wise F1 of ``(3, C)`` counts (tp, detections, references), as :meth:`GridCounts.f1`."""
    return f1(*counts)
