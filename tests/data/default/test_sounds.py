"""Events as the field annotates them: sequences of short hits, stretches of long clips, whole clips."""

import numpy as np
import pytest

from mtsed.config import EventConfig
from mtsed.data.default.clips import Clip
from mtsed.data.default.sounds import EventMaker, annotate, impulsive_labels, rms, sequence, stretch, whole

SR = 1000  # samples per second: spans read as milliseconds


def _hit(seconds: float, amplitude: float = 0.5) -> np.ndarray:
    return np.full(int(seconds * SR), amplitude, np.float32)


def test_hits_closer_than_the_split_gap_are_one_event_and_a_pause_splits_it():
    assert annotate([(0, 100), (300, 400), (700, 800)], split_gap=300) == ((0, 800),)
    assert annotate([(0, 100), (300, 400), (1700, 1800), (1900, 2000)], split_gap=250) == ((0, 400), (1700, 2000))
    assert annotate([(500, 600), (0, 100)], split_gap=1000) == ((0, 600),)  # in time order


def test_a_sequence_runs_at_its_rate_for_its_duration_and_is_annotated_from_first_onset_to_last_offset():
    cfg = EventConfig(sequences=True, sequence_seconds=(4.0, 4.0), rate_jitter=0.0, split_gap_seconds=1.0)
    sound = sequence(np.random.default_rng(0), [_hit(0.1)], SR, 2.0, cfg)
    assert sound.spans == ((0, sound.signal.size),)
    starts = np.flatnonzero(np.diff((sound.signal > 0).astype(int)) == 1) + 1
    assert len(starts) + 1 == 8  # hits start at 0, 0.5, ..., 3.5 s (the first at 0): within the 4 s
    np.testing.assert_allclose(np.diff(starts), 500, atol=1)


def test_a_sequence_varies_its_pace_and_intervals_with_the_jitter():
    cfg = EventConfig(sequence_seconds=(6.0, 6.0), rate_jitter=0.3)
    counts = {
        len(
            np.flatnonzero(
                np.diff((sequence(np.random.default_rng(seed), [_hit(0.05)], SR, 5.0, cfg).signal > 0).astype(int)) == 1
            )
        )
        for seed in range(8)
    }
    assert len(counts) > 2 and min(counts) > 15 and max(counts) < 50  # about 30 hits, never the same count


def test_a_sequence_is_scaled_by_its_hits_not_by_its_silences():
    cfg = EventConfig(sequence_seconds=(3.0, 3.0), rate_jitter=0.0)
    sound = sequence(np.random.default_rng(1), [_hit(0.1, 0.5)], SR, 1.0, cfg)
    assert rms(sound.signal) < 0.5 * 0.6  # mostly silence between the hits
    assert 0.5 * 10 ** (-3 / 20) <= sound.level <= 0.5 * 10 ** (3 / 20)  # the hits' own level, +-3 dB


def test_a_long_clip_gives_a_stretch_and_a_short_one_stays_whole():
    rng = np.random.default_rng(0)
    long_clip = np.arange(20 * SR, dtype=np.float32)
    for _ in range(20):
        piece = stretch(rng, long_clip, SR, (3.0, 15.0)).signal
        assert 3 * SR <= piece.size <= 15 * SR
        assert np.array_equal(piece, long_clip[int(piece[0]) : int(piece[0]) + piece.size])  # one contiguous stretch
    short = _hit(2.0)
    assert stretch(rng, short, SR, (3.0, 15.0)).signal is short


def test_impulsive_classes_are_those_whose_median_clip_is_short():
    def clips(label, seconds):
        return [Clip(label, f"{label}{i}.wav", "", "", s) for i, s in enumerate(seconds)]

    pools = {
        "steps": clips("steps", [0.2, 0.3, 0.9]),
        "door": clips("door", [0.4, 0.8, 1.2]),
        "ring": clips("ring", [2.0]),
    }
    assert impulsive_labels(pools, ["steps", "door", "ring"], EventConfig(sequences=True)) == {"steps"}
    assert impulsive_labels(pools, ["steps", "door"], EventConfig(sequences=False)) == frozenset()


def test_without_sequences_and_stretches_an_event_is_a_whole_clip_drawn_as_before():
    clips = [_hit(0.2), _hit(0.3), _hit(0.4)]
    maker = EventMaker(EventConfig(sequences=False), frozenset(), SR, stretches=False)
    for seed in range(5):
        expected = clips[int(np.random.default_rng(seed).integers(3))]
        sound = maker(np.random.default_rng(seed), "door", clips)
        assert sound.signal is expected and sound.spans == ((0, expected.size),) and sound.level == rms(expected)


def test_the_maker_gives_impulsive_labels_sequences():
    maker = EventMaker(
        EventConfig(sequences=True, sequence_seconds=(2.0, 3.0)), frozenset({"steps"}), SR, stretches=True
    )
    sound = maker(np.random.default_rng(0), "steps", [_hit(0.1)])
    assert 2 * SR <= sound.signal.size <= 3.5 * SR and len(sound.spans) == 1
    assert whole(_hit(0.1)).spans == ((0, 100),)


@pytest.mark.parametrize("bad", [{"rates_hz": {"steps": 0.0}}, {"sequence_seconds": (3.0, 1.0)}, {"rate_jitter": 2.0}])
def test_bad_event_settings_are_refused(bad):
    from mtsed.config import ConfigError

    with pytest.raises(ConfigError):
        EventConfig(**bad)
