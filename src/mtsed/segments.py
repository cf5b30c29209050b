"""Training samples: windows of T frames cut from memory-mapped recordings (SPEC section 3).

Nothing is copied up front: each sample slices the ``.npy`` memory maps written by the
features and targets stages, standardises it with the fold's statistics and zero-pads
recordings shorter than T, returning a mask that marks the real frames.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from mtsed.features import Standardiser


def window_starts(n_frames: int, segment_frames: int, hop: int) -> list[int]:
    """Starts of all T-frame windows with the given hop; the last window always ends at the
    recording's end, and a recording shorter than T gives one (padded) window."""
    last = max(n_frames - segment_frames, 0)
    starts = list(range(0, last + 1, hop))
    if starts[-1] != last:
        starts.append(last)
    return starts


class SegmentDataset(Dataset):
    """``(features, targets, mask)`` windows of ``segment_frames`` frames."""

    def __init__(
        self,
        features_dir: Path,
        targets_dir: Path,
        recording_ids: Sequence[str],
        standardiser: Standardiser,
        segment_frames: int,
        hop: int,
    ) -> None:
        self.features = {rid: np.load(features_dir / f"{rid}.npy", mmap_mode="r") for rid in recording_ids}
        self.targets = {rid: np.load(targets_dir / f"{rid}.npy", mmap_mode="r") for rid in recording_ids}
        for rid in recording_ids:
            if self.features[rid].shape[0] != self.targets[rid].shape[0]:
                raise ValueError(f"{rid}: {self.features[rid].shape[0]} feature frames but {self.targets[rid].shape[0]} target frames")
        self.standardiser = standardiser
        self.segment_frames = segment_frames
        self.index = [(rid, s) for rid in recording_ids for s in window_starts(self.features[rid].shape[0], segment_frames, hop)]

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        rid, start = self.index[i]
        stop = start + self.segment_frames
        x = self.standardiser.apply(np.asarray(self.features[rid][start:stop]))
        y = np.array(self.targets[rid][start:stop], dtype=np.float32)  # a writable copy
        n = x.shape[0]
        mask = np.zeros(self.segment_frames, np.float32)
        mask[:n] = 1.0
        if n < self.segment_frames:
            x = np.pad(x, ((0, self.segment_frames - n), (0, 0)))
            y = np.pad(y, ((0, self.segment_frames - n), (0, 0)))
        return torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(mask)
