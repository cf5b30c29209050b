"""Decoder ``sebbs``: change-point sound event bounding boxes (Ebbers et al., Interspeech 2024)
from the ``sebbs`` package, on the activity head.

The package finds candidate boxes by change-point detection on each class's frame scores
(a step filter of a given length), merges neighbouring candidates whose gap is shallow
(an absolute or a relative threshold), and gives each box a confidence; boxes above a
detection threshold become events.  The grid searched here is the package's own tuning
grid (three step-filter lengths times six merge thresholds: the first axis, by index)
times detection thresholds 0.00..1.00 step 0.05 (the second axis).

``sebbs`` is licensed AGPL-3.0, so it is optional (``requirements-study.txt``) and is not
part of the runtime image: this decoder is reported beside the paper's in studies only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

STEP_FILTER_SECONDS = (0.32, 0.48, 0.64)
MERGE_THRESHOLDS = (
    (0.15, np.inf),
    (0.2, np.inf),
    (0.3, np.inf),
    (np.inf, 1.5),
    (np.inf, 2.0),
    (np.inf, 3.0),
)  # (absolute, relative)
CONFIGS = tuple((step, a, r) for step in STEP_FILTER_SECONDS for a, r in MERGE_THRESHOLDS)


def available() -> bool:
    try:
        import sebbs  # noqa: F401
    except ImportError:
        return False
    return True


def _predictor(configs: Sequence[tuple[float, float, float]], labels: Sequence[str]):
    """A predictor with one configuration per class."""
    try:
        from sebbs.csebbs import CSEBBsPredictor
    except ImportError:
        raise RuntimeError(
            "the sebbs decoder needs the optional package sebbs (AGPL-3.0): pip install -r requirements-study.txt"
        ) from None
    return CSEBBsPredictor(
        step_filter_length={label: c[0] for label, c in zip(labels, configs)},
        merge_threshold_abs={label: c[1] for label, c in zip(labels, configs)},
        merge_threshold_rel={label: c[2] for label, c in zip(labels, configs)},
        sound_classes=list(labels),
    )


def _score_frame(activity: np.ndarray, labels: Sequence[str], frame_seconds: float):
    from sed_scores_eval.base_modules.scores import create_score_dataframe

    timestamps = np.arange(activity.shape[0] + 1) * frame_seconds  # frame t spans [t, t + 1) * dt
    return create_score_dataframe(np.asarray(activity, np.float64), timestamps, list(labels))


def boxes(
    activity: np.ndarray, labels: Sequence[str], frame_seconds: float, configs: Sequence[tuple[float, float, float]]
) -> list[tuple[float, float, str, float]]:
    """Bounding boxes ``(onset, offset, label, confidence)`` of one recording's activity
    ``(frames, C)``, each class with its own configuration."""
    predictor = _predictor(configs, labels)
    return predictor.predict({"x": _score_frame(activity, labels, frame_seconds)})["x"]


def grid_events(
    y: np.ndarray, frame_seconds: float, confidences: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """One class's events for every (configuration, detection threshold): rows, onsets and
    offsets in frames, number of rows (as :func:`mtsed.detection.decoders.grid_events`)."""
    rows, onsets, offsets = [], [], []
    for k, config in enumerate(CONFIGS):
        for onset, offset, _, confidence in boxes(y[:, None], ["c"], frame_seconds, [config]):
            above = np.flatnonzero(confidence > confidences)
            rows.append(k * len(confidences) + above)
            onsets.append(np.full(len(above), onset / frame_seconds))
            offsets.append(np.full(len(above), offset / frame_seconds))
    if not rows:
        return np.zeros(0, int), np.zeros(0), np.zeros(0), len(CONFIGS) * len(confidences)
    rows_, onsets_, offsets_ = np.concatenate(rows), np.concatenate(onsets), np.concatenate(offsets)
    order = np.argsort(rows_, kind="stable")
    return rows_[order], onsets_[order], offsets_[order], len(CONFIGS) * len(confidences)


def decode(
    activity: np.ndarray, config_index: np.ndarray, threshold: np.ndarray, labels: Sequence[str], frame_seconds: float
) -> list[tuple[float, float, str]]:
    """Boxes above each class's detection threshold, with each class's chosen configuration."""
    configs = [CONFIGS[int(i)] for i in config_index]
    limits = dict(zip(labels, threshold))
    return [
        (on, off, label)
        for on, off, label, confidence in boxes(activity, labels, frame_seconds, configs)
        if confidence > limits[label]
    ]
