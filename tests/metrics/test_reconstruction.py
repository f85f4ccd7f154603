"""Reconstruction metrics against hand-computed values, on NumPy and Dask blocks alike."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest

from chemmap.metrics.reconstruction import reconstruction_metrics


def test_rmse_per_band_and_spectral_angle_have_known_values():
    reference = np.zeros((4, 5, 3), np.float32)
    reference[..., 0] = 1.0
    estimate = reference.copy()
    estimate[..., 1] = 1.0  # every spectrum turned by 45 degrees, error 1 in band 1 only
    result = reconstruction_metrics(reference, estimate)
    assert result["n_pixels"] == 20
    np.testing.assert_allclose(result["rmse_per_band"], [0.0, 1.0, 0.0])
    assert result["rmse"] == pytest.approx(np.sqrt(1 / 3))
    assert result["mean_sam"] == pytest.approx(np.pi / 4, rel=1e-6)
    assert result["relative_rmse"] == pytest.approx(1.0)  # RMS of the reference is sqrt(1/3)
    lazy = reconstruction_metrics(da.from_array(reference, chunks=(1, 5, 3)), da.from_array(estimate, chunks=(1, 5, 3)))
    assert lazy["rmse"] == pytest.approx(result["rmse"]) and lazy["n_pixels"] == 20


def test_non_finite_pixels_are_left_out():
    reference = np.ones((2, 2, 4))
    estimate = reference.copy()
    estimate[0, 0, 1] = np.nan
    estimate[1, 1] = 2.0
    result = reconstruction_metrics(reference, estimate)
    assert result["n_pixels"] == 3
    assert result["rmse"] == pytest.approx(np.sqrt(1 / 3))
    assert result["mean_sam"] == pytest.approx(0.0, abs=1e-6)  # scale does not change the angle
