"""Event-based (METHOD.md section 8) and segment-based F1 and error rate, as sed_eval computes them.

One deliberate difference: a class with reference events that a system never detects
scores F1 0, not sed_eval's NaN.  sed_eval returns NaN precision when nothing was detected
and its class-wise average skips NaN, so a system that gives up on a class would score a
*higher* class-average F1 than one that tries (a decoder that never fires for a class would
be rewarded for it).  A class without reference events stays undefined.

Final numbers (tables, ``mtsed evaluate``) come from sed_eval itself.  The threshold search
needs tens of thousands of class-wise evaluations, so :func:`matched_count` counts a class's
true positives without sed_eval: the size of a maximum matching between reference and
estimated events under the same collars.  Every maximum matching has the same size, so the
count (and the class-wise F1 built from it with sed_eval's formula) equals sed_eval's; the
tests check that on random and real event lists.  Overall substitutions depend on which
maximum matching sed_eval's own algorithm picks, so overall scores always go through sed_eval.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_bipartite_matching

from mtsed.io.events import Event

T_COLLAR = 0.2  # seconds, onset and offset
OFFSET_LENGTH_FRACTION = 0.5  # offset collar: max(T_COLLAR, 50 % of the reference length)
SEGMENT_SECONDS = 1.0  # segment-based metrics: DCASE's 1-s segments


def hit_matrix(ref_on: np.ndarray, ref_off: np.ndarray, est_on: np.ndarray, est_off: np.ndarray) -> np.ndarray:
    """``(n_ref, n_est)``: which estimated events match which reference events (one class)."""
    onset_ok = np.abs(ref_on[:, None] - est_on[None, :]) <= T_COLLAR
    collar = np.maximum(T_COLLAR, OFFSET_LENGTH_FRACTION * (ref_off - ref_on))
    offset_ok = np.abs(ref_off[:, None] - est_off[None, :]) <= collar[:, None]
    return onset_ok & offset_ok


def matched_count(ref_on: np.ndarray, ref_off: np.ndarray, est_on: np.ndarray, est_off: np.ndarray) -> int:
    """True positives of one class in one file: the size of a maximum collar matching."""
    if len(ref_on) == 0 or len(est_on) == 0:
        return 0
    hits = hit_matrix(ref_on, ref_off, est_on, est_off)
    if hits.sum(axis=0).max(initial=0) <= 1 and hits.sum(axis=1).max(initial=0) <= 1:
        return int(hits.sum())  # no event has two candidates: the matching is the hit set
    return int((maximum_bipartite_matching(csr_matrix(hits), perm_type="column") >= 0).sum())


def matched_counts(
    rows: np.ndarray, n_rows: int, ref_on: np.ndarray, ref_off: np.ndarray, est_on: np.ndarray, est_off: np.ndarray
) -> np.ndarray:
    """:func:`matched_count` for many estimated lists of one class at once: ``rows[i]`` says
    which list event ``i`` belongs to; returns the true positives of each of ``n_rows`` lists.

    Where no event hits two references and no reference is hit twice within a list, the
    maximum matching is the set of hits, so those lists are counted with array operations;
    the few lists with a conflict go through :func:`matched_count`.
    """
    tp = np.zeros(n_rows, np.int64)
    if len(ref_on) == 0 or len(est_on) == 0:
        return tp
    hits = hit_matrix(ref_on, ref_off, est_on, est_off).T  # (events, references)
    per_ref = np.zeros((n_rows, len(ref_on)), np.int64)
    event, ref = np.nonzero(hits)
    np.add.at(per_ref, (rows[event], ref), 1)
    conflict = (per_ref > 1).any(axis=1)
    conflict[rows[hits.sum(axis=1) > 1]] = True
    tp[~conflict] = (per_ref[~conflict] > 0).sum(axis=1)
    for row in np.flatnonzero(conflict):
        mine = rows == row
        tp[row] = matched_count(ref_on, ref_off, est_on[mine], est_off[mine])
    return tp


def _as_items(events: Sequence[Event], file: str) -> list[dict]:
    return [{"file": file, "event_label": e.label, "onset": e.onset, "offset": e.offset} for e in events]


def finite_or_none(value) -> float | None:
    """A finite float, or ``None`` for an undefined score (NaN) or a threshold of infinity
    (sed_scores_eval's "never detect"), which JSON, MLflow and KFP metrics cannot carry."""
    value = float(value)
    return value if math.isfinite(value) else None


def _class_f1(scores: Mapping) -> float | None:
    """sed_eval's class-wise F1, or 0 where the class has references and no estimates."""
    value = float(scores["f_measure"]["f_measure"])
    if math.isnan(value) and scores["count"]["Nref"] > 0:
        return 0.0
    return finite_or_none(value)


def _class_average(results: Mapping, labels: Sequence[str]) -> dict:
    """Mean class-wise F1 over classes with reference events (see the module docstring), and
    sed_eval's class-average error rate (defined for exactly those classes)."""
    values = [f for f in (_class_f1(results["class_wise"][label]) for label in labels) if f is not None]
    return {
        "f1": float(np.mean(values)) if values else None,
        "er": finite_or_none(results["class_wise_average"]["error_rate"]["error_rate"]),
    }


def evaluate_events(
    reference: Mapping[str, Sequence[Event]], estimated: Mapping[str, Sequence[Event]], labels: Sequence[str]
) -> dict:
    """sed_eval event-based scores over files (keys of ``reference``; missing estimates: none).

    Returns ``{"overall": {...}, "class_average": {...}, "per_class": {label: {...}}}`` with
    F1 and ER as fractions; an undefined value is ``None`` (F1 of a class without references).
    """
    import sed_eval  # imports dcase_util: slow, so only when evaluating

    unknown = sorted({e.label for events in estimated.values() for e in events} - set(labels))
    if unknown:
        raise ValueError(f"estimated events use labels {unknown} that are not among {list(labels)}")
    metrics = sed_eval.sound_event.EventBasedMetrics(
        event_label_list=list(labels),
        t_collar=T_COLLAR,
        percentage_of_length=OFFSET_LENGTH_FRACTION,
    )
    for file in sorted(reference):
        metrics.evaluate(_as_items(reference[file], file), _as_items(estimated.get(file, []), file))
    results = metrics.results()
    overall = results["overall"]
    per_class = {}
    for label in labels:
        scores = results["class_wise"][label]
        per_class[label] = {
            "f1": _class_f1(scores),
            "er": finite_or_none(scores["error_rate"]["error_rate"]),
            "n_ref": int(scores["count"]["Nref"]),
            "n_sys": int(scores["count"]["Nsys"]),
        }
    return {
        "overall": {
            "f1": finite_or_none(overall["f_measure"]["f_measure"]),
            "er": finite_or_none(overall["error_rate"]["error_rate"]),
            "precision": finite_or_none(overall["f_measure"]["precision"]),
            "recall": finite_or_none(overall["f_measure"]["recall"]),
            "substitution_rate": finite_or_none(overall["error_rate"]["substitution_rate"]),
            "deletion_rate": finite_or_none(overall["error_rate"]["deletion_rate"]),
            "insertion_rate": finite_or_none(overall["error_rate"]["insertion_rate"]),
        },
        "class_average": _class_average(results, labels),
        "per_class": per_class,
    }


def _f1_er(scores: Mapping) -> dict:
    return {
        "f1": finite_or_none(scores["f_measure"]["f_measure"]),
        "er": finite_or_none(scores["error_rate"]["error_rate"]),
    }


def evaluate_segments(
    reference: Mapping[str, Sequence[Event]],
    estimated: Mapping[str, Sequence[Event]],
    labels: Sequence[str],
    durations: Mapping[str, float] | None = None,
) -> dict:
    """sed_eval segment-based scores (1-s segments) over files, shaped like
    :func:`evaluate_events`' F1/ER: ``{"overall", "class_average", "per_class"}``.

    ``durations`` (seconds per file) sets each file's evaluated length, so silence after
    the last event counts; without it sed_eval stops at the last reference or estimated offset.
    """
    import sed_eval

    metrics = sed_eval.sound_event.SegmentBasedMetrics(event_label_list=list(labels), time_resolution=SEGMENT_SECONDS)
    for file in sorted(reference):
        length = None if durations is None else float(durations[file])
        metrics.evaluate(
            _as_items(reference[file], file), _as_items(estimated.get(file, []), file), evaluated_length_seconds=length
        )
    results = metrics.results()
    return {
        "overall": _f1_er(results["overall"]),
        "class_average": _class_average(results, labels),
        "per_class": {
            label: {
                "f1": _class_f1(results["class_wise"][label]),
                "er": finite_or_none(results["class_wise"][label]["error_rate"]["error_rate"]),
            }
            for label in labels
        },
    }
