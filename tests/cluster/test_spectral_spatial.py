"""Spectral-spatial segmentation: the noise estimate ignores edges and textures, one-pixel
structure the spectra support survives the spatial steps, the Potts strength follows the
data, and the probabilities are probabilities."""

from __future__ import annotations

import numpy as np
import pytest

from chemmap.cluster.spectral_spatial import (
    neighbour_noise_covariance,
    pseudo_likelihood_beta,
    spectral_spatial_segmentation,
)

RNG = np.random.default_rng(0)


def _scene(truth: np.ndarray, noise: float = 0.08, channels: int = 60) -> np.ndarray:
    x = np.linspace(0, 1, channels)
    spectra = np.array([1 + np.exp(-0.5 * ((x - c) / 0.04) ** 2) for c in (0.2, 0.5, 0.8)])
    return spectra[truth] + RNG.normal(0, noise, (*truth.shape, channels))


def _ari(a, b):
    from sklearn.metrics import adjusted_rand_score

    return adjusted_rand_score(a.ravel(), b.ravel())


def test_the_noise_estimate_is_the_noise_whatever_the_texture():
    rows, cols = np.mgrid[0:50, 0:50]
    checker = (rows // 2 + cols // 2) % 2  # every pixel sits on an edge in one direction
    covariance = neighbour_noise_covariance(_scene(checker, noise=0.1))
    assert np.median(np.sqrt(np.diag(covariance))) == pytest.approx(0.1, rel=0.15)


@pytest.mark.parametrize("pattern", ["lines", "checkerboard"])
def test_one_pixel_structure_that_the_spectra_support_survives(pattern):
    rows, cols = np.mgrid[0:48, 0:48]
    truth = (cols % 6 == 3).astype(int) if pattern == "lines" else ((rows // 2 + cols // 2) % 2).astype(int)
    result = spectral_spatial_segmentation(_scene(truth), 2)
    assert _ari(truth, result.labels) == pytest.approx(1.0)


def test_per_pixel_brightness_does_not_split_a_material():
    truth = np.zeros((40, 40), int)
    truth[:, 20:] = 1
    scene = _scene(truth) * RNG.uniform(0.6, 1.4, (40, 40, 1))
    assert _ari(truth, spectral_spatial_segmentation(scene, 2).labels) > 0.95


def test_potts_strength_follows_the_data_and_probabilities_are_probabilities():
    regions = np.zeros((40, 40), int)
    regions[:, 20:] = 1
    assert pseudo_likelihood_beta(regions, 2) > 1.0
    assert pseudo_likelihood_beta(RNG.integers(0, 2, (40, 40)), 2) < 0.2
    result = spectral_spatial_segmentation(_scene(regions, noise=0.3), 2)
    np.testing.assert_allclose(result.probabilities.sum(axis=2), 1.0, rtol=1e-5)
    assert result.uncertainty.shape == (40, 40) and 0 <= result.uncertainty.min() <= result.uncertainty.max() <= 0.5


def test_run_with_the_spectral_spatial_method_writes_its_uncertainty(tmp_path, demo_csv):
    import json

    from chemmap.cli.main import main

    out = tmp_path / "run"
    argv = ["run", str(demo_csv), "--image-shape", "30", "30", "--label-column", "region", "--clusters", "auto"]
    assert main([*argv, "--method", "spectral-spatial", "--out", str(out), "--quiet"]) == 0
    clustering = json.loads((out / "metrics.json").read_text())["clustering"]
    assert clustering["method"] == "spectral-spatial" and clustering["k"] == 2 and clustering["ari"] == 1.0
    assert "Potts beta" in clustering["notes"][0] and clustering["stability"]["stable"]
    uncertainty = np.load(out / "maps.npz")["cluster_uncertainty"]
    assert uncertainty.shape == (30, 30) and np.nanmax(uncertainty) < 0.5
    assert "cluster_uncertainty" in (out / "report.html").read_text()


def test_a_lazy_cube_is_refused_with_what_to_do(tmp_path, demo_cube):
    from chemmap.cluster.spectral_spatial import SpectralSpatialClusterer
    from chemmap.core.exceptions import InvalidParameterError
    from chemmap.io import read, write

    write(demo_cube, tmp_path / "demo.zarr")
    with pytest.raises(InvalidParameterError, match="lazy=false"):
        SpectralSpatialClusterer(2).fit(read(tmp_path / "demo.zarr"))
