import math
from dataclasses import replace

import pytest
import torch

from mtsed.config import TrainConfig
from mtsed.model.losses import (
    LossRecipe,
    classification_loss,
    confidence_loss,
    intersection_over_union,
    multitask_loss,
    squared_distance_loss,
)

PAPER = LossRecipe("proposed", (1.0, 1.0, 1.0), "linear", "squared")  # presets/paper.yaml's


def t(values):
    return torch.tensor(values, dtype=torch.float32).reshape(1, -1, 1)


def test_classification_loss_by_hand():
    y_hat, y = t([0.8, 0.4]), t([1.0, 0.0])
    expected = (-math.log(0.8) - math.log(0.6)) / 2
    assert classification_loss(y_hat, y).item() == pytest.approx(expected, rel=1e-6)


def test_losses_sum_over_classes_and_average_over_frames():
    y_hat = torch.full((1, 4, 3), 0.5)
    y = torch.zeros(1, 4, 3)
    assert classification_loss(y_hat, y).item() == pytest.approx(3 * math.log(2), rel=1e-6)


def test_distance_loss_by_hand():
    p_hat, q_hat, p, q = t([0.1, 0.5]), t([0.2, 0.0]), t([0.3, 0.5]), t([0.0, 0.4])
    expected = ((0.2**2 + 0.2**2) + (0.0 + 0.4**2)) / 2
    assert squared_distance_loss(p_hat, q_hat, p, q, t([0.0, 0.0])).item() == pytest.approx(expected, rel=1e-5)


def test_confidence_loss_by_hand_and_at_the_edges():
    p_hat, q_hat, p, q, y = t([0.1]), t([0.3]), t([0.2]), t([0.2]), t([1.0])
    iou = (0.1 + 0.2) / (0.2 + 0.3)
    assert confidence_loss(p_hat, q_hat, y, p, q).item() == pytest.approx((1 - iou) ** 2, rel=1e-4)
    zeros = t([0.0, 0.0])
    assert confidence_loss(zeros, zeros, zeros, zeros, zeros).item() == 0.0  # all-zero is legal, no NaN
    perfect = t([0.25, 0.5])
    assert confidence_loss(perfect, perfect, t([1.0, 1.0]), perfect, perfect).item() == pytest.approx(0.0, abs=1e-5)


def test_iou_is_finite_when_everything_is_zero():
    z = torch.zeros(3)
    assert torch.isfinite(intersection_over_union(z, z, z, z)).all()


def test_mask_ignores_padded_frames():
    y_hat = t([0.9, 0.01])
    y = t([1.0, 1.0])  # second frame would be a huge loss
    mask = torch.tensor([[1.0, 0.0]])
    assert classification_loss(y_hat, y, mask).item() == pytest.approx(-math.log(0.9), rel=1e-5)


def test_total_is_the_weighted_sum_and_baseline_uses_bce_only():
    torch.manual_seed(0)
    targets = torch.rand(2, 5, 6)
    outputs = torch.rand(2, 5, 6)
    losses = multitask_loss(outputs, targets, None, PAPER)
    assert losses["total"].item() == pytest.approx(
        (losses["classification"] + losses["distance"] + losses["confidence"]).item(), rel=1e-6
    )
    weighted = multitask_loss(outputs, targets, None, replace(PAPER, weights=(1.0, 10.0, 0.5)))
    assert weighted["total"].item() == pytest.approx(
        (losses["classification"] + 10 * losses["distance"] + 0.5 * losses["confidence"]).item(), rel=1e-6
    )
    baseline = multitask_loss(outputs[..., :2], targets, None, replace(PAPER, network="baseline"))
    assert set(baseline) == {"total", "classification"}
    assert baseline["total"].item() == pytest.approx(
        classification_loss(outputs[..., :2], targets[..., :2]).item(), rel=1e-6
    )


def test_perfect_prediction_where_events_are_gives_zero_multitask_confidence():
    y = torch.ones(1, 3, 1)
    p = torch.tensor([[[0.0], [0.1], [0.2]]])
    q = torch.tensor([[[0.2], [0.1], [0.0]]])
    targets = torch.cat([y, p, q], dim=-1)
    losses = multitask_loss(targets.clone(), targets, None, PAPER)
    assert losses["confidence"].item() == pytest.approx(0.0, abs=1e-5)
    assert losses["distance"].item() == 0.0


def test_smooth_distance_loss_weighs_active_class_frames_by_hand():
    from mtsed.model.losses import INACTIVE_WEIGHT, SMOOTH_L1_BETA, smooth_distance_loss

    p_hat, q_hat, p, q = t([0.5, 0.2]), t([0.0, 0.0]), t([0.0, 0.2]), t([0.0, 0.0])
    y = t([1.0, 0.0])
    err_active = 0.5 - SMOOTH_L1_BETA / 2  # |0.5| > beta: linear part
    expected = (1.0 * err_active + INACTIVE_WEIGHT * 0.0) / (1.0 + INACTIVE_WEIGHT)
    assert smooth_distance_loss(p_hat, q_hat, p, q, y).item() == pytest.approx(expected, rel=1e-5)


def test_log_encoded_outputs_are_compared_encoded_and_decoded_for_confidence():
    from mtsed.model.distances import encode

    T = 64
    y = torch.ones(1, T, 1)
    p = torch.arange(T, dtype=torch.float32).reshape(1, T, 1) / T
    q = p.flip(1)
    targets = torch.cat([y, p, q], dim=-1)
    perfect = torch.cat([torch.full_like(y, 1 - 1e-6), encode(p, "log", T), encode(q, "log", T)], dim=-1)
    losses = multitask_loss(perfect, targets, None, replace(PAPER, encoding="log", distance="smooth-l1"))
    assert losses["distance"].item() == pytest.approx(0.0, abs=1e-6) and losses["confidence"].item() < 1e-4
    linear = multitask_loss(perfect, targets, None, PAPER)  # the same outputs read as linear distances are wrong
    assert linear["distance"].item() > 0.01
    with pytest.raises(ValueError, match="unknown distance loss 'l3'"):
        replace(PAPER, distance="l3")
    with pytest.raises(ValueError, match="unknown distance encoding 'cubic'"):
        replace(PAPER, encoding="cubic")


def test_a_recipe_is_the_train_section_s_whole():
    cfg = TrainConfig()
    recipe = LossRecipe.of(cfg, "proposed", "log")
    assert recipe == LossRecipe("proposed", cfg.loss_weights.as_tuple(), "log", cfg.distance_loss)
    assert recipe != replace(PAPER, encoding="log")  # the default recipe is not the paper's
    with pytest.raises(TypeError):
        LossRecipe("proposed", (1.0, 1.0, 1.0))  # no field has a default
