"""Threshold-free evaluation of frame scores, as DCASE has ranked systems since 2020.

The computation is ``sed_scores_eval``'s (Ebbers et al. 2022), not a copy: PSDS1 and PSDS2
with the DCASE task 4 settings, and per class the collar-based F1 at its best threshold and
the area under the class's PSD-ROC (PSDS1 criteria).  Scores are the ensemble's frame-level
scores in [0, 1] (:meth:`mtsed.detection.bundle.Bundle.scores`): the normalised confidence of the
proposed system at its searched ``alpha``, the mean activity of the baseline.

PSDS needs reference events of one class that neither overlap nor touch, so same-class
overlaps (possible in TUT-SED-Synthetic-2016 and our overlapping set) are merged first, as
DCASE's own ground truth is.  Scores are written and read in ``sed_scores_eval``'s TSV
layout (``onset offset <class>...``, one file per recording).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from mtsed.evaluation.metrics import OFFSET_LENGTH_FRACTION, T_COLLAR, finite_or_none
from mtsed.io.events import Event, merge_overlaps
from mtsed.io.fileio import atomic_path

# DCASE 2021-2023 task 4 scenarios (Bilen et al. 2020 criteria; eFPR per hour up to 100).
PSDS1 = {"dtc_threshold": 0.7, "gtc_threshold": 0.7, "alpha_ct": 0.0, "alpha_st": 1.0, "max_efpr": 100.0}
PSDS2 = {
    "dtc_threshold": 0.1,
    "gtc_threshold": 0.1,
    "cttc_threshold": 0.3,
    "alpha_ct": 0.5,
    "alpha_st": 1.0,
    "max_efpr": 100.0,
}
# Scores are floored to this many levels before scoring: sed_scores_eval evaluates every
# distinct score as a threshold, and frame scores have one per frame (the exact PSDS of the
# isolated set took ~4 min of a 5-min evaluate stage); PSDS moves < 0.005 (benchmarks/RESULTS.md).
SCORE_LEVELS = 200


def score_frame(scores: np.ndarray, frame_seconds: float, labels: Sequence[str]):
    """One recording's scores ``(frames, C)`` as a ``sed_scores_eval`` DataFrame: each
    frame's score holds from ``t * frame_seconds`` to ``(t + 1) * frame_seconds``."""
    from sed_scores_eval.base_modules.scores import create_score_dataframe

    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2 or scores.shape[1] != len(labels):
        raise ValueError(f"scores of shape {scores.shape} do not match {len(labels)} classes")
    timestamps = np.round(np.arange(scores.shape[0] + 1) * frame_seconds, 6)
    return create_score_dataframe(scores, timestamps, list(labels))


def write_scores(path: Path, frame) -> None:
    """Atomically write one recording's score DataFrame (:func:`score_frame`) as a
    ``sed_scores_eval`` TSV."""
    from sed_scores_eval.base_modules.io import write_sed_scores

    with atomic_path(Path(path)) as tmp:
        write_sed_scores(frame, tmp)


def read_scores(folder: Path) -> dict:
    """Every ``<recording>.tsv`` score file of a folder, keyed by recording (file stem)."""
    from sed_scores_eval.base_modules.io import read_sed_scores

    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder of score files (write one with `mtsed detect --scores`)")
    files = sorted(folder.glob("*.tsv"))
    if not files:
        raise FileNotFoundError(f"{folder}: no .tsv score files in this folder")
    scores = {}
    for path in files:
        try:
            scores[path.stem] = read_sed_scores(path)
        except (ValueError, KeyError, AssertionError) as error:
            raise ValueError(f"{path}: not a sed_scores_eval score file (onset offset <class>...): {error}") from None
    return scores


def quantised(frame, labels: Sequence[str], levels: int = SCORE_LEVELS):
    """A score DataFrame with scores floored to multiples of ``1 / levels`` and runs of
    identical rows merged into one (fewer distinct thresholds and rows to evaluate)."""
    from sed_scores_eval.base_modules.scores import create_score_dataframe

    values = np.floor(frame[list(labels)].to_numpy(np.float64) * levels) / levels
    keep = np.ones(len(values), bool)
    keep[1:] = np.any(values[1:] != values[:-1], axis=1)
    onsets = frame["onset"].to_numpy(np.float64)
    timestamps = np.append(onsets[keep], float(frame["offset"].iloc[-1]))
    return create_score_dataframe(values[keep], timestamps, list(labels))


def durations_of(scores: Mapping) -> dict[str, float]:
    """Each recording's duration as its score file covers it (the last offset)."""
    return {rid: float(frame["offset"].iloc[-1]) for rid, frame in scores.items()}


def evaluate_scores(
    scores: Mapping,
    reference: Mapping[str, Sequence[Event]],
    durations: Mapping[str, float],
    labels: Sequence[str],
    levels: int | None = SCORE_LEVELS,
) -> dict:
    """PSDS1, PSDS2, and per class the best-threshold collar F1 and the PSD-ROC AUC.

    ``scores`` maps each reference recording to its score DataFrame (:func:`score_frame`);
    classes of the scores beyond ``labels`` are an error, as are recordings without scores.
    Scores are first :func:`quantised` to ``levels`` (``None``: the exact computation).
    """
    from sed_scores_eval import collar_based, intersection_based

    missing = sorted(set(reference) - set(scores))
    if missing:
        raise ValueError(f"no scores for recordings {missing[:5]}")
    for rid in reference:
        classes = [c for c in scores[rid].columns if c not in ("onset", "offset")]
        if sorted(classes) != sorted(labels):
            raise ValueError(f"scores of {rid} hold classes {classes}, the reference {sorted(labels)}")
    scores = {rid: scores[rid] if levels is None else quantised(scores[rid], labels, levels) for rid in reference}
    truth = {rid: [(e.onset, e.offset, e.label) for e in merge_overlaps(events)] for rid, events in reference.items()}
    durations = {rid: float(durations[rid]) for rid in reference}
    psds1, per_class_auc, _, _ = intersection_based.psds(scores, truth, durations, **PSDS1)
    psds2 = intersection_based.psds(scores, truth, durations, **PSDS2)[0]
    best_f1, _, _, best_threshold, _ = collar_based.best_fscore(
        scores, truth, onset_collar=T_COLLAR, offset_collar=T_COLLAR, offset_collar_rate=OFFSET_LENGTH_FRACTION
    )
    return {
        "psds1": finite_or_none(psds1),
        "psds2": finite_or_none(psds2),
        "best_f1_class_average": finite_or_none(best_f1["macro_average"]),
        "per_class": {
            label: {
                "best_f1": finite_or_none(best_f1[label]),
                "best_threshold": finite_or_none(best_threshold[label]),
                "psd_roc_auc": finite_or_none(per_class_auc[label]),
            }
            for label in labels
        },
    }
