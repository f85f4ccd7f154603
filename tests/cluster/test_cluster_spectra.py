"""Cluster mean spectra, spreads and sizes from block partials (float32 pieces, float64 totals)."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest

from chemmap.cluster.spectra import cluster_spectra


@pytest.mark.parametrize("lazy", [False, True], ids=["numpy", "dask"])
def test_spectra_equal_float64_numpy_on_a_large_offset_with_nan_in_masked_rows(lazy):
    rng = np.random.default_rng(4)
    n, c, k = 30_000, 40, 3
    labels = rng.integers(-1, k, n)
    # an offset 10^4 times the spread: E[x^2] - E[x]^2 in float32 would lose every digit
    x = (1e4 + rng.normal(0, 1, (n, c)) * (1 + np.arange(c) / c)).astype(np.float32)
    x[labels < 0] = np.nan
    pixels = da.from_array(x, chunks=(7_000, c)) if lazy else x
    means, stds, counts = cluster_spectra(pixels, labels, k)
    exact = x.astype(np.float64)
    for j in range(k):
        rows = exact[labels == j]
        assert counts[j] == rows.shape[0]
        np.testing.assert_allclose(means[j], rows.mean(axis=0), rtol=1e-7)
        np.testing.assert_allclose(stds[j], rows.std(axis=0), rtol=1e-4)


def test_an_empty_cluster_has_zero_size_and_no_nan():
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    means, stds, counts = cluster_spectra(x, np.array([0, 0, 2, 2]), 3)
    assert counts.tolist() == [2, 0, 2]
    assert np.all(np.isfinite(means)) and np.all(np.isfinite(stds))
    np.testing.assert_allclose(means[2], [7.5, 8.5, 9.5])
