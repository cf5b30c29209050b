import math

import numpy as np
import pytest

from mtsed.measures.f1 import f1


def test_f1_is_the_harmonic_mean_of_precision_and_recall():
    assert f1(3, 4, 6) == pytest.approx(2 * (3 / 4) * (3 / 6) / (3 / 4 + 3 / 6))
    np.testing.assert_allclose(f1(np.array([1, 2]), np.array([2, 2]), 4), [1 / 3, 2 / 3])


def test_nothing_found_is_zero_and_nothing_to_find_is_undefined():
    assert f1(0, 0, 5) == 0.0 and f1(0, 7, 5) == 0.0
    assert math.isnan(f1(0, 3, 0)) and f1(0, 3, 0, nothing_to_find=0.0) == 0.0
    assert np.isnan(f1(np.zeros(2), np.ones(2), np.array([0, 1])))[0]
