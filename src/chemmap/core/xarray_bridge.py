"""Cubes as xarray ``DataArray`` objects and back (the ``xarray`` extra).

A Cube becomes a DataArray with dims ``("y", "x", "band")``:

- ``band`` holds the channel positions (``attrs["units"]`` is the axis unit), or the map
  names of a map Cube; ``fwhm`` and ``bad_band`` ride along it where the axis has them;
- ``y`` and ``x`` hold pixel indices (row, column);
- ``mask`` (bool) and ``labels`` (int, ``-1`` unlabelled; ``attrs["label_names"]`` as JSON)
  are coordinates on ``("y", "x")``;
- ``attrs["chemmap"]`` is the Cube's provenance as JSON text (so NetCDF and Zarr can store it);
  ``attrs["source"]`` the file it came from.

A Dask-backed Cube gives a Dask-backed DataArray and back; nothing is computed either way.
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np

from chemmap.core.axis import SpectralAxis, resolve_axis_unit, sort_order
from chemmap.core.exceptions import InvalidParameterError, ShapeError
from chemmap.core.optional import optional_import

__all__ = ["DIMS", "SPATIAL_DIM_NAMES", "SPECTRAL_DIM_NAMES", "cube_from_xarray", "cube_to_xarray"]

#: The dims a Cube gets, in data order.
DIMS = ("y", "x", "band")
#: Names read as the spectral dim (lower case).
SPECTRAL_DIM_NAMES = (
    "band",
    "bands",
    "wavelength",
    "wavelengths",
    "wavenumber",
    "wavenumbers",
    "raman_shift",
    "energy",
    "channel",
    "channels",
    "spectral",
    "map",
)
#: Names read as rows (first) and columns (second), lower case.
SPATIAL_DIM_NAMES = (
    ("y", "lat", "latitude", "row", "rows", "line", "lines", "northing"),
    ("x", "lon", "longitude", "col", "cols", "column", "columns", "sample", "samples", "easting"),
)
#: Attributes where rioxarray (GDAL) keeps band centres and their unit.
_BAND_CENTRE_ATTRS = ("wavelength", "wavelengths", "center_wavelength")
_BAND_UNIT_ATTRS = ("wavelength_units", "wavelength_unit", "units")
#: A band description ending in its centre and unit: ``"Band 1 (450.0 Nanometers)"``.
_DESCRIBED_CENTRE = re.compile(r"\(\s*([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([A-Za-zµ]*)\s*\)\s*$")


def _xarray():
    return optional_import("xarray", extra="xarray", purpose="Converting to and from xarray")


def cube_to_xarray(cube):
    """The Cube as an ``xarray.DataArray`` with dims ``("y", "x", "band")`` (see the module)."""
    xr = _xarray()
    axis = cube.axis
    if axis.names is not None:
        band = xr.Variable("band", np.asarray(axis.names, dtype=object), attrs={"units": "map"})
    else:
        band = xr.Variable("band", axis.values, attrs={"units": axis.unit, "long_name": "spectral axis"})
    coords: dict[str, Any] = {
        "y": np.arange(cube.image_shape[0]),
        "x": np.arange(cube.image_shape[1]),
        "band": band,
    }
    if axis.fwhm is not None:
        coords["fwhm"] = ("band", axis.fwhm, {"units": axis.unit})
    if axis.bad_bands is not None:
        coords["bad_band"] = ("band", axis.bad_bands)
    if cube.mask is not None:
        coords["mask"] = (("y", "x"), np.asarray(cube.mask))
    if cube.labels is not None:
        names = json.dumps({str(k): v for k, v in (cube.label_names or {}).items()})
        coords["labels"] = (("y", "x"), np.asarray(cube.labels), {"label_names": names})
    attrs = {"chemmap": json.dumps(cube.attrs, default=str)}
    if isinstance(cube.attrs.get("source"), str):
        attrs["source"] = cube.attrs["source"]
    return xr.DataArray(cube.data, dims=DIMS, coords=coords, attrs=attrs, name=cube.attrs.get("name", "spectra"))


def cube_from_xarray(cube_class, data, *, variable: str | None = None, axis_unit: str | None = None):
    """A Cube from an ``xarray.DataArray`` (or a ``Dataset`` holding one 3-D variable).

    Parameters
    ----------
    cube_class : type
        :class:`~chemmap.core.cube.Cube` (this is what ``Cube.from_xarray`` calls).
    data : xarray.DataArray or xarray.Dataset
        Three dims: one spectral (named as in :data:`SPECTRAL_DIM_NAMES`: ``band``,
        ``wavelength``, ``wavenumber``, ``energy`` ...) and two spatial (``y``/``x``,
        ``lat``/``lon``, ``row``/``col`` ...), in any order.
    variable : str, optional
        The Dataset variable to read; needed when a Dataset holds several 3-D variables.
    axis_unit : str, optional
        The unit of the spectral axis where the DataArray states none (or a unit of the
        same kind to convert to).

    Returns
    -------
    Cube
        Lazy when ``data`` is Dask-backed. The spectral coordinate (or rioxarray's
        ``wavelength`` band attributes) gives the axis and its ``units`` attribute the unit;
        without either the channels are numbered. ``mask`` and ``labels`` coordinates, and
        the provenance written by :func:`cube_to_xarray`, come back.
    """
    xr = _xarray()
    da = _data_array(xr, data, variable)
    spectral, rows, cols = _dims(da)
    da = da.transpose(rows, cols, spectral)
    lazy = da.chunks is not None
    values = da.data if lazy else np.asarray(da.values)
    axis, order = _axis(da, spectral, axis_unit)
    if order is not None:
        values = values[..., order]
    mask = np.asarray(da.coords["mask"].values, bool) if "mask" in da.coords else None
    if not lazy and values.dtype.kind in "fc":
        finite = np.isfinite(values).all(axis=-1)
        if not finite.all():
            mask = finite if mask is None else mask & finite
    labels, label_names = None, None
    if "labels" in da.coords:
        labels = np.asarray(da.coords["labels"].values)
        label_names = {int(k): v for k, v in json.loads(da.coords["labels"].attrs.get("label_names", "{}")).items()}
    return cube_class(values, axis, mask=mask, labels=labels, label_names=label_names, attrs=_provenance(da))


def _data_array(xr, data, variable: str | None):
    if isinstance(data, xr.DataArray):
        return data
    if not isinstance(data, xr.Dataset):
        raise InvalidParameterError(f"from_xarray takes an xarray DataArray or Dataset; got {type(data).__name__}.")
    cubes = [name for name, var in data.data_vars.items() if var.ndim == 3]
    if variable is not None:
        if variable not in data.data_vars:
            raise InvalidParameterError(
                f"The Dataset has no variable {variable!r}; its variables are {sorted(map(str, data.data_vars))}."
            )
        return data[variable]
    if len(cubes) != 1:
        raise InvalidParameterError(
            f"The Dataset holds {len(cubes)} three-dimensional variables ({sorted(map(str, cubes))}); "
            "expected one. To fix this, pass variable= to name the cube."
        )
    return data[cubes[0]]


def _dims(da) -> tuple[str, str, str]:
    """The spectral dim and the row and column dims, by name."""
    dims = [str(d) for d in da.dims]
    if len(dims) != 3:
        raise ShapeError(
            f"The DataArray has dims {tuple(dims)}; a cube needs three: two spatial and one spectral "
            "(e.g. ('y', 'x', 'band'))."
        )
    spectral = [d for d in dims if d.lower() in SPECTRAL_DIM_NAMES]
    if len(spectral) != 1:
        raise ShapeError(
            f"Cannot tell the spectral dim among {tuple(dims)}: expected exactly one named "
            f"{', '.join(SPECTRAL_DIM_NAMES[:6])} (or another of {len(SPECTRAL_DIM_NAMES)} spectral names). "
            "To fix this, rename it: da.rename({'<dim>': 'band'})."
        )
    spatial = [d for d in dims if d != spectral[0]]
    rank = {name: i for i, names in enumerate(SPATIAL_DIM_NAMES) for name in names}
    if rank.get(spatial[0].lower()) == 1 or rank.get(spatial[1].lower()) == 0:
        spatial.reverse()
    return spectral[0], spatial[0], spatial[1]


def _axis(da, spectral: str, axis_unit: str | None) -> tuple[SpectralAxis, np.ndarray | None]:
    """The spectral axis of ``da`` and the channel order that sorts it (None when sorted)."""
    n = int(da.sizes[spectral])
    coord = da.coords.get(spectral)
    if coord is not None and coord.dtype.kind in "OUS":
        return SpectralAxis.from_names([str(v) for v in coord.values]), None
    values, stated = None, None
    if coord is not None:
        values = np.asarray(coord.values, dtype=np.float64)
        stated = coord.attrs.get("units") or coord.attrs.get("unit")
    if stated is None:
        values, stated = _band_attributes(da, n) or (values, None)
    if values is None:
        values = np.arange(n, dtype=np.float64)
    values, unit, factor, _ = resolve_axis_unit(values, stated, axis_unit, source=f"The {spectral!r} coordinate")
    order = sort_order(values, source=f"The {spectral!r} coordinate")
    extras: dict[str, Any] = {}
    if "fwhm" in da.coords and da.coords["fwhm"].dims == (spectral,):
        extras["fwhm"] = np.asarray(da.coords["fwhm"].values, dtype=np.float64) * factor
    if "bad_band" in da.coords and da.coords["bad_band"].dims == (spectral,):
        extras["bad_bands"] = np.asarray(da.coords["bad_band"].values, dtype=bool)
    if order is not None:
        values = values[order]
        extras = {k: v[order] for k, v in extras.items()}
    return SpectralAxis(values, unit, **extras), order


def _band_attributes(da, n: int) -> tuple[np.ndarray, str | None] | None:
    """Band centres kept in attributes (rioxarray reading an ENVI or GeoTIFF file): a
    ``wavelength`` list with ``wavelength_units``, or band descriptions (``long_name``) that
    each end in the centre, as ``"Band 1 (450.0 Nanometers)"``."""
    for name in _BAND_CENTRE_ATTRS:
        raw = da.attrs.get(name)
        if raw is None:
            continue
        if isinstance(raw, str):
            raw = raw.strip("{}[]() ").replace(",", " ").split()
        values = np.asarray(raw, dtype=np.float64).reshape(-1)
        if values.size == n:
            unit = next((str(da.attrs[u]) for u in _BAND_UNIT_ATTRS if u in da.attrs), None)
            return values, unit
    names = da.attrs.get("long_name")
    if isinstance(names, list | tuple) and len(names) == n:
        found = [_DESCRIBED_CENTRE.search(str(name)) for name in names]
        if all(found):
            units = {m.group(2) for m in found}
            stated = units.pop() if len(units) == 1 and "" not in units else None
            unit = stated or next((str(da.attrs[u]) for u in _BAND_UNIT_ATTRS if u in da.attrs), None)
            return np.array([float(m.group(1)) for m in found]), unit
    return None


def _provenance(da) -> dict:
    written = da.attrs.get("chemmap")
    if isinstance(written, str):
        try:
            attrs = json.loads(written)
        except json.JSONDecodeError:
            attrs = None
        if isinstance(attrs, dict):
            return attrs
    plain = {str(k): v for k, v in da.attrs.items() if isinstance(v, str | int | float | bool)}
    return {"source": str(plain.get("source", da.name or "xarray")), "xarray_attrs": plain}
