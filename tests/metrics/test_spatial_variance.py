"""The variogram metric: the FFT semivariogram equals a direct pair count; white noise is
about 0 % spatially structured and a smooth field about 100 %."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from chemmap.core.exceptions import ShapeError
from chemmap.metrics.spatial import semivariogram, spatial_variance_fraction


def direct_semivariance(z, mask, lag_bin):
    """Semivariance over all ordered pixel pairs whose rounded distance is ``lag_bin``."""
    rows, cols = np.nonzero(mask)
    values = z[rows, cols]
    distance = np.hypot(rows[:, None] - rows[None, :], cols[:, None] - cols[None, :])
    pairs = np.rint(distance) == lag_bin
    return np.sum((values[:, None] - values[None, :])[pairs] ** 2) / (2 * pairs.sum()), pairs.sum()


def test_the_fft_semivariogram_equals_a_direct_pair_count():
    rng = np.random.default_rng(3)
    z = rng.normal(size=(12, 15))
    mask = rng.random((12, 15)) > 0.3
    lags, gamma, pairs = semivariogram(z, mask, max_lag=4)
    for i, lag_bin in enumerate((1, 2, 3, 4)):
        want, count = direct_semivariance(z, mask, lag_bin)
        assert gamma[i] == pytest.approx(want, rel=1e-9)
        assert pairs[i] == count
        assert lag_bin - 0.5 <= lags[i] <= lag_bin + 0.5


def test_white_noise_is_unstructured_and_a_smooth_field_is_structured():
    rng = np.random.default_rng(0)
    mask = np.ones((60, 80), bool)
    mask[:10, :20] = False
    white = spatial_variance_fraction(rng.normal(size=(60, 80)), mask)
    assert white["spatial_fraction"] < 0.05
    smooth = spatial_variance_fraction(gaussian_filter(rng.normal(size=(60, 80)), 4), mask)
    assert smooth["spatial_fraction"] > 0.95 and smooth["range"] > 3
    field = gaussian_filter(rng.normal(size=(60, 80)), 4)
    mixed = spatial_variance_fraction(field + field.std() * rng.normal(size=(60, 80)), mask)
    assert 0.2 < mixed["spatial_fraction"] < 0.8  # half the variance is noise


def test_a_map_too_small_for_a_variogram_is_a_clear_error():
    with pytest.raises(ShapeError, match="fewer than two valid pixels"):
        semivariogram(np.full((4, 4), np.nan))
    with pytest.raises(ShapeError, match="too small"):
        spatial_variance_fraction(np.random.default_rng(0).normal(size=(3, 3)))
