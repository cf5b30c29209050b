"""Scoring a user's event lists against reference lists (what ``mtsed evaluate`` prints).

The lists are single files (``onset offset label``) or folders of per-file lists, paired by
file name. The classes scored are every label either side uses, plus, with frame-score files
(``sed_scores_eval`` layout), every class those score, so a class a system never detects
still counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mtsed.evaluation import threshold_free
from mtsed.evaluation.metrics import evaluate_events, evaluate_segments
from mtsed.io.events import Event, read_event_lists


@dataclass(frozen=True)
class ListScores:
    """sed_eval's event-based scores (``overall``, ``class_average``, ``per_class``), its
    segment-based ones (``segment_based``) and, with score files, the threshold-free ones
    (``threshold_free``), over ``labels``."""

    result: dict
    labels: list[str]

    def summary(self) -> dict:
        """The figures a reader compares: F1 and error rate overall and class-averaged, per class,
        segment-based and threshold-free."""
        keep = ("f1", "er")
        return {
            "overall": {k: self.result["overall"][k] for k in keep},
            "class_average": {k: self.result["class_average"][k] for k in keep},
            "per_class": self.result["per_class"],
            **{k: self.result[k] for k in ("segment_based", "threshold_free") if k in self.result},
        }


def _threshold_free(folder: Path, reference: dict[str, list[Event]]) -> dict:
    """PSDS and per-class threshold-free scores of a folder of score files against the reference."""
    scores = threshold_free.read_scores(folder)
    if set(reference) == {""} and len(scores) == 1:  # a single-file reference list
        scores = {"": next(iter(scores.values()))}
    classes = [c for c in next(iter(scores.values())).columns if c not in ("onset", "offset")]
    unknown = sorted({e.label for events in reference.values() for e in events} - set(classes))
    if unknown:
        raise ValueError(f"{folder}: the reference uses labels {unknown} that the score files do not score ({classes})")
    return threshold_free.evaluate_scores(scores, reference, threshold_free.durations_of(scores), classes)


def score_event_lists(reference_path: Path, estimated_path: Path, scores_path: Path | None = None) -> ListScores:
    """Score the estimated lists against the reference lists (and the frame scores in
    ``scores_path``, threshold-free, when given). Every estimated file needs a reference."""
    reference, estimated = read_event_lists(reference_path), read_event_lists(estimated_path)
    if set(reference) == {""} and len(estimated) == 1:  # two single-file lists
        estimated = {"": next(iter(estimated.values()))}
    unmatched = sorted(set(estimated) - set(reference))
    if unmatched:
        raise ValueError(f"{estimated_path}: files {unmatched[:5]} have no reference in {reference_path}")
    labels = sorted({e.label for events in [*reference.values(), *estimated.values()] for e in events})
    free = _threshold_free(scores_path, reference) if scores_path is not None else None
    if free is not None:
        labels = sorted(set(labels) | set(free["per_class"]))  # classes the scores hold, events or not
    result = {
        **evaluate_events(reference, estimated, labels),
        "segment_based": evaluate_segments(reference, estimated, labels),
    }
    if free is not None:
        result["threshold_free"] = free
    return ListScores(result, labels)
