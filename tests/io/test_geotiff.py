"""GeoTIFF with GDAL metadata: wavelengths, FWHM, bad-band list and nodata, as EnMAP-like
products and gdal_translate write them (the GDAL_METADATA and GDAL_NODATA tags)."""

import numpy as np
import pytest

from chemmap.io import read

tifffile = pytest.importorskip("tifffile", reason="TIFF support is the 'formats' extra")

NODATA = -32768
N_BANDS = 12
WAVELENGTH_UM = np.linspace(0.42, 2.4, N_BANDS)


def _geotiff(path, xml: str, *, nodata=NODATA, fill_band=None):
    rng = np.random.default_rng(3)
    stack = rng.integers(100, 9000, (N_BANDS, 7, 8)).astype(np.int16)  # (bands, H, W), as GDAL writes
    if nodata is not None:
        stack[:, 0, :] = nodata  # a nodata edge row, as at a swath border
    if fill_band is not None:
        stack[fill_band] = nodata
    tags = [(42112, "s", 0, xml, True)]
    if nodata is not None:
        tags.append((42113, "s", 0, str(nodata), True))
    tifffile.imwrite(path, stack, extratags=tags)
    return stack


def _per_band_xml(values, fwhm, bbl) -> str:
    items = "".join(
        f'<Item name="wavelength" sample="{i}">{v}</Item><Item name="fwhm" sample="{i}">{f}</Item>'
        f'<Item name="wavelength_units" sample="{i}">Micrometers</Item>'
        for i, (v, f) in enumerate(zip(values, fwhm, strict=True))
    )
    envi = f'<Item name="bbl" domain="ENVI">{{{", ".join(str(b) for b in bbl)}}}</Item>'
    return f"<GDALMetadata>{items}{envi}</GDALMetadata>"


def test_geotiff_wavelengths_fwhm_and_bad_bands_from_gdal_metadata(tmp_path):
    bbl = [1] * N_BANDS
    bbl[5] = 0
    _geotiff(tmp_path / "scene.tif", _per_band_xml(WAVELENGTH_UM, [0.01] * N_BANDS, bbl))
    cube = read(tmp_path / "scene.tif")
    assert cube.axis.unit == "nm"
    np.testing.assert_allclose(cube.axis.values, WAVELENGTH_UM * 1000)
    np.testing.assert_allclose(cube.axis.fwhm, 10.0)
    assert np.flatnonzero(cube.axis.bad_bands).tolist() == [5]


def test_geotiff_nodata_masks_pixels_and_flags_empty_bands(tmp_path):
    envi = (
        '<GDALMetadata><Item name="wavelength" domain="ENVI">{'
        + ", ".join(f"{v * 1000:.1f}" for v in WAVELENGTH_UM)
        + '}</Item><Item name="wavelength_units" domain="ENVI">Nanometers</Item></GDALMetadata>'
    )
    _geotiff(tmp_path / "scene.tif", envi, fill_band=9)
    cube = read(tmp_path / "scene.tif")
    np.testing.assert_allclose(cube.axis.values, np.round(WAVELENGTH_UM * 1000, 1))
    valid = cube.valid_pixels().reshape(cube.image_shape)
    assert not valid[0].any() and valid[1:].all()  # the nodata row is masked, nothing else
    assert np.flatnonzero(cube.axis.bad_bands).tolist() == [9]
    assert "nodata" in cube.attrs["nodata_note"]


def test_geotiff_without_units_reads_wavelength_values_as_nm_with_a_warning(tmp_path):
    from chemmap.core.exceptions import DataWarning

    items = "".join(
        f'<Item name="wavelength" sample="{i}">{v * 1000 + 0.37:.2f}</Item>' for i, v in enumerate(WAVELENGTH_UM)
    )
    _geotiff(tmp_path / "scene.tif", f"<GDALMetadata>{items}</GDALMetadata>", nodata=None)
    with pytest.warns(DataWarning, match="read as nm"):
        cube = read(tmp_path / "scene.tif")
    assert cube.axis.unit == "nm"
