import numpy as np
import pytest

from mtsed.measures.distance_errors import BAND_NAMES, band_medians


def test_bands_take_absolute_and_signed_medians_by_true_distance():
    truth = np.array([1.0, 2.0, 4.0, 10.0, 150.0, 300.0, 500.0])
    error = np.array([-3.0, 1.0, 2.0, -6.0, 20.0, -40.0, -60.0])
    bands = band_medians([(truth[:4], error[:4]), (truth[4:], error[4:])])  # pooled over pairs
    assert list(bands) == list(BAND_NAMES)
    assert bands["0-5"] == {"median_abs_error": 2.0, "median_signed_error": 1.0, "frames": 3}
    assert bands["5-20"]["median_abs_error"] == 6.0 and bands["5-20"]["median_signed_error"] == -6.0
    assert bands["20-100"] == {"median_abs_error": None, "median_signed_error": None, "frames": 0}
    assert bands["over-100"]["median_abs_error"] == pytest.approx(40.0)
    assert bands["over-100"]["median_signed_error"] == pytest.approx(-40.0)


def test_a_band_edge_belongs_to_the_band_above():
    bands = band_medians([(np.array([5.0, 100.0]), np.array([1.0, 2.0]))])
    assert bands["5-20"]["frames"] == 1 and bands["over-100"]["frames"] == 1 and bands["0-5"]["frames"] == 0
