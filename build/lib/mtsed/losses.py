"""The three losses of the multi-task CRNN (SPEC section 5).

Every loss is computed per frame, summed over classes, averaged over the valid (unpadded)
frames of each segment, then averaged over the batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

IOU_EPS = 1e-6


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


def distance_loss(
    p_hat: torch.Tensor, q_hat: torch.Tensor, p: torch.Tensor, q: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Squared error of the onset and offset distances: ``(p - p_hat)^2 + (q - q_hat)^2``.

    Shape:
        all tensors ``(batch, frames, classes)``; mask ``(batch, frames)``.
    """
    err = (p.float() - p_hat.float()) ** 2 + (q.float() - q_hat.float()) ** 2
    return _masked_mean(err.sum(dim=-1), mask)


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


def multitask_loss(
    outputs: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor | None = None, system: str = "proposed",
    weights: tuple[float, float, float] = (1.0, 1.0, 1.0),
) -> dict[str, torch.Tensor]:
    """All losses of one batch; ``total`` is their sum weighted by ``weights``
    (classification, distance, confidence; the paper's is unweighted) (baseline: BCE only).

    Shape:
        outputs: ``(batch, frames, 3C)`` (proposed) or ``(batch, frames, C)`` (baseline);
        targets: ``(batch, frames, 3C)`` laid out y, p, q; mask: ``(batch, frames)``.
    """
    y, p, q = torch.chunk(targets, 3, dim=-1)
    if system == "baseline":
        bce = classification_loss(outputs, y, mask)
        return {"total": bce, "classification": bce}
    y_hat, p_hat, q_hat = torch.chunk(outputs, 3, dim=-1)
    losses: dict[str, torch.Tensor] = {
        "classification": classification_loss(y_hat, y, mask),
        "distance": distance_loss(p_hat, q_hat, p, q, mask),
        "confidence": confidence_loss(p_hat, q_hat, y, p, q, mask),
    }
    w_class, w_distance, w_confidence = weights
    losses["total"] = w_class * losses["classification"] + w_distance * losses["distance"] + w_confidence * losses["confidence"]
    return losses
