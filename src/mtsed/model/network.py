"""The multi-label multi-task CRNN (METHOD.md section 4) and its single-task baseline.

The network knows nothing of training: it maps standardised log-mel segments
``(batch, frames, bands)`` to per-frame sigmoid outputs ``(batch, frames, outputs)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from mtsed.config.model import DISTANCE_ENCODINGS, RESIDUALS, ModelConfig
from mtsed.config.systems import NETWORKS
from mtsed.model.dropout import Dropout
from mtsed.model.gru import GRU

POOL_SIZES = (5, 4, 2)  # frequency-only pooling: 40 -> 8 -> 2 -> 1 bands


@dataclass(frozen=True)
class ModelSpec:
    """Sizes of the network (all that is needed to rebuild it from a checkpoint). No field has a
    default: a recipe's sizes come from ``params.yaml`` (:meth:`of`), a saved network's from its
    file (:meth:`from_saved`)."""

    n_classes: int
    n_mels: int
    filters: int  # F
    hidden: int  # H, per GRU direction
    dropout: float
    residual: str  # "sum" (a = r + z) or "concat" (a = [r ; z])
    network: str  # "proposed": 3C outputs (y, p, q); "baseline": C outputs (y)
    distances: str  # how p, q are encoded (mtsed.model.distances)

    def __post_init__(self) -> None:
        pooled = self.n_mels
        for size in POOL_SIZES:
            pooled //= size
        if pooled != 1:
            raise ValueError(f"n_mels={self.n_mels} does not pool to 1 band with pools {POOL_SIZES}")
        for name, value, known in (
            ("residual", self.residual, RESIDUALS),
            ("network", self.network, NETWORKS),
            ("distances", self.distances, DISTANCE_ENCODINGS),
        ):
            if value not in known:
                raise ValueError(f"{name} must be one of {', '.join(known)}, got {value!r}")

    @classmethod
    def of(cls, cfg: ModelConfig, n_classes: int, n_mels: int, network: str) -> ModelSpec:
        """The sizes section ``model`` of ``params.yaml`` gives, for a data set and a network."""
        return cls(n_classes, n_mels, cfg.filters, cfg.hidden, cfg.dropout, cfg.residual, network, cfg.distances)

    @classmethod
    def from_saved(cls, saved: dict) -> ModelSpec:
        """The spec a checkpoint or bundle holds. A file without a distance encoding is
        linear (the paper's); a file that names the network ``system`` still loads."""
        fields = dict(saved)
        if "system" in fields:
            fields["network"] = fields.pop("system")
        fields.setdefault("distances", "linear")
        return cls(**fields)

    @property
    def n_outputs(self) -> int:
        return 3 * self.n_classes if self.network == "proposed" else self.n_classes


def _conv_block(in_channels: int, filters: int, pool: int, dropout: float) -> nn.Sequential:
    """Conv -> BN -> pool -> ReLU -> dropout. The paper's block applies ReLU before the pool;
    max pooling and ReLU commute (both keep order), so outputs and gradients are the same, and
    ReLU after the pool touches a pool's worth fewer values. The parameters keep their indices
    (0: conv, 1: BN)."""
    return nn.Sequential(
        nn.Conv2d(in_channels, filters, kernel_size=5, stride=1, padding=2),
        nn.BatchNorm2d(filters),
        nn.MaxPool2d(kernel_size=(pool, 1)),
        nn.ReLU(inplace=True),
        Dropout(dropout),
    )


class CRNN(nn.Module):
    """Conv blocks -> BiGRU with a 2H x 2H projection, plus a residual branch -> sigmoid."""

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__()
        self.spec = spec
        f, h = spec.filters, spec.hidden
        self.convs = nn.Sequential(
            *[_conv_block(1 if i == 0 else f, f, pool, spec.dropout) for i, pool in enumerate(POOL_SIZES)]
        )
        self.gru = GRU(f, h, batch_first=True, bidirectional=True)  # nn.GRU's weights; fast on the CPU
        self.project = nn.Linear(2 * h, 2 * h)  # z_t = [h_b ; h_f] W_z + b_z
        self.residual = nn.Linear(f, 2 * h)  # x_t W_x + b_x
        self.residual_norm = nn.BatchNorm1d(2 * h)
        self.dropout = Dropout(spec.dropout)
        width = 2 * h if spec.residual == "sum" else 4 * h
        self.output = nn.Linear(width, spec.n_outputs)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``(batch, frames, bands)`` -> ``(batch, frames, n_outputs)`` in [0, 1]."""
        x = self.convs(features.transpose(1, 2).unsqueeze(1))  # (B, F, 1, T)
        x = x.squeeze(2).transpose(1, 2)  # (B, T, F)
        z = self.dropout(self.project(self.gru(x)[0]))
        r = self.residual(x).transpose(1, 2)  # BatchNorm over the 2H channels
        r = self.dropout(torch.relu(self.residual_norm(r)).transpose(1, 2))
        a = r + z if self.spec.residual == "sum" else torch.cat([r, z], dim=-1)
        return torch.sigmoid(self.output(a))


def count_parameters(model: nn.Module | ModelSpec) -> int:
    """Trainable parameters of a network, or of the network a spec describes (built on the
    meta device: no memory, no initialisation)."""
    if isinstance(model, ModelSpec):
        with torch.device("meta"):
            model = CRNN(model)
    return sum(p.numel() for p in model.parameters())


def forward_flops(spec: ModelSpec, frames: int) -> int:
    """Multiply-add FLOPs (2 per MAC) of one forward pass over one segment of ``frames``.

    Counts convolutions, GRU gate products and linear layers, the terms that dominate;
    element-wise work (BatchNorm, activations, pooling) is left out.  Training costs about
    three times this (forward, and backward for inputs and weights).
    """
    f, h = spec.filters, spec.hidden
    flops, bands, channels = 0, spec.n_mels, 1
    for pool in POOL_SIZES:
        flops += 2 * 25 * channels * f * bands * frames  # 5x5 kernel, SAME padding
        bands, channels = bands // pool, f
    flops += 2 * 2 * (f * 3 * h + h * 3 * h) * frames  # two directions, three gates
    flops += 2 * (2 * h) * (2 * h) * frames + 2 * f * (2 * h) * frames  # projection and residual
    width = 2 * h if spec.residual == "sum" else 4 * h
    return flops + 2 * width * spec.n_outputs * frames
