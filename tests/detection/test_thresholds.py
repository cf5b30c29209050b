"""The vectorised grid counts equal a brute-force search scored by sed_eval, for every
decoder; the selection prefers plateaus and leans on shared thresholds with little evidence."""

from dataclasses import replace

import numpy as np
import pytest
import sed_eval

from mtsed.config import ThresholdConfig
from mtsed.detection.decoders import DECODERS, decode, ensemble_scores
from mtsed.detection.thresholds import (
    GridCounts,
    ValidationRecording,
    fixed_selection,
    grid_counts,
    group_counts,
    held_out_from,
    micro_f1,
    select,
    validation_groups,
)

LABELS = ["a", "b"]
FRAME = 0.02
T = 16
ALPHAS = np.round(np.arange(0, 1.01, 0.2), 2)
COARSE = {
    "votes": np.array([0.0, 0.03, 0.3, 0.6]),
    "region-votes": np.array([0.0, 0.1, 0.3, 0.6]),
    "mean-votes": np.array([0.2, 0.5, 0.8]),  # by decoder kind
    "activity": np.array([1, 7, 13]),
    "bounded": np.array([1, 7]),
    "sebbs": np.array([0.3, 0.6]),
}


def _case(seed: int, outputs_per_class: int):
    rng = np.random.default_rng(seed)
    recordings, references = [], []
    for k in range(3):
        frames = 150
        events, truth = {}, np.zeros((frames, 2))
        for c in range(2):
            starts = np.sort(rng.choice(np.arange(0, frames - 30, 30), 3, replace=False)) + rng.integers(0, 5, 3)
            stops = starts + rng.integers(3, 20, 3)
            for a, b in zip(starts, stops):
                truth[a:b, c] = 1
            events[c] = (starts * FRAME, stops * FRAME)
        outputs = np.clip(rng.normal(np.tile(truth, outputs_per_class) * 0.6 + 0.2, 0.2), 0, 1).astype(np.float32)
        recordings.append(ValidationRecording(outputs, fold=str(k % 2), reference=events))
        references.append(
            [
                {"file": str(k), "event_label": LABELS[c], "onset": float(on), "offset": float(off)}
                for c in range(2)
                for on, off in zip(*events[c])
            ]
        )
    return recordings, references


def _sed_eval_f1(references, estimated_per_file, label):
    metrics = sed_eval.sound_event.EventBasedMetrics(event_label_list=LABELS, t_collar=0.2, percentage_of_length=0.5)
    for ref, est in zip(references, estimated_per_file):
        metrics.evaluate(ref, est)
    scores = metrics.results()["class_wise"][label]
    if scores["count"]["Nsys"] == 0 and scores["count"]["Nref"] > 0:
        return 0.0  # sed_eval's NaN, which its class average skips; mtsed.evaluation.metrics counts it as 0
    return scores["f_measure"]["f_measure"]


@pytest.mark.parametrize("name", list(DECODERS))
def test_grid_counts_equal_brute_force_with_sed_eval(name):
    if name == "sebbs":
        pytest.importorskip("sebbs", reason="the optional sebbs package (requirements-study.txt) is not installed")
    dec = replace(DECODERS[name], second_grid=COARSE[DECODERS[name].kind])
    recordings, references = _case(1, 1 if name in ("activity", "sebbs") else 3)
    counts = grid_counts(dec, recordings, 2, T, FRAME, None if name == "sebbs" else ALPHAS)
    grid = counts.f1()
    for a, alpha in enumerate(counts.alphas):
        for s, second in enumerate(dec.second_grid):
            estimated = []
            for k, r in enumerate(recordings):
                norms = [counts.constants[r.fold][:, a]] if dec.normalised else []
                alpha_vec, second_vec = np.full(2, alpha), np.full(2, second)
                scores = ensemble_scores(dec, [r.outputs], alpha_vec, T, norms)
                found = decode(dec, scores, [r.outputs], alpha_vec, second_vec, LABELS, FRAME, T, str(k))
                estimated.append(
                    [{"file": str(k), "event_label": e.label, "onset": e.onset, "offset": e.offset} for e in found]
                )
            for c, label in enumerate(LABELS):
                np.testing.assert_allclose(
                    grid[c, a, s],
                    _sed_eval_f1(references, estimated, label),
                    rtol=0,
                    atol=1e-12,
                    equal_nan=True,
                    err_msg=f"{name} class {label} alpha {alpha} second {second}",
                )


def _counts(tp: np.ndarray, n_sys: np.ndarray, n_ref: list[int]) -> GridCounts:
    return GridCounts(
        tp.astype(float),
        n_sys.astype(float),
        np.array(n_ref),
        {},
        np.linspace(0, 1, tp.shape[1]),
        np.arange(tp.shape[2]),
    )


def test_without_smoothing_or_shrinkage_each_class_takes_its_own_first_peak():
    rng = np.random.default_rng(0)
    tp = rng.integers(0, 10, (3, 5, 4))
    counts = _counts(tp, tp + rng.integers(0, 5, tp.shape), [12, 12, 12])
    chosen = select(counts, ThresholdConfig(smoothing=(0, 0), shrinkage_events=0))
    f1 = np.nan_to_num(counts.f1(), nan=-1)
    for c in range(3):
        assert (chosen.alpha_index[c], chosen.second_index[c]) == np.unravel_index(np.argmax(f1[c]), f1[c].shape)


def test_a_lone_spike_loses_to_a_plateau_once_smoothed():
    tp = np.zeros((1, 9, 1))
    tp[0, 1] = 10  # a spike: F1 1.0 at one alpha only
    tp[0, 5:8] = 9  # a plateau: F1 0.9 at three alphas
    counts = _counts(tp, np.full(tp.shape, 10), [10])
    assert select(counts, ThresholdConfig(smoothing=(0, 0), shrinkage_events=0)).alpha_index[0] == 1
    assert select(counts, ThresholdConfig(smoothing=(1, 0), shrinkage_events=0)).alpha_index[0] == 6


def test_a_class_with_few_events_follows_the_shared_choice():
    tp = np.zeros((2, 4, 1))
    tp[0, 3] = 40  # a well-evidenced class, best at alpha index 3
    tp[1, 0] = 2  # a class with 2 events, best (by luck) at index 0
    tp[1, 3] = 1
    counts = _counts(tp, np.full(tp.shape, 40) * np.array([1, 0.05])[:, None, None], [40, 2])
    alone = select(counts, ThresholdConfig(smoothing=(0, 0), shrinkage_events=0))
    shrunk = select(counts, ThresholdConfig(smoothing=(0, 0), shrinkage_events=50))
    assert list(alone.alpha_index) == [3, 0] and list(shrunk.alpha_index) == [3, 3]


def test_fixed_defaults_sit_on_the_grid_and_micro_f1_pools_classes():
    dec = DECODERS["activity"]
    counts = GridCounts(
        np.ones((2, 101, 43)),
        np.full((2, 101, 43), 2.0),
        np.array([2, 4]),
        {},
        np.round(np.arange(101) * 0.01, 2),
        dec.second_grid,
    )
    fixed = fixed_selection(dec, counts)
    assert counts.alphas[fixed.alpha_index[0]] == 0.5 and dec.second_grid[fixed.second_index[0]] == 25
    assert micro_f1(counts, fixed) == pytest.approx(2 * 2 / (6 + 4))


def test_validation_groups_hold_out_a_fold_or_half_the_recordings():
    recordings, _ = _case(1, 3)  # folds 0, 1, 0
    assert validation_groups(recordings) == [[0, 2], [1]]
    one_fold = [ValidationRecording(r.outputs, "0", r.reference) for r in recordings]
    assert validation_groups(one_fold) == [[0, 2], [1]]
    assert validation_groups(one_fold[:1]) == [[0]]  # nothing to hold out: held-out counts are in-sample


def test_a_held_out_group_is_counted_at_the_thresholds_the_others_chose():
    recordings, _ = _case(2, 3)
    twins = [recordings[0], ValidationRecording(recordings[0].outputs, "1", recordings[0].reference)]
    cfg = ThresholdConfig(smoothing=(1, 1), shrinkage_events=0)
    dec = replace(DECODERS["capped-8"], second_grid=COARSE["votes"])
    held = held_out_from(group_counts(dec, twins, [[0], [1]], 2, T, FRAME), cfg)
    alone = grid_counts(dec, twins[:1], 2, T, FRAME)
    chosen = select(alone, cfg)  # each twin's choice is the other's: held-out equals in-sample twice over
    rows = np.arange(2)
    expected = [
        alone.tp[rows, chosen.alpha_index, chosen.second_index],
        alone.n_sys[rows, chosen.alpha_index, chosen.second_index],
        alone.n_ref,
    ]
    np.testing.assert_array_equal(held, 2 * np.array(expected, float))
    different = held_out_from(group_counts(dec, recordings, [[0, 2], [1]], 2, T, FRAME), cfg)
    assert list(different[2]) == list(grid_counts(dec, recordings, 2, T, FRAME).n_ref)  # every reference counted once
