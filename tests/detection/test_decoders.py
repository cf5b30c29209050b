"""Every decoder turns perfect outputs back into the events, and each variant does what it says."""

import numpy as np
import pytest

from mtsed.data.targets import encode
from mtsed.detection.decoders import DECODERS, ClassOutputs, class_scores, decode, ensemble_scores, get_decoder
from mtsed.io.events import Event

LABELS = ["a", "b"]
FRAME = 0.02
T = 32
EVENTS = [Event(0.2, 0.9, "a"), Event(0.5, 1.3, "b"), Event(1.6, 1.7, "a")]


def _perfect(n_frames: int = 100) -> np.ndarray:
    return encode(EVENTS, n_frames, LABELS, FRAME, T).stacked()


@pytest.mark.parametrize("name", list(DECODERS))
def test_perfect_outputs_give_back_the_events(name):
    if name == "sebbs":
        pytest.importorskip("sebbs", reason="the optional sebbs package (requirements-study.txt) is not installed")
    dec = get_decoder(name)
    outputs = _perfect()
    if name in ("activity", "sebbs"):
        outputs = outputs[:, : len(LABELS)]
    alpha = np.full(2, 0.5)
    second = np.full(2, 1 if dec.filtered else 0.0)
    norms = [np.full(2, 1e9)] if dec.normalised else []  # any constant: beta 0 keeps every voted frame
    scores = ensemble_scores(dec, [outputs], alpha, T, norms)
    found = decode(dec, scores, [outputs], alpha, second, LABELS, FRAME, T)
    expected = [(0.2, 0.9, "a"), (0.5, 1.3, "b"), (1.6, 1.7, "a")]
    if name == "sebbs":  # change points come from a step filter: boundaries within its reach, well inside the collar
        assert [e.label for e in found] == [label for *_, label in expected]
        assert all(abs(e.onset - a) <= 0.1 and abs(e.offset - b) <= 0.1 for e, (a, b, _) in zip(found, expected))
    else:
        assert [(round(e.onset, 6), round(e.offset, 6), e.label) for e in found] == expected


def test_summed_votes_grow_with_event_length_averaged_votes_do_not():
    outputs = _perfect()
    y, p, q = (outputs[:, k * 2] for k in range(3))  # class "a": a 35-frame and a 5-frame event
    out = ClassOutputs(y, p, q)
    alpha = np.array([0.5])
    summed = class_scores(get_decoder("confidence"), out, alpha, T, np.ones(1))[0]
    mean = class_scores(get_decoder("confidence-mean"), out, alpha, T)[0]
    assert summed[10:45].min() == pytest.approx(1.0)  # clipped: 35 votes of 1 over a constant of 1
    raw = class_scores(get_decoder("confidence"), out, alpha, T, np.full(1, 35.0))[0]
    assert raw[20] == pytest.approx(1.0) and raw[81] == pytest.approx(5 / 35)
    assert mean[20] == pytest.approx(1.0) and mean[81] == pytest.approx(1.0)
    assert mean[60] == 0.0 and summed[60] == 0.0


def test_bounded_events_take_their_boundaries_from_the_distance_head():
    n = 60
    outputs = np.zeros((n, 3))  # one class: y, p, q
    outputs[20:40, 0] = 0.9  # activity says frames 20..39
    t = np.arange(n)
    outputs[20:40, 1] = (t[20:40] - 17) / T  # the distance head says the event starts at frame 17
    outputs[20:40, 2] = (44 - t[20:40]) / T  # and its last frame is 44
    found = decode(get_decoder("bounded"), outputs[:, :1], [outputs], np.array([0.5]), np.array([1]), ["a"], FRAME, T)
    activity = decode(
        get_decoder("activity"), outputs[:, :1], [outputs], np.array([0.5]), np.array([1]), ["a"], FRAME, T
    )
    assert [(round(e.onset / FRAME, 6), round(e.offset / FRAME, 6)) for e in found] == [(17, 45)]
    assert [(round(e.onset / FRAME, 6), round(e.offset / FRAME, 6)) for e in activity] == [(20, 40)]


def test_ensembles_average_fold_scores():
    outputs = _perfect()[:, :2]
    other = np.zeros_like(outputs)
    mean = ensemble_scores(get_decoder("activity"), [outputs, other], np.full(2, 0.5), T)
    np.testing.assert_allclose(mean, outputs / 2)


def test_an_unknown_decoder_is_named():
    with pytest.raises(ValueError, match="unknown decoder 'magic'"):
        get_decoder("magic")


def _long_event(n: int = 200, start: int = 50, stop: int = 150) -> ClassOutputs:
    """One class, one 100-frame event, perfect distances (T large enough to hold it)."""
    t = np.arange(n, dtype=float)
    y = np.zeros(n)
    y[start:stop] = 1.0
    inside = (t >= start) & (t < stop)
    return ClassOutputs(y, np.where(inside, (t - start) / 256, 0.0), np.where(inside, (stop - 1 - t) / 256, 0.0))


def test_capped_votes_reach_at_most_the_radius():
    out = _long_event()
    alpha = np.array([0.5])
    summed = class_scores(get_decoder("confidence"), out, alpha, 256, np.ones(1))[0]
    capped = class_scores(get_decoder("capped-8"), out, alpha, 256, np.full(1, 17.0))[0]
    assert summed[50:150].min() == pytest.approx(1.0)  # every frame gets all 100 votes
    assert capped[100] == pytest.approx(1.0)  # 17 voters within 8 frames either side
    assert capped[50] == pytest.approx(9 / 17)  # at the onset only the 9 frames up to 8 later reach it
    assert capped[49] == 0.0 and capped[150] == 0.0


def test_weighted_votes_trust_frames_near_a_boundary():
    out = _long_event()
    raw = class_scores(get_decoder("weighted-4"), out, np.array([0.5]), 256, np.ones(1) * 1e9)[0] * 1e9
    weights = 4 / (4 + np.minimum(np.arange(100), np.arange(100)[::-1]))
    assert raw[100] == pytest.approx(weights.sum())  # every frame of the event votes for all of it
    assert weights[0] == 1.0 and weights[50] < 0.1


def test_bounded_moves_boundaries_at_most_its_max_shift():
    n = 60
    outputs = np.zeros((n, 3))
    outputs[20:40, 0] = 0.9
    t = np.arange(n)
    outputs[20:40, 1] = (t[20:40] - 5) / T  # the head says the event starts 15 frames earlier
    outputs[20:40, 2] = (41 - t[20:40]) / T  # and ends 2 frames later
    found = decode(
        get_decoder("bounded-10"), outputs[:, :1], [outputs], np.array([0.5]), np.array([1]), ["a"], FRAME, T
    )
    assert [(round(e.onset / FRAME, 6), round(e.offset / FRAME, 6)) for e in found] == [(10, 42)]


def test_log_beta_grid_reaches_small_scores():
    dec = get_decoder("confidence-log")
    assert (
        dec.second_grid[0] == 0.0
        and dec.second_grid[1] == pytest.approx(1e-3)
        and dec.second_grid[-1] == pytest.approx(1.0)
    )
    assert dec.normalised and np.all(np.diff(dec.second_grid) > 0)


def test_config_knows_every_decoder_by_name():
    """params are checked against config's list of decoder names; it must be this module's."""
    from mtsed.config.systems import DECODER_NAMES
    from mtsed.detection.decoders import DECODERS

    assert tuple(DECODERS) == DECODER_NAMES
