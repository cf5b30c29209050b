"""The distance encodings invert, spend their range on small distances, and decode outputs."""

import numpy as np
import pytest
import torch

from mtsed.model.distances import decode, decode_outputs, encode

T = 512


@pytest.mark.parametrize("kind", ["linear", "log"])
def test_decode_inverts_encode(kind):
    p = torch.linspace(0, 1, 101)
    torch.testing.assert_close(decode(encode(p, kind, T), kind, T), p, atol=1e-6, rtol=1e-5)


def test_log_encoding_spends_the_range_on_small_distances():
    two_frames = torch.tensor([2 / T])
    assert encode(two_frames, "linear", T).item() < 0.004
    assert encode(two_frames, "log", T).item() > 0.17  # a sigmoid can say this without saturating
    assert encode(torch.tensor([1.0]), "log", T).item() == pytest.approx(1.0)


def test_decode_outputs_touches_only_the_distance_columns_of_log_networks():
    outputs = np.random.default_rng(0).random((7, 9)).astype(np.float32)
    assert decode_outputs(outputs, "linear", 3, T) is outputs
    assert decode_outputs(outputs[:, :3], "log", 3, T) is not None and decode_outputs(
        outputs[:, :3], "log", 3, T
    ).shape == (7, 3)
    decoded = decode_outputs(outputs, "log", 3, T)
    np.testing.assert_array_equal(decoded[:, :3], outputs[:, :3])
    np.testing.assert_allclose(
        decoded[:, 3:], decode(torch.from_numpy(outputs[:, 3:]).double(), "log", T).numpy(), rtol=1e-5
    )
    with pytest.raises(ValueError, match="unknown distance encoding 'cubic'"):
        decode_outputs(outputs, "cubic", 3, T)
