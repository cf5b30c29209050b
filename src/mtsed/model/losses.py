"""The three losses of the multi-task CRNN (METHOD.md section 5).

Every loss is computed per frame, summed over classes, averaged over the valid (unpadded)
frames of each segment, then averaged over the batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from mtsed.config.model import DISTANCE_ENCODINGS
from mtsed.config.systems import NETWORKS
from mtsed.config.training import DISTANCE_LOSSES, TrainConfig
from mtsed.model import distances

IOU_EPS = 1e-6
SMOOTH_L1_BETA = 0.05  # encoded units: quadratic within ~1.5 frames of a boundary (log encoding, T=512)
INACTIVE_WEIGHT = 0.1  # smooth-l1: weight of inactive class-frames, whose distances are 0 and trivial


def _masked_mean(per_frame: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Average ``(batch, frames)`` values over valid frames of each segment, then the batch."""
    if mask is None:
        return per_frame.mean()
    mask = mask.to(per_frame.dtype)
    return ((per_frame * mask).sum(dim=1) / mask.sum(dim=1).clamp_min(1.0)).mean()


def classification_loss(y_hat: torch.Tensor, y: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Binary cross-entropy of activity.

    Shape:
        y_hat, y: ``(batch, frames, classes)``; mask: ``(batch, frames)``, 1 on real frames.
    """
    bce = F.binary_cross_entropy(y_hat.float().clamp(1e-7, 1 - 1e-7), y.float(), reduction="none")
    return _masked_mean(bce.sum(dim=-1), mask)


def squared_distance_loss(
    p_hat: torch.Tensor,
    q_hat: torch.Tensor,
    p: torch.Tensor,
    q: torch.Tensor,
    y: torch.Tensor,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Squared error of the onset and offset distances: ``(p - p_hat)^2 + (q - q_hat)^2``,
    the paper's, over every class-frame (``y`` is not read: the signature is
    :func:`smooth_distance_loss`'s).

    Shape:
        all tensors ``(batch, frames, classes)``; mask ``(batch, frames)``.
    """
    err = (p.float() - p_hat.float()) ** 2 + (q.float() - q_hat.float()) ** 2
    return _masked_mean(err.sum(dim=-1), mask)


def smooth_distance_loss(
    p_hat: torch.Tensor,
    q_hat: torch.Tensor,
    p: torch.Tensor,
    q: torch.Tensor,
    y: torch.Tensor,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Smooth-L1 of the onset and offset distances, averaged over class-frames weighted 1
    where the class is active and :data:`INACTIVE_WEIGHT` elsewhere, times the classes (so
    its scale matches the squared error summed over classes).

    94 % of class-frames of the default data are inactive with zero targets; the squared
    error summed over them drowns the few frames where a distance means something.

    Shape:
        all tensors ``(batch, frames, classes)``; mask ``(batch, frames)``.
    """
    err = F.smooth_l1_loss(p_hat.float(), p.float(), reduction="none", beta=SMOOTH_L1_BETA) + F.smooth_l1_loss(
        q_hat.float(), q.float(), reduction="none", beta=SMOOTH_L1_BETA
    )
    weight = INACTIVE_WEIGHT + (1.0 - INACTIVE_WEIGHT) * y.float()
    if mask is not None:
        weight = weight * mask.to(weight.dtype)[..., None]
    return (err * weight).sum() / weight.sum().clamp_min(1e-6) * y.shape[-1]


def intersection_over_union(p_hat: torch.Tensor, q_hat: torch.Tensor, p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Overlap ratio of the predicted and true event extents seen from one frame."""
    inter = torch.minimum(p, p_hat) + torch.minimum(q, q_hat)
    union = torch.maximum(p, p_hat) + torch.maximum(q, q_hat)
    return inter / (union + IOU_EPS)


def confidence_loss(
    p_hat: torch.Tensor,
    q_hat: torch.Tensor,
    y: torch.Tensor,
    p: torch.Tensor,
    q: torch.Tensor,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """``(y - IoU)^2``: the distance predictions should overlap the truth where events are.

    Shape:
        all tensors ``(batch, frames, classes)``; mask ``(batch, frames)``.
    """
    iou = intersection_over_union(p_hat.float(), q_hat.float(), p.float(), q.float())
    return _masked_mean(((y.float() - iou) ** 2).sum(dim=-1), mask)


DISTANCE_LOSS_FUNCTIONS = {"squared": squared_distance_loss, "smooth-l1": smooth_distance_loss}


@dataclass(frozen=True)
class LossRecipe:
    """How a batch's loss is computed. Every field is required: a recipe comes from
    ``params.yaml`` (:meth:`of`), so no caller gets the paper's value by forgetting one.

    ``encoding`` is how the distance outputs encode ``d / T`` (``model.distances``,
    :mod:`mtsed.model.distances`); ``distance`` names the distance loss (``train.distance_loss``:
    ``squared``, the paper's, or ``smooth-l1``, :func:`smooth_distance_loss`); ``weights`` are
    the classification, distance and confidence losses' (``train.loss_weights``).
    """

    network: str
    weights: tuple[float, float, float]
    encoding: str
    distance: str

    def __post_init__(self) -> None:
        for value, known, what in (
            (self.network, NETWORKS, "network"),
            (self.encoding, DISTANCE_ENCODINGS, "distance encoding"),
            (self.distance, DISTANCE_LOSSES, "distance loss"),
        ):
            if value not in known:
                raise ValueError(f"unknown {what} {value!r}; known: {', '.join(known)}")

    @classmethod
    def of(cls, cfg: TrainConfig, network: str, encoding: str) -> LossRecipe:
        """The recipe of section ``train`` for ``network``, whose distance outputs are ``encoding``."""
        return cls(network, cfg.loss_weights.as_tuple(), encoding, cfg.distance_loss)


def multitask_loss(
    outputs: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor | None, recipe: LossRecipe
) -> dict[str, torch.Tensor]:
    """All losses of one batch; ``total`` is their sum weighted by ``recipe.weights``
    (the paper's is unweighted) (baseline: BCE only). The distance loss compares encoded
    values, the confidence loss the decoded ones; the segment length T is the batch's frame count.

    Shape:
        outputs: ``(batch, frames, 3C)`` (proposed) or ``(batch, frames, C)`` (baseline);
        targets: ``(batch, frames, 3C)`` laid out y, p, q; mask: ``(batch, frames)``.
    """
    y, p, q = torch.chunk(targets, 3, dim=-1)
    if recipe.network == "baseline":
        bce = classification_loss(outputs, y, mask)
        return {"total": bce, "classification": bce}
    encoding = recipe.encoding
    y_hat, u_p, u_q = torch.chunk(outputs, 3, dim=-1)
    frames = outputs.shape[1]
    t_p, t_q = distances.encode(p.float(), encoding, frames), distances.encode(q.float(), encoding, frames)
    distance = DISTANCE_LOSS_FUNCTIONS[recipe.distance](u_p, u_q, t_p, t_q, y, mask)
    p_hat, q_hat = distances.decode(u_p.float(), encoding, frames), distances.decode(u_q.float(), encoding, frames)
    losses: dict[str, torch.Tensor] = {
        "classification": classification_loss(y_hat, y, mask),
        "distance": distance,
        "confidence": confidence_loss(p_hat, q_hat, y, p, q, mask),
    }
    w_class, w_distance, w_confidence = recipe.weights
    losses["total"] = (
        w_class * losses["classification"] + w_distance * losses["distance"] + w_confidence * losses["confidence"]
    )
    return losses
