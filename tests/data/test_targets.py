import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mtsed.data.targets import Triplets, active_runs, decode, encode, event_frames
from mtsed.io.events import Event, merge_overlaps

DT = 0.02
LABELS = ("a", "b", "c")


def test_hand_computed_triplets():
    # an event on frames 2..5 (inclusive) with T = 4
    triplets = encode([Event(2 * DT, 6 * DT, "b")], 8, LABELS, DT, 4)
    np.testing.assert_array_equal(triplets.y[:, 1], [0, 0, 1, 1, 1, 1, 0, 0])
    np.testing.assert_allclose(triplets.p[:, 1], [0, 0, 0, 0.25, 0.5, 0.75, 0, 0])
    np.testing.assert_allclose(triplets.q[:, 1], [0, 0, 0.75, 0.5, 0.25, 0, 0, 0])
    assert not triplets.y[:, [0, 2]].any() and not triplets.p[:, [0, 2]].any()


def test_distances_clip_at_one_for_events_longer_than_a_segment():
    triplets = encode([Event(0.0, 20 * DT, "a")], 20, LABELS, DT, 4)
    assert triplets.p.max() == 1.0 and triplets.q.max() == 1.0
    assert triplets.p[:, 0].min() == 0.0


def test_overlapping_events_of_one_class_are_merged():
    triplets = encode([Event(0.0, 4 * DT, "a"), Event(2 * DT, 7 * DT, "a")], 10, LABELS, DT, 10)
    np.testing.assert_array_equal(triplets.y[:, 0], [1] * 7 + [0] * 3)
    assert triplets.q[0, 0] == pytest.approx(0.6)  # measured to the union's end (frame 6)


def test_unknown_label_is_named():
    with pytest.raises(ValueError, match="'zebra'"):
        encode([Event(0, 1, "zebra")], 100, LABELS, DT, 10)


def test_events_past_the_end_are_cut_to_the_recording():
    triplets = encode([Event(8 * DT, 30 * DT, "c")], 10, LABELS, DT, 100)
    assert triplets.y[8:, 2].all() and triplets.q[9, 2] == 0.0


def test_stack_unstack_order():
    triplets = encode([Event(0, 2 * DT, "c")], 3, LABELS, DT, 4)
    stacked = triplets.stacked()
    assert stacked.shape == (3, 9)
    np.testing.assert_array_equal(stacked[:, 2], triplets.y[:, 2])
    np.testing.assert_array_equal(stacked[:, 3 + 2], triplets.p[:, 2])
    back = Triplets.unstack(stacked)
    np.testing.assert_array_equal(back.q, triplets.q)


def test_active_runs():
    assert active_runs(np.array([0, 1, 1, 0, 1], bool)) == [(1, 2), (4, 4)]
    assert active_runs(np.zeros(3, bool)) == []


frame_events = st.lists(
    st.tuples(st.sampled_from(LABELS), st.integers(0, 300), st.integers(1, 120)), min_size=0, max_size=12
)


@settings(max_examples=200, deadline=None)
@given(frame_events, st.sampled_from([4, 16, 64, 512]))
def test_frame_aligned_events_round_trip_exactly(spec, segment_frames):
    """Overlaps of different classes stay apart; overlaps within one class come back merged."""
    n = 450
    events = [Event(start * DT, (start + length) * DT, label) for label, start, length in spec]
    decoded = decode(encode(events, n, LABELS, DT, segment_frames), LABELS, DT, segment_frames)
    expected = merge_overlaps(events)
    assert [(e.label, *event_frames(e, DT)) for e in decoded] == [(e.label, *event_frames(e, DT)) for e in expected]
    assert [(e.label, e.onset, e.offset) for e in decoded] == [(e.label, e.onset, e.offset) for e in expected]
