"""Spectral-spatial segmentation: the noise estimate ignores edges and textures, one-pixel
structure the spectra support survives the spatial steps, the Potts strength follows the
data, and the probabilities are probabilities."""

from __future__ import annotations

import numpy as np
import pytest

from chemmap.cluster.mnf import neighbour_noise_covariance
from chemmap.cluster.spectral_spatial import pseudo_likelihood_beta, spectral_spatial_segmentation

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
    assert "cluster_uncertainty" in (out / "report.html").read_text() and (out / "cluster_uncertainty.png").is_file()
    assert "`cluster_uncertainty.png`" in (out / "report.md").read_text()


def test_a_lazy_cube_streams_by_blocks_of_rows_and_segments_as_in_memory(tmp_path):
    """The MNF passes read a Zarr cube chunk by chunk (small chunks: many blocks of rows,
    each with its own most-alike pairs) and give the labels of the cube in memory."""
    from chemmap._shared.compute import compute_settings
    from chemmap.cluster.spectral_spatial import SpectralSpatialClusterer
    from chemmap.core.axis import SpectralAxis
    from chemmap.core.cube import Cube
    from chemmap.core.exceptions import MemoryLimitError
    from chemmap.io import read, write

    rows, cols = np.mgrid[0:64, 0:64]
    truth = (cols >= 32).astype(int) + ((rows >= 32) & (cols >= 32))
    truth[:, 5] = 2  # a one-pixel line
    cube = Cube(_scene(truth).astype(np.float32), SpectralAxis(np.arange(60.0), "channel"))
    write(cube, tmp_path / "scene.zarr", chunk_mb=0.12)
    lazy = read(tmp_path / "scene.zarr")
    assert lazy.is_lazy and len(lazy.data.chunks[0]) >= 4
    eager = SpectralSpatialClusterer(3).fit(cube)
    streamed = SpectralSpatialClusterer(3).fit(lazy)
    assert _ari(truth, eager.label_image_) == pytest.approx(1.0)
    assert _ari(eager.label_image_, streamed.label_image_) == pytest.approx(1.0)
    # probabilities follow the size-ordered cluster numbers
    np.testing.assert_array_equal(np.argmax(streamed.probabilities_, axis=2), streamed.label_image_)
    with compute_settings(memory_limit="64KiB"), pytest.raises(MemoryLimitError, match="--memory-limit"):
        SpectralSpatialClusterer(3).fit(lazy)


@pytest.mark.parametrize("seed", [0, 11, 15])
def test_mixed_pixels_along_a_soft_border_go_to_their_majority_material(seed):
    """A plain Gaussian mixture gives the 8-pixel ramp to the wider class and moves the border
    by about 3 columns; read as two-material mixtures, every pixel of the ramp goes to its
    majority material (the column at exactly 0.5 has none), the ends of the ramp included
    (the scenes of ``benchmarks/segmentation_real.py``: weak bands on a sloping baseline)."""
    rng = np.random.default_rng(seed)
    cols = np.tile(np.arange(60), (60, 1))
    abundance = np.clip((cols - 26) / 8.0, 0, 1)[..., None]
    x = np.linspace(0, 1, 80)
    bands = [rng.uniform(0.1, 0.9, 2) for _ in range(2)]
    pure = np.array([1 + 0.3 * np.sin(2 * np.pi * x) + sum(0.6 * np.exp(-0.5 * ((x - c) / 0.03) ** 2) for c in b)
                     for b in bands])  # fmt: skip
    noise = rng.normal(0, 0.08, (60, 60, 80))
    result = spectral_spatial_segmentation((1 - abundance) * pure[0] + abundance * pure[1] + noise, 2)
    truth = (abundance[..., 0] > 0.5).astype(int)
    ramp = (abundance[..., 0] > 0) & (abundance[..., 0] < 1)
    scored = abundance[..., 0] != 0.5
    agreement = max(np.mean(result.labels[scored] == truth[scored]), np.mean(result.labels[scored] != truth[scored]))
    assert agreement == 1.0 and result.n_mixed > ramp.sum() * 0.5
    assert result.uncertainty[ramp].mean() > 5 * result.uncertainty[~ramp].mean()


def test_the_mixture_uses_k_components_or_fewer_where_fewer_carry_signal():
    from chemmap.cluster.mnf import fit_mnf
    from chemmap.cluster.spectral_spatial import component_count

    rows, cols = np.mgrid[0:40, 0:40]
    mnf = fit_mnf(_scene(((rows // 10 + cols // 10) % 3).astype(int)))
    assert mnf.n_signal == 2  # three materials span two directions
    assert component_count(2, mnf.n_signal) == 2 and component_count(5, mnf.n_signal) == 2
    # pure noise: 900 pixels of 50 channels reach variances above 2 by sampling alone
    noise = fit_mnf(RNG.normal(0, 1, (30, 30, 50)))
    assert noise.snr[0] > 2 and noise.n_signal == 0 and component_count(16, noise.n_signal) == 1


def test_automatic_k_finds_three_materials_on_samson_with_two_seeds(shared_data):
    from chemmap.cluster.spectral_spatial import SpectralSpatialClusterer
    from chemmap.datasets.benchmarks import load_samson

    scene = load_samson(shared_data / "samson")
    truth = np.argmax(np.asarray(scene.abundances.data), axis=2)
    for seed in (0, 1):
        fitted = SpectralSpatialClusterer("auto", k_range=(2, 10), random_state=seed).fit(scene.cube)
        assert 2 <= fitted.k_ <= 4, fitted.k_selection_
        if fitted.k_ == 3:
            assert _ari(truth, fitted.label_image_) > 0.78


def test_sparse_counts_with_empty_channels_segment_without_a_blown_up_noise_estimate():
    """EDS-like counts (0-3 per channel, most channels empty): the most alike neighbour pairs
    are exactly equal in most channels, so the noise estimate needs its floor."""
    rng = np.random.default_rng(3)
    truth = np.zeros((48, 48), int)
    truth[:, 24:] = 1
    rates = np.zeros((2, 200))
    rates[0, 40:44], rates[1, 120:124] = 3.0, 3.0  # one line per material
    rates[:, 150] = 0.02  # a channel that is almost always empty
    counts = rng.poisson(rates[truth]).astype(np.float32)
    result = spectral_spatial_segmentation(counts, 2)
    assert np.all(np.isfinite(result.probabilities))
    assert _ari(truth, result.labels) > 0.95


def test_a_tiny_map_gets_two_clusters_and_a_warning():
    from chemmap.cluster.spectral_spatial import SpectralSpatialClusterer
    from chemmap.core.axis import SpectralAxis
    from chemmap.core.cube import Cube
    from chemmap.core.exceptions import DataWarning, InvalidParameterError

    cube = Cube(_scene(np.array([[0, 0, 1], [0, 1, 1]])).astype(np.float32), SpectralAxis(np.arange(60.0), "channel"))
    with pytest.warns(DataWarning, match="6 valid pixels are too few"):
        fitted = SpectralSpatialClusterer("auto").fit(cube)
    assert fitted.k_ == 2
    with pytest.raises(InvalidParameterError, match="exceeds the 6 valid pixels"):
        SpectralSpatialClusterer(7).fit(cube)


def test_on_samson_the_default_beats_pca_with_k_means_and_with_a_gaussian_mixture(shared_data):
    from chemmap.cluster import PixelClusterer
    from chemmap.cluster.spectral_spatial import SpectralSpatialClusterer
    from chemmap.datasets.benchmarks import load_samson

    scene = load_samson(shared_data / "samson")
    truth = np.argmax(np.asarray(scene.abundances.data), axis=2)
    ours = _ari(truth, SpectralSpatialClusterer(3).fit(scene.cube).label_image_)
    kmeans = _ari(truth, PixelClusterer("kmeans", 3).fit(scene.cube).label_image_)
    gmm = _ari(truth, PixelClusterer("gmm", 3).fit(scene.cube).label_image_)
    assert ours >= 0.80 and ours > gmm + 0.1 and ours > kmeans + 0.3, (ours, gmm, kmeans)


def test_a_list_of_spectra_is_refused_and_the_run_clusters_it_with_k_means(tmp_path):
    """A library (one column) has no spatial neighbours: neither the noise estimate nor the
    spatial steps apply. The method says so; ``chemmap run`` clusters it with PCA + k-means."""
    from chemmap.cluster.spectral_spatial import SpectralSpatialClusterer
    from chemmap.core.axis import SpectralAxis
    from chemmap.core.cube import Cube
    from chemmap.core.exceptions import InvalidParameterError
    from chemmap.io import write
    from chemmap.workflows import run

    truth = (np.arange(80) % 2)[:, None]  # every other entry of the library
    cube = Cube(_scene(truth).astype(np.float32), SpectralAxis(np.arange(60.0), "channel"), labels=truth)
    with pytest.raises(InvalidParameterError, match="list of 80 spectra"):
        SpectralSpatialClusterer(2).fit(cube)
    write(cube, tmp_path / "library.npz")
    result = run({"input": {"path": str(tmp_path / "library.npz")}, "clustering": {"k": 2}}, tmp_path / "out")
    clustering = result.metrics["clustering"]
    assert clustering["method"] == "kmeans" and clustering["ari"] == pytest.approx(1.0)
    assert "list of spectra" in clustering["method_reason"]
    assert "list of spectra" in (tmp_path / "out" / "report.md").read_text()


def test_thousands_of_channels_are_summed_in_groups_before_the_mnf():
    from chemmap.cluster.mnf import MNF_MAX_CHANNELS, fit_mnf

    truth = np.zeros((32, 32), int)
    truth[8:24, 8:24] = 1
    scene = _scene(truth, channels=3000).astype(np.float32)
    mnf = fit_mnf(scene, n_components=5)
    assert mnf.step == 3 and mnf.projection.shape == (1000, 5) and 1000 <= MNF_MAX_CHANNELS
    assert mnf.transform(scene).shape == (32, 32, 5)
    assert _ari(truth, spectral_spatial_segmentation(scene, 2).labels) == pytest.approx(1.0)


def test_a_few_hot_pixels_do_not_count_as_clusters_when_k_is_chosen():
    from chemmap.cluster.spectral_spatial import SpectralSpatialClusterer
    from chemmap.core.axis import SpectralAxis
    from chemmap.core.cube import Cube

    truth = np.zeros((40, 40), int)
    truth[:, 20:] = 1
    scene = _scene(truth)
    for i, (r, c) in enumerate([(5, 5), (30, 12), (12, 33), (35, 28)]):
        scene[r, c, 10 + 12 * i] += 50.0  # a spike in one channel of one pixel
    cube = Cube(scene.astype(np.float32), SpectralAxis(np.arange(60.0), "channel"))
    fitted = SpectralSpatialClusterer("auto").fit(cube)
    assert fitted.k_ == 2, fitted.k_selection_["silhouette"]


def test_of_the_mixtures_restarts_the_labelling_the_model_is_surest_of_is_kept(monkeypatch):
    import chemmap.cluster.spectral_spatial as ss

    truth = np.repeat(np.arange(3), 400).reshape(30, 40)
    truth[::7] = (truth[::7] + 1) % 3
    noise = np.random.default_rng(0).normal(0, 1, (30, 40, 4))
    whitened = (np.eye(4)[:3][truth] * 2.0 + noise).astype(np.float32)
    kept = ss._segment_features(whitened, 6, None, 1, 4, 11)  # 6 clusters for 3 materials: restarts differ
    seeds = np.random.default_rng(11).integers(0, 2**31 - 1, 4)
    restarts = [ss._segment_features(whitened, 6, None, 1, 1, int(seed)) for seed in seeds]
    surest = min(restarts, key=lambda r: float(np.mean(r.uncertainty)))
    assert len({float(np.mean(r.uncertainty)) for r in restarts}) > 1
    np.testing.assert_array_equal(kept.labels, surest.labels)
    # a large image compares its restarts on a band of rows, then labels every row
    monkeypatch.setattr(ss, "RESTART_WINDOW_PIXELS", 400)
    banded = ss._segment_features(whitened, 6, None, 1, 4, 11)
    assert banded.labels.shape == (30, 40) and banded.uncertainty.shape == (30, 40)


@pytest.mark.data
def test_on_indian_pines_the_default_reaches_ari_040_over_six_seeds(shared_data):
    from sklearn.metrics import adjusted_rand_score

    from chemmap.datasets.benchmarks import load_indian_pines

    cube = load_indian_pines(shared_data / "indian_pines")
    image, truth = np.asarray(cube.data, np.float64), np.asarray(cube.labels).ravel()
    labelled = truth >= 0
    labels = [spectral_spatial_segmentation(image, 16, random_state=s).labels.ravel() for s in range(6)]
    scores = [adjusted_rand_score(truth[labelled], found[labelled]) for found in labels]
    # 0.421, 0.375, 0.395, 0.410, 0.388, 0.422 here (mean 0.402); keeping the likeliest restart
    # gave 0.398, 0.385, 0.423, 0.354, 0.312, 0.401 (mean 0.379)
    assert np.mean(scores) >= 0.39 and min(scores) >= 0.36, scores


@pytest.mark.parametrize(("dtype", "step"), [(np.uint8, 4), (np.uint16, 3), (np.float32, 4), (np.float64, 2)])
def test_binned_channels_are_the_reduction_of_a_float_copy(dtype, step):
    """MNF sums groups of adjacent channels of cubes with more than 1 024 one member at a
    time: the sums of NumPy's reduction over the groups of a float32 (or float64) copy, bit for
    bit, the channels left over dropped."""
    from chemmap.cluster.mnf import _binned

    rng = np.random.default_rng(step)
    x = (
        rng.integers(0, 255, (3, 5, 4 * step + 1))
        if np.dtype(dtype).kind == "u"
        else rng.normal(size=(3, 5, 4 * step + 1)) * 1e3
    ).astype(dtype)
    for out in (np.float32, np.float64):
        copy = x[..., : 4 * step].astype(out).reshape(3, 5, 4, step)
        binned = _binned(x, step, out)
        assert binned.dtype == out and binned.shape == (3, 5, 4)
        np.testing.assert_array_equal(binned, copy.sum(axis=-1))
