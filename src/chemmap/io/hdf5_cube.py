"""HDF5 cube files: the ``chemmap-cube`` layout and other files holding a 3-D cube.

The layout (see ``chemmap.io._cube_layout``) puts the cube in ``/cube`` with the axis and
unit as root attributes. In other files the cube is chosen among the 3-D datasets, images
(RGB previews, thumbnails) last (see ``chemmap.io._hdf5_datasets``); ``cube_key`` names it,
``axis_key`` a dataset with the channel positions, ``layout`` a channels-first cube.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from chemmap._shared.compute import ensure_bytes_fit
from chemmap.core.cube import Cube
from chemmap.core.exceptions import ChemmapError, FileFormatError
from chemmap.io._build import check_declared_shape, lazy_view, unreadable_file
from chemmap.io._cube_layout import cube_attrs, cube_chunks, cube_from_parts, iter_row_blocks
from chemmap.io._hdf5_datasets import axis_unit_of, choose_cube, cube_candidates, hdf5_kind
from chemmap.io._registry import ReaderEntry, WriterEntry, readers, writers
from chemmap.io._spectral_dim import move_spectral_last
from chemmap.io.xarray_store import NETCDF_SUFFIXES, holds_xarray_cube

__all__ = ["read_hdf5_cube", "write_hdf5_cube"]


def read_hdf5_cube(
    path,
    *,
    cube_key: str | None = None,
    axis_key: str | None = None,
    axis_unit: str | None = None,
    layout: str = "auto",
    dtype=None,
    lazy: bool = False,
) -> Cube:
    """Read a cube from HDF5.

    Parameters
    ----------
    path : str or Path
    cube_key : str, optional
        Dataset holding the cube; default ``cube``, else the 3-D dataset with a stated spectral
        axis, else the largest one that is not an image (see ``chemmap.io._hdf5_datasets``).
    axis_key : str, optional
        Dataset holding the channel positions (default: the ``axis`` root attribute, a
        dimension scale or a 1-D dataset named like ``wavelength``).
    axis_unit : str, optional
        Converts a stated unit of the same kind, or labels an axis whose unit the file omits.
    layout : {"auto", "bands_last", "bands_first"}
        Where the spectral dimension is; ``auto`` takes what the file states, else last.
    dtype : dtype, optional
        Convert the data; by default the stored type is kept.
    lazy : bool
        Keep the file open and return a Dask array over the dataset.
    """
    import h5py

    path = Path(path)
    try:
        fh = h5py.File(path, "r")
    except OSError as exc:
        raise unreadable_file("hdf5-cube", path, exc) from None
    try:
        candidates = cube_candidates(fh)
        chosen = choose_cube(candidates, cube_key, path.name)
        attrs = {k: fh.attrs[k] for k in fh.attrs if k != "axis_unit" or axis_key is None}
        attrs = {k: v.decode() if isinstance(v, bytes) else v for k, v in attrs.items()}
        source_axis = axis_key or (chosen.axis_name if "axis" not in attrs else None)
        if source_axis is not None:
            if source_axis not in fh or not isinstance(fh[source_axis], h5py.Dataset):
                raise FileFormatError(f"{path} has no dataset {source_axis!r} for the axis.")
            attrs["axis"] = np.asarray(fh[source_axis][()], dtype=np.float64).reshape(-1)
            attrs["axis_unit"] = axis_unit_of(fh[source_axis]) or attrs.get("axis_unit")
        ds = fh[chosen.name]
        check_declared_shape(ds.shape, ds.dtype, path)
        if not lazy:
            ensure_bytes_fit(
                ds.nbytes,
                what=f"the dataset {chosen.name!r} of {path.name} ({' x '.join(map(str, ds.shape))} {ds.dtype})",
                fix="read it lazily (lazy=true; --read-option lazy=true), raise --memory-limit, or crop it",
            )
        data = lazy_view(ds, reader="hdf5-cube", path=path) if lazy else ds[()]
        axis_length = len(attrs["axis"]) if attrs.get("axis") is not None else None
        data, layout_note = move_spectral_last(
            data, layout, source=path.name, labels=chosen.labels, axis_length=axis_length, stated=chosen.spectral_dim
        )
        mask, labels = (_image_dataset(fh, name, path) for name in ("mask", "labels"))
    finally:
        if not lazy:
            fh.close()
    cube = cube_from_parts(
        data,
        attrs,
        mask=mask,
        labels=labels,
        source=path.name,
        dtype=dtype,
        fmt="hdf5-cube",
        requested_unit=axis_unit,
    )
    others = [c.describe() for c in candidates if c.name != chosen.name]
    cube.attrs.update({"dataset": chosen.describe(), "other_datasets": others})
    if layout_note:
        cube.attrs["layout_note"] = layout_note
    return cube


def _image_dataset(fh, name: str, path: Path):
    """The mask or label image ``name`` of the file (None when absent), its declared size
    checked against the memory limit before it is read."""
    if name not in fh:
        return None
    ds = fh[name]
    ensure_bytes_fit(getattr(ds, "nbytes", 0), what=f"the dataset {name!r} of {path.name}", fix="check the file")
    return ds[()]


def write_hdf5_cube(cube: Cube, path, *, compression: str | None = "gzip") -> None:
    """Write ``cube`` in the ``chemmap-cube`` layout, block by block and atomically."""
    import h5py

    from chemmap._shared.atomic import atomic_path

    chunks = cube_chunks(cube.data.shape, cube.dtype.itemsize)
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as fh:
        fh.attrs.update(cube_attrs(cube))
        ds = fh.create_dataset("cube", shape=cube.data.shape, dtype=cube.dtype, chunks=chunks, compression=compression)
        for start, block in iter_row_blocks(cube.data, chunks[0]):
            ds[start : start + block.shape[0]] = block
        if cube.mask is not None:
            fh.create_dataset("mask", data=cube.mask)
        if cube.labels is not None:
            fh.create_dataset("labels", data=cube.labels.astype(np.int32))


def declared_hdf5_bytes(path, *, cube_key: str | None = None, **_) -> int:
    """Bytes of the dataset :func:`read_hdf5_cube` would read, from the file's metadata (0 when
    it cannot tell: the reader then says why)."""
    import h5py

    try:
        with h5py.File(path, "r") as fh:
            return int(fh[choose_cube(cube_candidates(fh), cube_key, Path(path).name).name].nbytes)
    except (OSError, KeyError, ValueError, ChemmapError):
        return 0


def _is_hdf5_cube(path: Path) -> bool:
    if path.suffix.lower() in NETCDF_SUFFIXES and holds_xarray_cube(path):
        return False  # the xarray reader knows its dims and coordinates
    return hdf5_kind(path) == "cube"


readers.register(
    "hdf5-cube",
    ReaderEntry(
        "hdf5-cube",
        (".h5", ".hdf5", ".he5", ".nc"),
        read_hdf5_cube,
        "HDF5 cube (height, width, n_channels), axis in attributes",
        sniff=_is_hdf5_cube,
        declared_bytes=declared_hdf5_bytes,
    ),
)
writers.register(
    "hdf5-cube", WriterEntry("hdf5-cube", (".h5", ".hdf5"), write_hdf5_cube, "HDF5 cube layout", by_suffix=False)
)
