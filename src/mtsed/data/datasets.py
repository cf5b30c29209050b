"""Data sets as manifests of recordings, their splits and cross-validation folds.

A data set folder holds ``manifest.json`` plus the audio and DCASE annotation files it
names (paths relative to the manifest).  Two kinds exist, mirroring METHOD.md section 9:

- ``isolated`` (ITC-Irst style): recordings are sessions; ``split`` is ``train`` or
  ``test``; each training session is held out once (leave-one-session-out folds).
- ``overlapping`` (TUT-SED-Synthetic-2016 style): ``split`` is ``train``, ``validation``
  or ``evaluation``; one fold trains on ``train`` and validates on ``validation``.

Loaders turn the published layouts of the real data sets into the same manifest.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from mtsed.config.layout import MANIFEST_FILE, SETS
from mtsed.io.events import Event, read_event_list
from mtsed.io.fileio import read_json, write_json

EVALUATION_SPLITS = ("test", "evaluation")


@dataclass(frozen=True)
class Recording:
    """One recording: its audio, its reference events, its split and session."""

    id: str
    audio: str
    events: str
    split: str
    session: str = ""


@dataclass(frozen=True)
class Fold:
    """One cross-validation fold: recording ids to train on and to validate on."""

    name: str
    train: tuple[str, ...]
    validation: tuple[str, ...]


@dataclass(frozen=True)
class Dataset:
    """A data set rooted at ``root``; recording paths are relative to it."""

    name: str
    kind: str
    labels: tuple[str, ...]
    recordings: tuple[Recording, ...]
    root: Path
    background_labels: tuple[str, ...] = ()
    protocol: str = ""  # how evaluation relates to training, said in table headers

    def __post_init__(self) -> None:
        if self.kind not in SETS:
            raise ValueError(f"data set {self.name}: kind must be one of {SETS}, got {self.kind!r}")
        ids = [r.id for r in self.recordings]
        if len(set(ids)) != len(ids):
            raise ValueError(f"data set {self.name}: duplicate recording ids")

    def audio_path(self, recording: Recording) -> Path:
        return self.root / recording.audio

    def events(self, recording: Recording) -> list[Event]:
        """Reference events of one recording; background labels are dropped, others rejected."""
        path = self.root / recording.events
        events = read_event_list(path, labels=set(self.labels) | set(self.background_labels))
        return [e for e in events if e.label in self.labels]

    def by_split(self, *splits: str) -> list[Recording]:
        return [r for r in self.recordings if r.split in splits]

    def folds(self) -> list[Fold]:
        """Leave-one-session-out folds (isolated) or the single train/validation fold."""
        if self.kind == "overlapping":
            train = tuple(r.id for r in self.by_split("train"))
            validation = tuple(r.id for r in self.by_split("validation"))
            return [Fold("0", train, validation)]
        sessions = sorted({r.session for r in self.by_split("train")})
        folds = []
        for k, held_out in enumerate(sessions):
            train = tuple(r.id for r in self.by_split("train") if r.session != held_out)
            validation = tuple(r.id for r in self.by_split("train") if r.session == held_out)
            folds.append(Fold(str(k), train, validation))
        return folds

    def evaluation(self) -> list[Recording]:
        return self.by_split(*EVALUATION_SPLITS)

    def relocated(self, root: Path) -> Dataset:
        """The same recordings with a manifest kept in ``root``: their files stay where they
        are, named by absolute paths (for real sets read in place)."""
        recordings = tuple(
            replace(r, audio=str((self.root / r.audio).resolve()), events=str((self.root / r.events).resolve()))
            for r in self.recordings
        )
        return replace(self, recordings=recordings, root=Path(root))

    def save(self) -> Path:
        """Write ``manifest.json`` into the data set root."""
        path = self.root / MANIFEST_FILE
        write_json(
            path,
            {
                "name": self.name,
                "kind": self.kind,
                "labels": list(self.labels),
                "background_labels": list(self.background_labels),
                "protocol": self.protocol,
                "recordings": [asdict(r) for r in self.recordings],
            },
        )
        return path


def load_dataset(root: str | Path) -> Dataset:
    """Read ``<root>/manifest.json``, naming the file on any problem."""
    root = Path(root)
    raw = read_json(root / MANIFEST_FILE)
    try:
        return Dataset(
            name=raw["name"],
            kind=raw["kind"],
            labels=tuple(raw["labels"]),
            background_labels=tuple(raw.get("background_labels", ())),
            protocol=str(raw.get("protocol", "")),
            recordings=tuple(Recording(**r) for r in raw["recordings"]),
            root=root,
        )
    except (KeyError, TypeError) as error:
        raise ValueError(f"{root / MANIFEST_FILE}: malformed manifest ({error})") from None


def _labels_in(paths: Sequence[Path]) -> tuple[str, ...]:
    return tuple(sorted({e.label for p in paths for e in read_event_list(p)}))


def _trailing_number(path: Path) -> int:
    match = re.search(r"(\d+)$", path.stem)
    if not match:
        raise ValueError(f"{path}: file name does not end in a mixture number")
    return int(match.group(1))


def load_tut_sed_synthetic(root: str | Path, fractions: tuple[float, float] = (0.6, 0.2)) -> Dataset:
    """TUT-SED-Synthetic-2016 layout: ``audio/*-mix-N.wav`` with ``meta/*-annot-N.txt``.

    Mixtures are split by number as in the paper: the first 60 % train, the next 20 %
    validation, the rest evaluation.
    """
    root = Path(root)
    audio = {_trailing_number(p): p for p in sorted((root / "audio").glob("*.wav"))}
    annotations = {_trailing_number(p): p for p in sorted((root / "meta").glob("*.txt"))}
    if not audio:
        raise FileNotFoundError(f"{root / 'audio'}: no .wav mixtures found")
    missing = sorted(set(audio) - set(annotations))
    if missing:
        raise FileNotFoundError(f"{root / 'meta'}: no annotation for mixture(s) {missing[:5]}")
    numbers = sorted(audio)
    n_train = round(fractions[0] * len(numbers))
    n_val = round(fractions[1] * len(numbers))
    recordings = []
    for i, number in enumerate(numbers):
        split = "train" if i < n_train else "validation" if i < n_train + n_val else "evaluation"
        recordings.append(
            Recording(
                id=f"mix-{number:03d}",
                audio=str(audio[number].relative_to(root)),
                events=str(annotations[number].relative_to(root)),
                split=split,
            )
        )
    labels = _labels_in([annotations[n] for n in numbers])
    return Dataset("tut-sed-synthetic-2016", "overlapping", labels, tuple(recordings), root)


def load_itc_irst(root: str | Path, evaluated_labels: Sequence[str], test_sessions: Sequence[str]) -> Dataset:
    """ITC-Irst-style sessions: ``<root>/<session>.wav`` with ``<root>/<session>.txt``.

    Annotation lines are DCASE ``onset offset label``; labels outside ``evaluated_labels``
    are kept as background (dropped from targets and scores), as in the paper.
    """
    root = Path(root)
    wavs = sorted(root.glob("*.wav"))
    if not wavs:
        raise FileNotFoundError(f"{root}: no session .wav files found")
    unknown_tests = set(test_sessions) - {w.stem for w in wavs}
    if unknown_tests:
        raise ValueError(f"{root}: test session(s) {sorted(unknown_tests)} not found")
    recordings, all_labels = [], set()
    for wav in wavs:
        annotation = wav.with_suffix(".txt")
        if not annotation.is_file():
            raise FileNotFoundError(f"{annotation}: annotation for session {wav.stem} is missing")
        all_labels |= {e.label for e in read_event_list(annotation)}
        split = "test" if wav.stem in test_sessions else "train"
        recordings.append(Recording(wav.stem, wav.name, annotation.name, split, session=wav.stem))
    background = tuple(sorted(all_labels - set(evaluated_labels)))
    return Dataset("itc-irst", "isolated", tuple(evaluated_labels), tuple(recordings), root, background)
