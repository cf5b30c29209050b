"""The two embedded default data sets, built from curated clips (METHOD.md section 9).

- ``isolated``: ITC-Irst-style sessions of non-overlapping events over background;
  the last ``test_sessions`` sessions are the test split, the others give
  leave-one-session-out folds.  As in ITC-Irst, the same sound sources recur in every
  session as new takes, so the test sessions hold new takes of known sources.
- ``overlapping``: TUT-SED-Synthetic-2016-style polyphonic mixtures split
  train / validation / evaluation.  Foreground clips of every label and the background
  clips are divided into disjoint pools, one per split, so no clip is heard in two
  splits: the evaluation measures generalisation to unseen sounds.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from mtsed.config import IsolatedSetConfig, OverlappingSetConfig, PrepareConfig
from mtsed.data.datasets import Dataset, Recording
from mtsed.data.default.clips import BACKGROUND, Clip
from mtsed.data.default.mixing import (
    ClipBank,
    Mixture,
    isolated_session,
    overlapping_mixture,
    split_clips,
    stable_key,
)
from mtsed.data.default.sounds import EventMaker, impulsive_labels
from mtsed.io.audio import audio_duration, write_audio
from mtsed.io.events import Event, write_event_list
from mtsed.io.progress import progress

OVERLAPPING_SPLITS = ("train", "validation", "evaluation")


def _pools(bank: ClipBank, labels: tuple[str, ...], fractions: list[float], seed: int) -> list[dict[str, list[Clip]]]:
    """Per split: ``{role: clips}`` for every label and the background."""
    roles = (*labels, BACKGROUND)
    bank.require(roles)
    per_role = {role: split_clips(bank.by_role[role], fractions, seed) for role in roles}
    return [{role: per_role[role][i] for role in roles} for i in range(len(fractions))]


def _sources(clips: Sequence[Clip], count: int, seed: int) -> list[Clip]:
    """The fixed sound sources of one label: ``count`` clips in a seeded order (0: all)."""
    ordered = sorted(clips, key=lambda c: stable_key(seed, c.file))
    return ordered[:count] if count else ordered


def event_maker(cfg: PrepareConfig, bank: ClipBank, labels: Sequence[str], stretches: bool) -> EventMaker:
    """How the set's events sound (:mod:`mtsed.data.default.sounds`); which classes are
    impulsive is judged on all of a class's clips, so it is the same in every split."""
    return EventMaker(
        cfg.events,
        impulsive_labels(bank.by_role, labels, cfg.events),
        cfg.sample_rate,
        stretches and cfg.events.stretch_seconds[1] > 0,
    )


def _rng(seed: int, set_index: int, recording_index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, set_index, recording_index]))


def _write(root: Path, rec_id: str, mixture: Mixture, sample_rate: int) -> tuple[str, str]:
    audio, events = f"audio/{rec_id}.wav", f"annotations/{rec_id}.txt"
    write_audio(root / audio, mixture.signal, sample_rate)
    write_event_list(root / events, list(mixture.events))
    return audio, events


def isolated_mixtures(
    cfg: PrepareConfig, bank: ClipBank, keep_stems: bool = False, desc: str = "prepare isolated"
) -> Iterator[tuple[str, str, Mixture]]:
    """The isolated set's sessions as ``(session id, split, mixture)``, in order."""
    iso: IsolatedSetConfig = cfg.isolated
    n_train = iso.sessions - iso.test_sessions
    bank.require((*iso.labels, BACKGROUND))
    sources = _isolated_sources(cfg, bank)
    rooms = _sources(bank.by_role[BACKGROUND], iso.rooms, cfg.seed)
    maker = event_maker(cfg, bank, iso.labels, stretches=False)  # ITC-Irst's events are whole, short
    for k in progress(range(iso.sessions), desc=desc, unit="session"):
        mixture = isolated_session(
            _rng(cfg.seed, 0, k),
            bank,
            {**sources, BACKGROUND: [rooms[k % len(rooms)]]},
            iso.labels,
            iso.session_seconds,
            iso.gap_seconds,
            iso.snr_db,
            cfg.background_dbfs,
            (iso.speed_variation, iso.eq_db),
            keep_stems,
            maker,
        )
        yield f"session-{k + 1:02d}", "train" if k < n_train else "test", mixture


def _isolated_sources(cfg: PrepareConfig, bank: ClipBank) -> dict[str, list[Clip]]:
    return {
        label: _sources(bank.by_role[label], cfg.isolated.sources_per_label, cfg.seed) for label in cfg.isolated.labels
    }


def build_isolated_set(cfg: PrepareConfig, bank: ClipBank, root: Path, name: str = "isolated") -> Dataset:
    """Write the isolated-event set into ``root`` and return its manifest."""
    recordings = []
    for session, split, mixture in isolated_mixtures(cfg, bank, desc=f"prepare {name}"):
        audio, events = _write(root, session, mixture, cfg.sample_rate)
        recordings.append(Recording(session, audio, events, split, session))
    counts = sorted({len(v) for v in _isolated_sources(cfg, bank).values()})
    rooms = len(_sources(bank.by_role[BACKGROUND], cfg.isolated.rooms, cfg.seed))
    per_class = f"{counts[0]}" if counts[0] == counts[-1] else f"{counts[0]}-{counts[-1]}"
    protocol = (
        f"ITC-Irst protocol: the same sound sources ({per_class} per class) recur in every session as "
        f"new takes, in {rooms} recurring rooms; the test sessions hold new takes of known sources"
    )
    dataset = Dataset(name, "isolated", cfg.isolated.labels, tuple(recordings), root, protocol=protocol)
    dataset.save()
    return dataset


def overlapping_mixtures(
    cfg: PrepareConfig, bank: ClipBank, keep_stems: bool = False, desc: str = "prepare overlapping"
) -> Iterator[tuple[str, str, Mixture]]:
    """The overlapping set's mixtures as ``(mixture id, split, mixture)``, in order."""
    ovl: OverlappingSetConfig = cfg.overlapping
    pools = _pools(bank, ovl.labels, [float(m) for m in ovl.mixtures], cfg.seed)
    splits = [s for s, count in zip(OVERLAPPING_SPLITS, ovl.mixtures) for _ in range(count)]
    maker = event_maker(cfg, bank, ovl.labels, stretches=True)
    for k, split in enumerate(progress(splits, desc=desc, unit="mixture")):
        mixture = overlapping_mixture(
            _rng(cfg.seed, 1, k),
            bank,
            pools[OVERLAPPING_SPLITS.index(split)],
            ovl.labels,
            ovl.mixture_seconds,
            ovl.events_per_minute,
            ovl.max_polyphony,
            ovl.snr_db,
            cfg.background_dbfs,
            keep_stems=keep_stems,
            maker=maker,
        )
        yield f"mix-{k + 1:03d}", split, mixture


def build_overlapping_set(cfg: PrepareConfig, bank: ClipBank, root: Path, name: str = "overlapping") -> Dataset:
    """Write the overlapping-event set into ``root`` and return its manifest."""
    recordings = []
    for rec_id, split, mixture in overlapping_mixtures(cfg, bank, desc=f"prepare {name}"):
        audio, events = _write(root, rec_id, mixture, cfg.sample_rate)
        recordings.append(Recording(rec_id, audio, events, split))
    protocol = "clips disjoint across splits: the evaluation mixtures hold sounds never heard in training"
    dataset = Dataset(name, "overlapping", cfg.overlapping.labels, tuple(recordings), root, protocol=protocol)
    dataset.save()
    return dataset


def same_class_overlaps(events: Sequence[Event]) -> int:
    """How many events overlap or touch another event of their own class."""
    touching = set()
    by_label: dict[str, list[tuple[int, Event]]] = {}
    for i, event in enumerate(events):
        by_label.setdefault(event.label, []).append((i, event))
    for group in by_label.values():
        group.sort(key=lambda item: item[1].onset)
        reach, reach_index = -1.0, -1
        for i, event in group:
            if event.onset <= reach:
                touching.update((i, reach_index))
            if event.offset > reach:
                reach, reach_index = event.offset, i
    return len(touching)


def describe(dataset: Dataset, sample_rate: int) -> dict:
    """Sizes of a data set: minutes and events per split, events per class, and how many
    events overlap one of their own class (for notes and MLflow)."""
    minutes: Counter[str] = Counter()
    per_class: Counter[str] = Counter()
    per_split: Counter[str] = Counter()
    overlaps: Counter[str] = Counter()
    for recording in dataset.recordings:
        minutes[recording.split] += audio_duration(dataset.audio_path(recording)) / 60
        events = dataset.events(recording)
        per_class.update(e.label for e in events)
        per_split[recording.split] += len(events)
        overlaps[recording.split] += same_class_overlaps(events)
    return {
        "recordings": len(dataset.recordings),
        "minutes": round(sum(minutes.values()), 2),
        "minutes_per_split": {k: round(v, 2) for k, v in sorted(minutes.items())},
        "events": sum(per_class.values()),
        "events_per_split": dict(sorted(per_split.items())),
        "same_class_overlaps_per_split": {k: overlaps[k] for k in sorted(per_split)},
        "events_per_class": dict(sorted(per_class.items())),
        "protocol": dataset.protocol,
        "sample_rate": sample_rate,
    }
