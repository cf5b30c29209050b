import pytest
import torch

from mtsed.model.network import CRNN, ModelSpec, count_parameters
from tests.conftest import small_spec as spec


@pytest.mark.parametrize(
    "network, residual, outputs", [("proposed", "sum", 24), ("proposed", "concat", 24), ("baseline", "sum", 8)]
)
def test_output_shape_and_range(network, residual, outputs):
    model = CRNN(spec(8, residual=residual, network=network)).eval()
    out = model(torch.randn(2, 37, 40))
    assert out.shape == (2, 37, outputs)
    assert out.min() >= 0 and out.max() <= 1


def test_time_length_is_kept_and_frames_do_not_leak_across_batch():
    model = CRNN(spec(3, filters=4, hidden=4)).eval()
    x = torch.randn(2, 50, 40)
    single = model(x[:1])
    both = model(x)
    torch.testing.assert_close(single, both[:1])


def test_paper_configuration_builds_and_runs():
    model = CRNN(spec(16, filters=256, hidden=256)).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 512, 40))
    assert out.shape == (1, 512, 48)
    f = h = 256
    conv = (25 * f + f) + 2 * (25 * f * f + f) + 3 * 2 * f
    gru = 2 * 3 * (f * h + h * h + 2 * h)
    heads = (2 * h * 2 * h + 2 * h) + (f * 2 * h + 2 * h) + 2 * 2 * h + (2 * h * 48 + 48)
    assert count_parameters(model) == conv + gru + heads == 4_494_896


def test_concat_widens_the_output_layer():
    assert CRNN(spec(4, residual="concat")).output.in_features == 24
    assert CRNN(spec(4, residual="sum")).output.in_features == 12


@pytest.mark.parametrize("kwargs", [{"n_mels": 20}, {"residual": "add"}, {"network": "other"}, {"distances": "cubic"}])
def test_bad_specs_are_refused(kwargs):
    with pytest.raises(ValueError):
        spec(2, **kwargs)


def test_specs_saved_before_the_names_changed_still_load():
    saved = {
        "n_classes": 2,
        "n_mels": 40,
        "filters": 8,
        "hidden": 6,
        "dropout": 0.25,
        "residual": "sum",
        "system": "baseline",
    }
    assert ModelSpec.from_saved(saved) == spec(2, network="baseline", distances="linear")  # no encoding saved: linear


def test_parameters_are_counted_without_building_the_weights():
    assert count_parameters(spec(5)) == count_parameters(CRNN(spec(5)))


@pytest.mark.parametrize("residual", ["sum", "concat"])
def test_forward_flops_match_torch_flop_counter(residual):
    from torch.utils.flop_counter import FlopCounterMode

    from mtsed.model.network import forward_flops

    small = spec(5, filters=16, hidden=12, residual=residual, distances="linear")
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        CRNN(small).eval()(torch.randn(1, 64, 40))
    assert forward_flops(small, 64) == counter.get_total_flops()


def test_relu_after_the_pool_computes_what_relu_before_it_did():
    from torch import nn

    torch.manual_seed(0)
    block = CRNN(spec(2, filters=6, hidden=4, dropout=0.0)).convs[0].train()
    conv, norm, pool, relu, _ = block
    paper_order = nn.Sequential(
        conv, norm, nn.ReLU(), pool
    )  # conv -> BN -> ReLU -> pool, as the paper orders it (METHOD.md section 4)
    x = torch.randn(3, 1, 40, 30)
    outputs = []
    for net in (block, paper_order):
        net.zero_grad()
        out = net(x)
        out.backward(torch.ones_like(out) + torch.arange(out.numel()).view_as(out) % 3)
        outputs.append((out.detach(), conv.weight.grad.clone(), norm.weight.grad.clone()))
    for got, expected in zip(*outputs):
        assert torch.equal(got, expected)
