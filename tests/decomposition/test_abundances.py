"""Batched least-squares abundances: the non-negative solver equals SciPy's per-spectrum
NNLS on every row, known abundances are recovered from mixtures, and lazy cubes give the
same maps as cubes in memory."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
from scipy.optimize import nnls

from chemmap.core.axis import SpectralAxis
from chemmap.core.cube import Cube
from chemmap.core.exceptions import ConvergenceWarning, ShapeError
from chemmap.decomposition.abundances import abundance_maps, nnls_gram


@pytest.mark.parametrize(("k", "n"), [(3, 500), (12, 800), (70, 60)])  # 70: more variables than one integer code
def test_batched_nnls_equals_scipy_on_every_row(k, n):
    rng = np.random.default_rng(k)
    a = np.abs(rng.normal(size=(90, k))) + rng.random((90, 1))
    truth = np.where(rng.random((n, k)) < 0.4, rng.random((n, k)), 0.0)
    y = truth @ a.T + rng.normal(scale=0.3, size=(n, 90))  # noisy: many rows have zero variables
    ours = nnls_gram(a.T @ a, y @ a)
    reference = np.array([nnls(a, row)[0] for row in y])
    np.testing.assert_allclose(ours, reference, atol=1e-8)
    assert np.any(ours == 0) and np.all(ours >= 0)


def test_batched_nnls_handles_dependent_components_and_empty_rows():
    rng = np.random.default_rng(1)
    a = np.abs(rng.normal(size=(40, 3)))
    a = np.column_stack([a, a[:, 0]])  # a repeated component: many optima, one residual
    y = np.vstack([np.zeros(40), rng.random((50, 3)) @ a[:, :3].T, -np.ones(40)])
    ours = nnls_gram(a.T @ a, y @ a)
    residual = np.linalg.norm(y - ours @ a.T, axis=1)
    expected = np.array([nnls(a, row)[0] for row in y])
    np.testing.assert_allclose(residual, np.linalg.norm(y - expected @ a.T, axis=1), atol=1e-7)
    assert np.all(ours[0] == 0) and np.all(ours[-1] == 0)  # nothing to fit; all-negative data


def test_nnls_stops_at_its_bound_and_says_how_many_spectra_fell_short():
    rng = np.random.default_rng(5)
    a = np.abs(rng.normal(size=(90, 12))) + rng.random((90, 1))
    y = rng.random((200, 12)) @ a.T + rng.normal(scale=0.5, size=(200, 90))
    with pytest.warns(ConvergenceWarning, match=r"bound of 1 steps with \d+ of 200 spectra"):
        early = nnls_gram(a.T @ a, y @ a, max_iter=1)
    assert np.all(early >= 0)


def _mixture_cube(noise: float = 0.0):
    rng = np.random.default_rng(3)
    x = np.linspace(400, 1800, 300)
    components = np.stack([np.exp(-0.5 * ((x - c) / 25) ** 2) for c in (700, 1000, 1450)])
    fractions = rng.dirichlet(np.ones(3), size=(20, 30)) * np.where(rng.random((20, 30, 1)) < 0.3, 0, 1)
    data = fractions @ components + rng.normal(scale=noise, size=(20, 30, 300)) if noise else fractions @ components
    return Cube(data.astype(np.float32), SpectralAxis(x, "cm-1")), components, fractions


def test_known_abundances_are_recovered_with_a_residual_map():
    cube, components, fractions = _mixture_cube()
    maps = abundance_maps(cube, components, names=["a", "b", "c"])
    assert maps.map_names == ("a", "b", "c", "fit residual")
    np.testing.assert_allclose(maps.data[..., :3], fractions, atol=1e-4)
    assert np.nanmax(maps.data[..., 3]) < 1e-3
    unconstrained = abundance_maps(cube, components, method="ls", residual=False)
    np.testing.assert_allclose(unconstrained.data, fractions, atol=1e-4)


def test_noisy_abundances_stay_non_negative_and_lazy_equals_eager():
    cube, components, fractions = _mixture_cube(noise=0.05)
    eager = abundance_maps(cube, components)
    assert np.nanmin(eager.data[..., :3]) >= 0
    assert np.sqrt(np.mean((eager.data[..., :3] - fractions) ** 2)) < 0.02
    lazy = abundance_maps(cube.replace(data=da.from_array(np.asarray(cube.data), chunks=(7, 30, 300))), components)
    np.testing.assert_allclose(lazy.data, eager.data, rtol=1e-6, atol=1e-7)


def test_components_off_the_axis_are_refused():
    cube, components, _ = _mixture_cube()
    with pytest.raises(ShapeError, match=r"shape \(k, 300\)"):
        abundance_maps(cube, components[:, :100])
    with pytest.raises(ShapeError, match="linearly dependent"):
        abundance_maps(cube, np.vstack([components, components[:1]]), method="ls")
