"""ENVI: round trips with Spectral Python, header fields, memory mapping and hostile headers."""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chemmap.core.axis import SpectralAxis
from chemmap.core.cube import Cube
from chemmap.core.exceptions import ChemmapError, FileFormatError, InputFileNotFoundError
from chemmap.io import read, write
from chemmap.io._build import is_memory_mapped

envi = pytest.importorskip("spectral.io.envi", reason="Spectral Python (dev extra) is the independent implementation")

DTYPES = [np.uint8, np.int16, np.uint16, np.int32, np.float32, np.float64]
WAVELENGTHS = [450.0, 550.5, 650.0, 750.25, 850.0]


def _random_cube(dtype, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.random((6, 7, len(WAVELENGTHS))) * 200).astype(dtype)


@pytest.mark.parametrize("interleave", ["bsq", "bil", "bip"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("byteorder", [0, 1])
def test_spectral_files_read_identically(tmp_path, interleave, dtype, byteorder):
    data = _random_cube(dtype)
    meta = {
        "wavelength": WAVELENGTHS,
        "wavelength units": "Nanometers",
        "fwhm": [10, 11, 12, 13, 14],
        "bbl": [1, 1, 0, 1, 1],
    }
    envi.save_image(
        str(tmp_path / "s.hdr"), data, interleave=interleave, byteorder=byteorder, metadata=meta, ext=".img"
    )
    cube = read(tmp_path / "s.hdr")
    assert cube.attrs["reader"] == "envi"
    assert cube.dtype.name == np.dtype(dtype).name
    np.testing.assert_array_equal(np.asarray(cube.data), data)
    assert list(cube.axis.values) == WAVELENGTHS and cube.axis.unit == "nm"
    assert list(cube.axis.fwhm) == [10, 11, 12, 13, 14]
    assert list(cube.axis.bad_bands) == [False, False, True, False, False]
    assert read(tmp_path / "s.img").axis == cube.axis  # the data file finds its header


@pytest.mark.parametrize("interleave", ["bsq", "bil", "bip"])
@pytest.mark.parametrize("dtype", [np.uint16, np.float32, np.float64])
def test_chemmap_files_read_back_by_spectral(tmp_path, interleave, dtype):
    data = _random_cube(dtype, seed=1)
    cube = Cube(data, SpectralAxis(WAVELENGTHS, "nm", fwhm=[5] * 5, bad_bands=[0, 0, 0, 0, 1]))
    write(cube, tmp_path / "c.hdr", interleave=interleave, byte_order="big")
    image = envi.open(str(tmp_path / "c.hdr"))
    back = image.open_memmap()
    assert back.dtype.name == np.dtype(dtype).name
    np.testing.assert_array_equal(np.asarray(back), data)
    assert [float(v) for v in image.metadata["wavelength"]] == WAVELENGTHS
    assert [int(v) for v in image.metadata["bbl"]] == [1, 1, 1, 1, 0]
    assert read(tmp_path / "c.hdr").axis == cube.axis


def _write_raw(tmp_path, data: np.ndarray, header: str, name="r") -> os.PathLike:
    (tmp_path / f"{name}.img").write_bytes(data.tobytes())
    (tmp_path / f"{name}.hdr").write_text(header)
    return tmp_path / f"{name}.hdr"


def test_offset_ignore_value_scale_and_units(tmp_path):
    data = np.arange(2 * 3 * 4, dtype="<i2").reshape(2, 3, 4) + 10  # bip (lines, samples, bands)
    data[1, 2] = -9999
    (tmp_path / "r.img").write_bytes(b"\0" * 128 + data.tobytes())
    (tmp_path / "r.hdr").write_text(
        "ENVI\nsamples = 3\nlines = 2\nbands = 4\nheader offset = 128\ndata type = 2\ninterleave = bip\n"
        "byte order = 0\ndata ignore value = -9999\nreflectance scale factor = 10000\n"
        "wavelength units = Micrometers\nwavelength = {\n 1.0, 1.5,\n 2.0, 2.5}\n"
    )
    cube = read(tmp_path / "r.hdr")
    assert cube.axis.unit == "nm" and list(cube.axis.values) == [1000.0, 1500.0, 2000.0, 2500.0]  # µm become nm
    assert cube.dtype == np.float32
    np.testing.assert_allclose(cube.data[0, 0], data[0, 0] / 10000)
    assert cube.mask is not None and not cube.mask[1, 2] and cube.mask.sum() == 5
    raw = read(tmp_path / "r.hdr", apply_scale=False)
    assert raw.dtype == np.int16 and raw.data[0, 0, 0] == 10


def test_data_stay_memory_mapped_and_lazy_matches(tmp_path):
    lines, samples, bands = 2000, 1000, 200  # 800 MB of float32 that never gets read
    path = tmp_path / "big.img"
    with open(path, "wb") as fh:
        fh.truncate(lines * samples * bands * 4)
    (tmp_path / "big.hdr").write_text(
        f"ENVI\nsamples = {samples}\nlines = {lines}\nbands = {bands}\n"
        "data type = 4\ninterleave = bil\nbyte order = 0\n"
    )
    cube = read(tmp_path / "big.hdr")
    assert is_memory_mapped(cube.data) and cube.image_shape == (lines, samples)
    lazy = read(tmp_path / "big.hdr", lazy=True)
    assert lazy.is_lazy and lazy.data.chunks[-1] == (bands,)
    np.testing.assert_array_equal(lazy.data[5:7, 3:5].compute(), np.asarray(cube.data[5:7, 3:5]))


HEADER = "ENVI\nsamples = 3\nlines = 2\nbands = 4\ndata type = 4\ninterleave = bsq\nbyte order = 0\n"


@pytest.mark.parametrize(
    ("header", "n_bytes", "match"),
    [
        (  # 10^12 pixels: refused from the file size, nothing allocated
            HEADER.replace("lines = 2", "lines = 1000000").replace("samples = 3", "samples = 1000000"),
            96,
            r"r.img: the header \(samples=1000000, lines=1000000.*declares 16,000,000,000,000 bytes.*holds 96",
        ),
        (HEADER, 50, r"declares 96 bytes of data but the file holds 50"),
        (HEADER.replace("data type = 4", "data type = 6"), 96, r"'data type' = 6 is not supported"),
        (HEADER.replace("data type = 4", "data type = 99"), 96, r"'data type' = 99 is not supported"),
        (HEADER.replace("samples = 3\n", ""), 96, r"r.hdr: the required field 'samples' is missing"),
        (HEADER.replace("interleave = bsq", "interleave = bxx"), 96, r"'interleave' must be bsq, bil or bip"),
        (HEADER + "wavelength = {1, 2}\n", 96, r"'wavelength' has 2 values but the header declares 4 bands"),
        ("NOT ENVI\n", 96, r"not an ENVI header"),
    ],
)
def test_bad_headers_give_clear_errors(tmp_path, header, n_bytes, match):
    (tmp_path / "r.img").write_bytes(b"\0" * n_bytes)
    (tmp_path / "r.hdr").write_text(header)
    with pytest.raises(FileFormatError, match=match):
        read(tmp_path / "r.hdr", format="envi")


def test_data_file_outside_the_header_folder_is_refused(tmp_path):
    (tmp_path / "secret.img").write_bytes(b"\0" * 96)
    folder = tmp_path / "scene"
    folder.mkdir()
    (folder / "r.hdr").write_text(HEADER + "data file = ../secret.img\n")
    with pytest.raises(FileFormatError, match="outside the header's folder"):
        read(folder / "r.hdr")
    (folder / "q.hdr").write_text(HEADER)
    with pytest.raises(InputFileNotFoundError, match="No data file found for the ENVI header"):
        read(folder / "q.hdr")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    samples=st.integers(-2, 10**7),
    lines=st.integers(-2, 10**7),
    bands=st.integers(-2, 300),
    dtype=st.sampled_from([1, 2, 3, 4, 5, 6, 9, 12, 13, 14, 15, 0, 7]),
    offset=st.integers(-5, 200),
    interleave=st.sampled_from(["bsq", "bil", "bip", "xyz"]),
    order=st.integers(-1, 2),
    n_bytes=st.integers(0, 4000),
)
def test_random_headers_give_a_chemmap_error_or_a_correct_cube(
    tmp_path, samples, lines, bands, dtype, offset, interleave, order, n_bytes
):
    payload = np.random.default_rng(n_bytes).integers(0, 256, n_bytes, dtype=np.uint8).tobytes()
    (tmp_path / "h.img").write_bytes(payload)
    (tmp_path / "h.hdr").write_text(
        f"ENVI\nsamples = {samples}\nlines = {lines}\nbands = {bands}\ndata type = {dtype}\n"
        f"header offset = {offset}\ninterleave = {interleave}\nbyte order = {order}\n"
    )
    try:
        cube = read(tmp_path / "h.hdr")
    except ChemmapError:
        return
    codes = {1: "u1", 2: "i2", 3: "i4", 4: "f4", 5: "f8", 12: "u2", 13: "u4", 14: "i8", 15: "u8"}
    expected_dtype = np.dtype(codes[dtype]).newbyteorder(">" if order else "<")
    raw = np.frombuffer(payload, dtype=expected_dtype, count=samples * lines * bands, offset=offset)
    shape = {"bsq": (bands, lines, samples), "bil": (lines, bands, samples), "bip": (lines, samples, bands)}
    order_hwc = {"bsq": (1, 2, 0), "bil": (0, 2, 1), "bip": (0, 1, 2)}
    expected = raw.reshape(shape[interleave]).transpose(order_hwc[interleave])
    np.testing.assert_array_equal(np.asarray(cube.data), expected)
