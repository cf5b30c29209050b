"""Confidence integration, median filtering and segment-wise network outputs."""

import numpy as np
import pytest
import torch
from scipy.ndimage import median_filter

from mtsed.detection.outputs import network_outputs
from mtsed.detection.postprocessing import class_votes, median_filter_binary
from mtsed.model.network import CRNN
from tests.conftest import small_spec

T = 32


def _naive_votes(y, p, q, alpha, segment_frames):
    f = np.zeros(len(y))
    for t in range(len(y)):
        if y[t] > alpha:
            for n in range(len(y)):
                if t - p[t] * segment_frames - 1e-4 <= n <= t + q[t] * segment_frames + 1e-4:
                    f[n] += y[t]
    return f


@pytest.mark.parametrize("seed", range(5))
def test_difference_array_votes_equal_a_naive_loop(seed):
    rng = np.random.default_rng(seed)
    y, p, q = (rng.random(90).astype(np.float32) for _ in range(3))
    alphas = np.array([0.0, 0.3, 0.77, 1.0])
    votes = class_votes(y, p, q, alphas, T)
    for a, alpha in enumerate(alphas):
        np.testing.assert_allclose(votes[a], _naive_votes(y, p, q, alpha, T), rtol=1e-9, atol=1e-9)


def test_unit_votes_count_the_voters():
    y = np.array([0.9, 0.2, 0.8, 0.7])
    p = np.zeros(4)
    q = np.array([3, 0, 1, 0]) / T
    counts = class_votes(y, p, q, np.array([0.5]), T, unit=True)[0]
    np.testing.assert_allclose(counts, [1, 1, 2, 3])


@pytest.mark.parametrize("window", [1, 3, 7, 13, 31])
def test_binary_median_filter_equals_scipy(window):
    rng = np.random.default_rng(window)
    active = rng.random((3, 200)) > 0.6
    expected = np.stack([median_filter(row.astype(np.uint8), size=window, mode="nearest") for row in active]).astype(
        bool
    )
    np.testing.assert_array_equal(median_filter_binary(active, window), expected)


@pytest.mark.parametrize("frames", [5, T, 3 * T + 7])
def test_network_outputs_match_manual_segments(frames):
    torch.manual_seed(0)
    model = CRNN(small_spec(2, filters=8, hidden=8, distances="linear")).eval()  # outputs as the network gives them
    features = np.random.default_rng(1).standard_normal((frames, 40)).astype(np.float32)
    out = network_outputs(model, features, T, batch_size=2)
    assert out.shape == (frames, 6)
    padded = np.zeros((-(-frames // T) * T, 40), np.float32)
    padded[:frames] = features
    with torch.no_grad():
        manual = model(torch.from_numpy(padded.reshape(-1, T, 40))).reshape(-1, 6).numpy()[:frames]
    np.testing.assert_allclose(out, manual, rtol=1e-5, atol=1e-6)


def test_all_windows_at_once_equal_one_window_at_a_time():
    from mtsed.detection.postprocessing import median_filter_many

    rng = np.random.default_rng(3)
    active = rng.random((4, 150)) > 0.5
    windows = np.array([1, 7, 13, 25, 91, 253])
    many = median_filter_many(active, windows)
    for k, window in enumerate(windows):
        np.testing.assert_array_equal(many[:, k], median_filter_binary(active, int(window)))
