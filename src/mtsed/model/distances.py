"""How the distance head's outputs encode the frames to an event's onset and offset.

Targets ``p`` and ``q`` are distances in segment lengths, ``d / T`` in [0, 1] (METHOD.md section
2).  The network's sigmoid outputs encode them one of two ways (``model.distances``):

- ``linear`` (the paper): the output *is* ``d / T``.  Trained by squared error, a sigmoid
  near zero gets almost no gradient, and the head cannot say "2 frames" (its error near a
  boundary is measured in benchmarks/QUALITY.md);
- ``log``: the output is ``log1p(d) / log1p(T)``, still in [0, 1], which spends the output
  range on small distances, where a boundary's position is decided.

Everything after the network (decoders, diagnostics, bundles) sees ``d / T``:
:func:`decode` is applied to the outputs as they leave the network.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from mtsed.config.model import DISTANCE_ENCODINGS as KINDS


def _check(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown distance encoding {kind!r}; known: {', '.join(KINDS)}")


def encode(p: torch.Tensor, kind: str, segment_frames: int) -> torch.Tensor:
    """Targets ``d / T`` as the head is trained to output them."""
    _check(kind)
    if kind == "linear":
        return p
    return torch.log1p(p * segment_frames) / math.log1p(segment_frames)


def decode(u: torch.Tensor, kind: str, segment_frames: int) -> torch.Tensor:
    """Head outputs back to ``d / T`` (the inverse of :func:`encode`)."""
    _check(kind)
    if kind == "linear":
        return u
    return torch.expm1(u * math.log1p(segment_frames)) / segment_frames


def decode_outputs(outputs: np.ndarray, kind: str, n_classes: int, segment_frames: int) -> np.ndarray:
    """Network outputs ``(..., 3C)`` (y, p, q) with the distance columns decoded to ``d / T``;
    activity-only outputs ``(..., C)`` and the linear encoding are returned as they are."""
    _check(kind)
    if kind == "linear" or outputs.shape[-1] == n_classes:
        return outputs
    out = np.array(outputs, dtype=np.float32, copy=True)
    out[..., n_classes:] = (
        np.expm1(out[..., n_classes:].astype(np.float64) * math.log1p(segment_frames)) / segment_frames
    )
    return out
