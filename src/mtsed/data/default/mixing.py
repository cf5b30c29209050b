"""Mixing real clips over background into annotated recordings (stage ``prepare``).

A small purpose-built mixer rather than Scaper: Scaper 1.6 needs ``soxbindings``, which
compiles against libsox headers that are not installable from PyPI, and pulls in JAMS and
pandas; what we need (place a clip at a sample offset, scale it to an event-to-background
ratio, tile a background bed, annotate to the sample) is a few array operations.

Both builders are pure functions of the clips, the parameters and the seed: the same
inputs give bit-identical audio and annotations.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import librosa
import numpy as np

from mtsed.data.default.clips import BACKGROUND, Clip
from mtsed.data.default.sounds import EventMaker, Sound, rms, whole
from mtsed.io.audio import load_audio
from mtsed.io.events import Event

CROSSFADE_SECONDS = 0.25
PEAK_LIMIT = 0.95
EQ_CONTROL_HZ = (100.0, 400.0, 1600.0, 6400.0)  # a take's equaliser curve passes through these


@dataclass(frozen=True)
class Stem:
    """One part of a mixture as placed in it: the background bed (no ``events``, from
    sample 0) or one sound's scaled take from sample ``start`` with the events it is
    annotated as (one, or several where a sequence is split)."""

    start: int
    signal: np.ndarray
    events: tuple[Event, ...] = ()


@dataclass(frozen=True)
class Mixture:
    """One generated recording: its signal and its exact reference events; ``stems`` (kept
    only on request) are its parts, which sum to ``signal``: what audibility studies read."""

    signal: np.ndarray
    events: tuple[Event, ...]
    stems: tuple[Stem, ...] = ()


class ClipBank:
    """Curated clips by role, loaded lazily and kept in memory (they are small)."""

    def __init__(self, clips_dir: Path, clips: Sequence[Clip], sample_rate: int) -> None:
        self.clips_dir = clips_dir
        self.sample_rate = sample_rate
        self.by_role: dict[str, list[Clip]] = {}
        for clip in clips:
            self.by_role.setdefault(clip.role, []).append(clip)
        self._cache: dict[str, np.ndarray] = {}

    def require(self, roles: Sequence[str]) -> None:
        missing = [r for r in roles if r not in self.by_role]
        if missing:
            raise ValueError(f"{self.clips_dir}: no clips for label(s) {missing}; available: {sorted(self.by_role)}")

    def signal(self, clip: Clip) -> np.ndarray:
        if clip.file not in self._cache:
            self._cache[clip.file] = load_audio(self.clips_dir / clip.file, self.sample_rate)
        return self._cache[clip.file]


def stable_key(seed: int, text: str) -> str:
    return hashlib.sha256(f"{seed}:{text}".encode()).hexdigest()


def split_counts(n: int, fractions: Sequence[float]) -> list[int]:
    """Split ``n`` items by ``fractions`` with at least one item per split."""
    if n < len(fractions):
        raise ValueError(f"need at least {len(fractions)} items, one per split")
    counts = [max(1, int(round(f / sum(fractions) * n))) for f in fractions]
    while sum(counts) > n:
        counts[int(np.argmax(counts))] -= 1
    counts[int(np.argmax(counts))] += n - sum(counts)
    return counts


def split_clips(clips: Sequence[Clip], fractions: Sequence[float], seed: int) -> list[list[Clip]]:
    """Disjoint clip pools, one per split, in a seeded order: a clip is in one split only."""
    if not clips:
        return [[] for _ in fractions]
    ordered = sorted(clips, key=lambda c: stable_key(seed, c.file))
    try:
        counts = split_counts(len(ordered), fractions)
    except ValueError as error:
        raise ValueError(f"role {clips[0].role!r} has {len(clips)} clip(s): {error}") from None
    pools, start = [], 0
    for count in counts:
        pools.append(ordered[start : start + count])
        start += count
    return pools


def background_bed(
    rng: np.random.Generator, bank: ClipBank, pool: Sequence[Clip], n_samples: int, dbfs: float
) -> np.ndarray:
    """One randomly chosen background clip, looped with short crossfades from a random start
    to ``n_samples``, at ``dbfs`` RMS: one steady ambience per recording, like one room per
    session, so that no change of background coincides with an event."""
    fade = int(CROSSFADE_SECONDS * bank.sample_rate)
    clip = bank.signal(pool[int(rng.integers(len(pool)))])
    start = int(rng.integers(max(clip.size - bank.sample_rate, 1)))
    bed, piece = np.zeros(0, np.float32), clip[start:]
    while bed.size < n_samples:
        if bed.size >= fade and piece.size > 2 * fade:
            ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
            bed[-fade:] = bed[-fade:] * (1 - ramp) + piece[:fade] * ramp
            piece = piece[fade:]
        bed = np.concatenate([bed, piece.astype(np.float32)])
        piece = clip
    bed = bed[:n_samples]
    return (bed / max(rms(bed), 1e-9) * 10 ** (dbfs / 20)).astype(np.float32)


def place_event(
    mix: np.ndarray, clip: np.ndarray, start: int, snr_db: float, background_rms: float, level: float | None = None
) -> np.ndarray:
    """Add ``clip`` at sample ``start`` with an event-to-background ratio of ``snr_db``, the
    event's level being ``level`` (default: the clip's RMS); returns the scaled clip as added."""
    placed = (background_rms * 10 ** (snr_db / 20) / max(rms(clip) if level is None else level, 1e-9)) * clip
    mix[start : start + clip.size] += placed
    return placed


def _annotated(sound: Sound, start: int, label: str, sample_rate: int) -> tuple[Event, ...]:
    return tuple(Event((start + a) / sample_rate, (start + b) / sample_rate, label) for a, b in sound.spans)


def _clips(bank: ClipBank, pool: Sequence[Clip]) -> list[np.ndarray]:
    return [bank.signal(clip) for clip in pool]


def _pick(rng: np.random.Generator, label: str, clips: Sequence[np.ndarray], maker: EventMaker | None) -> Sound:
    """One event's sound: ``maker``'s, or (no maker) a whole clip."""
    return maker(rng, label, clips) if maker is not None else whole(clips[int(rng.integers(len(clips)))])


def vary_sound(rng: np.random.Generator, sound: Sound, sample_rate: int, speed_variation: float, eq_db: float) -> Sound:
    """:func:`vary_take` of a sound, its spans moved with the change of speed."""
    take = vary_take(rng, sound.signal, sample_rate, speed_variation, eq_db)
    scale = take.size / sound.signal.size
    spans = tuple((int(round(a * scale)), min(int(round(b * scale)), take.size)) for a, b in sound.spans)
    return Sound(take, spans, _rescaled(sound, take))


def _rescaled(sound: Sound, changed: np.ndarray) -> float:
    """The level of ``sound`` after its signal became ``changed``: the same ratio to the
    signal's RMS (for a whole clip, exactly the new signal's RMS)."""
    return rms(changed) * (sound.level / max(rms(sound.signal), 1e-12))


def vary_take(
    rng: np.random.Generator, signal: np.ndarray, sample_rate: int, speed_variation: float, eq_db: float
) -> np.ndarray:
    """A new take of a recorded source: played back up to ``speed_variation`` faster or
    slower (pitch and duration change together, as on tape) through a random smooth
    equaliser curve (gains within +-``eq_db`` at ``EQ_CONTROL_HZ``, linear in log frequency)."""
    take = signal
    if speed_variation > 0:
        factor = float(np.exp(rng.uniform(np.log1p(-speed_variation), np.log1p(speed_variation))))
        take = librosa.resample(take, orig_sr=sample_rate * factor, target_sr=sample_rate, res_type="soxr_hq")
    if eq_db > 0:
        gains_db = rng.uniform(-eq_db, eq_db, len(EQ_CONTROL_HZ))
        spectrum = np.fft.rfft(take)
        freqs = np.maximum(np.fft.rfftfreq(take.size, 1 / sample_rate), 1.0)
        curve = np.interp(np.log(freqs), np.log(EQ_CONTROL_HZ), gains_db)
        take = np.fft.irfft(spectrum * 10 ** (curve / 20), n=take.size)
    return np.asarray(take, np.float32)


def _finish(mix: np.ndarray, events: list[Event], stems: list[Stem] | None = None) -> Mixture:
    peak = float(np.max(np.abs(mix)))
    scale = PEAK_LIMIT / peak if peak > PEAK_LIMIT else 1.0  # one gain for all: SNRs are kept
    kept = tuple(Stem(s.start, (s.signal * scale).astype(np.float32), s.events) for s in stems or ())
    return Mixture((mix * scale).astype(np.float32), tuple(sorted(events)), kept)


def isolated_session(
    rng: np.random.Generator,
    bank: ClipBank,
    pools: dict[str, list[Clip]],
    labels: Sequence[str],
    seconds: float,
    gap_seconds: tuple[float, float],
    snr_db: tuple[float, float],
    background_dbfs: float,
    variation: tuple[float, float] = (0.0, 0.0),
    keep_stems: bool = False,
    maker: EventMaker | None = None,
) -> Mixture:
    """Non-overlapping events one after another, labels balanced in shuffled rounds; each
    event a new take (``variation``: speed and EQ of :func:`vary_take`) of a sound that
    ``maker`` makes from its label's pool (none: a whole clip)."""
    sr = bank.sample_rate
    n = int(seconds * sr)
    mix = background_bed(rng, bank, pools[BACKGROUND], n, background_dbfs)
    level = rms(mix)
    stems = [Stem(0, mix.copy())] if keep_stems else None
    events: list[Event] = []
    order: list[str] = []
    cursor = int(rng.uniform(*gap_seconds) * sr)
    while True:
        if not order:
            order = list(rng.permutation(labels))
        label = order.pop()
        sound = _pick(rng, label, _clips(bank, pools[label]), maker)
        if any(variation):
            sound = vary_sound(rng, sound, sr, *variation)
        if cursor + sound.signal.size > n:
            break
        placed = place_event(mix, sound.signal, cursor, float(rng.uniform(*snr_db)), level, sound.level)
        annotated = _annotated(sound, cursor, label, sr)
        events.extend(annotated)
        if stems is not None:
            stems.append(Stem(cursor, placed, annotated))
        cursor += sound.signal.size + int(rng.uniform(*gap_seconds) * sr)
    return _finish(mix, events, stems)


def overlapping_mixture(
    rng: np.random.Generator,
    bank: ClipBank,
    pools: dict[str, list[Clip]],
    labels: Sequence[str],
    seconds: float,
    events_per_minute: float,
    max_polyphony: int,
    snr_db: tuple[float, float],
    background_dbfs: float,
    attempts: int = 30,
    keep_stems: bool = False,
    maker: EventMaker | None = None,
) -> Mixture:
    """Events at random onsets, never more than ``max_polyphony`` sounding at once; each a
    sound that ``maker`` makes from its label's pool (none: a whole clip)."""
    sr = bank.sample_rate
    n = int(seconds * sr)
    grid = sr // 100  # polyphony is tracked on a 10 ms grid
    active = np.zeros(n // grid + 2, np.int16)
    mix = background_bed(rng, bank, pools[BACKGROUND], n, background_dbfs)
    level = rms(mix)
    stems = [Stem(0, mix.copy())] if keep_stems else None
    events: list[Event] = []
    n_events = max(1, int(round(events_per_minute * seconds / 60)))
    rounds = -(-n_events // len(labels))  # labels balanced in shuffled rounds
    order = [labels[i] for i in np.concatenate([rng.permutation(len(labels)) for _ in range(rounds)])[:n_events]]
    for label in order:
        sound = _truncated(_pick(rng, label, _clips(bank, pools[label]), maker), n - 1)
        clip = sound.signal
        for _ in range(attempts):
            start = int(rng.integers(0, n - clip.size + 1))
            span = slice(start // grid, (start + clip.size) // grid + 1)
            if active[span].max() < max_polyphony:
                active[span] += 1
                placed = place_event(mix, clip, start, float(rng.uniform(*snr_db)), level, sound.level)
                annotated = _annotated(sound, start, label, sr)
                events.extend(annotated)
                if stems is not None:
                    stems.append(Stem(start, placed, annotated))
                break
    return _finish(mix, events, stems)


def _truncated(sound: Sound, samples: int) -> Sound:
    """``sound`` cut to at most ``samples``, its spans with it."""
    if sound.signal.size <= samples:
        return sound
    spans = tuple((a, min(b, samples)) for a, b in sound.spans if a < samples)
    return Sound(sound.signal[:samples], spans, _rescaled(sound, sound.signal[:samples]))


def polyphony(events: Sequence[Event]) -> int:
    """Largest number of events active at one instant."""
    edges = sorted([(e.onset, 1) for e in events] + [(e.offset, -1) for e in events])
    current = best = 0
    for _, step in edges:
        current += step
        best = max(best, current)
    return best
