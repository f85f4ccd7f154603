"""Unmixing: fully constrained abundances against a per-pixel constrained solver, endmember
extraction on hand-made mixtures with planted pure pixels, component counts with known
dimension and noise, spatial regularisation on a noisy scene, and the NumPy/Dask equality."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
from scipy.optimize import minimize

from chemmap.core.axis import SpectralAxis
from chemmap.core.cube import Cube
from chemmap.core.exceptions import DataWarning, InvalidParameterError
from chemmap.decomposition.abundances import abundance_maps, fcls_gram
from chemmap.decomposition.endmembers import ENDMEMBER_METHODS, extract_endmembers
from chemmap.decomposition.regularised import project_simplex
from chemmap.decomposition.subspace import band_noise, band_noise_std, count_components, hysime, scree_elbow
from chemmap.metrics.unmixing import unmixing_scores


def _scene(k=4, shape=(30, 40), c=60, noise=0.01, seed=0, pure=True):
    """Mixtures of ``k`` smooth non-negative spectra, with the first ``k`` pixels pure."""
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 1, c)
    spectra = np.stack([0.2 + np.exp(-0.5 * ((x - m) / 0.15) ** 2) for m in np.linspace(0.1, 0.9, k)])
    fractions = rng.dirichlet(np.full(k, 0.7), size=shape)
    if pure:
        fractions.reshape(-1, k)[:k] = np.eye(k)
    data = fractions @ spectra + rng.normal(scale=noise, size=(*shape, c))
    return Cube(data.astype(np.float32), SpectralAxis(np.linspace(400, 900, c), "nm")), spectra, fractions


def _slsqp_fcls(a: np.ndarray, y: np.ndarray) -> np.ndarray:
    k = a.shape[0]
    result = minimize(
        lambda v: np.sum((y - v @ a) ** 2),
        np.full(k, 1 / k),
        jac=lambda v: -2 * a @ (y - v @ a),
        method="SLSQP",
        bounds=[(0, None)] * k,
        constraints={"type": "eq", "fun": lambda v: v.sum() - 1},
        options={"ftol": 1e-15, "maxiter": 1000},
    )
    return result.x


def test_fcls_equals_a_per_pixel_constrained_solver_and_keeps_the_constraints():
    rng = np.random.default_rng(2)
    a = np.abs(rng.normal(size=(5, 40))) + 0.1
    truth = rng.dirichlet(np.full(5, 0.3), size=300)
    y = truth @ a + rng.normal(scale=0.2, size=(300, 40))  # noisy: many solutions on the simplex's faces
    ours = fcls_gram(a @ a.T, y @ a.T)
    assert np.all(ours >= 0)
    np.testing.assert_allclose(ours.sum(axis=1), 1, atol=1e-9)
    reference = np.array([_slsqp_fcls(a, row) for row in y[:60]])
    np.testing.assert_allclose(ours[:60], reference, atol=1e-5)
    assert np.mean(ours == 0) > 0.1  # the test reaches the boundary


def test_simplex_projection_is_the_nearest_point_of_the_simplex():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 4)) * 2
    p = project_simplex(x)
    np.testing.assert_allclose(p.sum(axis=1), 1, atol=1e-12)
    assert np.all(p >= 0)
    # no other point of the simplex is closer
    others = rng.dirichlet(np.ones(4), size=(200, 50))
    assert np.all(np.linalg.norm(x - p, axis=1)[:, None] <= np.linalg.norm(x[:, None] - others, axis=2) + 1e-12)


@pytest.mark.parametrize("method", sorted(ENDMEMBER_METHODS))
def test_every_extractor_finds_the_planted_pure_pixels(method):
    cube, spectra, _ = _scene(noise=0.002)
    found = extract_endmembers(cube, 4, method=method)
    assert sorted(found.pixels[:, 0] * 40 + found.pixels[:, 1]) == [0, 1, 2, 3]
    scores = unmixing_scores(found.spectra, true_spectra=spectra)
    assert scores["mean_spectral_angle"] < 0.02


@pytest.mark.parametrize("method", sorted(ENDMEMBER_METHODS))
def test_every_extractor_finds_the_planted_pure_pixels_among_many_channels(method, monkeypatch):
    """Beyond 512 channels the principal directions come from a randomized SVD of the
    uncentred pixels (centring never copies them), found once for all the extractors that
    search the same pixels."""
    import chemmap._shared.linalg as linalg
    import chemmap.decomposition.endmembers as endmembers

    calls = []
    original = endmembers.leading_components
    monkeypatch.setattr(endmembers, "leading_components", lambda *a, **kw: calls.append(1) or original(*a, **kw))
    cube, _, _ = _scene(c=600, noise=0.002)
    assert cube.n_channels > linalg.EXACT_CHANNELS
    y = np.asarray(cube.data, dtype=np.float64).reshape(-1, 600)
    for _ in range(2):
        chosen = endmembers.ENDMEMBER_METHODS[method](y, 4)
        assert sorted(chosen) == [0, 1, 2, 3]
    assert len(calls) <= 2  # once centred, once not; the second search reuses them


def test_leading_components_of_centred_pixels_without_centring_them():
    from chemmap._shared.linalg import leading_components

    rng = np.random.default_rng(4)
    x = rng.normal(size=(900, 3)) @ rng.normal(size=(3, 700)) * 5 + rng.normal(size=(900, 700)) * 0.1 + 40.0
    mean = x.mean(axis=0)
    values, vt = leading_components(x, 3, mean=mean)
    _, exact_values, exact_vt = np.linalg.svd(x - mean, full_matrices=False)
    np.testing.assert_allclose(values, exact_values[:3], rtol=1e-6)
    np.testing.assert_allclose(np.abs(vt @ exact_vt[:3].T), np.eye(3), atol=1e-6)  # the same directions


def test_the_endmember_sample_stays_within_the_memory_limit():
    from chemmap._shared.compute import compute_settings
    from chemmap.decomposition.endmembers import sample_pixels

    cube, _, _ = _scene(shape=(100, 100), c=64)
    with compute_settings(memory_limit="4MiB"):  # a quarter of it: 1 MiB, 2048 float64 pixels of 64 channels
        y, where = sample_pixels(cube, 100_000, 0, func="test")
    assert y.shape == (2048, 64) and where.size == 2048
    assert sample_pixels(cube, None, 0, func="test")[0].shape == (10_000, 64)


def test_vca_and_fcls_recover_abundances_and_numpy_equals_dask():
    cube, spectra, fractions = _scene(noise=0.01)
    found = extract_endmembers(cube, 4, method="vca")
    maps = abundance_maps(cube, found.spectra, method="fcls", residual=False)
    stack = np.asarray(maps.data)
    np.testing.assert_allclose(stack.sum(axis=2), 1, atol=1e-5)
    scores = unmixing_scores(found.spectra, stack, true_spectra=spectra, true_abundances=fractions)
    assert scores["mean_abundance_rmse"] < 0.03
    lazy = cube.replace(data=da.from_array(np.asarray(cube.data), chunks=(7, 40, 60)))
    lazy_maps = abundance_maps(lazy, found.spectra, method="fcls", residual=False)
    np.testing.assert_allclose(np.asarray(lazy_maps.data), stack, atol=1e-6)


def test_scaled_unmixing_ignores_pixel_brightness_where_fcls_cannot():
    cube, spectra, fractions = _scene(noise=0.0)
    brightness = np.random.default_rng(1).uniform(0.5, 1.5, size=(*cube.image_shape, 1))
    dim = cube.replace(data=(np.asarray(cube.data) * brightness).astype(np.float32))
    scaled = np.asarray(abundance_maps(dim, spectra, method="scaled", residual=False).data)
    fcls = np.asarray(abundance_maps(dim, spectra, method="fcls", residual=False).data)
    assert np.sqrt(np.mean((scaled - _unit_norm_fractions(fractions, spectra)) ** 2)) < 1e-4
    assert np.sqrt(np.mean((fcls - fractions) ** 2)) > 0.05


def _unit_norm_fractions(fractions, spectra):
    """Fractions of unit-norm spectra that make the same mixture."""
    weighted = fractions * np.linalg.norm(spectra, axis=1)
    return weighted / weighted.sum(axis=2, keepdims=True)


def test_spatial_regularisation_lowers_the_error_on_a_noisy_piecewise_scene():
    rng = np.random.default_rng(4)
    k, c = 3, 50
    x = np.linspace(0, 1, c)
    spectra = np.stack([0.1 + np.exp(-0.5 * ((x - m) / 0.2) ** 2) for m in (0.2, 0.5, 0.8)])
    regions = np.repeat(np.arange(36)[:, None] // 12, 36, axis=1)  # three bands of rows
    fractions = rng.dirichlet(np.ones(k), size=3)[regions]
    data = fractions @ spectra + rng.normal(scale=0.15, size=(36, 36, c))
    cube = Cube(data.astype(np.float32), SpectralAxis(x * 500 + 400, "nm"))
    plain = np.asarray(abundance_maps(cube, spectra, method="fcls", residual=False).data)
    for penalty in ("tv", "laplacian"):
        smooth = abundance_maps(cube, spectra, method="fcls", residual=False, spatial=penalty)
        stack = np.asarray(smooth.data)
        np.testing.assert_allclose(stack.sum(axis=2), 1, atol=1e-5)
        assert np.all(stack >= 0)
        error, baseline = np.sqrt(np.mean((stack - fractions) ** 2)), np.sqrt(np.mean((plain - fractions) ** 2))
        assert error < 0.7 * baseline, (penalty, error, baseline)


def test_hysime_counts_the_components_and_the_noise_of_each_band():
    cube, _, _ = _scene(k=4, shape=(60, 60), noise=0.0)
    rng = np.random.default_rng(5)
    sigma = np.linspace(0.005, 0.02, cube.n_channels)
    noisy = cube.replace(data=(np.asarray(cube.data) + rng.normal(size=cube.shape) * sigma).astype(np.float32))
    count = count_components(noisy)
    assert count.hysime == 4 and count.whitened == 4 and count.recommended == 4
    np.testing.assert_allclose(count.noise_std, sigma, rtol=0.2)
    y = np.asarray(noisy.data, dtype=np.float64).reshape(-1, cube.n_channels)
    k, cost = hysime(y.T @ y, y.shape[0])
    assert k == 4 and np.all(cost[:4] < 0) and np.all(cost[4:] >= 0)
    _, std = band_noise(y.T @ y, y.shape[0])
    np.testing.assert_allclose(std, count.noise_std, rtol=0.05)


def test_the_scree_elbow_splits_signal_from_noise_eigenvalues():
    assert scree_elbow([9.0, 3.0, 1.0, 1e-3, 9e-4, 8e-4, 8e-4, 7e-4]) == 3
    assert scree_elbow([1.0, 1e-4, 9e-5, 8e-5]) == 1
    assert scree_elbow([1.0, 0.5]) == 1  # too few to split


@pytest.mark.data
@pytest.mark.parametrize(("name", "allowed"), [("samson/samson_1.mat", (2, 4)), ("gamsberg", (2, 8))])
def test_the_component_count_holds_on_real_scenes(shared_data, name, allowed):
    from chemmap.io import read

    if name == "gamsberg":  # 25 x 10 pixels x 189 bands: nearly as many bands as pixels
        path = shared_data / "real_files" / "envi" / "cubus_gamsberg_subset"
        with pytest.warns(DataWarning, match="can only be wavelengths"):
            cube = read(path)
    else:
        cube = read(shared_data / name)
    count = count_components(cube)
    assert allowed[0] <= count.recommended <= allowed[1], count.to_dict()
    assert count.whitened > count.recommended and "elbow" in count.chosen_by  # says how it decided


def test_a_cube_with_fewer_pixels_than_bands_is_counted():
    cube, _, _ = _scene(k=3, shape=(6, 6), noise=0.01)
    count = count_components(cube)
    assert 2 <= count.recommended <= 4 and np.all(np.isfinite(count.noise_std))


def test_band_noise_of_fewer_spectra_than_bands_is_the_white_noise_along_them():
    rng = np.random.default_rng(2)
    x = np.linspace(0, 1, 200)
    smooth = np.stack([np.exp(-((x - c) ** 2) / 0.01) for c in rng.random(12)]) * 50
    std = band_noise_std(smooth + rng.normal(0, 0.1, smooth.shape))  # 12 spectra, 200 bands
    np.testing.assert_allclose(std, 0.1, rtol=0.15)  # the regression's floor was 1e-6 of the signal
    counts = rng.poisson(0.2, (20, 100)).astype(np.float64)  # second differences mostly zero
    np.testing.assert_allclose(band_noise_std(counts), np.sqrt(0.2), rtol=0.15)


def test_automatic_components_are_refused_where_every_direction_of_the_pixels_is_signal():
    from chemmap.workflows.mapping import run_cube

    rng = np.random.default_rng(3)
    x = np.linspace(0, 1, 300)
    spectra = np.stack([np.exp(-((x - c) ** 2) / 0.002) for c in rng.random(12)]) * 100  # 12 different spectra
    cube = Cube((spectra + rng.normal(0, 0.01, spectra.shape)).reshape(3, 4, 300).astype(np.float32), SpectralAxis(x))
    count = count_components(cube)
    assert count.bounded_by_pixels and count.recommended >= 11
    with pytest.raises(InvalidParameterError, match="cannot count the components of 12 pixels.*--components K"):
        run_cube(cube, {"clustering": {"k": 2}, "unmixing": {"method": "auto", "components": "auto"}})
    assert not count_components(_scene(k=3, shape=(6, 6), noise=0.01)[0]).bounded_by_pixels


def test_samson_vca_and_nfindr_with_scaled_unmixing_meet_the_targets(shared_data):
    from chemmap.datasets.benchmarks import SAMSON_MATERIALS, load_samson

    scene = load_samson(shared_data / "samson")
    truth = np.asarray(scene.abundances.data)
    for method in ("vca", "nfindr"):
        found = extract_endmembers(scene.cube, 3, method=method)
        maps = np.asarray(abundance_maps(scene.cube, found.spectra, method="scaled", residual=False).data)
        scores = unmixing_scores(
            found.spectra, maps, true_spectra=scene.endmembers, true_abundances=truth, names=list(SAMSON_MATERIALS)
        )
        assert scores["mean_abundance_rmse"] <= 0.10, (method, scores)
        assert scores["mean_spectral_angle"] <= 0.10, (method, scores)


def _purity_pixels(seed: int, purity: float, noise: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """3000 pixels of two smooth spectra: half ``purity`` of the first (the rest the second),
    half pure second; white noise of ``noise``. Returns pixels and the two spectra."""
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 1, 100)
    spectra = np.stack([0.2 + np.exp(-0.5 * ((x - m) / 0.1) ** 2) for m in (0.3, 0.7)])
    fractions = np.repeat([[purity, 1 - purity], [0.0, 1.0]], 1500, axis=0)
    return fractions @ spectra + rng.normal(scale=noise, size=(3000, 100)), spectra


@pytest.mark.parametrize("seed", [0, 1])
def test_refinement_averages_out_an_endmember_pixels_noise_but_keeps_one_whose_pure_pixels_are_another_mixture(seed):
    from chemmap.decomposition.model_choice import MAX_NOISE_SHIFTS, refine_from_purest

    axis = SpectralAxis(np.linspace(400, 900, 100), "nm")
    pixels, spectra = _purity_pixels(seed, 1.0)
    extracted = pixels[[0, 1500]]  # one noisy pixel of each material, as an extractor returns
    refined, counts, shifts = refine_from_purest(pixels, extracted, "fcls", axis)
    assert min(counts) >= 3 and max(shifts) < 1.5  # one pixel's noise: about one noise norm
    for before, after, truth in zip(extracted, refined, spectra, strict=True):
        assert np.linalg.norm(after - truth) < 0.4 * np.linalg.norm(before - truth)  # the mean of 30
    # the first "pure" set is 0.96 of the first material (pure enough to count): its mean lies
    # 0.04 x the spectra's distance away, many noise norms: averaging would pull the endmember
    # into the mixtures
    pixels, spectra = _purity_pixels(seed, 0.96, noise=0.002)
    refined, counts, shifts = refine_from_purest(pixels, spectra, "fcls", axis)
    assert counts[0] == 0 and shifts[0] > MAX_NOISE_SHIFTS and np.array_equal(refined[0], spectra[0])
    assert counts[1] >= 3 and shifts[1] < MAX_NOISE_SHIFTS
