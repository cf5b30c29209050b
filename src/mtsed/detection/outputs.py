"""Network outputs over a recording: the fold networks run over consecutive T-frame
segments, in batches and at the precision asked for, with the distances decoded to ``d / T``
whatever the network's encoding.  What the outputs become is :mod:`mtsed.detection.postprocessing`
and :mod:`mtsed.detection.decoders`.
"""

from __future__ import annotations

import numpy as np
import torch

from mtsed.model.distances import decode_outputs
from mtsed.model.network import CRNN

PRECISIONS = ("auto", "fp32", "bf16")


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast type of an inference precision: ``auto`` is fp16 on CUDA and fp32
    elsewhere; ``bf16`` (CPUs with AVX-512 BF16 or AMX, and GPUs) is opt-in, since its
    events differ from fp32's by a measured amount (benchmarks/RESULTS.md)."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; known: {', '.join(PRECISIONS)}")
    if precision == "bf16":
        return torch.bfloat16
    return torch.float16 if precision == "auto" and device.type == "cuda" else None


def default_batch_size(device: torch.device) -> int:
    """Segments per forward pass: 16 on CPU (x1.12 from 16 to 64 is not worth ~1 GB more
    peak memory, benchmarks/RESULTS.md), 64 on a GPU."""
    return 64 if device.type == "cuda" else 16


def network_outputs(
    model: CRNN, features: np.ndarray, segment_frames: int, batch_size: int | None = None, precision: str = "auto"
) -> np.ndarray:
    """Per-frame outputs ``(frames, n_outputs)`` over consecutive T-frame segments, the
    distances decoded to ``d / T`` whatever the network's encoding (:mod:`mtsed.model.distances`).

    ``features`` are standardised ``(frames, bands)`` (a memory map is fine); only one batch
    of segments is read and on the device at a time, so memory stays bounded.
    """
    runner = SegmentRunner(model, segment_frames, batch_size, precision)
    step = segment_frames * runner.batch_size
    for start in range(0, features.shape[0], step):
        runner.push(np.asarray(features[start : start + step], np.float32))
    return runner.finish()


class SegmentRunner:
    """A network over consecutive T-frame segments of frames that arrive in pieces.

    Segments start at frame 0 and are run in batches of ``batch_size`` consecutive ones as
    soon as a batch is full; the last batch holds what is left, the last segment padded
    with zeros.  So the outputs do not depend on how the frames were split, which lets
    :mod:`mtsed.features.streaming` equal whole-file inference bit for bit.
    """

    def __init__(
        self, model: CRNN, segment_frames: int, batch_size: int | None = None, precision: str = "auto"
    ) -> None:
        self.model = model.eval()
        self.device = next(model.parameters()).device
        self.dtype = autocast_dtype(precision, self.device)
        self.segment_frames = segment_frames
        self.batch_size = batch_size or default_batch_size(self.device)
        self._pending: list[np.ndarray] = []
        self._pending_frames = 0
        self._outputs: list[np.ndarray] = []

    def push(self, frames: np.ndarray) -> None:
        """Queue standardised ``(frames, bands)`` and run every batch they complete."""
        self._pending.append(frames)
        self._pending_frames += len(frames)
        step = self.segment_frames * self.batch_size
        if self._pending_frames >= step:
            queued = np.concatenate(self._pending)
            full = len(queued) // step * step
            for start in range(0, full, step):
                self._run(queued[start : start + step], self.batch_size)
            self._pending, self._pending_frames = [queued[full:]], len(queued) - full

    def finish(self) -> np.ndarray:
        """Run what is left and return the outputs of every frame pushed."""
        if self._pending_frames or not self._outputs:
            queued = (
                np.concatenate(self._pending) if self._pending else np.zeros((0, self.model.spec.n_mels), np.float32)
            )
            self._run(queued, max(1, -(-len(queued) // self.segment_frames)))
        self._pending, self._pending_frames = [], 0
        return np.concatenate(self._outputs)

    @torch.no_grad()
    def _run(self, frames: np.ndarray, segments: int) -> None:
        batch = np.zeros((segments * self.segment_frames, frames.shape[1]), np.float32)
        batch[: len(frames)] = frames
        batch = batch.reshape(segments, self.segment_frames, -1)
        with torch.autocast(self.device.type, dtype=self.dtype or torch.float32, enabled=self.dtype is not None):
            result = self.model(torch.from_numpy(batch).to(self.device)).float().cpu().numpy()
        spec = self.model.spec
        result = decode_outputs(result, spec.distances, spec.n_classes, self.segment_frames)
        self._outputs.append(result.reshape(segments * self.segment_frames, -1)[: len(frames)])
