"""Training-time augmentation of windows, each switchable in ``params.yaml`` (``train.augment``).

- **Remix**: with probability ``remix``, a second random training window is added in the
  power domain (``log(exp(a) + g * exp(b))`` on raw log-mel, ``g`` a random gain within
  ``remix_gain_db``).  Its events join the window's (activity is the union; the distance
  targets are then recomputed inside the window), so every epoch meets new polyphony and
  new backgrounds.  This is on-the-fly remixing of training clips done on spectrograms:
  adding power spectra ignores phase, a good approximation for independent sources, and
  needs no audio at training time.
- **SpecAugment-style masks**: ``time_masks`` stripes of up to ``time_mask_frames``
  frames and ``freq_masks`` stripes of up to ``freq_mask_bands`` mel bands are set to the
  training mean (0 after standardisation); targets are unchanged.

Mixup (blending features and soft labels) is left out: the distance targets of two
blended windows have no meaning, and remixing keeps hard labels.
"""

from __future__ import annotations

import numpy as np

from mtsed.config import AugmentConfig as Augmentation

NONE = Augmentation(remix=0.0, time_masks=0, freq_masks=0)  # windows as they are (validation, evaluation)


def remix(
    x: np.ndarray,
    targets: np.ndarray,
    partner: tuple[np.ndarray, np.ndarray],
    gain_db: tuple[float, float],
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """``x`` plus ``partner`` in the power domain (raw log-mel), activity the union.

    Shape:
        x: ``(T, bands)``; targets: ``(T, 3C)`` laid out y, p, q; the partner's arrays may
        be shorter than T (a short recording): it is then added to the first frames only.
    """
    px, pt = partner
    n = min(px.shape[0], x.shape[0])
    gain = rng.uniform(*gain_db) * np.log(10) / 10
    x = x.copy()
    x[:n] = np.logaddexp(x[:n], px[:n] + gain)
    c = targets.shape[1] // 3
    targets = targets.copy()
    targets[:n, :c] = np.maximum(targets[:n, :c], pt[:n, :c])
    return x, targets


def spec_masks(x: np.ndarray, aug: Augmentation, valid: int, rng: np.random.Generator) -> np.ndarray:
    """Standardised ``(T, bands)`` features with random time and frequency stripes zeroed."""
    x = x.copy()
    for _ in range(aug.time_masks if aug.time_mask_frames else 0):
        width = int(rng.integers(0, aug.time_mask_frames + 1))
        start = int(rng.integers(0, max(valid - width, 0) + 1))
        x[start : start + width] = 0.0
    for _ in range(aug.freq_masks if aug.freq_mask_bands else 0):
        width = int(rng.integers(0, aug.freq_mask_bands + 1))
        start = int(rng.integers(0, x.shape[1] - width + 1))
        x[:, start : start + width] = 0.0
    return x
