"""Dropout whose masks cost a fifth of ``nn.Dropout``'s on the CPU, computing the same thing.

``nn.Dropout`` on the CPU draws its mask with ``bernoulli_``, one random number per value on
one thread: about 7 ns a value, 8 % of a training step of the default CRNN. Here the mask
comes from 64-bit random words cut into four 16-bit draws each (uniform over 65,536 values), a
value kept where its draw falls at or above ``p`` x 65,536: the same Bernoulli(1 - p) for any
``p`` that is a multiple of 1/65,536 (0.25 among them; others are rounded to the nearest, at
most 8e-6 off). Kept values are scaled by 1 / (1 - p) as ``nn.Dropout`` scales them, so the
outputs and gradients are those of ``nn.Dropout`` under another draw of the mask. The words come
from torch's generator, so ``torch.manual_seed`` and a saved RNG state still fix every mask.
On CUDA ``nn.Dropout`` itself runs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

_DRAWS = 2**16  # values of one 16-bit draw


def lowest_kept(p: float) -> int:
    """The smallest 16-bit draw that keeps a value: round(p x 65,536) of the 65,536 draws fall below it."""
    return round(p * _DRAWS) - _DRAWS // 2


def keep_mask(x: torch.Tensor, p: float) -> torch.Tensor:
    """A boolean mask shaped and laid out as ``x``: each value True with probability 1 - p."""
    words = torch.empty((x.numel() + 3) // 4, dtype=torch.int64, device=x.device).random_(-(2**63), None)
    draws = words.view(torch.int16)[: x.numel()]
    dense = torch.empty_like(x, device="meta").stride()  # x's memory order, so the product runs in it
    return draws.as_strided(x.shape, dense) >= lowest_kept(p)


class Dropout(nn.Dropout):
    """``nn.Dropout`` with the CPU mask of :func:`keep_mask`."""

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0 or input.device.type != "cpu" or self.p >= 1:
            return F.dropout(input, self.p, self.training, self.inplace)
        return input.mul(1 / (1 - self.p)).mul_(keep_mask(input, self.p))
