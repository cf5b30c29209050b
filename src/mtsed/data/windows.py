"""Training samples: windows of T frames cut from memory-mapped recordings (METHOD.md section 3).

Each epoch draws ``windows_per_epoch`` windows whose start frames are uniform over every
possible start of every training recording (the paper trains on all windows, hop 1, which
``windows_per_epoch: 0`` reproduces: every window once per epoch in a random order), from
a generator seeded by ``(seed, epoch)``: an epoch's windows never depend on what ran
before, so a resumed run sees exactly the windows an uninterrupted run would.

Nothing is copied up front: each sample slices the ``.npy`` memory maps written by the
features and targets stages, standardises it with the fold's statistics and zero-pads
recordings shorter than T, returning a mask that marks the real frames.

Distance targets are read one of two ways (METHOD.md section 2):

- ``window`` (default): distances to the boundaries *as seen inside the window*, a
  boundary outside it counting at the window's first or last frame.  These depend on the
  activity inside the window only, so they are recomputed from ``y`` (which also makes
  them right for remixed windows).
- ``recording``: the stored distances to the true boundaries in the recording (clipped to
  T by the targets stage), for the ablation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from mtsed.config.layout import repro_command
from mtsed.config.training import DISTANCE_READINGS
from mtsed.data.augment import NONE, Augmentation, remix, spec_masks
from mtsed.features.logmel import Standardiser
from mtsed.io.fileio import read_frames

SAMPLINGS = ("random", "grid")


def window_starts(n_frames: int, segment_frames: int, hop: int) -> list[int]:
    """Starts of all T-frame windows with the given hop; the last window always ends at the
    recording's end, and a recording shorter than T gives one (padded) window."""
    last = max(n_frames - segment_frames, 0)
    starts = list(range(0, last + 1, hop))
    if starts[-1] != last:
        starts.append(last)
    return starts


def draw_windows(
    frames: Sequence[int], count: int, segment_frames: int, rng: np.random.Generator
) -> list[tuple[int, int]]:
    """``count`` windows ``(recording index, start frame)``, every start frame of every
    recording equally likely (a recording shorter than T has one start, 0)."""
    sizes = np.array([max(n - segment_frames + 1, 1) for n in frames])
    ends = np.cumsum(sizes)
    picks = rng.integers(0, ends[-1], count)
    recording = np.searchsorted(ends, picks, side="right")
    starts = picks - (ends[recording] - sizes[recording])
    return [(int(r), int(s)) for r, s in zip(recording, starts)]


def every_window(frames: Sequence[int], segment_frames: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    """Every window of every recording once (hop 1, the paper's epoch), in a random order."""
    windows = grid_windows(frames, segment_frames, 1)
    return [windows[k] for k in rng.permutation(len(windows))]


def grid_windows(frames: Sequence[int], segment_frames: int, hop: int) -> list[tuple[int, int]]:
    """All windows on a fixed hop grid, recording by recording."""
    return [(r, s) for r, n in enumerate(frames) for s in window_starts(n, segment_frames, hop)]


def window_distances(y: np.ndarray, segment_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """``p``, ``q`` of a window ``(frames, classes)`` from its activity alone: frames back to
    the start and forward to the last frame of each frame's run of activity, over T."""
    active = y > 0.5
    n = active.shape[0]
    frames = np.arange(n)[:, None]
    none = np.zeros((1, active.shape[1]), bool)
    first = active & ~np.vstack([none, active[:-1]])
    last = active & ~np.vstack([active[1:], none])
    run_start = np.maximum.accumulate(np.where(first, frames, 0), axis=0)
    run_end = np.minimum.accumulate(np.where(last, frames, n - 1)[::-1], axis=0)[::-1]
    p = np.where(active, (frames - run_start) / segment_frames, 0.0)
    q = np.where(active, (run_end - frames) / segment_frames, 0.0)
    return p.astype(np.float32), q.astype(np.float32)


class Recordings:
    """Memory-mapped features and targets of some recordings, checked to be aligned."""

    def __init__(self, features_dir: Path, targets_dir: Path, recording_ids: Sequence[str]) -> None:
        self.ids = list(recording_ids)
        rerun_features, rerun_targets = repro_command("features", features_dir), repro_command("targets", targets_dir)
        self.features = [read_frames(features_dir / f"{rid}.npy", None, rerun_features, mmap=True) for rid in self.ids]
        bands = {x.shape[1] for x in self.features}
        if len(bands) > 1:
            raise ValueError(
                f"{features_dir}: recordings with {sorted(bands)} mel bands in one set; rerun `{rerun_features}`"
            )
        self.targets = [read_frames(targets_dir / f"{rid}.npy", None, rerun_targets, mmap=True) for rid in self.ids]
        for rid, x, y in zip(self.ids, self.features, self.targets):
            if x.shape[0] != y.shape[0]:
                raise ValueError(
                    f"{targets_dir / rid}.npy: {y.shape[0]} target frames but {x.shape[0]} feature frames; "
                    f"rerun `{rerun_targets}`"
                )

    @property
    def frames(self) -> list[int]:
        return [x.shape[0] for x in self.features]

    def window(self, index: int, start: int, segment_frames: int) -> tuple[np.ndarray, np.ndarray]:
        """Raw log-mel and targets of one window, zero-padded to T frames, and the frame count."""
        x = np.array(self.features[index][start : start + segment_frames], dtype=np.float32)
        y = np.array(self.targets[index][start : start + segment_frames], dtype=np.float32)
        return x, y


@dataclass(frozen=True)
class WindowOptions:
    """How windows become training samples."""

    segment_frames: int
    distances: str = "window"  # see the module docstring
    augmentation: Augmentation = NONE

    def __post_init__(self) -> None:
        if self.distances not in DISTANCE_READINGS:
            raise ValueError(f"distance targets must be one of {DISTANCE_READINGS}, got {self.distances!r}")
        if self.distances == "recording" and self.augmentation.remix > 0:
            raise ValueError("remixing needs distance targets read inside the window (distances: window)")


class SegmentDataset(Dataset):
    """``(features, targets, mask)`` for a fixed list of windows ``(recording, start)``.

    With augmentation, sample ``i`` is transformed by a generator seeded from
    ``(seed, i)``, so the same dataset always yields the same samples.
    """

    def __init__(
        self,
        recordings: Recordings,
        standardiser: Standardiser,
        windows: Sequence[tuple[int, int]],
        options: WindowOptions,
        seed: int = 0,
        partners: Sequence[tuple[int, int]] = (),
    ) -> None:
        self.recordings, self.standardiser, self.windows = recordings, standardiser, list(windows)
        self.options, self.seed, self.partners = options, seed, list(partners)

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        T, aug = self.options.segment_frames, self.options.augmentation
        x, targets = self.recordings.window(*self.windows[i], T)
        n = x.shape[0]
        if n < T:
            x = np.pad(x, ((0, T - n), (0, 0)), constant_values=float(x.min(initial=0.0)))
            targets = np.pad(targets, ((0, T - n), (0, 0)))
        rng = np.random.default_rng([self.seed, i]) if aug.active else None
        if rng is not None and self.partners and rng.random() < aug.remix:
            x, targets = remix(x, targets, self.recordings.window(*self.partners[i], T), aug.remix_gain_db, rng)
        targets[n:] = 0.0
        if self.options.distances == "window":
            y = targets[:, : targets.shape[1] // 3]
            targets = np.concatenate([y, *window_distances(y, T)], axis=1)
        x = self.standardiser.apply(x)
        x[n:] = 0.0
        if rng is not None and aug.masks:
            x = spec_masks(x, aug, n, rng)
        mask = np.zeros(T, np.float32)
        mask[:n] = 1.0
        return torch.from_numpy(x), torch.from_numpy(np.ascontiguousarray(targets, np.float32)), torch.from_numpy(mask)


@dataclass(frozen=True)
class WindowSampler:
    """Each epoch's training windows: ``count`` random windows (or the hop grid, cycled);
    ``count`` 0 means every window once, hop 1, as the paper's epochs."""

    recordings: Recordings
    standardiser: Standardiser
    options: WindowOptions
    count: int
    seed: int = 0
    sampling: str = "random"
    grid_hop: int = 128

    def __post_init__(self) -> None:
        if self.sampling not in SAMPLINGS:
            raise ValueError(f"sampling must be one of {SAMPLINGS}, got {self.sampling!r}")

    def epoch(self, epoch: int) -> SegmentDataset:
        rng = np.random.default_rng([self.seed, epoch])
        frames, T = self.recordings.frames, self.options.segment_frames
        if self.count == 0:
            windows = every_window(frames, T, rng)
        elif self.sampling == "random":
            windows = draw_windows(frames, self.count, T, rng)
        else:
            grid = grid_windows(frames, T, self.grid_hop)
            windows = [grid[k % len(grid)] for k in rng.permutation(max(self.count, len(grid)))[: self.count]]
        partners = draw_windows(frames, len(windows), T, rng) if self.options.augmentation.remix > 0 else []
        return SegmentDataset(
            self.recordings,
            self.standardiser,
            windows,
            self.options,
            seed=self.seed * 100_003 + epoch,
            partners=partners,
        )


def validation_set(recordings: Recordings, standardiser: Standardiser, options: WindowOptions) -> SegmentDataset:
    """Consecutive non-overlapping windows of every validation recording (no augmentation)."""
    plain = WindowOptions(options.segment_frames, options.distances)
    windows = grid_windows(recordings.frames, options.segment_frames, options.segment_frames)
    return SegmentDataset(recordings, standardiser, windows, plain)
