"""Frame-level F1 and boundary errors measure what the network learned."""

import numpy as np
import pytest

from mtsed.data.targets import encode
from mtsed.evaluation.diagnostics import boundary_errors, frame_counts, frame_f1, inference_targets, median_or_none
from mtsed.io.events import Event

T = 16


def test_frame_f1_pools_recordings_and_classes():
    y = np.array([[1, 0], [1, 1], [0, 1]], float)
    y_hat = np.array([[0.9, 0.6], [0.2, 0.7], [0.1, 0.4]])
    counts = frame_counts(y_hat, y)
    assert counts.tolist() == [2, 3, 4]  # 2 hits, 3 detections, 4 active reference frames
    assert frame_f1([counts, counts]) == pytest.approx(2 * 4 / (6 + 8))
    assert frame_f1([np.zeros(3, int)]) is None


def test_inference_targets_read_distances_inside_each_segment():
    targets = encode([Event(0.1, 0.6, "a")], 40, ("a",), 0.02, T).stacked()  # frames 5..29
    window = inference_targets(targets, T, "window")
    np.testing.assert_allclose(window[:, 0], targets[:, 0])
    assert window[15, 2] * T == 0 and window[16, 1] * T == 0  # the segment edge (frame 16) cuts the event
    assert window[5, 1] * T == 0 and window[5, 2] * T == 10  # first segment: frames 5..15
    np.testing.assert_allclose(inference_targets(targets, T, "recording"), targets)


def test_perfect_distance_outputs_have_no_boundary_error():
    targets = inference_targets(
        encode([Event(0.1, 0.6, "a"), Event(0.2, 0.3, "b")], 40, ("a", "b"), 0.02, T).stacked(), T, "window"
    )
    onset, offset = boundary_errors(targets, targets, T)
    assert onset.size == offset.size == int(targets[:, :2].sum()) and onset.max() == offset.max() == 0
    shifted = targets.copy()
    shifted[:, 2:4] += 3 / T
    assert median_or_none([boundary_errors(shifted, targets, T)[0]]) == pytest.approx(3.0)
    assert median_or_none([]) is None


def test_signed_errors_are_binned_by_true_distance():
    from mtsed.evaluation.diagnostics import signed_distance_errors
    from mtsed.measures.distance_errors import band_medians

    T = 100
    targets = np.zeros((10, 3))
    targets[:, 0] = 1.0
    targets[:, 1] = np.arange(10) * 3 / T  # true onset distances 0, 3, ..., 27 frames
    outputs = targets.copy()
    outputs[:, 1] += 2 / T  # every onset placed 2 frames farther
    errors = signed_distance_errors(outputs, targets, T)
    binned = band_medians([errors["onset"]])
    assert binned["0-5"] == {
        "median_abs_error": pytest.approx(2.0),
        "median_signed_error": pytest.approx(2.0),
        "frames": 2,
    }
    assert (
        binned["5-20"]["frames"] == 5
        and binned["20-100"]["frames"] == 3
        and binned["over-100"]["median_signed_error"] is None
    )
    assert band_medians([errors["offset"]])["0-5"]["median_signed_error"] == pytest.approx(0.0)


def test_each_missed_event_gets_its_reason():
    from mtsed.evaluation.diagnostics import miss_reason, miss_reasons
    from mtsed.io.events import Event

    assert miss_reason(1.0, 3.0, np.array([[1.1, 3.2]])) == "hit"
    assert miss_reason(1.0, 3.0, np.zeros((0, 2))) == "not found"
    assert miss_reason(1.0, 3.0, np.array([[5.0, 6.0]])) == "not found"
    assert miss_reason(1.0, 3.0, np.array([[1.0, 1.5], [2.0, 3.0]])) == "fragmented"
    assert miss_reason(1.0, 3.0, np.array([[1.5, 3.0]])) == "onset"
    assert miss_reason(1.0, 5.0, np.array([[1.0, 1.5]])) == "offset"  # offset collar: 50 % of 4 s
    counts = miss_reasons(
        {"r": [Event(1.0, 3.0, "a"), Event(4.0, 5.0, "b")]}, {"r": [Event(1.1, 3.0, "a")]}, ["a", "b"]
    )
    assert counts["a"]["hit"] == 1 and counts["b"]["not found"] == 1 and sum(counts["b"].values()) == 1
