import math

import pytest
import torch

from mtsed.model import distances
from mtsed.model.tally import Tally


def test_activity_counts_are_frame_level_hits_false_alarms_and_misses_over_unmasked_frames():
    targets = torch.zeros(1, 4, 6)  # 2 classes: y, p, q columns
    targets[0, :2, 0] = 1  # class 0 active in frames 0, 1
    outputs = torch.zeros(1, 4, 6)
    outputs[0, 1:3, 0] = 0.9  # estimated in frames 1, 2
    outputs[0, 3, 1] = 0.9  # a false alarm of class 1 in frame 3, which is masked out
    tally = Tally("linear")
    tally.add(outputs, targets, torch.tensor([[1.0, 1.0, 1.0, 0.0]]))
    assert tally.counts.tolist() == [1, 1, 1]
    assert tally.frame_f1() == pytest.approx(0.5)


@pytest.mark.parametrize("encoding", ["linear", "log"])
def test_distance_errors_are_decoded_frames_on_active_frames_by_true_distance(encoding):
    T = 256
    targets = torch.zeros(1, T, 3)  # one class active on frames 0..199: p = t, q = 199 - t
    t = torch.arange(200, dtype=torch.float32)
    targets[0, :200, 0] = 1
    targets[0, :200, 1] = t / T
    targets[0, :200, 2] = (199 - t) / T
    placed = targets.clone()
    placed[0, :200, 1] = (t + 3) / T  # every onset placed 3 frames too far
    placed[0, :200, 2] = ((199 - t) * 0.5) / T  # offsets at half their distance
    outputs = placed.clone()
    outputs[..., 1:] = distances.encode(placed[..., 1:], encoding, T)
    outputs[0, 200:, 1:] = 0.9  # inactive frames' distances are not counted
    tally = Tally(encoding)
    tally.add(outputs, targets, torch.ones(1, T))
    bands = tally.distance_errors()
    # 0-5: onsets of frames 0..4 (+3 each) and offsets of frames 195..199 (-0, -0.5, ..., -2)
    assert bands["0-5"]["frames"] == 10
    assert bands["0-5"]["median_abs_error"] == pytest.approx(2.5, abs=1e-3)
    over = bands["over-100"]  # onsets of frames 100..199 (+3) and offsets of frames 0..99 (-50 .. -99.5)
    assert over["frames"] == 200 and over["median_signed_error"] == pytest.approx((3 - 50) / 2, abs=1e-2)
    flat = tally.median_abs_errors("validation")
    assert set(flat) == {f"validation_distance_error_{b}" for b in ("0-5", "5-20", "20-100", "over-100")}
    assert all(math.isfinite(v) for v in flat.values())


def test_activity_only_outputs_have_no_distance_errors():
    tally = Tally("log")
    tally.add(torch.full((1, 8, 2), 0.9), torch.ones(1, 8, 6), torch.ones(1, 8))
    assert tally.distance_errors() == {} and tally.median_abs_errors("x") == {}
    assert tally.frame_f1() == 1.0
