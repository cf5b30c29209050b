"""The CPU recurrence equals nn.GRU: outputs, last states and every gradient, with its parameters."""

import pytest
import torch
from torch import nn

from mtsed.model.gru import GRU


def _pair(features: int, hidden: int, **kwargs) -> tuple[nn.GRU, GRU]:
    torch.manual_seed(0)
    reference = nn.GRU(features, hidden, **kwargs)
    fast = GRU(features, hidden, **kwargs)
    fast.load_state_dict(reference.state_dict())  # the same parameters, by the same names
    return reference, fast


def _run(gru: nn.Module, x: torch.Tensor, weights: tuple[torch.Tensor, torch.Tensor]) -> dict[str, torch.Tensor]:
    x = x.clone().requires_grad_()
    outputs, last = gru(x)
    ((outputs * weights[0]).sum() + (last * weights[1]).sum()).backward()
    return {"outputs": outputs, "last": last, "input": x.grad, **{n: p.grad for n, p in gru.named_parameters()}}


@pytest.mark.parametrize("batch, frames, features, hidden", [(3, 17, 5, 4), (8, 512, 64, 64), (1, 1, 3, 2)])
def test_outputs_and_gradients_equal_nn_gru(batch, frames, features, hidden):
    reference, fast = _pair(features, hidden, batch_first=True, bidirectional=True)
    x = torch.randn(batch, frames, features)
    weights = (torch.randn(batch, frames, 2 * hidden) / frames, torch.randn(2, batch, hidden))
    expected, got = _run(reference, x, weights), _run(fast, x, weights)
    assert set(got) == set(expected) and len(got) == 2 + 1 + 8  # outputs, last states, input and 8 parameters
    for name in expected:
        scale = expected[name].abs().max().item()
        torch.testing.assert_close(got[name], expected[name], rtol=1e-5, atol=1e-5 * max(scale, 1.0), msg=name)


def test_gradients_pass_gradcheck_in_double_precision():
    _, fast = _pair(3, 2, batch_first=True, bidirectional=True)
    fast = fast.double()
    x = torch.randn(2, 6, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, *p: fast(x)[0], (x, *fast.parameters()))


def test_the_state_dict_is_nn_grus():
    reference, fast = _pair(6, 5, batch_first=True, bidirectional=True)
    assert list(fast.state_dict()) == list(reference.state_dict())


@pytest.mark.parametrize(
    "kwargs, with_state",
    [
        ({"batch_first": True, "bidirectional": False}, False),
        ({"batch_first": False, "bidirectional": True}, False),
        ({"batch_first": True, "bidirectional": True, "num_layers": 2}, False),
        ({"batch_first": True, "bidirectional": True}, True),
    ],
)
def test_what_it_does_not_cover_runs_as_nn_gru(kwargs, with_state):
    reference, fast = _pair(4, 3, **kwargs)
    x = torch.randn(2, 7, 4)
    layers = reference.num_layers * (2 if reference.bidirectional else 1)
    state = torch.randn(layers, 2 if kwargs["batch_first"] else 7, 3) if with_state else None
    torch.testing.assert_close(fast(x, state), reference(x, state), rtol=0, atol=0)


def test_under_bf16_autocast_the_recurrence_stays_fp32():
    reference, fast = _pair(16, 8, batch_first=True, bidirectional=True)
    x = torch.randn(2, 40, 16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        outputs, _ = fast(x)
    assert outputs.dtype == torch.float32
    # only the input projection is rounded to bf16 (8 bits of mantissa)
    torch.testing.assert_close(outputs, reference(x)[0], rtol=0, atol=3e-2)
