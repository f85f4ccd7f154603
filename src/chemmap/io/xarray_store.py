"""NetCDF files and Zarr stores written by xarray (``Dataset.to_netcdf``, ``to_zarr``).

The store is opened with xarray, lazily by default (the stored chunks, regrouped into
blocks of whole spectra within the memory limit's block budget), and its one 3-D variable
becomes a Cube by :meth:`chemmap.core.cube.Cube.from_xarray`: the dims name the spectral
axis and the image's rows and columns; the spectral coordinate and its ``units`` give the
axis.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from chemmap._shared.blockwise import bounded_chunks
from chemmap.core.cube import Cube
from chemmap.core.optional import optional_import
from chemmap.core.xarray_bridge import SPECTRAL_DIM_NAMES
from chemmap.io._build import check_declared_shape
from chemmap.io._registry import ReaderEntry, file_head, readers

__all__ = ["NETCDF_SUFFIXES", "holds_xarray_cube", "read_xarray_store"]

NETCDF_SUFFIXES = (".nc", ".nc4", ".cdf", ".netcdf")
#: First bytes of a NetCDF file: classic (CDF1, CDF2, CDF5) or NetCDF-4 (HDF5).
_NETCDF_SIGNATURES = (b"CDF\x01", b"CDF\x02", b"CDF\x05", b"\x89HDF\r\n\x1a\n")


def read_xarray_store(path, *, variable: str | None = None, axis_unit: str | None = None, lazy: bool = True) -> Cube:
    """Read a NetCDF file or a Zarr store written by xarray.

    Parameters
    ----------
    path : str or Path
    variable : str, optional
        The data variable holding the cube; needed when there are several 3-D variables.
    axis_unit : str, optional
        Unit of the spectral axis where the store states none (or one of the same kind to
        convert to).
    lazy : bool
        Return a Dask array (default) instead of reading it all.
    """
    xr = optional_import("xarray", extra="xarray", purpose="Reading NetCDF and xarray Zarr stores")
    path = Path(path)
    if path.is_dir():
        dataset = xr.open_zarr(path, chunks={} if lazy else None, consolidated=_consolidated(path))
    else:
        dataset = xr.open_dataset(path, chunks={} if lazy else None)
    cube = Cube.from_xarray(dataset, variable=variable, axis_unit=axis_unit)
    if cube.is_lazy:
        itemsize = np.dtype(cube.dtype).itemsize
        check_declared_shape(cube.shape, cube.dtype, path)
        cube = cube.replace(data=cube.data.rechunk(bounded_chunks(cube.shape, itemsize, file_chunks=None)))
    cube.attrs.setdefault("source", path.name)
    cube.attrs["format"] = "xarray"
    return cube


def holds_xarray_cube(path: Path) -> bool:
    """True for a NetCDF file with a 3-D variable whose dims name a spectral axis (so that
    the HDF5 cube reader leaves it to this one); False where xarray is not installed."""
    if not file_head(path, 8).startswith(_NETCDF_SIGNATURES):
        return False
    try:
        import xarray as xr

        with xr.open_dataset(path, chunks={}) as dataset:
            return any(
                var.ndim == 3 and any(str(d).lower() in SPECTRAL_DIM_NAMES for d in var.dims)
                for var in dataset.data_vars.values()
            )
    except Exception:
        return False


def _consolidated(path: Path) -> bool:
    """Whether a Zarr store keeps its metadata consolidated (v2 ``.zmetadata``, v3 in ``zarr.json``)."""
    if (path / ".zmetadata").is_file():
        return True
    try:
        return bool(json.loads((path / "zarr.json").read_text(encoding="utf-8")).get("consolidated_metadata"))
    except (OSError, ValueError):
        return False


def _written_by_xarray(path: Path) -> bool:
    """A NetCDF file holding a cube, or a Zarr group whose arrays carry xarray's dimension names."""
    if not path.is_dir():
        return holds_xarray_cube(path)
    for meta in [*path.glob("*/zarr.json"), *path.glob("*/.zattrs")]:
        try:
            text = json.loads(meta.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if (
            text.get("dimension_names")
            or "_ARRAY_DIMENSIONS" in text
            or "_ARRAY_DIMENSIONS" in text.get("attributes", {})
        ):
            return not (path / "cube").is_dir()
    return False


readers.register(
    "xarray",
    ReaderEntry(
        "xarray",
        (*NETCDF_SUFFIXES, ".zarr", ""),
        read_xarray_store,
        "NetCDF file or Zarr store written by xarray (one 3-D variable), read lazily",
        sniff=_written_by_xarray,
    ),
)
