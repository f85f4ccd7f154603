"""The ``chemmap-cube`` layout shared by the HDF5 and Zarr cube files.

::

    /                 attrs: layout="chemmap-cube", layout_version=1, source,
                             axis (list of float), axis_unit (str),
                             fwhm (list, optional), bad_bands (list of bool, optional),
                             label_names (JSON {"0": "name", ...}, optional)
    /cube             (height, width, n_channels), chunked by pixels, never across channels
    /mask             (height, width) bool, optional   True = pixel belongs to the sample
    /labels           (height, width) int32, optional  -1 = unlabelled
"""

from __future__ import annotations

import json

import numpy as np

from chemmap.core.cube import Cube
from chemmap.core.exceptions import FileFormatError

__all__ = ["LAYOUT", "cube_attrs", "cube_chunks", "cube_from_parts", "iter_row_blocks"]

LAYOUT = "chemmap-cube"


def cube_attrs(cube: Cube) -> dict:
    """Root attributes describing ``cube``'s axis, labels and source (JSON-safe)."""
    attrs = {
        "layout": LAYOUT,
        "layout_version": 1,
        "source": str(cube.attrs.get("source", "")),
        "axis": [float(v) for v in cube.axis.values],
        "axis_unit": cube.axis.unit,
    }
    if cube.axis.fwhm is not None:
        attrs["fwhm"] = [float(v) for v in cube.axis.fwhm]
    if cube.axis.bad_bands is not None:
        attrs["bad_bands"] = [bool(v) for v in cube.axis.bad_bands]
    if cube.labels is not None:
        attrs["label_names"] = json.dumps({str(k): v for k, v in cube.label_names.items()})
    return attrs


def cube_chunks(shape, itemsize: int, *, chunk_bytes: int = 16 * 2**20) -> tuple[int, int, int]:
    """Chunks of whole spectra, about ``chunk_bytes`` each, in bands of rows."""
    from chemmap._shared.blockwise import bounded_chunks

    return bounded_chunks(shape, itemsize, block_bytes=chunk_bytes)


def iter_row_blocks(data, rows: int):
    """``(start, block)`` over bands of ``rows`` rows, each block in memory (Dask computed)."""
    for start in range(0, int(data.shape[0]), rows):
        block = data[start : start + rows]
        yield start, np.asarray(block.compute() if hasattr(block, "compute") else block)


def cube_from_parts(
    data, attrs, *, mask=None, labels=None, source: str, dtype=None, fmt: str, requested_unit: str | None = None
) -> Cube:
    """Rebuild a Cube from the layout's data and root attributes (``requested_unit``: the
    user's ``axis_unit=``, see :func:`chemmap.io._build.build_cube`)."""
    from chemmap.io._build import build_cube

    axis = attrs.get("axis")
    if axis is not None and len(axis) != data.shape[-1]:
        raise FileFormatError(
            f"{source}: the axis attribute has {len(axis)} values but the cube has {data.shape[-1]} channels."
        )
    names = attrs.get("label_names")
    label_names = None
    if names is not None:
        label_names = {int(k): v for k, v in json.loads(names if isinstance(names, str) else names.decode()).items()}
    return build_cube(
        data,
        axis,
        None if attrs.get("axis_unit") is None else str(attrs["axis_unit"]),
        source=source,
        requested_unit=requested_unit,
        mask=mask,
        labels=labels,
        label_names=label_names,
        dtype=dtype,
        fwhm=attrs.get("fwhm"),
        bad_bands=attrs.get("bad_bands"),
        attrs={"format": fmt, "original_source": str(attrs.get("source", ""))},
    )
