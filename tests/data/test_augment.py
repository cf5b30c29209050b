"""Augmentation of training windows: remixing in the power domain and SpecAugment-style masks."""

import numpy as np

from mtsed.config import AugmentConfig
from mtsed.data.augment import NONE, remix, spec_masks


def test_remix_adds_power_and_joins_the_activity():
    rng = np.random.default_rng(0)
    x, partner_x = np.log(np.full((6, 4), 2.0)), np.log(np.full((4, 4), 3.0))
    targets = np.zeros((6, 6))
    targets[0:2, 0] = 1
    partner_targets = np.zeros((4, 6))
    partner_targets[1:3, 1] = 1
    mixed, joined = remix(x, targets, (partner_x, partner_targets), (0.0, 0.0), rng)
    np.testing.assert_allclose(np.exp(mixed[:4]), 5.0)  # 2 + 3 in power, the partner's 4 frames only
    np.testing.assert_allclose(np.exp(mixed[4:]), 2.0)
    assert joined[:, 0].tolist() == [1, 1, 0, 0, 0, 0] and joined[:, 1].tolist() == [0, 1, 1, 0, 0, 0]
    assert (targets[:, 1] == 0).all()  # inputs untouched


def test_masks_zero_stripes_within_their_limits():
    rng = np.random.default_rng(1)
    aug = AugmentConfig(time_masks=2, time_mask_frames=5, freq_masks=1, freq_mask_bands=3)
    x = np.ones((50, 40), np.float32)
    masked = spec_masks(x, aug, valid=50, rng=rng)
    zero_frames = np.flatnonzero((masked == 0).all(axis=1))
    zero_bands = np.flatnonzero((masked == 0).all(axis=0))
    assert len(zero_frames) <= 10 and len(zero_bands) <= 3
    assert (x == 1).all() and aug.masks and not NONE.active
