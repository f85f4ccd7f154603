"""Cube <-> xarray: round trips eager and lazy (nothing computed), the dim names users have,
rioxarray's band attributes, NetCDF and Zarr stores written by xarray, run results."""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np
import pytest

import chemmap
from chemmap.core.axis import SpectralAxis
from chemmap.core.exceptions import AxisOrderWarning, InvalidParameterError, ShapeError
from chemmap.testing import assert_cube_equal, make_cube

xr = pytest.importorskip("xarray", reason="the xarray extra is not installed (pip install 'chemmap[xarray]')")


def _never_compute(*args, **kwargs):
    raise AssertionError("a lazy conversion computed the data")


@pytest.fixture
def cube():
    base = make_cube(shape=(6, 7), n_channels=30, random_state=3)
    labels = np.arange(42).reshape(6, 7) % 3
    labels[0, 5] = -1
    mask = np.ones((6, 7), bool)
    mask[0, :2] = False
    axis = base.axis.replace(fwhm=np.full(30, 2.5))
    return base.replace(
        axis=axis, labels=labels, label_names={0: "fat", 1: "lean", 2: "<bone>"}, mask=mask, attrs={"source": "s.csv"}
    )


def test_cube_to_xarray_names_dims_axis_unit_mask_and_labels(cube):
    array = cube.to_xarray()
    assert array.dims == ("y", "x", "band")
    assert np.array_equal(array["band"].values, cube.axis.values)
    assert array["band"].attrs["units"] == "cm-1"
    assert array.coords["mask"].dims == ("y", "x") and int(array.coords["mask"].sum()) == 40
    assert array.coords["labels"].values[0, 5] == -1
    assert array.attrs["source"] == "s.csv"
    back = chemmap.Cube.from_xarray(array)
    assert_cube_equal(back, cube)
    assert np.array_equal(back.axis.fwhm, cube.axis.fwhm)
    assert back.attrs["source"] == "s.csv"


def test_a_lazy_cube_stays_lazy_both_ways_and_nothing_is_computed(cube):
    lazy = cube.replace(data=da.from_array(cube.data, chunks=(3, 7, 30)))
    with dask.config.set(scheduler=_never_compute):
        array = lazy.to_xarray()
        assert array.chunks is not None
        back = chemmap.Cube.from_xarray(array)
        assert back.is_lazy
    assert_cube_equal(back.to_numpy(), cube)


@pytest.mark.parametrize(
    ("dims", "order"),
    [
        (("wavelength", "lat", "lon"), (1, 2, 0)),
        (("lon", "lat", "wavenumber"), (1, 0, 2)),
        (("energy", "row", "col"), (1, 2, 0)),
    ],
)
def test_common_dim_names_in_any_order(dims, order):
    data = np.random.default_rng(0).random((5, 4, 12)).astype(np.float32)  # (y, x, band)
    stored = data.transpose(np.argsort(order))
    spectral = next(d for d in dims if d in ("wavelength", "wavenumber", "energy"))
    coord = xr.Variable(
        spectral, np.linspace(400, 900, 12), attrs={"units": "nm" if spectral == "wavelength" else "eV"}
    )
    array = xr.DataArray(stored, dims=dims, coords={spectral: coord})
    cube = chemmap.Cube.from_xarray(array)
    assert cube.shape == (5, 4, 12)
    assert np.array_equal(cube.data, data)
    assert cube.axis.unit == ("nm" if spectral == "wavelength" else "eV")


def test_a_descending_axis_is_sorted_with_its_data():
    data = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    array = xr.DataArray(data, dims=("y", "x", "wavenumber"), coords={"wavenumber": [1800.0, 1600.0, 1400.0, 1200.0]})
    array["wavenumber"].attrs["units"] = "1/cm"
    with pytest.warns(AxisOrderWarning, match="reversed"):
        cube = chemmap.Cube.from_xarray(array)
    assert list(cube.axis.values) == [1200.0, 1400.0, 1600.0, 1800.0]
    assert cube.axis.unit == "cm-1"
    assert np.array_equal(cube.data, data[..., ::-1])


def test_rioxarray_band_numbers_with_wavelength_attributes():
    """rioxarray gives dims (band, y, x), bands numbered 1..N and the ENVI wavelengths in attrs."""
    data = np.random.default_rng(1).random((3, 4, 5)).astype(np.float32)
    array = xr.DataArray(
        data,
        dims=("band", "y", "x"),
        coords={"band": [1, 2, 3]},
        attrs={"wavelength": "{0.45, 0.55, 0.65}", "wavelength_units": "Micrometers"},
    )
    cube = chemmap.Cube.from_xarray(array)
    assert cube.axis.unit == "nm"
    assert np.allclose(cube.axis.values, [450, 550, 650])
    assert np.array_equal(cube.data, data.transpose(1, 2, 0))


def test_rioxarray_band_descriptions_that_end_in_the_centre():
    names = ("Band 1 (1.2 Micrometers)", "Band 2 (1.4 Micrometers)", "Band 3 (1.6 Micrometers)")
    array = xr.DataArray(
        np.zeros((3, 2, 2)), dims=("band", "y", "x"), coords={"band": [1, 2, 3]}, attrs={"long_name": names}
    )
    cube = chemmap.Cube.from_xarray(array)
    assert cube.axis.unit == "nm" and np.allclose(cube.axis.values, [1200, 1400, 1600])
    plain = array.assign_attrs(long_name=("red", "green", "blue"))
    assert chemmap.Cube.from_xarray(plain).axis.unit == "channel"


def test_without_coordinates_the_channels_are_numbered():
    cube = chemmap.Cube.from_xarray(xr.DataArray(np.zeros((2, 2, 3)), dims=("y", "x", "band")))
    assert cube.axis.unit == "channel" and list(cube.axis.values) == [0, 1, 2]


def test_a_map_cube_keeps_its_map_names():
    maps = chemmap.Cube.from_maps({"fat": np.ones((2, 3)), "lean": np.zeros((2, 3))})
    back = chemmap.Cube.from_xarray(maps.to_xarray())
    assert back.map_names == ("fat", "lean")
    assert np.array_equal(back["fat"], np.ones((2, 3)))


def test_unclear_dims_and_datasets_are_refused_with_the_fix():
    with pytest.raises(ShapeError, match="rename"):
        chemmap.Cube.from_xarray(xr.DataArray(np.zeros((2, 2, 3)), dims=("a", "b", "c")))
    with pytest.raises(ShapeError, match="three"):
        chemmap.Cube.from_xarray(xr.DataArray(np.zeros((2, 3)), dims=("y", "band")))
    two = xr.Dataset({"r": (("y", "x", "band"), np.zeros((2, 2, 3))), "t": (("y", "x", "band"), np.ones((2, 2, 3)))})
    with pytest.raises(InvalidParameterError, match="variable="):
        chemmap.Cube.from_xarray(two)
    assert float(chemmap.Cube.from_xarray(two, variable="t").data.mean()) == 1.0
    with pytest.raises(InvalidParameterError, match="DataArray or Dataset"):
        chemmap.Cube.from_xarray(np.zeros((2, 2, 3)))


@pytest.mark.parametrize("store", ["cube.nc", "cube.zarr"])
def test_chemmap_read_opens_netcdf_and_zarr_written_by_xarray(cube, tmp_path, store):
    pytest.importorskip("h5netcdf", reason="NetCDF needs h5netcdf (the xarray extra)")
    dataset = cube.to_xarray().to_dataset(name="reflectance")
    path = tmp_path / store
    if store.endswith(".nc"):
        dataset.to_netcdf(path)
    else:
        dataset.to_zarr(path, consolidated=False)
    read = chemmap.read(path)
    assert read.attrs["reader"] == "xarray" and read.is_lazy
    assert_cube_equal(read.to_numpy(), cube)


def test_chemmaps_own_zarr_stores_keep_their_reader(cube, tmp_path):
    chemmap.write(cube, tmp_path / "own.zarr")
    assert chemmap.read(tmp_path / "own.zarr").attrs["reader"] == "zarr"


def test_run_results_as_a_dataset(tmp_path):
    cube = make_cube(shape=(12, 10), n_channels=40, random_state=0)
    axis = SpectralAxis(np.linspace(1000, 1800, 40), "cm-1")
    cube = cube.replace(axis=axis)
    result = chemmap.run_cube(
        cube, {"clustering": {"k": 2, "method": "spectral-spatial"}, "unmixing": {"components": 2}}
    )
    dataset = result.to_xarray()
    assert dataset["cluster_labels"].dims == ("y", "x")
    assert np.array_equal(dataset["cluster_labels"].values, result.label_image)
    probabilities = dataset["cluster_probabilities"]
    assert probabilities.dims == ("y", "x", "cluster") and probabilities.sizes["cluster"] == 2
    assert np.allclose(probabilities.sum("cluster"), 1.0, atol=1e-4)
    assert dataset["abundances"].dims == ("y", "x", "component")
    assert np.allclose(dataset["abundances"].values, result.unmixing.abundances)
    assert dataset["endmembers"].sizes["band"] == 40
    assert "silhouette" in dataset.attrs["metrics"]
