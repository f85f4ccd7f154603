"""Every registered preprocessing step, by the same rules: a Dask cube gives what the NumPy
cube gives, the input is left untouched, the frozen chain saved and loaded gives the same
cube, and a bad parameter is refused with a clear error before any data are touched."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest

import chemmap.preprocessing  # noqa: F401  (registers every step)
from chemmap.core.exceptions import ConfigError
from chemmap.datasets import make_demo_cube
from chemmap.preprocessing import Chain
from chemmap.preprocessing._steps import steps

#: Parameters for the steps that need some (the demo cube: 30 x 30 x 200, 600-1800 cm-1).
EXAMPLES = {
    "crop": {"lower": 800.0, "upper": 1700.0},
    "flat_field": {"white": 2.0, "dark": 0.1},
    "resample": {"to": list(np.linspace(700.0, 1700.0, 120))},
    "mask_bands": {"ranges": [[900.0, 950.0]]},
    "mask_bad_pixels": {"saturation": 1.5, "max_saturated_fraction": 0.5},
    "normalize": {"method": "msc"},
    "savgol": {"window": 30.0, "deriv": 1},
    "absorbance": {},
}


def _cube():
    cube = make_demo_cube()
    data = np.asarray(cube.data, np.float32) + np.float32(0.5)  # positive, for absorbance
    return cube.replace(data=data)


def _lazy(cube):
    return cube.replace(data=da.from_array(np.asarray(cube.data), chunks=(10, 30, -1)))


def _values(cube) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Data, the pixels that count and the axis. A NumPy step takes pixels with non-finite
    values out of the mask; a lazy cube keeps its mask and the run's scan takes them out."""
    data = cube.data.compute() if hasattr(cube.data, "compute") else np.asarray(cube.data)
    counted = np.ones(cube.image_shape, bool) if cube.mask is None else np.asarray(cube.mask)
    return data, counted & np.all(np.isfinite(data), axis=2), np.asarray(cube.axis.values)


def _assert_same(a, b) -> None:
    (data_a, counted_a, axis_a), (data_b, counted_b, axis_b) = _values(a), _values(b)
    np.testing.assert_allclose(axis_a, axis_b)
    np.testing.assert_array_equal(counted_a, counted_b)
    scale = max(float(np.nanmax(np.abs(data_a))), 1e-12)
    np.testing.assert_allclose(data_a, data_b, rtol=1e-4, atol=1e-5 * scale, equal_nan=True)


@pytest.fixture(scope="module")
def cube():
    return _cube()


@pytest.mark.parametrize("name", steps.names())
def test_a_dask_cube_gives_what_the_numpy_cube_gives_and_the_input_is_untouched(cube, name):
    item = [{"step": name, **EXAMPLES.get(name, {})}]
    before = np.array(cube.data, copy=True)
    eager = Chain(item).fit_transform(cube)
    np.testing.assert_array_equal(np.asarray(cube.data), before)
    lazy_input = _lazy(cube)
    lazy = Chain(item).fit_transform(lazy_input)
    _assert_same(eager, lazy)
    assert _values(eager)[1].mean() > 0.9  # not a comparison of two empty cubes
    np.testing.assert_array_equal(lazy_input.data.compute(), before)
    assert eager.history[-1]["step"] == name


@pytest.mark.parametrize("name", steps.names())
def test_the_frozen_chain_saved_and_loaded_gives_the_same_cube(cube, name, tmp_path):
    chain = Chain([{"step": name, **EXAMPLES.get(name, {})}]).fit(cube)
    expected = chain.transform(cube)
    for suffix in (".toml", ".json"):
        chain.save(tmp_path / f"chain{suffix}")
        _assert_same(Chain.load(tmp_path / f"chain{suffix}").transform(cube), expected)


@pytest.mark.parametrize("name", steps.names())
def test_a_bad_parameter_is_refused_before_any_data_are_touched(name):
    with pytest.raises(ConfigError, match="no_such_option"):
        Chain([{"step": name, "no_such_option": 1}])
    for param, declared in steps.get(name).params.items():
        if declared.kind in ("float", "int", "choice", "bool"):
            with pytest.raises(ConfigError, match=param):
                Chain([{"step": name, **EXAMPLES.get(name, {}), param: "certainly not valid"}])
