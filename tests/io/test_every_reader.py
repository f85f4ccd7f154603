"""A battery over every registered reader: it reads a file of its format back exactly, and a
file cut short (an interrupted copy) is one clear FileFormatError, eagerly and lazily, never a
parser's traceback and never a cube with rows of zeros or empty cells."""

import numpy as np
import pytest
import scipy.io

from chemmap.core.axis import SpectralAxis
from chemmap.core.cube import Cube
from chemmap.core.exceptions import FileFormatError
from chemmap.io import read, readers, write

DATA = (np.random.default_rng(0).random((12, 7, 16)) + 1).astype(np.float32)
AXIS = SpectralAxis(np.linspace(1000, 1700, 16), "cm-1")


def _written(fmt, suffix, data_suffix=None, **options):
    """A sample written by chemmap's own writer; the data file is ``data_suffix`` beside it."""

    def make(folder):
        import dask.array as da

        path = folder / f"c{suffix}"
        write(Cube(da.from_array(DATA, chunks=(4, 7, 16)), AXIS), path, format=fmt, **options)
        if fmt == "zarr":  # a chunk in the middle of the cube
            data_file = sorted(f for f in (path / "cube" / "c").rglob("*") if f.is_file())[1]
        else:
            data_file = path.with_suffix(data_suffix) if data_suffix else path
        return path, data_file, DATA

    return make


def _npy(folder):
    np.save(folder / "c.npy", DATA)
    return folder / "c.npy", folder / "c.npy", DATA


def _mat(folder):
    scipy.io.savemat(folder / "c.mat", {"cube": DATA})
    return folder / "c.mat", folder / "c.mat", DATA


def _datastack(folder):
    zarr = pytest.importorskip("zarr")
    from zarr.storage import ZipStore

    path = folder / "c.datastack"
    with ZipStore(path, mode="w") as store:
        group = zarr.open_group(store=store, mode="w")
        group.create_array("maxrf_cube_", data=DATA, chunks=(4, 7, 16))
        group.create_array("maxrf_energies_", data=np.linspace(1, 10, 16))
    return path, path, DATA


def _vendor(folder):
    ripple = pytest.importorskip("rsciio.ripple", reason="vendor formats are the 'vendor' extra")
    counts = (DATA * 100).astype(np.uint16)
    axes = [
        {"name": "y", "size": 12, "offset": 0, "scale": 1, "units": "um", "navigate": True},
        {"name": "x", "size": 7, "offset": 0, "scale": 1, "units": "um", "navigate": True},
        {"name": "Energy", "size": 16, "offset": 0, "scale": 0.01, "units": "keV", "navigate": False},
    ]
    meta = {"General": {"title": "t"}, "Signal": {"signal_type": ""}}
    path = folder / "c.rpl"
    ripple.file_writer(str(path), {"data": counts, "axes": axes, "metadata": meta, "original_metadata": {}})
    return path, path.with_suffix(".raw"), counts


def _xarray(folder):
    xr = pytest.importorskip("xarray", reason="NetCDF is the 'xarray' extra")
    pytest.importorskip("h5netcdf", reason="NetCDF is the 'xarray' extra")
    path = folder / "c.nc"
    band = xr.Variable("band", AXIS.values, attrs={"units": "cm-1"})
    xr.DataArray(DATA, dims=("y", "x", "band"), coords={"band": band}).to_dataset(name="r").to_netcdf(path)
    return path, path, DATA


SAMPLES = {
    "csv-flat": _written("csv-flat", ".csv"),
    "datastack": _datastack,
    "envi": _written("envi", ".hdr", ".img"),
    "hdf5-cube": _written("hdf5-cube", ".h5"),
    "hdf5-flat": _written("hdf5-flat", ".h5"),
    "mat": _mat,
    "npy": _npy,
    "npz": _written("npz", ".npz"),
    "parquet": _written("parquet", ".parquet"),
    "ripple": _written("ripple", ".rpl", ".raw"),
    "tiff": _written("tiff", ".tif"),
    "vendor": _vendor,
    "xarray": _xarray,
    "zarr": _written("zarr", ".zarr", chunk_mb=0.002),
}


def _sample(name, folder):
    if name == "parquet":
        pytest.importorskip("pyarrow", reason="Parquet is the 'formats' extra")
    if name == "tiff":
        pytest.importorskip("tifffile", reason="TIFF is the 'formats' extra")
    return SAMPLES[name](folder)


def _read_all(path, name, **options):
    cube = read(path, format=name, **options)
    return np.asarray(cube.to_numpy().data if cube.is_lazy else cube.data)


def test_every_registered_reader_has_a_sample():
    assert sorted(SAMPLES) == sorted(readers.names()), "a new reader needs a sample in this battery"


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_reader_reads_its_format_back_exactly(tmp_path, name):
    path, _, expected = _sample(name, tmp_path)
    data = _read_all(path, name)
    assert data.shape == expected.shape
    np.testing.assert_allclose(data, expected, rtol=1e-6)
    if "lazy" in readers.get(name).options:
        np.testing.assert_allclose(_read_all(path, name, lazy=True), expected, rtol=1e-6)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_a_file_cut_short_is_one_clear_error(tmp_path, name):
    path, data_file, _ = _sample(name, tmp_path)
    with open(data_file, "r+b") as fh:
        fh.truncate(data_file.stat().st_size * 2 // 3)
    for lazy in (False, True) if "lazy" in readers.get(name).options else (None,):
        options = {} if lazy is None else {"lazy": lazy}
        with pytest.raises(FileFormatError) as caught:
            _read_all(path, None, **options)  # the reader is found as a user's call finds it
        message = str(caught.value)
        assert "\n" not in message and (path.name in message or data_file.name in message), message
        assert any(word in message for word in ("truncated", "damaged", "cut off", "holds")), message


def test_a_zarr_store_missing_a_chunk_is_refused_unless_filling_is_asked_for(tmp_path):
    pytest.importorskip("zarr")
    path, chunk, _ = _sample("zarr", tmp_path)
    chunk.unlink()
    with pytest.raises(FileFormatError, match=r"1 of the 3 chunks .* missing .*missing_chunks='fill'"):
        read(path)
    filled = _read_all(path, "zarr", missing_chunks="fill")
    assert np.all(filled[4:8] == 0) and np.array_equal(filled[:4], DATA[:4])
