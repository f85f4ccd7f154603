"""HDF5 cube files: ``(height, width, n_channels)`` in the ``chemmap-cube`` layout.

The layout (see ``chemmap.io._cube_layout``) puts the cube in ``/cube`` with the axis and
unit as root attributes. Other files with one 3-D dataset are read too (``cube_key`` names
it when there are several; ``axis_key`` a dataset with the channel positions).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from chemmap.core.cube import Cube
from chemmap.core.exceptions import FileFormatError
from chemmap.io._build import lazy_view
from chemmap.io._cube_layout import LAYOUT, cube_attrs, cube_chunks, cube_from_parts, iter_row_blocks
from chemmap.io._registry import ReaderEntry, WriterEntry, readers, writers
from chemmap.io.flat_hdf5 import datasets_3d, is_hdf5

__all__ = ["read_hdf5_cube", "write_hdf5_cube"]


def read_hdf5_cube(
    path,
    *,
    cube_key: str | None = None,
    axis_key: str | None = None,
    axis_unit: str | None = None,
    dtype=None,
    lazy: bool = False,
) -> Cube:
    """Read a cube from HDF5.

    Parameters
    ----------
    path : str or Path
    cube_key : str, optional
        Dataset holding ``(height, width, n_channels)``; default ``cube`` or the only 3-D one.
    axis_key : str, optional
        Dataset holding the channel positions (default: the ``axis`` root attribute).
    axis_unit : str, optional
        Unit, when the file does not say.
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
        raise FileFormatError(f"{path} is not a readable HDF5 file ({exc}).") from None
    try:
        candidates = datasets_3d(fh)
        key = cube_key or ("cube" if "cube" in candidates else None)
        if key is None:
            if len(candidates) != 1:
                raise FileFormatError(
                    f"{path}: expected one 3-D dataset (height, width, n_channels); found {candidates or 'none'}. "
                    "To fix this, pass cube_key= with the dataset's name."
                )
            key = candidates[0]
        if key not in fh or not isinstance(fh[key], h5py.Dataset) or fh[key].ndim != 3:
            raise FileFormatError(f"{path}: {key!r} is not a 3-D dataset; 3-D datasets are {candidates}.")
        attrs = {k: fh.attrs[k] for k in fh.attrs}
        if axis_key is not None:
            if axis_key not in fh:
                raise FileFormatError(f"{path} has no dataset {axis_key!r} for the axis.")
            attrs["axis"] = fh[axis_key][()]
            attrs["axis_unit"] = fh[axis_key].attrs.get("unit", attrs.get("axis_unit", "channel"))
        if axis_unit is not None:
            attrs["axis_unit"] = axis_unit
        attrs = {k: v.decode() if isinstance(v, bytes) else v for k, v in attrs.items()}
        ds = fh[key]
        data = lazy_view(ds) if lazy else ds[()]
        mask = fh["mask"][()] if "mask" in fh else None
        labels = fh["labels"][()] if "labels" in fh else None
    finally:
        if not lazy:
            fh.close()
    return cube_from_parts(data, attrs, mask=mask, labels=labels, source=path.name, dtype=dtype, fmt="hdf5-cube")


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


def _is_hdf5_cube(path: Path) -> bool:
    if not is_hdf5(path):
        return False
    import h5py

    try:
        with h5py.File(path, "r") as fh:
            return fh.attrs.get("layout") == LAYOUT or bool(datasets_3d(fh))
    except OSError:
        return False


readers.register(
    "hdf5-cube",
    ReaderEntry(
        "hdf5-cube",
        (".h5", ".hdf5", ".he5", ".nc"),
        read_hdf5_cube,
        "HDF5 cube (height, width, n_channels), axis in attributes",
        sniff=_is_hdf5_cube,
    ),
)
writers.register(
    "hdf5-cube", WriterEntry("hdf5-cube", (".h5", ".hdf5"), write_hdf5_cube, "HDF5 cube layout", by_suffix=False)
)
