"""The fast class-wise counter equals sed_eval; evaluate_events reports sed_eval's numbers."""

import math

import numpy as np
import pytest
import sed_eval

from mtsed.evaluation.metrics import evaluate_events, evaluate_segments, matched_count
from mtsed.io.events import Event


def f_measure(tp: float, n_ref: float, n_sys: float) -> float:
    """sed_eval's class-wise F1, computed its way (precision and recall first): the oracle."""
    if n_ref == 0:
        return math.nan
    if n_sys == 0:
        return 0.0
    precision, recall = tp / n_sys, tp / n_ref
    return 0.0 if precision == recall == 0 else 2 * precision * recall / (precision + recall)


LABELS = ["a", "b", "c"]


def _random_events(rng: np.random.Generator, n: int, jitter_from: list[Event] | None = None) -> list[Event]:
    if jitter_from is not None:  # estimates near the references: ambiguous, overlapping matches
        events = []
        for ref in jitter_from:
            if rng.random() < 0.8:
                onset = max(0.0, ref.onset + rng.normal(0, 0.15))
                events.append(Event(onset, onset + max(0.02, ref.offset - ref.onset + rng.normal(0, 0.3)), ref.label))
        return events + _random_events(rng, int(rng.integers(0, 4)))
    onsets = np.round(rng.uniform(0, 10, n), int(rng.integers(1, 4)))
    return [Event(float(o), float(o + rng.choice([0.1, 0.3, 0.5, 1.0, 2.0])), str(rng.choice(LABELS))) for o in onsets]


def _sed_eval_class_f1(reference: list[Event], estimated: list[Event]) -> dict[str, float]:
    metrics = sed_eval.sound_event.EventBasedMetrics(event_label_list=LABELS, t_collar=0.2, percentage_of_length=0.5)

    def as_items(events: list[Event]) -> list[dict]:
        return [{"file": "f", "event_label": e.label, "onset": e.onset, "offset": e.offset} for e in events]

    metrics.evaluate(as_items(reference), as_items(estimated))
    counts = {label: metrics.results()["class_wise"][label]["count"] for label in LABELS}
    # a class with references and no estimates: 0 in mtsed (sed_eval: NaN, skipped by its class average)
    return {
        label: 0.0
        if counts[label]["Nsys"] == 0 and counts[label]["Nref"] > 0
        else metrics.results()["class_wise"][label]["f_measure"]["f_measure"]
        for label in LABELS
    }


def _fast_class_f1(reference: list[Event], estimated: list[Event]) -> dict[str, float]:
    out = {}
    for label in LABELS:
        ref = [e for e in reference if e.label == label]
        est = [e for e in estimated if e.label == label]
        arrays = [np.array([getattr(e, k) for e in events]) for events in (ref, est) for k in ("onset", "offset")]
        out[label] = f_measure(matched_count(*arrays), len(ref), len(est))
    return out


@pytest.mark.parametrize("seed", range(200))
def test_fast_class_f1_equals_sed_eval_on_random_lists(seed: int):
    rng = np.random.default_rng(seed)
    reference = _random_events(rng, int(rng.integers(0, 15)))
    estimated = (
        _random_events(rng, 0, jitter_from=reference) if seed % 2 else _random_events(rng, int(rng.integers(0, 15)))
    )
    expected, actual = _sed_eval_class_f1(reference, estimated), _fast_class_f1(reference, estimated)
    for label in LABELS:
        assert (math.isnan(expected[label]) and math.isnan(actual[label])) or abs(
            expected[label] - actual[label]
        ) <= 1e-9


def test_fast_class_f1_equals_sed_eval_on_real_lists(tiny_workspace):
    from mtsed.data.datasets import load_dataset

    dataset = load_dataset(tiny_workspace / "data" / "overlapping")
    rng = np.random.default_rng(0)
    for recording in dataset.recordings:
        reference = [
            Event(e.onset, e.offset, {"beep": "a", "chirp": "b", "knock": "c"}[e.label])
            for e in dataset.events(recording)
        ]
        estimated = _random_events(rng, 0, jitter_from=reference)
        expected, actual = _sed_eval_class_f1(reference, estimated), _fast_class_f1(reference, estimated)
        for label in LABELS:
            assert (math.isnan(expected[label]) and math.isnan(actual[label])) or abs(
                expected[label] - actual[label]
            ) <= 1e-9


def test_one_crossing_needs_a_real_matching():
    # two references, two estimates; greedy in the wrong order matches only one pair
    ref_on, ref_off = np.array([0.0, 0.15]), np.array([1.0, 1.0])
    est_on, est_off = np.array([0.1, 0.3]), np.array([1.0, 1.0])
    assert matched_count(ref_on, ref_off, est_on, est_off) == 2


def test_evaluate_events_on_hand_made_cases():
    reference = {"x": [Event(1.0, 2.0, "a"), Event(3.0, 4.0, "b")]}
    perfect = evaluate_events(reference, {"x": [Event(1.1, 2.1, "a"), Event(3.0, 4.0, "b")]}, ["a", "b"])
    assert perfect["overall"]["f1"] == pytest.approx(1.0) and perfect["overall"]["er"] == pytest.approx(0.0)
    wrong_label = evaluate_events(reference, {"x": [Event(1.0, 2.0, "b")]}, ["a", "b"])
    assert wrong_label["overall"]["substitution_rate"] == pytest.approx(0.5)
    assert wrong_label["per_class"]["a"] == {"f1": 0.0, "er": pytest.approx(1.0), "n_ref": 1, "n_sys": 0}
    late = evaluate_events(reference, {"x": [Event(1.3, 2.0, "a")]}, ["a", "b"])
    assert late["per_class"]["a"]["f1"] == 0.0 and late["per_class"]["a"]["er"] == pytest.approx(2.0)
    with pytest.raises(ValueError, match="'c'"):
        evaluate_events(reference, {"x": [Event(1.0, 2.0, "c")]}, ["a", "b"])


@pytest.mark.parametrize("seed", range(6))
def test_matched_counts_of_many_lists_equal_one_list_at_a_time(seed):
    from mtsed.evaluation.metrics import matched_counts

    rng = np.random.default_rng(seed)
    ref_on = np.sort(rng.uniform(0, 20, 8))
    ref_off = ref_on + rng.uniform(0.05, 2.0, 8)
    n_rows, n_events = 40, 300
    rows = np.sort(rng.integers(0, n_rows, n_events))
    est_on = rng.choice(ref_on, n_events) + rng.normal(
        0, 0.15, n_events
    )  # near the references: many hits, some conflicts
    est_off = est_on + rng.uniform(0.05, 2.0, n_events)
    counts = matched_counts(rows, n_rows, ref_on, ref_off, est_on, est_off)
    expected = [matched_count(ref_on, ref_off, est_on[rows == r], est_off[rows == r]) for r in range(n_rows)]
    assert counts.tolist() == expected and max(expected) > 1


def _sed_eval_results(
    kind: str,
    reference: dict[str, list[Event]],
    estimated: dict[str, list[Event]],
    durations: dict[str, float] | None = None,
) -> dict:
    if kind == "event":
        metrics = sed_eval.sound_event.EventBasedMetrics(
            event_label_list=LABELS, t_collar=0.2, percentage_of_length=0.5
        )
    else:
        metrics = sed_eval.sound_event.SegmentBasedMetrics(event_label_list=LABELS, time_resolution=1.0)
    for file in sorted(reference):
        items = [
            [{"file": file, "event_label": e.label, "onset": e.onset, "offset": e.offset} for e in events]
            for events in (reference[file], estimated[file])
        ]
        if kind == "event":
            metrics.evaluate(*items)
        else:
            metrics.evaluate(*items, evaluated_length_seconds=None if durations is None else durations[file])
    return metrics.results()


def _close(mine: float | None, theirs: float) -> bool:
    return (mine is None and math.isnan(theirs)) or abs(mine - theirs) <= 1e-9


def _class_average_counting_misses(results: dict) -> float:
    """sed_eval's class-wise F1 averaged over classes with references, a never-detected class as 0."""
    values = [
        0.0 if math.isnan(c["f_measure"]["f_measure"]) else c["f_measure"]["f_measure"]
        for c in results["class_wise"].values()
        if c["count"]["Nref"] > 0
    ]
    return float(np.mean(values)) if values else math.nan


def test_a_class_never_detected_counts_as_zero_in_the_class_average():
    """sed_eval skips it (NaN precision), which would reward a system for giving up on a class."""
    reference = {"x": [Event(1.0, 2.0, "a"), Event(3.0, 4.0, "b")]}
    estimated = {"x": [Event(1.0, 2.0, "a")]}
    for ours in (evaluate_events, evaluate_segments):
        got = ours(reference, estimated, ["a", "b", "c"])
        assert got["per_class"]["b"]["f1"] == 0.0 and got["per_class"]["c"]["f1"] is None  # c: nothing to find
        assert got["class_average"]["f1"] == pytest.approx(0.5)
    assert _sed_eval_results("event", reference, estimated)["class_wise_average"]["f_measure"][
        "f_measure"
    ] == pytest.approx(1.0)


@pytest.mark.parametrize("seed", range(20))
def test_segment_based_scores_equal_sed_eval(seed: int):
    rng = np.random.default_rng(seed)
    reference = {f: _random_events(rng, int(rng.integers(1, 12))) for f in ("x", "y")}
    estimated = {f: _random_events(rng, 0, jitter_from=events) for f, events in reference.items()}
    durations = {"x": 14.0, "y": 12.5} if seed % 2 else None
    got = evaluate_segments(reference, estimated, LABELS, durations)
    expected = _sed_eval_results("segment", reference, estimated, durations)
    assert _close(got["overall"]["f1"], expected["overall"]["f_measure"]["f_measure"])
    assert _close(got["overall"]["er"], expected["overall"]["error_rate"]["error_rate"])
    assert _close(got["class_average"]["f1"], _class_average_counting_misses(expected))
    for label in LABELS:
        assert _close(got["per_class"][label]["er"], expected["class_wise"][label]["error_rate"]["error_rate"])


def test_zero_length_events_are_scored_as_sed_eval_scores_them():
    """DCASE 2016's street reference holds onset = offset (224.691453); sed_eval scores it."""
    reference = {"s": [Event(224.691453, 224.691453, "a"), Event(220.0, 221.0, "b"), Event(230.0, 230.0, "c")]}
    estimated = {"s": [Event(224.6, 224.8, "a"), Event(220.1, 221.1, "b"), Event(231.0, 232.0, "c")]}
    for kind, ours in (("event", evaluate_events), ("segment", evaluate_segments)):
        got, expected = ours(reference, estimated, LABELS), _sed_eval_results(kind, reference, estimated)
        assert _close(got["overall"]["f1"], expected["overall"]["f_measure"]["f_measure"])
        assert _close(got["overall"]["er"], expected["overall"]["error_rate"]["error_rate"])
        for label in LABELS:
            theirs = expected["class_wise"][label]
            assert _close(
                got["per_class"][label]["f1"],
                0.0
                if theirs["count"]["Nsys"] == 0 and theirs["count"]["Nref"] > 0
                else theirs["f_measure"]["f_measure"],
            )
    assert (
        evaluate_events(reference, estimated, LABELS)["per_class"]["a"]["f1"] == 1.0
    )  # the zero-length event is found
