"""MCR-ALS and NMF: pure spectra and concentrations recovered from mixtures with negative
noise, every constraint held (non-negativity, closure, unimodality, selectivity, equality),
NumPy and Dask giving the same result, and clear refusals."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest

from chemmap.core.axis import SpectralAxis
from chemmap.core.cube import Cube
from chemmap.core.exceptions import DataWarning, InvalidParameterError, ShapeError
from chemmap.decomposition.mcr import MCRALS, simplisma, unimodal
from chemmap.decomposition.nmf import nmf_maps
from chemmap.metrics.unmixing import unmixing_scores


def _bands_scene(noise=0.02, seed=0, shape=(30, 30)):
    """Three Gaussian bands on a zero baseline (so noise makes negative values), with
    regions where each component is pure."""
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 100, 120)
    spectra = np.stack([np.exp(-0.5 * ((x - m) / 6) ** 2) for m in (25, 50, 75)])
    conc = rng.dirichlet(np.full(3, 0.5), size=shape) * rng.uniform(0.5, 2, size=(*shape, 1))
    conc[:5, :5] = [1, 0, 0]
    conc[:5, -5:] = [0, 1, 0]
    conc[-5:, :5] = [0, 0, 1]
    data = conc @ spectra + rng.normal(scale=noise, size=(*shape, x.size))
    return Cube(data.astype(np.float32), SpectralAxis(x, "cm-1")), spectra, conc


def test_mcr_recovers_spectra_and_concentrations_despite_negative_noise():
    cube, spectra, conc = _bands_scene()
    assert np.asarray(cube.data).min() < 0
    result = MCRALS(3).fit(cube).result_
    assert np.all(result.spectra >= 0) and np.all(result.concentrations >= 0)
    scores = unmixing_scores(result.spectra, true_spectra=spectra)
    assert scores["mean_spectral_angle"] < 0.05
    order = [scores["matched"][f"reference {i + 1}"] for i in range(3)]
    scale = np.linalg.norm(spectra, axis=1)
    estimate = result.concentrations[..., order]
    assert np.corrcoef(estimate.ravel(), (conc * scale).ravel())[0, 1] > 0.99
    data = np.asarray(cube.data, dtype=np.float64)
    noise_only = 100 * np.sqrt(np.sum((data - conc @ spectra) ** 2) / np.sum(data**2))
    assert noise_only * 0.98 < result.lack_of_fit < noise_only * 1.02  # fits the signal, not the noise
    assert result.explained_variance > 99
    assert result.report()["n_iter"] == len(result.history)


def test_mcr_with_closure_sums_to_one_and_numpy_equals_dask():
    cube, _, _ = _bands_scene(seed=1)
    eager = MCRALS(3, closure=True, max_iter=20).fit(cube).result_
    np.testing.assert_allclose(eager.concentrations.sum(axis=2), 1, atol=1e-5)
    lazy_cube = cube.replace(data=da.from_array(np.asarray(cube.data), chunks=(8, 30, 120)))
    lazy = MCRALS(3, closure=True, max_iter=20).fit(lazy_cube).result_
    np.testing.assert_allclose(lazy.spectra, eager.spectra, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(lazy.concentrations, eager.concentrations, atol=1e-5)


def test_mcr_selectivity_equality_and_unimodality_are_held():
    cube, spectra, _ = _bands_scene(seed=2)
    absent = np.zeros((*cube.image_shape, 3), bool)
    absent[:10, :, 2] = True
    fixed = spectra[0] * 2.0
    result = MCRALS(3, init="atgp", absent=absent, fixed_spectra={0: fixed}, unimodal_spectra=True).fit(cube).result_
    assert np.all(result.concentrations[:10, :, 2] == 0)
    np.testing.assert_array_equal(result.spectra[0], fixed)
    for row in result.spectra[1:]:
        peak = int(np.argmax(row))
        assert np.all(np.diff(row[: peak + 1]) >= 0) and np.all(np.diff(row[peak:]) <= 0)


def test_unimodal_projection_and_simplisma_on_hand_cases():
    out = unimodal(np.array([[0.0, 2, 1, 3, 6, 2, 4, 1]]))
    np.testing.assert_array_equal(out, [[0, 1, 1, 3, 6, 2, 2, 1]])
    # three pure channels, each the only carrier of one component
    rng = np.random.default_rng(0)
    c = rng.random((500, 3))
    s = np.full((3, 10), 0.05)
    s[0, 2] = s[1, 5] = s[2, 8] = 1.0
    assert sorted(simplisma(c @ s, 3)) == [2, 5, 8]


def test_mcr_refuses_bad_constraints():
    cube, _, _ = _bands_scene()
    with pytest.raises(ShapeError, match="fixed_spectra"):
        MCRALS(3, fixed_spectra={5: np.ones(120)}).fit(cube)
    with pytest.raises(InvalidParameterError, match="closure"):
        MCRALS(3, closure=True, absent=np.zeros((30, 30, 3), bool)).fit(cube)


def test_nmf_accepts_small_negative_noise_with_a_warning_and_refuses_signed_data():
    cube, spectra, _ = _bands_scene(noise=0.01)
    with pytest.warns(DataWarning, match="negative"):
        result = nmf_maps(cube, 3)
    assert np.all(result.maps >= 0) and result.report["negative_share"] > 0
    assert unmixing_scores(result.spectra, true_spectra=spectra)["mean_spectral_angle"] < 0.15
    with pytest.warns(DataWarning, match="raised"):
        shifted = nmf_maps(cube, 3, negative="shift", solver="minibatch")
    assert shifted.shift > 0 and shifted.report["solver"] == "minibatch"
    derivative = cube.replace(data=np.gradient(np.asarray(cube.data), axis=2).astype(np.float32))
    with pytest.raises(InvalidParameterError, match="MCR-ALS"):
        nmf_maps(derivative, 3)


def test_nmf_fits_a_sample_whose_working_copies_fit_the_memory_limit():
    from chemmap._shared.compute import compute_settings
    from chemmap.decomposition.nmf import FIT_COPIES

    cube, spectra, _ = _bands_scene(noise=0.0, shape=(60, 60))
    with compute_settings(memory_limit="12MiB"):  # a quarter: 3 MiB, 3 copies of 1092 pixels of 120 float64
        result = nmf_maps(cube, 3)
    assert result.report["n_fit_pixels"] == 3 * 2**20 // (8 * 120 * FIT_COPIES)
    assert result.maps.shape == (60, 60, 3) and np.isfinite(result.maps).all()  # every pixel mapped
    assert unmixing_scores(result.spectra, true_spectra=spectra)["mean_spectral_angle"] < 0.15
    assert result.report["converged"] == (result.report["n_iter"] < 400)


def test_samson_mcr_from_vca_meets_the_targets(shared_data):
    from chemmap.datasets.benchmarks import SAMSON_MATERIALS, load_samson

    scene = load_samson(shared_data / "samson")
    result = MCRALS(3, init="vca").fit(scene.cube).result_
    fractions = result.concentrations / result.concentrations.sum(axis=2, keepdims=True)
    scores = unmixing_scores(
        result.spectra,
        fractions,
        true_spectra=scene.endmembers,
        true_abundances=np.asarray(scene.abundances.data),
        names=list(SAMSON_MATERIALS),
    )
    assert scores["mean_abundance_rmse"] <= 0.10 and scores["mean_spectral_angle"] <= 0.10, scores
