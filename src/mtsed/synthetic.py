"""The two embedded default data sets, built from curated clips (SPEC section 9).

- ``isolated``: ITC-Irst-style sessions of non-overlapping events over background;
  the last ``test_sessions`` sessions are the test split, the others give
  leave-one-session-out folds.
- ``overlapping``: TUT-SED-Synthetic-2016-style polyphonic mixtures split
  train / validation / evaluation.

Foreground clips of every label and the background clips are divided into disjoint pools,
one per split, so no clip is heard in two splits.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm import tqdm

from mtsed.audio import write_audio
from mtsed.clips import BACKGROUND, Clip
from mtsed.config import IsolatedSetConfig, OverlappingSetConfig, PrepareConfig
from mtsed.data import Dataset, Recording
from mtsed.events import write_event_list
from mtsed.mixing import (
    ClipBank,
    Mixture,
    isolated_session,
    overlapping_mixture,
    split_clips,
)

OVERLAPPING_SPLITS = ("train", "validation", "evaluation")


def _pools(bank: ClipBank, labels: tuple[str, ...], fractions: list[float], seed: int) -> list[dict[str, list[Clip]]]:
    """Per split: ``{role: clips}`` for every label and the background."""
    roles = (*labels, BACKGROUND)
    bank.require(roles)
    per_role = {role: split_clips(bank.by_role[role], fractions, seed) for role in roles}
    return [{role: per_role[role][i] for role in roles} for i in range(len(fractions))]


def _rng(seed: int, set_index: int, recording_index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, set_index, recording_index]))


def _write(root: Path, rec_id: str, mixture: Mixture, sample_rate: int) -> tuple[str, str]:
    audio, events = f"audio/{rec_id}.wav", f"annotations/{rec_id}.txt"
    write_audio(root / audio, mixture.signal, sample_rate)
    write_event_list(root / events, list(mixture.events))
    return audio, events


def build_isolated_set(cfg: PrepareConfig, bank: ClipBank, root: Path, name: str = "isolated") -> Dataset:
    """Write the isolated-event set into ``root`` and return its manifest."""
    iso: IsolatedSetConfig = cfg.isolated
    n_train = iso.sessions - iso.test_sessions
    pools = _pools(bank, iso.labels, [n_train, iso.test_sessions], cfg.seed)
    recordings = []
    for k in tqdm(range(iso.sessions), desc=f"prepare {name}", unit="session"):
        split = "train" if k < n_train else "test"
        session = f"session-{k + 1:02d}"
        mixture = isolated_session(
            _rng(cfg.seed, 0, k), bank, pools[0 if split == "train" else 1], iso.labels,
            iso.session_seconds, iso.gap_seconds, iso.snr_db, cfg.background_dbfs,
        )
        audio, events = _write(root, session, mixture, cfg.sample_rate)
        recordings.append(Recording(session, audio, events, split, session))
    dataset = Dataset(name, "isolated", iso.labels, tuple(recordings), root)
    dataset.save()
    return dataset


def build_overlapping_set(cfg: PrepareConfig, bank: ClipBank, root: Path, name: str = "overlapping") -> Dataset:
    """Write the overlapping-event set into ``root`` and return its manifest."""
    ovl: OverlappingSetConfig = cfg.overlapping
    pools = _pools(bank, ovl.labels, [float(m) for m in ovl.mixtures], cfg.seed)
    splits = [s for s, count in zip(OVERLAPPING_SPLITS, ovl.mixtures) for _ in range(count)]
    recordings = []
    for k, split in enumerate(tqdm(splits, desc=f"prepare {name}", unit="mixture")):
        rec_id = f"mix-{k + 1:03d}"
        mixture = overlapping_mixture(
            _rng(cfg.seed, 1, k), bank, pools[OVERLAPPING_SPLITS.index(split)], ovl.labels,
            ovl.mixture_seconds, ovl.events_per_minute, ovl.max_polyphony, ovl.snr_db, cfg.background_dbfs,
        )
        audio, events = _write(root, rec_id, mixture, cfg.sample_rate)
        recordings.append(Recording(rec_id, audio, events, split))
    dataset = Dataset(name, "overlapping", ovl.labels, tuple(recordings), root)
    dataset.save()
    return dataset


def describe(dataset: Dataset, sample_rate: int) -> dict:
    """Sizes of a data set: minutes per split and events per class (for notes and MLflow)."""
    minutes: Counter[str] = Counter()
    per_class: Counter[str] = Counter()
    for recording in dataset.recordings:
        minutes[recording.split] += sf.info(str(dataset.audio_path(recording))).duration / 60
        per_class.update(e.label for e in dataset.events(recording))
    return {
        "recordings": len(dataset.recordings),
        "minutes": round(sum(minutes.values()), 2),
        "minutes_per_split": {k: round(v, 2) for k, v in sorted(minutes.items())},
        "events": sum(per_class.values()),
        "events_per_class": dict(sorted(per_class.items())),
        "sample_rate": sample_rate,
    }
