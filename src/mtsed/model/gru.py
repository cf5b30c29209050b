"""A bidirectional GRU whose recurrence is fast on the CPU, with ``nn.GRU``'s weights and results.

On the CPU, ``nn.GRU`` runs each of its 2 x T time steps as separate small operations, and
in training autograd records every one of them: at T = 512 the backward pass is thousands of
tiny nodes, about 40 % of a training step of the default CRNN (benchmarks/RESULTS.md).
oneDNN's RNN primitive in this torch build (``aten::mkldnn_rnn_layer``) serves only LSTMs,
and scripting or compiling the cell leaves the per-step autograd nodes in place. So the
recurrence is written out here once, forward and backward, as one autograd function:

- the input projections of every frame and both directions are one matrix product, outside
  the loop (autograd takes their gradients as three large products);
- both directions advance together, one batched product per time step, the backward
  direction on time-reversed inputs;
- the backward pass needs, per step, only one element-wise product with coefficients
  computed for all steps at once, and one batched product; the weight gradients are one
  product over all steps.

The gates are PyTorch's (r, z, n in that order, the reset gate applied after the hidden
product), so outputs and gradients equal ``nn.GRU``'s to rounding (tests hold them to
1e-5), and the parameters are ``nn.GRU``'s own, so a checkpoint loads into either.
On CUDA, or for anything but one bidirectional batch-first layer, ``nn.GRU`` itself runs.
The recurrence always runs in fp32; under autocast only the input projection takes the
autocast precision.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _steps(gates: torch.Tensor) -> torch.Tensor:
    """``(batch, frames, 2 x width)`` of both directions -> ``(frames, 2, batch, width)`` in
    the order each direction reads them (the backward direction's frames reversed)."""
    forward, backward = gates.split(gates.shape[-1] // 2, dim=-1)
    return torch.stack([forward.transpose(0, 1), backward.flip(1).transpose(0, 1)], dim=1).contiguous()


def _frames(steps: torch.Tensor) -> torch.Tensor:
    """The inverse of :func:`_steps`: ``(frames, 2, batch, width)`` -> ``(batch, frames, 2 x width)``."""
    return torch.cat([steps[:, 0].transpose(0, 1), steps[:, 1].flip(0).transpose(0, 1)], dim=-1)


def _recur(
    input_gates: torch.Tensor, weight_hh: torch.Tensor, bias_hh: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Run both directions over ``input_gates`` ``(frames, 2, batch, 3H)``.

    Returns the hidden states ``(frames + 1, 2, batch, H)`` (the first all zeros), and per
    step the reset and update gates ``(frames, 2, batch, 2H)``, the new gate ``(frames, 2,
    batch, H)`` and the hidden products ``(frames, 2, batch, 3H)``: what the backward needs.
    """
    frames, _, batch, width = input_gates.shape
    hidden_size = width // 3
    states = input_gates.new_zeros(frames + 1, 2, batch, hidden_size)
    hidden_gates = torch.empty_like(input_gates).copy_(bias_hh.unsqueeze(1))  # W_hh h + b_hh: the bias first
    reset_update = input_gates.new_empty(frames, 2, batch, 2 * hidden_size)
    new = input_gates.new_empty(frames, 2, batch, hidden_size)
    weight_t = weight_hh.transpose(1, 2).contiguous()
    # views of each step, taken once: indexing inside the loop costs as much as the arithmetic
    per_step = zip(
        states[:-1],
        states[1:],
        input_gates[..., : 2 * hidden_size],
        input_gates[..., 2 * hidden_size :],
        hidden_gates,
        hidden_gates[..., : 2 * hidden_size],
        hidden_gates[..., 2 * hidden_size :],
        reset_update,
        reset_update[..., :hidden_size],
        reset_update[..., hidden_size:],
        new,
    )
    for h, h_next, gi_rz, gi_n, gh, gh_rz, gh_n, rz, r, z, n in per_step:
        torch.baddbmm(gh, h, weight_t, out=gh)  # in place, as an out= call so flop counters see it
        torch.add(gi_rz, gh_rz, out=rz).sigmoid_()
        torch.addcmul(gi_n, r, gh_n, out=n).tanh_()
        torch.lerp(n, h, z, out=h_next)  # (1 - z) n + z h
    return states, reset_update, new, hidden_gates


class _Recurrence(torch.autograd.Function):
    """Both directions' recurrence from precomputed input gates; gradients for the input
    gates and the hidden weights and biases."""

    @staticmethod
    def forward(ctx, input_gates: torch.Tensor, weight_hh: torch.Tensor, bias_hh: torch.Tensor) -> torch.Tensor:
        states, reset_update, new, hidden_gates = _recur(input_gates, weight_hh, bias_hh)
        ctx.save_for_backward(weight_hh, states, reset_update, new, hidden_gates)
        return states[1:]

    @staticmethod
    def backward(ctx, grad_states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        weight_hh, states, reset_update, new, hidden_gates = ctx.saved_tensors
        grad_states = grad_states.contiguous()
        frames, _, batch, hidden_size = new.shape
        r, z = reset_update.split(hidden_size, dim=-1)
        previous = states[:-1]
        # d(loss)/d(pre-activation) of each gate is d(loss)/d(h_t) times a coefficient that
        # the forward pass fixed: computed here for all steps at once
        d_new = (1 - z) * (1 - new * new)  # through n = tanh(...)
        coefficients = torch.stack(
            [
                d_new * hidden_gates[..., 2 * hidden_size :] * r * (1 - r),  # reset gate
                (previous - new) * z * (1 - z),  # update gate
                d_new * r,  # the hidden product inside the new gate
            ],
            dim=3,
        )  # (frames, 2, batch, 3, H)
        grad_h = grad_states.clone()  # d(loss)/d(h_t): what arrives from above, plus the recurrence's part
        grad_hidden_gates = torch.empty_like(coefficients)
        # views of each step, taken once, walked from the last frame back
        per_step = list(
            zip(
                grad_h.unsqueeze(3),
                coefficients,
                grad_hidden_gates,
                grad_hidden_gates.view(frames, 2, batch, -1),
                grad_h,
                z,
                [None, *grad_h[:-1]],
            )
        )
        for h_grad_wide, coefficient, gates_grad, gates_grad_flat, h_grad, z_t, h_grad_previous in reversed(per_step):
            torch.mul(h_grad_wide, coefficient, out=gates_grad)
            if h_grad_previous is not None:
                h_grad_previous.addcmul_(h_grad, z_t).baddbmm_(gates_grad_flat, weight_hh)
        grad_hidden_gates = grad_hidden_gates.view(frames, 2, batch, 3 * hidden_size)
        grad_input_gates = torch.cat([grad_hidden_gates[..., : 2 * hidden_size], grad_h * d_new], dim=-1)
        by_direction = grad_hidden_gates.permute(1, 3, 0, 2).reshape(2, 3 * hidden_size, frames * batch)
        grad_weight = torch.bmm(by_direction, previous.permute(1, 0, 2, 3).reshape(2, frames * batch, hidden_size))
        return grad_input_gates, grad_weight, grad_hidden_gates.sum(dim=(0, 2))


def bidirectional_gru(gru: nn.GRU, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """What ``gru(x)`` returns for a one-layer, bidirectional, batch-first ``gru`` with biases,
    from a zero initial state: outputs ``(batch, frames, 2H)`` and the last states ``(2, batch, H)``."""
    weight_ih = torch.cat([gru.weight_ih_l0, gru.weight_ih_l0_reverse])
    bias_ih = torch.cat([gru.bias_ih_l0, gru.bias_ih_l0_reverse])
    input_gates = F.linear(x, weight_ih, bias_ih)  # every frame, both directions: one product
    dtype = torch.promote_types(input_gates.dtype, torch.float32)  # the recurrence: fp32 at least
    with torch.autocast(device_type=x.device.type, enabled=False):
        states = _Recurrence.apply(
            _steps(input_gates.to(dtype)),
            torch.stack([gru.weight_hh_l0, gru.weight_hh_l0_reverse]).to(dtype),
            torch.stack([gru.bias_hh_l0, gru.bias_hh_l0_reverse]).to(dtype),
        )
    return _frames(states), torch.stack([states[-1, 0], states[-1, 1]])


class GRU(nn.GRU):
    """``nn.GRU`` (same parameters, same results) that runs :func:`bidirectional_gru` on the
    CPU when it can: one bidirectional batch-first layer with biases and no initial state."""

    def forward(self, input, hx=None):
        fast = (
            isinstance(input, torch.Tensor)
            and input.device.type == "cpu"
            and hx is None
            and input.dim() == 3
            and self.num_layers == 1
            and self.bidirectional
            and self.batch_first
            and self.bias
        )
        if not fast:
            return super().forward(input, hx)
        return bidirectional_gru(self, input)
