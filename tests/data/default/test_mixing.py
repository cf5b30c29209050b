from pathlib import Path

import numpy as np
import pytest

from mtsed.config import ClipsConfig
from mtsed.data.default.clips import (
    BACKGROUND,
    Clip,
    curate_folder,
    read_clip_manifest,
    write_clip_manifest,
)
from mtsed.data.default.mixing import (
    ClipBank,
    isolated_session,
    overlapping_mixture,
    place_event,
    polyphony,
    rms,
    split_clips,
    split_counts,
)
from mtsed.io.events import Event
from tests.conftest import TINY_LABELS


@pytest.fixture
def bank(clip_folder: Path, tmp_path: Path) -> ClipBank:
    out = tmp_path / "curated"
    write_clip_manifest(out, curate_folder(ClipsConfig(source="folder", folder=str(clip_folder)), clip_folder, out))
    return ClipBank(out, read_clip_manifest(out), 44100)


def _pools(bank: ClipBank) -> dict:
    return {role: clips for role, clips in bank.by_role.items()}


def test_split_counts_give_each_split_at_least_one():
    assert split_counts(6, [12, 4, 4]) == [4, 1, 1]
    assert sum(split_counts(173, [0.6, 0.2, 0.2])) == 173
    with pytest.raises(ValueError):
        split_counts(2, [1, 1, 1])


def test_split_clips_are_disjoint_and_cover_everything():
    clips = [Clip("dog", f"d{i}.wav", "x", "x", 1.0) for i in range(10)]
    pools = split_clips(clips, [0.6, 0.2, 0.2], seed=3)
    files = [c.file for pool in pools for c in pool]
    assert sorted(files) == sorted(c.file for c in clips) and len(set(files)) == 10
    assert split_clips(clips, [0.6, 0.2, 0.2], seed=3) == pools
    assert split_clips(clips, [0.6, 0.2, 0.2], seed=4) != pools


def test_place_event_hits_the_requested_snr():
    rng = np.random.default_rng(0)
    bed = rng.standard_normal(44100).astype(np.float32) * 0.01
    clip = np.sin(np.arange(4410) / 5).astype(np.float32)
    mix = bed.copy()
    place_event(mix, clip, 1000, 6.0, rms(bed))
    added = mix[1000:5410] - bed[1000:5410]
    assert 20 * np.log10(rms(added) / rms(bed)) == pytest.approx(6.0, abs=1e-3)
    np.testing.assert_array_equal(mix[:1000], bed[:1000])


def test_isolated_sessions_never_overlap_and_are_deterministic(bank: ClipBank):
    args = (bank, _pools(bank), TINY_LABELS, 20.0, (0.2, 0.8), (0.0, 10.0), -35.0)
    first = isolated_session(np.random.default_rng(5), *args)
    again = isolated_session(np.random.default_rng(5), *args)
    np.testing.assert_array_equal(first.signal, again.signal)
    assert first.events == again.events
    assert polyphony(first.events) == 1 and len(first.events) >= 6
    assert first.events[-1].offset <= 20.0
    assert set(e.label for e in first.events) == set(TINY_LABELS)


def test_annotations_mark_where_the_sound_is(bank: ClipBank):
    mix = isolated_session(
        np.random.default_rng(1), bank, _pools(bank), TINY_LABELS, 20.0, (0.5, 1.0), (10.0, 10.0), -35.0
    )
    sr = 44100
    inside = np.concatenate([mix.signal[int(e.onset * sr) : int(e.offset * sr)] for e in mix.events])
    mask = np.ones(mix.signal.size, bool)
    for e in mix.events:
        mask[int(e.onset * sr) : int(e.offset * sr)] = False
    assert 20 * np.log10(rms(inside) / rms(mix.signal[mask])) > 5


@pytest.mark.parametrize("max_polyphony", [1, 2, 3])
def test_overlapping_mixtures_respect_max_polyphony(bank: ClipBank, max_polyphony: int):
    mix = overlapping_mixture(
        np.random.default_rng(2), bank, _pools(bank), TINY_LABELS, 10.0, 200.0, max_polyphony, (0.0, 5.0), -35.0
    )
    assert 1 <= polyphony(mix.events) <= max_polyphony
    assert all(0 <= e.onset < e.offset <= 10.0 for e in mix.events)
    assert np.max(np.abs(mix.signal)) <= 0.95 + 1e-6


def test_polyphony_counts_touching_events_once():
    assert polyphony([Event(0, 1, "a"), Event(1, 2, "b")]) == 1
    assert polyphony([Event(0, 2, "a"), Event(1, 3, "b"), Event(1.5, 1.7, "c")]) == 3


def test_missing_label_is_named(bank: ClipBank):
    with pytest.raises(ValueError, match="zebra"):
        bank.require(["zebra", BACKGROUND])


def test_background_bed_is_one_looped_clip_at_the_requested_level(bank: ClipBank):
    from mtsed.data.default.mixing import background_bed

    pool = bank.by_role[BACKGROUND]
    bed = background_bed(np.random.default_rng(0), bank, pool, 44100 * 10, -30.0)
    assert bed.size == 44100 * 10
    assert 20 * np.log10(rms(bed)) == pytest.approx(-30.0, abs=1e-3)
    # a 3 s clip looped over 10 s: the bed correlates with exactly one of the pool's clips
    best = []
    for clip in pool:
        source = bank.signal(clip)
        corr = np.abs(np.correlate(bed[:44100], source, mode="valid")).max() / (
            np.linalg.norm(bed[:44100]) * np.linalg.norm(source) + 1e-9
        )
        best.append(corr)
    assert sorted(best)[-1] > 0.3 and sorted(best)[-2] < 0.1


def test_a_new_take_changes_speed_and_colour_within_bounds():
    from mtsed.data.default.mixing import vary_take

    sr = 44100
    clip = np.sin(2 * np.pi * 440 * np.arange(sr) / sr).astype(np.float32)
    lengths = []
    for seed in range(20):
        take = vary_take(np.random.default_rng(seed), clip, sr, 0.05, 3.0)
        np.testing.assert_array_equal(take, vary_take(np.random.default_rng(seed), clip, sr, 0.05, 3.0))
        lengths.append(take.size / clip.size)
        peak_hz = np.argmax(np.abs(np.fft.rfft(take))) * sr / take.size
        assert abs(peak_hz * take.size / clip.size - 440) < 2  # pitch follows speed, as on tape
        assert abs(20 * np.log10(rms(take) / rms(clip))) <= 3.0 + 0.1  # equaliser within +-3 dB at 440 Hz
    assert 1 / 1.05 - 1e-3 <= min(lengths) < 0.99 and 1.01 < max(lengths) <= 1 / 0.95 + 1e-3
    np.testing.assert_array_equal(vary_take(np.random.default_rng(0), clip, sr, 0.0, 0.0), clip)


def test_overlapping_mixtures_balance_the_labels(bank: ClipBank):
    counts = {label: 0 for label in TINY_LABELS}
    for seed in range(20):
        mix = overlapping_mixture(
            np.random.default_rng(seed), bank, _pools(bank), TINY_LABELS, 20.0, 12.0, 4, (0.0, 5.0), -35.0
        )
        assert len(mix.events) == 4
        for event in mix.events:
            counts[event.label] += 1
    assert all(count > 20 for count in counts.values())  # 4 events of 3 labels: the label that gets two varies


def test_same_class_overlaps_are_counted_per_event():
    from mtsed.data.default.synthetic import same_class_overlaps

    events = [
        Event(0, 2, "a"),
        Event(1, 3, "a"),
        Event(3, 4, "a"),
        Event(5, 6, "a"),
        Event(0, 9, "b"),
        Event(10, 11, "b"),
    ]
    assert same_class_overlaps(events) == 3  # the first three "a" touch each other; "b" never does


def test_kept_stems_sum_to_the_mixture_and_change_nothing(bank: ClipBank):
    args = (bank, _pools(bank), TINY_LABELS, 10.0, 200.0, 3, (0.0, 5.0), -35.0)
    plain = overlapping_mixture(np.random.default_rng(2), *args)
    kept = overlapping_mixture(np.random.default_rng(2), *args, keep_stems=True)
    np.testing.assert_array_equal(plain.signal, kept.signal)
    assert plain.stems == () and kept.stems[0].events == ()
    assert sorted(e for s in kept.stems[1:] for e in s.events) == list(kept.events)
    total = np.zeros_like(kept.signal)
    for stem in kept.stems:
        total[stem.start : stem.start + stem.signal.size] += stem.signal
    np.testing.assert_allclose(total, kept.signal, atol=1e-5)
    session = isolated_session(
        np.random.default_rng(5), bank, _pools(bank), TINY_LABELS, 20.0, (0.2, 0.8), (0.0, 10.0), -35.0, keep_stems=True
    )
    assert len(session.stems) == len(session.events) + 1


def test_impulsive_labels_become_annotated_sequences_within_the_polyphony(bank: ClipBank):
    from mtsed.config import EventConfig
    from mtsed.data.default.sounds import EventMaker

    impulsive = TINY_LABELS[0]
    maker = EventMaker(
        EventConfig(sequences=True, sequence_seconds=(2.0, 3.0), rates_hz={impulsive: 3.0}),
        frozenset({impulsive}),
        44100,
        stretches=True,
    )
    mix = overlapping_mixture(
        np.random.default_rng(4),
        bank,
        _pools(bank),
        TINY_LABELS,
        20.0,
        30.0,
        2,
        (0.0, 5.0),
        -35.0,
        maker=maker,
        keep_stems=True,
    )
    walks = [e for e in mix.events if e.label == impulsive]
    assert walks and all(e.offset - e.onset >= 1.9 for e in walks)  # a sequence of hits, not one hit
    assert polyphony(mix.events) <= 2 and all(0 <= e.onset < e.offset <= 20.0 for e in mix.events)
    assert sorted(e for s in mix.stems[1:] for e in s.events) == list(mix.events)
