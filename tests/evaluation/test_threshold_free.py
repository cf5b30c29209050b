"""Threshold-free scores are sed_scores_eval's own, on frame scores written in its layout."""

from pathlib import Path

import numpy as np
import pytest
from sed_scores_eval import collar_based, intersection_based
from sed_scores_eval.base_modules.io import read_sed_scores

from mtsed.evaluation.threshold_free import durations_of, evaluate_scores, read_scores, score_frame, write_scores
from mtsed.io.events import Event

LABELS = ["dog", "car"]
FRAME = 0.02


def _recording(rng: np.random.Generator, events: list[Event], seconds: float = 20.0) -> np.ndarray:
    """Noisy frame scores that rise inside the reference events."""
    frames = int(seconds / FRAME)
    scores = 0.3 * rng.random((frames, len(LABELS)))
    for e in events:
        scores[int(e.onset / FRAME) : int(e.offset / FRAME), LABELS.index(e.label)] += 0.6
    return np.clip(scores, 0, 1)


def _case(seed: int) -> tuple[dict, dict]:
    rng = np.random.default_rng(seed)
    reference = {
        "a": [Event(1.0, 3.0, "dog"), Event(5.0, 6.5, "car"), Event(10.0, 14.0, "dog")],
        "b": [Event(2.0, 2.5, "car"), Event(8.0, 12.0, "car"), Event(15.0, 18.0, "dog")],
    }
    return reference, {rid: score_frame(_recording(rng, events), FRAME, LABELS) for rid, events in reference.items()}


def test_scores_written_load_in_sed_scores_eval(tmp_path: Path):
    _, frames = _case(0)
    for rid, frame in frames.items():
        write_scores(tmp_path / f"{rid}.tsv", frame)
    loaded = read_sed_scores(tmp_path)
    assert list(loaded["a"].columns) == ["onset", "offset", "dog", "car"]
    np.testing.assert_allclose(loaded["a"].to_numpy(), frames["a"].to_numpy(), rtol=1e-12)  # read_csv: last digit
    assert read_scores(tmp_path).keys() == {"a", "b"}
    assert durations_of(loaded) == {"a": pytest.approx(20.0), "b": pytest.approx(20.0)}


@pytest.mark.parametrize("seed", range(3))
def test_psds_and_best_f1_equal_sed_scores_eval(seed: int):
    reference, frames = _case(seed)
    durations = {"a": 20.0, "b": 20.0}
    got = evaluate_scores(frames, reference, durations, LABELS, levels=None)
    truth = {rid: [(e.onset, e.offset, e.label) for e in events] for rid, events in reference.items()}
    psds1, per_class, _, _ = intersection_based.psds(
        frames, truth, durations, dtc_threshold=0.7, gtc_threshold=0.7, alpha_ct=0.0, alpha_st=1.0, max_efpr=100.0
    )
    psds2 = intersection_based.psds(
        frames,
        truth,
        durations,
        dtc_threshold=0.1,
        gtc_threshold=0.1,
        cttc_threshold=0.3,
        alpha_ct=0.5,
        alpha_st=1.0,
        max_efpr=100.0,
    )[0]
    best = collar_based.best_fscore(frames, truth, onset_collar=0.2, offset_collar=0.2, offset_collar_rate=0.5)[0]
    assert got["psds1"] == pytest.approx(psds1) and got["psds2"] == pytest.approx(psds2)
    assert 0.3 < got["psds1"] <= 1  # the scores do find the events
    for label in LABELS:
        assert got["per_class"][label]["psd_roc_auc"] == pytest.approx(per_class[label])
        assert got["per_class"][label]["best_f1"] == pytest.approx(best[label])
    assert got["best_f1_class_average"] == pytest.approx(best["macro_average"])


def test_same_class_overlaps_are_merged_before_psds():
    reference, frames = _case(0)
    overlapping = {**reference, "a": reference["a"] + [Event(2.0, 4.0, "dog")]}  # touches [1, 3) of the same class
    merged = {**reference, "a": [Event(1.0, 4.0, "dog"), *reference["a"][1:]]}
    durations = {"a": 20.0, "b": 20.0}
    assert evaluate_scores(frames, overlapping, durations, LABELS) == evaluate_scores(frames, merged, durations, LABELS)


def test_missing_scores_and_other_classes_are_named(tmp_path: Path):
    reference, frames = _case(0)
    with pytest.raises(ValueError, match=r"no scores for recordings \['b'\]"):
        evaluate_scores({"a": frames["a"]}, reference, {"a": 20.0, "b": 20.0}, LABELS)
    with pytest.raises(ValueError, match="hold classes"):
        evaluate_scores(frames, reference, {"a": 20.0, "b": 20.0}, ["dog", "bird"])
    with pytest.raises(FileNotFoundError, match="no such folder"):
        read_scores(tmp_path / "none")
    (tmp_path / "bad.tsv").write_text("start\tend\n1\t2\n")
    with pytest.raises(ValueError, match="bad.tsv: not a sed_scores_eval score file"):
        read_scores(tmp_path)


def test_a_class_never_worth_detecting_has_no_threshold_rather_than_infinity():
    reference, frames = _case(0)
    silent = {rid: frame.assign(car=0.0) for rid, frame in frames.items()}  # car never scores above zero
    got = evaluate_scores(silent, reference, {"a": 20.0, "b": 20.0}, LABELS)
    assert got["per_class"]["car"]["best_threshold"] is None and got["per_class"]["car"]["best_f1"] == 0.0
    best = collar_based.best_fscore(
        silent,
        {rid: [(e.onset, e.offset, e.label) for e in events] for rid, events in reference.items()},
        onset_collar=0.2,
        offset_collar=0.2,
        offset_collar_rate=0.5,
    )
    assert best[3]["car"] == float("inf")  # what the library says, and what JSON cannot carry


def test_quantised_scores_merge_rows_and_move_psds_little():
    from mtsed.evaluation.threshold_free import quantised

    reference, frames = _case(1)
    durations = {"a": 20.0, "b": 20.0}
    q = quantised(frames["a"], LABELS, 10)
    assert len(q) < len(frames["a"]) and q["offset"].iloc[-1] == pytest.approx(frames["a"]["offset"].iloc[-1])
    assert set(np.unique(np.round(q[LABELS].to_numpy() * 10, 9) % 1)) == {0.0}  # multiples of 1/10
    assert (q["onset"].to_numpy()[1:] == q["offset"].to_numpy()[:-1]).all()  # contiguous
    exact = evaluate_scores(frames, reference, durations, LABELS, levels=None)
    fine = evaluate_scores(frames, reference, durations, LABELS)
    assert abs(fine["psds1"] - exact["psds1"]) < 0.005 and abs(fine["psds2"] - exact["psds2"]) < 0.005
