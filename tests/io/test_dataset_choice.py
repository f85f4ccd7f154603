"""Readers that choose right: spectra over RGB previews, channels-first cubes, vendor HDF5
flavours by signature, MATLAB structs and PLS_Toolbox DataSet objects. Real files on disk,
written here with h5py and SciPy as instruments lay them out."""

import h5py
import numpy as np
import pytest
import scipy.io
from scipy.io.matlab import MatlabObject

from chemmap.cli import main
from chemmap.core.exceptions import DataWarning, FileFormatError
from chemmap.io import describe, read

RNG = np.random.default_rng(11)
WAVELENGTH_NM = np.linspace(400.0, 780.0, 32)
CUBE = RNG.random((6, 5, 32)).astype(np.float32)  # (H, W, C)
PREVIEW = RNG.integers(0, 255, (40, 40, 3), dtype=np.uint8)


def _with_preview(path, *, cube_name="spectra/data", axis_name="spectra/wavelength"):
    with h5py.File(path, "w") as fh:
        fh.create_dataset("Preview/Image", data=PREVIEW)  # larger than the spectra, as in instrument files
        fh.create_dataset(cube_name, data=CUBE)
        fh.create_dataset(axis_name, data=WAVELENGTH_NM).attrs["units"] = "nm"
    return path


def test_hdf5_prefers_spectra_over_a_larger_rgb_preview(tmp_path):
    cube = read(_with_preview(tmp_path / "cl.h5"))
    np.testing.assert_array_equal(cube.data, CUBE)
    assert cube.axis.unit == "nm"
    np.testing.assert_allclose(cube.axis.values, WAVELENGTH_NM)
    summary = describe(cube)
    assert summary["dataset"].startswith("spectra/data (6 x 5 x 32")
    assert summary["other_datasets"] == ["Preview/Image (40 x 40 x 3 uint8 image)"]


def test_info_names_the_dataset_read_and_the_others(tmp_path, capsys):
    assert main(["info", str(_with_preview(tmp_path / "cl.h5"))]) == 0
    out = capsys.readouterr().out
    assert "read: spectra/data" in out and "not read): Preview/Image" in out


def test_hdf5_with_only_images_is_refused_and_says_so(tmp_path):
    with h5py.File(tmp_path / "pics.h5", "w") as fh:
        fh.create_dataset("thumbnail", data=PREVIEW)
    for fmt in (None, "hdf5-cube"):
        with pytest.raises(FileFormatError, match="holds no spectral cube.*thumbnail"):
            read(tmp_path / "pics.h5", format=fmt)


def test_hdf5_two_cubes_the_file_does_not_tell_apart_are_refused(tmp_path):
    with h5py.File(tmp_path / "two.h5", "w") as fh:
        fh["raw"] = CUBE
        fh["corrected"] = CUBE * 2
    with pytest.raises(FileFormatError, match="cube_key"):
        read(tmp_path / "two.h5")
    np.testing.assert_array_equal(read(tmp_path / "two.h5", cube_key="corrected").data, CUBE * 2)


def test_hdf5_channels_first_found_by_dimension_scale(tmp_path):
    with h5py.File(tmp_path / "xrf.h5", "w") as fh:
        data = fh.create_dataset("maps/counts", data=CUBE.transpose(2, 0, 1))  # (C, H, W)
        energy = fh.create_dataset("maps/energy", data=np.linspace(1.0, 16.5, 32))
        energy.attrs["units"] = "keV"
        energy.make_scale("energy")
        data.dims[0].attach_scale(energy)
    cube = read(tmp_path / "xrf.h5")
    np.testing.assert_array_equal(cube.data, CUBE)
    assert cube.axis.unit == "keV" and cube.axis.values[-1] == pytest.approx(16.5)
    assert "moved last" in cube.attrs["layout_note"]


def test_hdf5_channels_first_by_nexus_axes_and_by_option(tmp_path):
    with h5py.File(tmp_path / "nx.h5", "w") as fh:
        group = fh.create_group("entry/data")
        group.attrs["signal"] = "data"
        group.attrs["axes"] = ["wavelength", "y", "x"]
        group["data"] = CUBE.transpose(2, 0, 1)
        group["wavelength"] = WAVELENGTH_NM
        group["wavelength"].attrs["units"] = "nm"
    cube = read(tmp_path / "nx.h5")
    np.testing.assert_array_equal(cube.data, CUBE)
    with h5py.File(tmp_path / "bare.h5", "w") as fh:
        fh["stack"] = CUBE.transpose(2, 0, 1)
    np.testing.assert_array_equal(read(tmp_path / "bare.h5", layout="bands_first").data, CUBE)


def test_hdf5_channels_first_lazy_keeps_whole_spectra_per_chunk(tmp_path):
    with h5py.File(tmp_path / "bare.h5", "w") as fh:
        fh["stack"] = CUBE.transpose(2, 0, 1)
    cube = read(tmp_path / "bare.h5", layout="bands_first", lazy=True)
    assert cube.data.chunks[-1] == (32,)
    np.testing.assert_array_equal(cube.data.compute(), CUBE)


def test_npy_channels_first_by_axis_length_and_warning_without_it(tmp_path):
    stack = RNG.random((256, 8, 9)).astype(np.float32)  # (C, H, W), as beamlines write
    np.save(tmp_path / "xrf.npy", stack)
    cube = read(tmp_path / "xrf.npy", axis=np.arange(256) * 0.01, axis_unit="keV")
    assert cube.image_shape == (8, 9) and cube.n_channels == 256
    np.testing.assert_array_equal(cube.data[2, 3], stack[:, 2, 3])
    with pytest.warns(DataWarning, match="layout='bands_first'"):
        guessed = read(tmp_path / "xrf.npy")
    assert guessed.image_shape == (256, 8)  # read as stated, but the user was told
    assert read(tmp_path / "xrf.npy", layout="bands_first").image_shape == (8, 9)


def test_mat_channels_first_by_axis_variable(tmp_path):
    scipy.io.savemat(tmp_path / "c.mat", {"cube": CUBE.transpose(2, 0, 1), "wavelength": WAVELENGTH_NM})
    cube = read(tmp_path / "c.mat", axis_unit="nm")
    np.testing.assert_array_equal(cube.data, CUBE)
    np.testing.assert_allclose(cube.axis.values, WAVELENGTH_NM)


def _dataset_object(data, image_size, axis, axis_title):
    """A PLS_Toolbox DataSet object of type 'image' as MATLAB saves it (an old-style class)."""
    fields = ["name", "type", "data", "imagesize", "imagemode", "axisscale", "title"]
    obj = MatlabObject(np.zeros((1, 1), dtype=[(f, "O") for f in fields]), "dataset")
    scales = np.empty((2, 2), dtype=object)
    scales[0, 0], scales[1, 0] = np.zeros((1, 0)), axis[None, :]
    scales[0, 1], scales[1, 1] = "", ""
    titles = np.empty((2, 2), dtype=object)
    titles[0, 0], titles[1, 0], titles[0, 1], titles[1, 1] = "Pixels", axis_title, "", ""
    record = obj[0, 0]
    record["name"], record["type"], record["data"] = "tablet", "image", data
    record["imagesize"], record["imagemode"] = np.array([image_size]), 1
    record["axisscale"], record["title"] = scales, titles
    return obj


def test_mat_pls_toolbox_dataset_object(tmp_path):
    h, w = CUBE.shape[:2]
    shift = np.linspace(200.0, 1800.0, 32)
    unfolded = CUBE.transpose(1, 0, 2).reshape(h * w, 32)  # MATLAB column-major pixel order
    scipy.io.savemat(tmp_path / "dso.mat", {"tablet": _dataset_object(unfolded, (h, w), shift, "Raman shift (cm-1)")})
    cube = read(tmp_path / "dso.mat")
    np.testing.assert_allclose(cube.data, CUBE, rtol=1e-6)
    assert cube.axis.unit == "cm-1"
    np.testing.assert_allclose(cube.axis.values, shift)
    assert cube.attrs["mat_variable"] == "tablet.data"
    assert "tablet.imagesize" in cube.attrs["image_shape_source"]


def test_mat_plain_struct_with_cube_and_wavelength(tmp_path):
    export = {"cube": CUBE, "wavelength": WAVELENGTH_NM, "info": "exported"}
    scipy.io.savemat(tmp_path / "s.mat", {"export": export})
    cube = read(tmp_path / "s.mat", axis_unit="nm")
    np.testing.assert_array_equal(cube.data, CUBE)
    np.testing.assert_allclose(cube.axis.values, WAVELENGTH_NM)
    assert cube.attrs["axis_variable"] == "export.wavelength"


def test_mat_v73_struct_with_cell_axis(tmp_path):
    """v7.3 files are HDF5: structs are groups, cells are references to datasets elsewhere."""
    path = tmp_path / "v73.mat"
    with h5py.File(path, "w", userblock_size=512) as fh:
        group = fh.create_group("ds")
        group.attrs["MATLAB_class"] = np.bytes_("struct")
        group["data"] = CUBE.reshape(-1, 32, order="F").T  # stored transposed: MATLAB (pixels, C)
        group["imagesize"] = np.array([[6.0], [5.0]])
        refs = fh.create_group("#refs#")
        refs["a"] = np.zeros((0,))
        refs["b"] = WAVELENGTH_NM[:, None]
        cell = group.create_dataset("axisscale", (2, 1), dtype=h5py.ref_dtype)
        cell[0, 0], cell[1, 0] = refs["a"].ref, refs["b"].ref
    with open(path, "r+b") as fh:
        fh.write(b"MATLAB 7.3 MAT-file".ljust(128, b" "))
    cube = read(path, axis_unit="nm")
    assert cube.image_shape == (6, 5)
    np.testing.assert_allclose(cube.data, CUBE.reshape(30, 32, order="F").reshape(6, 5, 32, order="F"))
    np.testing.assert_allclose(cube.axis.values, WAVELENGTH_NM)


def _delmic_file(path):
    """A Delmic (Odemis) CL acquisition: 5-D (C, T, Z, Y, X) spectra, a survey image and an
    RGB preview, laid out as Odemis writes them."""
    with h5py.File(path, "w") as fh:
        fh.create_dataset("Preview/Image", data=PREVIEW)
        for i, (title, image, scale_c) in enumerate(
            [
                ("Spectrum", CUBE.transpose(2, 0, 1)[:, None, None], WAVELENGTH_NM * 1e-9),
                ("Secondary electrons survey", RNG.random((1, 1, 1, 12, 10)), None),
            ]
        ):
            acq = fh.create_group(f"Acquisition{i}")
            data = acq.create_group("ImageData")
            ds = data.create_dataset("Image", data=image)
            for dim, label in zip(ds.dims, "CTZYX", strict=True):
                dim.label = label
            if scale_c is not None:
                data["DimensionScaleC"] = scale_c
            data["DimensionScaleX"], data["DimensionScaleY"] = 1e-7, 1e-7
            data["XOffset"], data["YOffset"], data["TOffset"] = 0.0, 0.0, 1.7e9
            physical = acq.create_group("PhysicalData")
            physical["Title"] = np.bytes_(title)
            physical["ChannelDescription"] = np.array([np.bytes_(title)])
            for item in physical.values():
                item.attrs["State"] = np.array([112])  # Odemis: how far the value can be trusted
            svi = acq.create_group("SVIData")
            svi["Company"], svi["WriterVersion"] = np.bytes_("Delmic"), np.bytes_("odemis 3")
    return path


def test_delmic_hdf5_goes_to_the_vendor_reader_by_signature(tmp_path):
    pytest.importorskip("rsciio", reason="vendor formats are the 'vendor' extra")
    cube = read(_delmic_file(tmp_path / "cl.h5"))
    assert cube.attrs["reader"] == "vendor" and cube.attrs["rsciio_plugin"] == "Delmic"
    assert cube.image_shape == (6, 5) and cube.n_channels == 32
    assert cube.axis.unit == "nm"
    np.testing.assert_allclose(cube.axis.values, WAVELENGTH_NM, rtol=1e-9)
    np.testing.assert_allclose(cube.data, CUBE, rtol=1e-6)


def test_tofwerk_hdf5_depth_stack_read_as_its_sum(tmp_path):
    pytest.importorskip("rsciio", reason="vendor formats are the 'vendor' extra")
    fixtures = pytest.importorskip("rsciio.tests.generate_tofwerk_test_files", reason="RosettaSciIO's fixtures")
    path = tmp_path / "fib.h5"
    fixtures.make_opened_fixture(path)
    with pytest.warns(DataWarning, match="stack of 5 spectrum images"):
        cube = read(path)
    assert cube.attrs["rsciio_plugin"] == "Tofwerk"
    assert cube.image_shape == (16, 16) and cube.n_channels == 10
    assert cube.axis.unit == "m/z"
    np.testing.assert_allclose(cube.axis.values, np.arange(1.0, 11.0))
    with h5py.File(path, "r") as fh:
        expected = fh["PeakData/PeakData"][()].sum(axis=0)
    np.testing.assert_allclose(cube.data, expected.reshape(cube.data.shape), rtol=1e-5)


def test_zarr_channels_first_by_dimension_names(tmp_path):
    zarr = pytest.importorskip("zarr")
    store = zarr.create_array(
        store=str(tmp_path / "xrf.zarr"), shape=(32, 6, 5), dtype="float32", dimension_names=["energy", "y", "x"]
    )
    store[...] = CUBE.transpose(2, 0, 1)
    store.attrs["axis"] = list(np.linspace(1.0, 16.5, 32))
    store.attrs["axis_unit"] = "keV"
    cube = read(tmp_path / "xrf.zarr")
    np.testing.assert_array_equal(cube.data.compute(), CUBE)
    assert cube.axis.unit == "keV" and "moved last" in cube.attrs["layout_note"]


def test_maps_like_xrf_hdf5_takes_the_spectra_over_element_maps(tmp_path):
    """Synchrotron XRF (MAPS-like): (C, H, W) spectra beside (elements, H, W) fitted maps."""
    with h5py.File(tmp_path / "maps.h5", "w") as fh:
        fh["MAPS/mca_arr"] = CUBE.transpose(2, 0, 1)
        fh["MAPS/energy"] = np.linspace(0.0, 15.5, 32)
        fh["MAPS/XRF_roi"] = RNG.random((7, 6, 5))
        fh["MAPS/scalers"] = RNG.random((4, 6, 5))
    cube = read(tmp_path / "maps.h5", axis_unit="keV")
    assert "labels its values" in cube.attrs["axis_unit_note"]  # the file states no unit; info says so
    np.testing.assert_array_equal(cube.data, CUBE)
    assert cube.axis.unit == "keV" and cube.attrs["dataset"].startswith("MAPS/mca_arr")
    assert len(cube.attrs["other_datasets"]) == 2
