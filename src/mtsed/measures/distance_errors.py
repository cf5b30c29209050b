"""How far the distance head is off, by how far the boundary is: the bands the training
history, MLflow and the evaluation report share.

A boundary's distance error is ``d_hat - d`` in frames on a frame where the class is active
(``d`` the frames back to the onset or ahead to the offset, as the network is trained to
predict it).  Errors grow with the distance, so one median over all frames says little: they
are reported per band of true distance, as the median absolute error (how far off) and the
median signed error (which way).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

BAND_EDGES = (0.0, 5.0, 20.0, 100.0, np.inf)  # true distance in frames: < 5, 5-20, 20-100, >= 100
BAND_NAMES = ("0-5", "5-20", "20-100", "over-100")  # MLflow metric names allow no < or >
METRIC_INFIX = "_distance_error_"  # a metric's name: <split>_distance_error_<band>, e.g. validation_distance_error_0-5


def error_metric(split: str, band: str) -> str:
    """The name of one split's median |error| in one band, as history.json and MLflow record it."""
    return f"{split}{METRIC_INFIX}{band}"


def is_error_metric(name: str) -> bool:
    """Whether a metric is a distance-error band of some split (:func:`error_metric`)."""
    return METRIC_INFIX in name


def band_medians(pairs: Iterable[tuple[np.ndarray, np.ndarray]]) -> dict[str, dict[str, float | int | None]]:
    """Per band of true distance: the median absolute and signed error and the frames counted,
    over ``(true distance, signed error)`` pairs of arrays (``None`` where a band is empty)."""
    pairs = list(pairs)
    truth = np.concatenate([np.ravel(t) for t, _ in pairs] or [np.zeros(0)])
    error = np.concatenate([np.ravel(e) for _, e in pairs] or [np.zeros(0)])
    out = {}
    for name, lo, hi in zip(BAND_NAMES, BAND_EDGES[:-1], BAND_EDGES[1:]):
        inside = (truth >= lo) & (truth < hi)
        found = bool(inside.any())
        out[name] = {
            "median_abs_error": float(np.median(np.abs(error[inside]))) if found else None,
            "median_signed_error": float(np.median(error[inside])) if found else None,
            "frames": int(inside.sum()),
        }
    return out
