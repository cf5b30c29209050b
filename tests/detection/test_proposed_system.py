"""System ``proposed`` end to end on targets it could have been given: the threshold search
on validation recordings, then detection on others, with events that cross the T-frame
segments inference cuts, one class whose events are both short and long, and noisy distances."""

from pathlib import Path

import numpy as np
import pytest
import yaml

from mtsed.config import ThresholdConfig, params_from_dict
from mtsed.config.overrides import apply_preset
from mtsed.data.targets import encode
from mtsed.detection.decoders import decode, ensemble_scores, get_decoder
from mtsed.detection.thresholds import GridCounts, ValidationRecording, chosen_constants, grid_counts, select
from mtsed.evaluation.diagnostics import inference_targets
from mtsed.evaluation.metrics import matched_count
from mtsed.io.events import Event

FRAME = 0.02
T = 512
SECONDS = 120.0
LABELS = ["impulse", "mixed", "sequence"]
LENGTHS = {  # seconds, as the default classes: door slams, dog barks of 0.2-4 s, walks and bursts of typing
    "impulse": (0.1, 0.5),
    "mixed": (0.2, 4.0),
    "sequence": (2.0, 8.0),
}


def _events(rng: np.random.Generator) -> list[Event]:
    """One isolated-style recording: events one at a time, 0.5-3 s apart, several across segment edges."""
    events, t = [], rng.uniform(0.5, 3.0)
    edges = np.arange(T, SECONDS / FRAME, T) * FRAME
    for edge in edges[::2]:  # an event straddling every other segment edge
        events.append(Event(round(edge - rng.uniform(0.3, 2.0), 2), round(edge + rng.uniform(0.3, 2.0), 2), "mixed"))
    taken = [(e.onset - 0.5, e.offset + 0.5) for e in events]
    while t < SECONDS - 9.0:
        label = LABELS[rng.integers(len(LABELS))]
        lo, hi = LENGTHS[label]
        length = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
        onset, offset = round(t, 2), round(t + length, 2)
        if all(offset < a or onset > b for a, b in taken):
            events.append(Event(onset, offset, label))
        t = offset + rng.uniform(0.5, 3.0)
    return sorted(events, key=lambda e: e.onset)


def _outputs(events: list[Event], rng: np.random.Generator, sigma: float) -> np.ndarray:
    """The targets as the network is trained to emit them on inference's segments, distances
    off by Gaussian noise of ``sigma`` frames where the class is active."""
    n = int(SECONDS / FRAME)
    out = inference_targets(encode(events, n, LABELS, FRAME, T).stacked(), T, "window").astype(np.float64)
    c = len(LABELS)
    active = out[:, :c] > 0.5
    for k in (1, 2):
        d = out[:, k * c : (k + 1) * c] * T + rng.normal(0.0, sigma, (n, c))
        out[:, k * c : (k + 1) * c] = np.where(active, np.clip(d, 0, T), 0.0) / T
    return out.astype(np.float32)


def _reference(events: list[Event]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    return {
        c: (
            np.array([e.onset for e in events if e.label == label]),
            np.array([e.offset for e in events if e.label == label]),
        )
        for c, label in enumerate(LABELS)
    }


def _f1(decoder: str, cfg: ThresholdConfig, sigma: float, fixed: bool = False) -> float:
    """Overall event F1 on two test recordings (three fold models each) at the thresholds
    searched on three validation recordings (or at the decoder's fixed ones)."""
    rng = np.random.default_rng(7)
    dec = get_decoder(decoder)
    validation = []
    for fold in ("0", "1", "2"):
        events = _events(rng)
        validation.append(ValidationRecording(_outputs(events, rng, sigma), fold, _reference(events)))
    counts = grid_counts(dec, validation, len(LABELS), T, FRAME)
    chosen = select(counts, cfg)
    alpha, second = counts.alphas[chosen.alpha_index], counts.second_grid[chosen.second_index]
    if fixed:
        alpha, second = np.full(len(LABELS), dec.fixed_first), np.full(len(LABELS), dec.fixed_second)
    norms = chosen_constants(counts, chosen.alpha_index) if dec.normalised else {}
    tp = n_sys = n_ref = 0
    for _ in range(2):
        events = _events(rng)
        folds = [_outputs(events, rng, sigma) for _ in range(3)]
        scores = ensemble_scores(dec, folds, alpha, T, [np.asarray(v) for v in norms.values()])
        found = decode(dec, scores, folds, alpha, second, LABELS, FRAME, T)
        for c, (onsets, offsets) in _reference(events).items():
            mine = [e for e in found if e.label == LABELS[c]]
            tp += matched_count(onsets, offsets, np.array([e.onset for e in mine]), np.array([e.offset for e in mine]))
            n_sys, n_ref = n_sys + len(mine), n_ref + len(onsets)
    return 2 * tp / (n_sys + n_ref)


PAPER = ThresholdConfig().selection("proposed", "paper")
SMOOTHED = ThresholdConfig().selection("proposed", "smoothed")


def test_the_cases_hold_what_they_claim():
    events = _events(np.random.default_rng(0))
    edges = np.arange(T, SECONDS / FRAME, T) * FRAME
    assert sum(any(e.onset < edge < e.offset for edge in edges) for e in events) >= 5
    mixed = [e.offset - e.onset for e in events if e.label == "mixed"]
    assert min(mixed) < 0.5 and max(mixed) > 2.0


@pytest.mark.parametrize("cfg", [PAPER, SMOOTHED], ids=["paper-selection", "smoothed-selection"])
def test_exact_distances_give_every_event_back_through_search_and_detection(cfg):
    assert _f1("confidence-region", cfg, sigma=0.0) == 1.0


def test_the_region_scores_need_no_search_short_long_and_cut_events_all_reach_one():
    # at the fixed alpha 0.5 and beta 0.5: an event cut by a segment edge scores 1 on both sides, and
    # a 0.2-s event as much as a 4-s one of its class; one constant per class cuts both
    assert _f1("confidence-region", PAPER, sigma=0.0, fixed=True) == 1.0
    assert _f1("confidence", PAPER, sigma=0.0, fixed=True) < 0.9


@pytest.mark.parametrize("cfg", [PAPER, SMOOTHED], ids=["paper-selection", "smoothed-selection"])
def test_distances_five_frames_off_keep_ninety_five_percent(cfg):
    assert _f1("confidence-region", cfg, sigma=5.0) >= 0.95


def test_distances_ten_frames_off_keep_ninety_five_percent_where_one_constant_per_class_does_not():
    assert _f1("confidence-region", PAPER, sigma=10.0) >= 0.95
    assert _f1("confidence", PAPER, sigma=10.0) < 0.9


REPO = Path(__file__).resolve().parents[2]


def test_under_the_paper_preset_each_class_takes_its_raw_best_grid_point():
    raw_params = apply_preset((REPO / "params.yaml").read_text(), "paper", REPO / "presets")
    cfg = params_from_dict(yaml.safe_load(raw_params)).thresholds.selection("proposed")
    rng = np.random.default_rng(3)
    tp = rng.integers(0, 20, (4, 11, 7)).astype(float)
    counts = GridCounts(
        tp, tp + rng.integers(0, 20, tp.shape), np.array([25, 30, 5, 40]), {}, np.arange(11) / 10, np.arange(7) / 6
    )
    chosen = select(counts, cfg)
    raw = counts.f1().reshape(4, -1)
    assert np.array_equal(chosen.alpha_index * 7 + chosen.second_index, raw.argmax(axis=1))
