"""TIFF stacks, MATLAB v5/v7.3, Zarr, HDF5 cubes, Parquet and vendor files: real files on disk."""

import json

import h5py
import numpy as np
import pytest
import scipy.io

from chemmap.cli import main
from chemmap.core.axis import SpectralAxis
from chemmap.core.cube import Cube
from chemmap.core.exceptions import FileFormatError, ShapeError
from chemmap.io import convert, read, write, writers
from chemmap.testing import assert_cube_equal

tifffile = pytest.importorskip("tifffile", reason="TIFF support is the 'formats' extra")

RNG = np.random.default_rng(7)
STACK = RNG.random((12, 5, 6)).astype(np.float32)  # (bands, H, W)
HWC = STACK.transpose(1, 2, 0)


def test_tiff_multipage_bands_first(tmp_path):
    tifffile.imwrite(tmp_path / "s.tif", STACK)
    cube = read(tmp_path / "s.tif")
    np.testing.assert_array_equal(cube.data, HWC)
    assert cube.axis.unit == "channel" and len(cube.axis) == 12


def test_tiff_samples_last_and_axis_option(tmp_path):
    tifffile.imwrite(tmp_path / "s.tif", HWC, photometric="minisblack", planarconfig="contig")
    axis = np.linspace(900, 1700, 12)
    cube = read(tmp_path / "s.tif", axis=axis, axis_unit="nm")
    np.testing.assert_array_equal(cube.data, HWC)
    np.testing.assert_allclose(cube.axis.values, axis)
    tifffile.imwrite(tmp_path / "plain.tif", HWC)  # no axis information: pages would be rows
    np.testing.assert_array_equal(read(tmp_path / "plain.tif", layout="bands_last").data, HWC)


def test_imagej_hyperstack_with_numeric_labels(tmp_path):
    labels = [f"{v:.1f}" for v in np.linspace(1000, 1100, 12)]
    tifffile.imwrite(tmp_path / "ij.tif", STACK[None], imagej=True, metadata={"axes": "ZCYX", "Labels": labels})
    cube = read(tmp_path / "ij.tif", axis_unit="cm-1")
    np.testing.assert_array_equal(cube.data, HWC)
    assert cube.axis.start == 1000.0 and cube.axis.unit == "cm-1"


def test_tiff_writer_round_trip_and_lazy(tmp_path):
    cube = Cube(HWC, SpectralAxis(np.linspace(400, 1000, 12), "nm"))
    write(cube, tmp_path / "w.tif")
    assert tifffile.imread(tmp_path / "w.tif").shape == (12, 5, 6)
    back = read(tmp_path / "w.tif")
    assert back.axis == cube.axis
    lazy = read(tmp_path / "w.tif", lazy=True)
    assert lazy.is_lazy
    np.testing.assert_array_equal(lazy.data.compute(), HWC)


@pytest.mark.parametrize("layout", ["bands_first", "bands_last"])
@pytest.mark.parametrize("shape", [(2, 3, 3), (1, 1, 40), (5, 1, 7), (1, 4, 9)])
def test_tiff_round_trip_of_small_images(tmp_path, shape, layout):
    # (2, 3, 3) was written as one RGB page; a stack of one column or one pixel as one page,
    # whose axes put the bands among the rows: read back (3, 2, 3) / (40, 1, 1), axis lost
    data = RNG.random(shape).astype(np.float32)
    cube = Cube(data, SpectralAxis(np.linspace(1.0, 9.0, shape[2]), "keV"))
    from chemmap.io.tiff import write_tiff

    write_tiff(cube, tmp_path / "s.tif", layout=layout)
    for lazy in (False, True):
        back = read(tmp_path / "s.tif", lazy=lazy)
        assert back.shape == shape and back.axis == cube.axis
        np.testing.assert_array_equal(np.asarray(back.data), data)


def test_mat_v5_cube_labels_and_axis(tmp_path):
    labels = RNG.integers(0, 3, (5, 6)).astype(np.uint8)
    scipy.io.savemat(tmp_path / "c.mat", {"X": HWC, "gt": labels, "wavelength": np.linspace(400, 900, 12)})
    cube = read(tmp_path / "c.mat", axis_unit="nm")
    np.testing.assert_array_equal(cube.data, HWC)
    assert cube.axis.start == 400 and cube.axis.unit == "nm"
    np.testing.assert_array_equal(cube.labels, np.where(labels == 0, -1, labels.astype(int)))  # 0 = unlabelled
    assert cube.attrs["labels_variable"] == "gt"


def test_mat_v73_written_with_h5py(tmp_path):
    # MATLAB v7.3 is HDF5 with a 512-byte user block, arrays stored in column-major order
    path = tmp_path / "v73.mat"
    with h5py.File(path, "w", userblock_size=512) as fh:
        fh.create_dataset("cube", data=HWC.T)
        fh.create_dataset("labels", data=(np.arange(30).reshape(5, 6) % 4).T.astype(np.float64))
    with open(path, "r+b") as fh:
        text = b"MATLAB 7.3 MAT-file, written by the chemmap test suite".ljust(116, b" ")
        fh.write(text + b"\0" * 8 + b"\x00\x02IM")
    cube = read(path)
    assert cube.attrs["reader"] == "mat"
    np.testing.assert_array_equal(cube.data, HWC)
    assert cube.labels[1, 1] == (7 % 4)


@pytest.mark.parametrize("order", ["F", "C"])
def test_mat_bands_by_pixels_matrix(tmp_path, order):
    matrix = HWC.reshape(-1, 12, order="C").T if order == "C" else HWC.transpose(1, 0, 2).reshape(-1, 12).T
    scipy.io.savemat(tmp_path / "flat.mat", {"Y": matrix})
    cube = read(tmp_path / "flat.mat", image_shape=(5, 6), order=order)
    np.testing.assert_array_equal(cube.data, HWC)
    with pytest.raises(FileFormatError, match="give image_shape"):
        read(tmp_path / "flat.mat")
    with pytest.raises(ShapeError, match="cannot hold 4x4 = 16 pixels"):
        read(tmp_path / "flat.mat", image_shape=(4, 4), cube_key="Y")


@pytest.mark.data
def test_indian_pines_and_samson_open(shared_data):
    ip = read(
        shared_data / "indian_pines" / "IP_200_M.mat", labels_file=shared_data / "indian_pines" / "Indian_pines_gt.mat"
    )
    assert ip.data.shape == (145, 145, 200) and ip.dtype == np.uint8
    assert len(ip.label_names) == 16 and int((ip.labels >= 0).sum()) == 10249
    samson = read(shared_data / "samson" / "samson_1.mat")
    assert samson.data.shape == (95, 95, 156)
    assert samson.attrs["image_shape_source"] == "the nRow/nCol variables of samson_1.mat"

    from chemmap.datasets import load_samson

    scene = load_samson(shared_data / "samson")
    assert scene.abundances.map_names == ("Soil", "Tree", "Water")
    np.testing.assert_allclose(scene.abundances.data.sum(axis=-1), 1.0, atol=1e-5)
    water = scene.abundances["Water"] > 0.9
    # water is dark in the near infrared: the mean NIR reflectance of water pixels is the lowest
    nir = scene.cube.axis.values > 750
    means = {m: scene.cube.data[scene.abundances[m] > 0.9][:, nir].mean() for m in scene.abundances.map_names}
    assert water.sum() == 1264 and min(means, key=means.get) == "Water"


@pytest.fixture
def labelled_cube():
    data = RNG.random((4, 5, 8)).astype(np.float32)
    data[0, 0] = np.nan
    mask = np.ones((4, 5), bool)
    mask[0, 0] = False
    axis = SpectralAxis(np.linspace(1000, 1700, 8), "cm-1", fwhm=[4.0] * 8, bad_bands=[0] * 7 + [1])
    labels = np.arange(20).reshape(4, 5) % 3
    return Cube(data, axis, mask=mask, labels=labels, label_names={0: "a", 1: "b", 2: "c"})


def test_zarr_round_trip_is_lazy_and_computes_nothing(tmp_path, labelled_cube):
    import dask

    write(labelled_cube, tmp_path / "c.zarr")
    meta = json.loads((tmp_path / "c.zarr" / "zarr.json").read_text())
    assert meta["attributes"]["axis_unit"] == "cm-1" and len(meta["attributes"]["axis"]) == 8
    back = read(tmp_path / "c.zarr")
    assert back.is_lazy and back.data.chunks[-1] == (8,)
    with dask.config.set(scheduler="sync"):
        assert_cube_equal(back.to_numpy(), labelled_cube)
    write(back, tmp_path / "c.zarr")  # overwriting a store replaces it whole
    assert_cube_equal(read(tmp_path / "c.zarr", lazy=False), labelled_cube)


def test_zarr_writes_unsigned_long_long_counts(tmp_path):
    counts = np.arange(24, dtype=np.ulonglong).reshape(2, 3, 4)  # as RosettaSciIO reads Bruker .spx
    write(Cube(counts, SpectralAxis(np.arange(4.0), "keV")), tmp_path / "c.zarr")  # "no Zarr data type" before
    back = read(tmp_path / "c.zarr", lazy=False)
    assert back.dtype == np.uint64 and back.axis.unit == "keV"
    np.testing.assert_array_equal(back.data, counts)


def test_zarr_writes_the_chunks_of_empty_pixels_too(tmp_path):
    from chemmap.io.zarr_cube import write_zarr

    counts = np.zeros((8, 4, 16), np.uint16)  # an EDS map whose lower half holds no counts
    counts[:4] = RNG.integers(1, 50, (4, 4, 16))
    write_zarr(Cube(counts, SpectralAxis(np.arange(16.0), "keV")), tmp_path / "c.zarr", chunk_mb=0.0005)
    back = read(tmp_path / "c.zarr", lazy=False)  # "4 of the 8 chunks are missing" before
    np.testing.assert_array_equal(back.data, counts)


def test_hdf5_cube_and_parquet_round_trips(tmp_path, labelled_cube):
    write(labelled_cube, tmp_path / "c.h5", format="hdf5-cube")
    assert_cube_equal(read(tmp_path / "c.h5"), labelled_cube)
    assert read(tmp_path / "c.h5").attrs["reader"] == "hdf5-cube"
    lazy = read(tmp_path / "c.h5", lazy=True)
    np.testing.assert_array_equal(lazy.data[1:3].compute(), labelled_cube.data[1:3])
    pytest.importorskip("pyarrow", reason="Parquet is the 'formats' extra")
    write(labelled_cube, tmp_path / "c.parquet")
    back = read(tmp_path / "c.parquet", label_column="label")
    assert back.axis.unit == "cm-1" and back.image_shape == (4, 5)
    np.testing.assert_allclose(back.data[back.mask], labelled_cube.data[labelled_cube.mask])
    assert not back.mask[0, 0]


def test_vendor_ripple_file_through_rosettasciio(tmp_path):
    ripple = pytest.importorskip("rsciio.ripple", reason="vendor formats are the 'vendor' extra")
    counts = RNG.integers(0, 500, (4, 5, 64)).astype(np.uint16)
    axes = [
        {"name": "y", "size": 4, "offset": 0, "scale": 1, "units": "um", "navigate": True},
        {"name": "x", "size": 5, "offset": 0, "scale": 1, "units": "um", "navigate": True},
        {"name": "Energy", "size": 64, "offset": -0.2, "scale": 0.01, "units": "keV", "navigate": False},
    ]
    meta = {"General": {"title": "t"}, "Signal": {"signal_type": "EDS_SEM"}}
    meta["Acquisition_instrument"] = {"SEM": {"beam_energy": 20}}
    ripple.file_writer(
        str(tmp_path / "m.rpl"), {"data": counts, "axes": axes, "metadata": meta, "original_metadata": {}}
    )
    vendor = read(tmp_path / "m.rpl", format="vendor")
    assert vendor.attrs["rsciio_plugin"] == "Ripple"
    own = read(tmp_path / "m.rpl")  # chemmap's memory-mapped ripple reader reads HyperSpy's files too
    assert own.attrs["reader"] == "ripple"
    for cube in (vendor, own):
        assert cube.dtype == np.uint16  # raw counts stay integers
        np.testing.assert_array_equal(cube.data, counts)
        assert cube.axis.unit == "keV"
        np.testing.assert_allclose(cube.axis.values[[0, -1]], [-0.2, -0.2 + 0.63])


SUFFIX = {"envi": ".hdr", "csv-flat": ".csv", "hdf5-flat": ".h5", "hdf5-cube": ".h5", "npz": ".npz",
          "parquet": ".parquet", "ripple": ".rpl", "tiff": ".tif", "zarr": ".zarr"}  # fmt: skip


@pytest.mark.parametrize("writer", sorted(writers.names()))
def test_info_and_convert_work_for_every_format(tmp_path, capsys, labelled_cube, writer):
    if writer == "parquet":
        pytest.importorskip("pyarrow")
    source = tmp_path / f"in{SUFFIX[writer]}"
    write(labelled_cube, source, format=writer)
    assert main(["info", str(source), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["image_shape"] == [4, 5] and summary["n_channels"] == 8
    assert main(["convert", str(source), str(tmp_path / "out.zarr")]) == 0
    back = read(tmp_path / "out.zarr").to_numpy()
    np.testing.assert_allclose(back.axis.values, labelled_cube.axis.values)
    np.testing.assert_allclose(back.data[1:], labelled_cube.data[1:], rtol=1e-6)


def test_convert_api_and_no_reader_error(tmp_path, labelled_cube):
    write(labelled_cube, tmp_path / "a.npz")
    cube = convert(tmp_path / "a.npz", tmp_path / "a.hdr", interleave="bil")
    back = read(tmp_path / "a.hdr")  # ENVI keeps data, axis (fwhm, bad bands) and the NaN pixel, not labels
    assert back.axis == cube.axis and back.labels is None
    np.testing.assert_array_equal(back.valid_pixels(), cube.valid_pixels())
    np.testing.assert_array_equal(back.data, cube.data)
    (tmp_path / "x.weird").write_text("?")
    with pytest.raises(FileFormatError, match=r"Installed readers: .*envi.*pip install 'chemmap\[vendor\]'"):
        read(tmp_path / "x.weird")


def test_a_small_file_declaring_a_huge_cube_is_read_lazily_or_refused_before_allocating(tmp_path):
    import tracemalloc
    import zipfile

    import h5py

    from chemmap import compute_settings
    from chemmap.core.exceptions import MemoryLimitError
    from chemmap.io import describe

    with h5py.File(tmp_path / "declared.h5", "w") as f:  # 60 MB declared, never written
        f.create_dataset("cube", shape=(600, 500, 50), dtype="f4", chunks=(100, 100, 50))
    assert (tmp_path / "declared.h5").stat().st_size < 10_000
    zeros = np.zeros((400, 500, 50), np.float32)  # 40 MB that compress to almost nothing
    np.savez_compressed(tmp_path / "bomb.npz", cube=zeros, axis=np.arange(50.0))
    assert zipfile.ZipFile(tmp_path / "bomb.npz").infolist()[0].compress_size < 200_000
    with compute_settings(memory_limit="64MiB"):
        tracemalloc.start()
        cube = read(tmp_path / "declared.h5")  # more than a quarter of the limit: lazily
        assert cube.is_lazy and describe(cube)["n_pixels"] == 300_000
        with pytest.raises(MemoryLimitError, match=r"lazy=true"):
            read(tmp_path / "declared.h5", lazy=False)
        with pytest.raises(MemoryLimitError, match=r"400 x 500 x 50 float32"):
            read(tmp_path / "bomb.npz")
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert peak < 30e6  # less than either declared array (60 and 40 MB): neither was allocated
