"""GeoTIFF metadata written by GDAL: band wavelengths, FWHM, bad-band list and nodata.

GDAL keeps them in two TIFF tags: ``GDAL_METADATA`` (42112), an XML list of ``<Item>``s,
either per band (``sample="i"``, e.g. ``wavelength``, ``fwhm``) or for the dataset in
ENVI's spelling (``domain="ENVI"``, ``{v1, v2, ...}`` lists with ``wavelength_units``), and
``GDAL_NODATA`` (42113), the fill value as text. EnMAP, PRISMA and DESIS products and
files converted by ``gdal_translate`` from ENVI carry them.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass

import numpy as np

__all__ = ["GdalMetadata", "bands_all_nodata", "gdal_metadata", "gdal_unit"]

GDAL_METADATA_TAG = 42112
GDAL_NODATA_TAG = 42113
_WAVELENGTH_NAMES = ("wavelength", "wavelengths", "center_wavelength", "central_wavelength", "wavelength_center")
_FWHM_NAMES = ("fwhm", "bandwidth", "band_width")
_BBL_NAMES = ("bbl", "bad_band_list", "good_band")
_UNIT_NAMES = ("wavelength_units", "wavelength units", "wavelength_unit", "units")


@dataclass(frozen=True)
class GdalMetadata:
    """What the GDAL tags of a TIFF state about its bands (``None`` where they are silent).

    Attributes
    ----------
    wavelength, fwhm : ndarray of shape (n_bands,) or None
        Band centres and widths, in ``unit``.
    unit : str or None
        As the file spells it (``Nanometers``, ``nm``, ``Micrometers``, ...).
    bad_bands : ndarray of bool or None
        True for a band the bad-band list marks bad (``bbl`` = 0).
    nodata : float or None
        The fill value of pixels without data.
    """

    wavelength: np.ndarray | None = None
    unit: str | None = None
    fwhm: np.ndarray | None = None
    bad_bands: np.ndarray | None = None
    nodata: float | None = None


def _numbers(text: str) -> list[float]:
    try:
        return [float(v) for v in re.split(r"[,\s]+", text.strip().strip("{}").strip()) if v]
    except ValueError:
        return []


def _tag_text(page, code: int) -> str | None:
    tag = page.tags.get(code)
    if tag is None:
        return None
    value = tag.value
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _per_band(items: list, names: tuple[str, ...], n_bands: int) -> np.ndarray | None:
    """A value per band: from ``sample="i"`` items, else from one dataset-level list."""
    values = np.full(n_bands, np.nan)
    for item in items:
        sample = item.get("sample")
        if (item.get("name") or "").lower() in names and sample is not None and sample.isdigit():
            found = _numbers(item.text or "")
            if found and int(sample) < n_bands:
                values[int(sample)] = found[0]
    if np.isfinite(values).all():
        return values
    for item in items:
        if (item.get("name") or "").lower() in names and item.get("sample") is None:
            found = _numbers(item.text or "")
            if len(found) == n_bands:
                return np.asarray(found)
    return None


def gdal_metadata(page, n_bands: int) -> GdalMetadata:
    """Read the GDAL tags of a tifffile page for a cube of ``n_bands`` bands."""
    nodata_text = _tag_text(page, GDAL_NODATA_TAG)
    nodata = None
    if nodata_text is not None and (found := _numbers(nodata_text.strip("\x00"))):
        nodata = found[0]
    xml = _tag_text(page, GDAL_METADATA_TAG)
    if not xml:
        return GdalMetadata(nodata=nodata)
    try:
        items = list(ElementTree.fromstring(xml.strip("\x00")).iter("Item"))
    except ElementTree.ParseError:
        return GdalMetadata(nodata=nodata)
    units = [(item.text or "").strip() for item in items if (item.get("name") or "").lower() in _UNIT_NAMES]
    bbl = _per_band(items, _BBL_NAMES, n_bands)
    return GdalMetadata(
        wavelength=_per_band(items, _WAVELENGTH_NAMES, n_bands),
        unit=next((u for u in units if u), None),
        fwhm=_per_band(items, _FWHM_NAMES, n_bands),
        bad_bands=None if bbl is None else bbl == 0,
        nodata=nodata,
    )


def bands_all_nodata(data, nodata: float) -> np.ndarray:
    """Bands that hold ``nodata`` in every pixel that has data in some band, shape (n_bands,)."""
    fill = np.asarray(data) == nodata
    has_data = ~fill.all(axis=-1)
    if not has_data.any():
        return np.zeros(fill.shape[-1], bool)
    return fill[has_data].all(axis=0)


def gdal_unit(raw: str | None) -> str | None:
    """A wavelength unit as GDAL files spell it (ENVI's ``Nanometers``, or ``nm``) in chemmap's
    spelling; None when it is missing or not a unit chemmap knows (the values then decide)."""
    from chemmap.core.axis import parse_unit
    from chemmap.core.exceptions import AxisError
    from chemmap.io.envi import ENVI_UNITS

    if raw is None:
        return None
    spelled = ENVI_UNITS.get(raw.strip().lower(), raw.strip())
    try:
        parse_unit(spelled)
    except AxisError:
        return None
    return spelled
