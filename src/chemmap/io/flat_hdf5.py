"""Flat HDF5 files: per-pixel spectra as rows, plus the axis and the image shape.

Layout written and read by chemmap (``layout = "chemmap-flat"``, version 1)::

    /                 attrs: layout="chemmap-flat", layout_version=1,
                             image_shape=[height, width], source (optional)
    /spectra          (n_pixels, n_channels) float32   one spectrum per row
    /axis             (n_channels,) float64            attrs: unit ("cm-1", "nm", "keV", ...)
    /pixel_x          (n_pixels,) int32, optional      column of each row (0-based)
    /pixel_y          (n_pixels,) int32, optional      row of each row (0-based)
    /mask             (n_pixels,) bool, optional       True = pixel belongs to the sample
    /labels           (n_pixels,) int32, optional      class per row, -1 = unlabelled
                                                       attrs: names = JSON {"0": "name", ...}

Without pixel_x/pixel_y, rows are row-major (``pixel_id = row * width + col``). Files
from other tools with the same datasets under other names are read with ``spectra_key``,
``axis_key`` and friends; ``image_shape`` may then be given as an option.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from chemmap.core.cube import Cube
from chemmap.core.exceptions import FileFormatError
from chemmap.io._build import unreadable_file
from chemmap.io._flat import assemble_flat
from chemmap.io._hdf5_datasets import FLAT_LAYOUT, cube_candidates, decode_text, hdf5_kind
from chemmap.io._registry import ReaderEntry, WriterEntry, readers, writers

__all__ = ["read_flat_hdf5", "write_flat_hdf5"]


def _is_flat_hdf5(path: Path) -> bool:
    """An HDF5 file that is not a cube: the chemmap flat layout, or one without a 3-D dataset
    other than images."""
    return hdf5_kind(path) == "flat"


def _h5py():
    from chemmap.core.optional import optional_import

    return optional_import("h5py", extra="hdf5", purpose="Reading and writing HDF5 files")


def read_flat_hdf5(
    path,
    *,
    image_shape=None,
    spectra_key: str = "spectra",
    axis_key: str = "axis",
    labels_key: str = "labels",
    axis_unit: str | None = None,
    dtype=np.float32,
) -> Cube:
    """Read a flat HDF5 file (layout in the module docstring).

    Parameters
    ----------
    path : str or Path
        The ``.h5``/``.hdf5`` file.
    image_shape : (int, int), optional
        Overrides (or supplies) the file's ``image_shape`` attribute.
    spectra_key, axis_key, labels_key : str
        Dataset names, for files written by other tools.
    axis_unit : str, optional
        Unit when the axis dataset carries no ``unit`` attribute (default ``"channel"``).
    dtype : dtype
        Data type of the spectra.
    """
    h5py = _h5py()
    path = Path(path)
    try:
        fh = h5py.File(path, "r")
    except OSError as exc:
        raise unreadable_file("hdf5-flat", path, exc) from None
    with fh:
        if spectra_key not in fh:
            images = [c.describe() for c in cube_candidates(fh)]
            if images:
                raise FileFormatError(
                    f"{path.name} holds no spectral cube: its 3-D datasets are images ({'; '.join(images)}) and it "
                    f"has no flat {spectra_key!r} table. To fix this, pass format='hdf5-cube' with cube_key= if "
                    "one of them holds spectra after all."
                )
            raise FileFormatError(
                f"{path} has no dataset {spectra_key!r}. Expected the chemmap flat layout "
                f"(/spectra, /axis, image_shape attribute); found {sorted(fh.keys())}. To fix "
                "this, pass spectra_key= and axis_key= with the names used in the file."
            )
        spectra_ds = fh[spectra_key]
        if spectra_ds.ndim != 2:
            raise FileFormatError(
                f"{path}: dataset {spectra_key!r} has shape {spectra_ds.shape}; expected (n_pixels, n_channels)."
            )
        n_channels = spectra_ds.shape[1]
        if axis_key in fh:
            axis_ds = fh[axis_key]
            axis_values = axis_ds[()]
            unit = axis_unit or decode_text(axis_ds.attrs.get("unit", "channel"))
        else:
            axis_values, unit = np.arange(n_channels, dtype=np.float64), axis_unit or "channel"
        shape = image_shape if image_shape is not None else fh.attrs.get("image_shape")
        if image_shape is not None:
            shape_source = "given by the user"
        else:
            shape_source = f"the image_shape attribute of {path.name}" if shape is not None else None
        optional = {key: fh[key][()] for key in ("pixel_x", "pixel_y", "mask") if key in fh}
        labels = names = None
        if labels_key in fh:
            labels = fh[labels_key][()]
            raw = fh[labels_key].attrs.get("names")
            names = {int(k): v for k, v in json.loads(decode_text(raw)).items()} if raw is not None else None
        spectra = spectra_ds[()]
        source = decode_text(fh.attrs.get("source", path.name))
    cube = assemble_flat(
        spectra,
        axis_values,
        unit=unit,
        source=path.name,
        image_shape=None if shape is None else tuple(np.asarray(shape).tolist()),
        pixel_x=optional.get("pixel_x"),
        pixel_y=optional.get("pixel_y"),
        mask=optional.get("mask"),
        labels=labels,
        label_names=names,
        dtype=dtype,
        attrs={"format": "hdf5-flat", "original_source": source},
    )
    if shape_source is not None:
        cube.attrs["image_shape_source"] = shape_source
    return cube


def write_flat_hdf5(cube: Cube, path, *, compression: str | None = "gzip") -> None:
    """Write ``cube`` in the chemmap flat HDF5 layout, atomically."""
    from chemmap._shared.atomic import atomic_path

    h5py = _h5py()
    cube = cube.to_numpy()
    h, w = cube.image_shape
    ids = np.arange(cube.n_pixels)
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as fh:
        fh.attrs["layout"] = FLAT_LAYOUT
        fh.attrs["layout_version"] = 1
        fh.attrs["image_shape"] = np.array([h, w], dtype=np.int64)
        fh.attrs["source"] = str(cube.attrs.get("source", ""))
        fh.create_dataset("spectra", data=cube.pixels(), compression=compression)
        axis = fh.create_dataset("axis", data=cube.axis.values)
        axis.attrs["unit"] = cube.axis.unit
        fh.create_dataset("pixel_x", data=(ids % w).astype(np.int32))
        fh.create_dataset("pixel_y", data=(ids // w).astype(np.int32))
        if cube.mask is not None:
            fh.create_dataset("mask", data=cube.mask.reshape(-1))
        if cube.labels is not None:
            labels = fh.create_dataset("labels", data=cube.labels.reshape(-1).astype(np.int32))
            labels.attrs["names"] = json.dumps({str(k): v for k, v in cube.label_names.items()})


readers.register(
    "hdf5-flat",
    ReaderEntry(
        "hdf5-flat",
        (".h5", ".hdf5", ".he5"),
        read_flat_hdf5,
        "flat HDF5: /spectra (n_pixels, n_channels), /axis, image_shape attribute",
        sniff=_is_flat_hdf5,
    ),
)
writers.register("hdf5-flat", WriterEntry("hdf5-flat", (".h5", ".hdf5"), write_flat_hdf5, "flat HDF5"))
