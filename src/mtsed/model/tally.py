"""What one pass of a network over windows measured: the activity head's frame counts and
the distance head's errors, gathered batch by batch during validation and summed up after.

The activity head is read at 0.5 (frame F1, the checkpoint criterion); the distance head on
the frames where the class is active, its outputs decoded to frames and set against the
targets it is trained on, pooled over onsets and offsets and reported per band of true
distance (:mod:`mtsed.measures.distance_errors`), so every training run shows whether the
head places boundaries, near them and far from them, on its validation and its own training
recordings.
"""

from __future__ import annotations

import numpy as np
import torch

from mtsed.measures.distance_errors import band_medians, error_metric
from mtsed.measures.f1 import f1
from mtsed.model import distances


class Tally:
    """Activity counts ``[tp, fp, fn]`` and (multi-task outputs) distance errors of one pass.

    ``encoding`` is how the network's distance outputs encode ``d / T``
    (:mod:`mtsed.model.distances`); activity-only outputs have no distances to tally.
    """

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self.counts = torch.zeros(3, dtype=torch.float64)
        self._pairs: list[tuple[np.ndarray, np.ndarray]] = []

    def add(self, outputs: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> None:
        """One batch: ``outputs`` ``(batch, frames, 3C or C)`` as the network emits them,
        ``targets`` ``(batch, frames, 3C)`` laid out y, p, q, ``mask`` ``(batch, frames)``."""
        outputs, targets = outputs.detach().float().cpu(), targets.float().cpu()
        classes = targets.shape[-1] // 3
        valid = mask.bool().cpu().unsqueeze(-1)
        estimated, reference = outputs[..., :classes] > 0.5, targets[..., :classes] > 0.5
        self.counts += torch.stack(
            [
                (estimated & reference & valid).sum(),
                (estimated & ~reference & valid).sum(),
                (~estimated & reference & valid).sum(),
            ]
        ).double()
        if outputs.shape[-1] != targets.shape[-1]:
            return
        frames = targets.shape[1]
        active = reference & valid
        for k in (1, 2):  # onset (p), offset (q)
            columns = slice(k * classes, (k + 1) * classes)
            truth = targets[..., columns] * frames
            placed = distances.decode(outputs[..., columns], self.encoding, frames) * frames
            self._pairs.append((truth[active].numpy(), (placed - truth)[active].numpy()))

    def frame_f1(self) -> float:
        """Frame F1 of the activity head (0 where nothing was active)."""
        tp, fp, fn = self.counts.tolist()
        return f1(tp, tp + fp, tp + fn, nothing_to_find=0.0)

    def distance_errors(self) -> dict[str, dict[str, float | int | None]]:
        """Median absolute and signed error in frames per band of true distance (empty for
        activity-only outputs)."""
        return band_medians(self._pairs) if self._pairs else {}

    def median_abs_errors(self, split: str) -> dict[str, float]:
        """``{<split>_distance_error_<band>: median |error|}`` of the bands with frames, as flat
        metrics (:func:`mtsed.measures.distance_errors.error_metric`)."""
        return {
            error_metric(split, band): figures["median_abs_error"]
            for band, figures in self.distance_errors().items()
            if figures["median_abs_error"] is not None
        }
