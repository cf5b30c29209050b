"""The vectorised grid search picks what a brute-force search scored by sed_eval picks."""

import math

import numpy as np
import pytest
import sed_eval

from mtsed import thresholds
from mtsed.inference import (
    baseline_activity,
    confidence_scores,
    events_from_activity,
    normalise,
)
from mtsed.thresholds import ValidationRecording, search_baseline, search_proposed

LABELS = ["a", "b"]
FRAME = 0.02
T = 16


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
        references.append([{"file": str(k), "event_label": LABELS[c], "onset": float(on), "offset": float(off)}
                           for c in range(2) for on, off in zip(*events[c])])
    return recordings, references


def _sed_eval_f1(references, estimated_per_file, label):
    metrics = sed_eval.sound_event.EventBasedMetrics(event_label_list=LABELS, t_collar=0.2, percentage_of_length=0.5)
    for ref, est in zip(references, estimated_per_file):
        metrics.evaluate(ref, est)
    return metrics.results()["class_wise"][label]["f_measure"]["f_measure"]


def _items(events, file):
    return [{"file": file, "event_label": e.label, "onset": e.onset, "offset": e.offset} for e in events]


def _first_best(grid):
    flat = np.nan_to_num(grid, nan=-1.0)
    return np.unravel_index(int(np.argmax(flat)), flat.shape)


@pytest.fixture
def coarse_grid(monkeypatch):
    monkeypatch.setattr(thresholds, "ALPHAS", np.round(np.arange(0, 1.01, 0.1), 2))
    monkeypatch.setattr(thresholds, "BETAS", np.round(np.arange(0, 1.01, 0.25), 2))
    monkeypatch.setattr(thresholds, "WINDOWS", np.array([1, 7, 13]))


@pytest.mark.parametrize("seed", [0, 1])
def test_proposed_search_equals_brute_force_with_sed_eval(coarse_grid, seed):
    recordings, references = _case(seed, 3)
    result = search_proposed(recordings, 2, T, FRAME)
    for c, label in enumerate(LABELS):
        brute = np.zeros((len(thresholds.ALPHAS), len(thresholds.BETAS)))
        for a, alpha in enumerate(thresholds.ALPHAS):
            raw = [confidence_scores(r.outputs, np.full(2, alpha), T)[:, c] for r in recordings]
            norm = {f: max(v.max() for v, r in zip(raw, recordings) if r.fold == f) or 1.0 for f in ("0", "1")}
            for b, beta in enumerate(thresholds.BETAS):
                estimated = []
                for k, (v, r) in enumerate(zip(raw, recordings)):
                    active = np.zeros((len(v), 2), bool)
                    active[:, c] = normalise(v, np.array(norm[r.fold])) > beta
                    estimated.append(_items(events_from_activity(active, LABELS, FRAME), str(k)))
                brute[a, b] = _sed_eval_f1(references, estimated, label)
        np.testing.assert_allclose(result.f1[c], brute, rtol=0, atol=1e-12, equal_nan=True)
        a, b = _first_best(brute)
        assert (result.alpha[c], result.second[c]) == (thresholds.ALPHAS[a], thresholds.BETAS[b])


def test_baseline_search_equals_brute_force_with_sed_eval(coarse_grid):
    recordings, references = _case(3, 1)
    result = search_baseline(recordings, 2, FRAME)
    for c, label in enumerate(LABELS):
        brute = np.zeros((len(thresholds.ALPHAS), len(thresholds.WINDOWS)))
        for a, alpha in enumerate(thresholds.ALPHAS):
            for w, window in enumerate(thresholds.WINDOWS):
                estimated = []
                for k, r in enumerate(recordings):
                    active = baseline_activity(r.outputs, np.full(2, alpha), np.full(2, window))
                    active[:, 1 - c] = False
                    estimated.append(_items(events_from_activity(active, LABELS, FRAME), str(k)))
                brute[a, w] = _sed_eval_f1(references, estimated, label)
        np.testing.assert_allclose(result.f1[c], brute, rtol=0, atol=1e-12, equal_nan=True)
        a, w = _first_best(brute)
        assert (result.alpha[c], result.second[c]) == (thresholds.ALPHAS[a], thresholds.WINDOWS[w])
        assert not math.isnan(result.f1[c][a, w])


def test_full_grid_sizes():
    assert len(thresholds.ALPHAS) == 101 and len(thresholds.BETAS) == 21 and thresholds.WINDOWS[-1] == 253
