import numpy as np
import pytest
from sklearn.base import clone
from sklearn.metrics import adjusted_rand_score

from chemmap.cluster import PixelClusterer, kneedle, merge_small_regions, mode_filter, salt_and_pepper_fraction
from chemmap.cluster.spectral_spatial import SpectralSpatialClusterer
from chemmap.core.cube import Cube, SpectralAxis
from chemmap.core.exceptions import DataWarning, InvalidParameterError
from chemmap.datasets import make_regions_cube
from chemmap.preprocessing import Chain

PREPROCESS = [{"step": "baseline", "method": "asls"}, {"step": "normalize", "method": "snv"}]


@pytest.mark.parametrize("method", ["kmeans", "gmm", "hierarchical"])
def test_every_method_recovers_demo_halves(demo_cube, method):
    labels = PixelClusterer(method, k=2).fit_predict(demo_cube)
    assert adjusted_rand_score(demo_cube.labels.ravel(), labels.ravel()) > 0.98


@pytest.mark.parametrize(("n_regions", "seed"), [(3, 0), (4, 1), (5, 2), (6, 0)])
def test_auto_k_finds_true_k_on_harder_scenes(n_regions, seed):
    cube = make_regions_cube(n_regions=n_regions, snr=10, random_state=seed)
    processed = Chain(PREPROCESS).fit_transform(cube)
    est = PixelClusterer(k="auto").fit(processed)
    assert est.k_ == n_regions
    assert adjusted_rand_score(cube.labels.ravel(), est.label_image_.ravel()) >= 0.9
    sel = est.k_selection_
    assert set(sel) >= {"silhouette", "elbow", "gap", "bic"} and sel["sample_size"] <= 4000


@pytest.mark.parametrize("clusterer", [PixelClusterer, SpectralSpatialClusterer])
def test_auto_k_on_a_handful_of_pixels_needs_five_per_cluster_and_says_so(clusterer):
    rng = np.random.default_rng(0)
    noise = Cube(rng.normal(1.0, 0.1, (3, 3, 40)).astype(np.float32), SpectralAxis(np.arange(40.0)))
    with pytest.warns(DataWarning, match="9 valid pixels are too few .* k = 2 was the only choice left"):
        est = clusterer(k="auto").fit(noise)
    assert est.k_ == 2 and est.k_selection_["k_values"] == [2]
    small = Cube(rng.normal(1.0, 0.1, (5, 6, 40)).astype(np.float32), SpectralAxis(np.arange(40.0)))
    with pytest.warns(DataWarning, match=r"30 valid pixels .* chosen among 2\.\.6"):
        est = clusterer(k="auto").fit(small)
    assert est.k_selection_["k_values"] == [2, 3, 4, 5, 6]


def test_hierarchical_on_large_image_uses_sample_and_nearest_centroid():
    cube = make_regions_cube(n_regions=3, image_shape=(80, 80), random_state=3)
    processed = Chain(PREPROCESS).fit_transform(cube)
    est = PixelClusterer("hierarchical", k=3).fit(processed)
    assert "seeded sample of 5000" in est.notes_
    assert adjusted_rand_score(cube.labels.ravel(), est.label_image_.ravel()) > 0.9


def test_estimator_api_and_determinism(demo_cube):
    est = PixelClusterer(k=2, random_state=3)
    assert clone(est).get_params()["random_state"] == 3
    a = est.fit_predict(demo_cube)
    b = PixelClusterer(k=2, random_state=3).fit_predict(demo_cube)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(est.predict(demo_cube), a)


def test_unknown_method_lists_valid_ones(demo_cube):
    with pytest.raises(InvalidParameterError, match="must be one of 'gmm', 'hierarchical', 'kmeans'"):
        PixelClusterer("dbscan").fit(demo_cube)


def test_kneedle_finds_elbow():
    ks = np.arange(2, 9)
    inertia = np.array([100, 40, 10, 9, 8.5, 8, 7.6])
    assert kneedle(ks, inertia) == 4


def test_mode_filter_and_small_region_merging():
    labels = np.zeros((7, 7), int)
    labels[:, 4:] = 1
    labels[2, 1] = 1  # isolated pixel
    labels[5, 5] = -1  # masked pixel stays masked
    assert salt_and_pepper_fraction(labels) > 0
    cleaned = mode_filter(labels, 3)
    assert cleaned[2, 1] == 0 and cleaned[5, 5] == -1
    merged, n = merge_small_regions(labels, 2)
    assert merged[2, 1] == 0 and n == 1 and merged[5, 5] == -1
    assert salt_and_pepper_fraction(merged) == 0.0


@pytest.mark.parametrize(("n", "d", "k"), [(50, 1, 1), (500, 3, 2), (300, 228, 8)])
def test_diagonal_gaussian_log_densities_are_the_direct_sum(n, d, k):
    """The diagonal mixture's densities come from two (n x d) by (d x k) products, not from k
    whitening matrices of d x d; they equal the sum of squared scaled distances."""
    from chemmap.cluster.mixture import LOG_2PI, _log_gaussian

    rng = np.random.default_rng(d)
    x = rng.normal(size=(n, d)) * rng.uniform(0.1, 10, d) + 5
    means = rng.normal(size=(k, d)) * 3 + 5
    variances = rng.uniform(0.01, 20, size=(k, d))
    direct = -0.5 * (d * LOG_2PI + np.log(variances).sum(1) + (((x[:, None, :] - means) ** 2) / variances).sum(2))
    np.testing.assert_allclose(_log_gaussian(x, means, variances, "diag"), direct, rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize(("n", "d", "k"), [(40, 1, 1), (7000, 10, 16), (300, 31, 3)])
def test_full_gaussian_log_densities_and_moments_are_the_direct_ones_far_from_the_origin(n, d, k):
    """Full-covariance densities are products of the pixels' pair products with the
    precisions' entries (pixels as columns, by pieces): they equal the whitened distances, and
    the moments summed for the M-step give each class's mean and covariance, for features a
    million away from zero with unit spread (the sums are taken about a point near the data)."""
    from chemmap.cluster.mixture import LOG_2PI, _from_labels, _log_gaussian

    rng = np.random.default_rng(d)
    x = rng.normal(size=(n, d)) + 1e6
    means = x[rng.choice(n, k, replace=False)]
    factors = rng.normal(size=(k, d, d)) / np.sqrt(d)
    covariances = factors @ factors.transpose(0, 2, 1) + 0.5 * np.eye(d)
    whitened = [np.linalg.solve(np.linalg.cholesky(c), (x - m).T) for m, c in zip(means, covariances, strict=True)]
    log_det = np.linalg.slogdet(covariances)[1]
    direct = -0.5 * (d * LOG_2PI + log_det + np.stack([(w**2).sum(0) for w in whitened], axis=1))
    np.testing.assert_allclose(_log_gaussian(x, means, covariances, "full"), direct, rtol=1e-9, atol=1e-6)

    labels = np.arange(n) % k
    model = _from_labels(x, labels, k, "full", 0.0, x.mean(axis=0))
    for c in range(k):
        members = x[labels == c]
        np.testing.assert_allclose(model.means[c], members.mean(axis=0), rtol=1e-14)
        if len(members) > 1:
            np.testing.assert_allclose(model.covariances[c], np.cov(members.T, bias=True).reshape(d, d), atol=1e-9)


@pytest.mark.parametrize("k", [2, 4, 7])
def test_ward_clusters_are_scikit_learns_on_ties_and_counts(k):
    """chemmap's Ward clustering (distances by matrix products, its own cut of SciPy's tree)
    makes the partition scikit-learn's AgglomerativeClustering makes, also on integer counts
    with many equal spectra, whose tied distances must come out exactly equal."""
    from sklearn.cluster import AgglomerativeClustering
    from sklearn.metrics import adjusted_rand_score

    from chemmap.cluster.methods import ward_labels

    rng = np.random.default_rng(k)
    counts = rng.poisson(0.05, size=(1200, 64)).astype(np.float64)
    counts[:800] = 0.0  # empty pixels: 800 equal spectra
    counts[800:, 10:14] += rng.poisson(3, size=(400, 4))
    blobs = np.concatenate([c + rng.normal(size=(150, 6)) for c in rng.normal(size=(4, 6)) * 4])
    for rows in (counts, blobs):
        expected = AgglomerativeClustering(n_clusters=k, linkage="ward").fit_predict(rows)
        labels = ward_labels(rows, k)
        assert adjusted_rand_score(expected, labels) == 1.0
        assert sorted(np.unique(labels)) == list(range(k))
