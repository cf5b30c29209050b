"""The CPU dropout computes what nn.Dropout computes, under another draw of the mask."""

import pytest
import torch
import torch.nn.functional as F

from mtsed.model.dropout import Dropout, keep_mask, lowest_kept


@pytest.mark.parametrize("p", [0.25, 0.5, 0.125])
def test_the_threshold_keeps_exactly_one_minus_p_of_all_draws(p):
    every_draw = torch.arange(-(2**15), 2**15, dtype=torch.int32)
    assert (every_draw >= lowest_kept(p)).sum().item() == (1 - p) * 2**16


@pytest.mark.parametrize("p", [0.25, 0.5])
def test_masks_keep_one_minus_p_of_the_values_independently(p):
    torch.manual_seed(0)
    x = torch.empty(64, 64, 8, 128)
    mask = keep_mask(x, p).float()
    n = mask.numel()
    assert abs(mask.mean().item() - (1 - p)) < 5 * (p * (1 - p) / n) ** 0.5  # five standard errors
    # neighbours (which share a 64-bit word) are independent: P(both kept) = (1 - p)^2
    both = (mask.flatten()[:-1] * mask.flatten()[1:]).mean().item()
    assert abs(both - (1 - p) ** 2) < 5 * ((1 - p) ** 2 * (1 - (1 - p) ** 2) / n) ** 0.5


def test_the_mask_follows_the_layout_of_its_input():
    x = torch.randn(2, 8, 5, 7).contiguous(memory_format=torch.channels_last)
    assert keep_mask(x, 0.25).stride() == x.stride()
    odd = torch.randn(7, 5).t()
    assert keep_mask(odd, 0.25).shape == odd.shape


def test_outputs_and_gradients_are_nn_dropouts_for_the_mask_drawn():
    torch.manual_seed(1)
    x = torch.randn(4, 6, 3, 10, requires_grad=True)
    torch.manual_seed(7)
    out = Dropout(0.25).train()(x)
    torch.manual_seed(7)
    mask = keep_mask(x, 0.25)
    expected = x.detach() * torch.where(mask, torch.tensor(1.0) / 0.75, 0.0)  # nn.Dropout's scale
    assert torch.equal(out, expected)
    grad = torch.randn_like(out)
    out.backward(grad)
    assert torch.equal(x.grad, grad * torch.where(mask, torch.tensor(1.0) / 0.75, 0.0))


def test_the_seed_fixes_the_mask():
    x = torch.randn(3, 50)
    draws = []
    for _ in range(2):
        torch.manual_seed(3)
        draws.append(Dropout(0.25).train()(x))
    assert torch.equal(*draws)


def test_in_evaluation_and_at_p_zero_it_is_the_identity():
    x = torch.randn(3, 4)
    assert torch.equal(Dropout(0.25).eval()(x), x)
    assert torch.equal(Dropout(0.0).train()(x), F.dropout(x, 0.0, True))
