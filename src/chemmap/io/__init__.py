"""Reading and writing cubes: ``read(path, **options) -> Cube`` and ``write(cube, path)``.

Readers register by name (``chemmap.io.readers``); ``read`` picks one from the file's
suffix and signature unless ``format=`` names it.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

import numpy as np

from chemmap.core.cube import Cube
from chemmap.core.exceptions import ChemmapError, FileFormatError, InputFileNotFoundError, InvalidParameterError

# Importing the format modules registers their readers; the order is the order of guessing.
from chemmap.io import (  # noqa: F401
    datastack,
    envi,
    flat_csv,
    flat_hdf5,
    hdf5_cube,
    matlab,
    npy,
    parquet,
    ripple,
    tiff,
    vendor,
    xarray_store,
    zarr_cube,
)
from chemmap.io._build import unreadable_file
from chemmap.io._flat import factor_pairs
from chemmap.io._label_mask import apply_label_mask
from chemmap.io._registry import ReaderEntry, readers, writers

__all__ = ["convert", "describe", "factor_pairs", "read", "readers", "write", "writers"]


def _reader_for(path: Path, format: str | None) -> ReaderEntry:
    if format is not None:
        return readers.get(format)
    for name in readers:
        entry = readers.get(name)
        if entry.guess_can_open(path):
            return entry
    listing = "; ".join(f"{n} ({', '.join(s for s in readers.get(n).suffixes if s)})" for n in readers)
    what = "folder" if path.is_dir() else "file"
    claimed = [n for n in readers if path.suffix and path.suffix.lower() in readers.get(n).suffixes]
    if claimed:
        raise FileFormatError(
            f"The {what} {path.name} has the suffix of the {' or '.join(claimed)} reader but its contents do not "
            f"match that format ({path.stat().st_size:,} bytes): it may be damaged or truncated. To fix this, copy "
            "it again, or pass format='<reader>' if it is another format under this suffix."
        )
    raise FileFormatError(
        f"No reader can open the {what} {path.name}. Installed readers: {listing}. To fix this, pass "
        "format='<reader>' if the suffix is unusual (Zarr stores are folders named *.zarr); vendor "
        "formats need pip install 'chemmap[vendor]', Parquet and TIFF pip install 'chemmap[formats]'."
    )


def read(path, *, format: str | None = None, label_mask=None, **options) -> Cube:
    """Read a file (or a table in memory) into a :class:`Cube`.

    Parameters
    ----------
    path : str, Path or pandas.DataFrame
        File to read, or a DataFrame of pixel rows read by the rules of a flat CSV file
        (numeric column names are the axis; coordinates, label column, ``image_shape``).
    format : str, optional
        Reader name (see ``chemmap.io.readers.names()``); guessed when omitted.
    label_mask : array-like or str or Path, optional
        Ground truth apart from the data: a 2-D class image of the image's shape, or a file
        holding one (see :mod:`chemmap.io._label_mask`); replaces labels the file has.
    **options
        Reader options, e.g. ``image_shape=(30, 30)``, ``label_column="region"``. Unknown
        options raise an error listing the valid ones. Readers with a ``lazy`` option read
        lazily (Dask) when it is not given and the file holds (or declares, for HDF5) more
        than a quarter of the memory limit (see :func:`chemmap.compute_settings`).

    Returns
    -------
    Cube

    Examples
    --------
    >>> cube = read("demo.csv", image_shape=(30, 30), label_column="region")  # doctest: +SKIP
    """
    if _is_data_frame(path):
        from chemmap.io._table import table_to_cube

        readers.get("csv-flat").check_options(options)
        options.pop("delimiter", None)
        cube = table_to_cube(path.copy(), "DataFrame", "dataframe", **options)
        cube.attrs["reader"] = "dataframe"
        return cube if label_mask is None else apply_label_mask(cube, label_mask)
    path = Path(path)
    if not path.exists():
        raise InputFileNotFoundError(
            f"Input file {str(path)!r} does not exist. To fix this, check the path (working directory: {os.getcwd()})."
        )
    entry = _reader_for(path, format)
    entry.check_options(options)
    declared = entry.declared_bytes(path, **options) if entry.declared_bytes is not None else 0
    threshold = _lazy_threshold()
    auto_lazy = (
        "lazy" in entry.options
        and "lazy" not in options
        and (declared > threshold or _stored_bytes(path, enough=threshold) > threshold)
    )
    if auto_lazy:
        options["lazy"] = True
    cube = _read_with(entry, path, options)
    if auto_lazy:
        cube.attrs["lazy_reason"] = (
            f"the file holds more than {AUTO_LAZY_SHARE:.0%} of the memory limit; read lazily (lazy=false to load it)"
        )
    cube.attrs["reader"] = entry.name
    cube.attrs["path"] = str(path)
    return cube if label_mask is None else apply_label_mask(cube, label_mask)


def _is_data_frame(value) -> bool:
    return type(value).__name__ == "DataFrame" and type(value).__module__.startswith("pandas")


def _read_with(entry: ReaderEntry, path: Path, options: dict) -> Cube:
    """``entry.read``, with any failure of a third-party parser turned into one FileFormatError."""
    try:
        return entry.read(path, **options)
    except (ChemmapError, MemoryError, KeyboardInterrupt):
        raise
    except Exception as exc:
        raise unreadable_file(entry.name, path, exc) from exc


#: Files larger than this share of the memory limit are read lazily unless ``lazy`` is given.
AUTO_LAZY_SHARE = 0.25


def _lazy_threshold() -> float:
    from chemmap._shared.compute import active_settings

    return AUTO_LAZY_SHARE * active_settings().memory_limit


def _stored_bytes(path: Path, *, enough: float = float("inf")) -> int:
    """Bytes of a file, of a folder store, or of a header and the data files beside it,
    counted until they pass ``enough`` (a store of thousands of chunk files need not be
    listed whole to know it is large)."""
    files = path.rglob("*") if path.is_dir() else path.parent.glob(f"{glob.escape(path.stem)}*")
    total = 0
    for f in files:
        if f.is_file():
            total += f.stat().st_size
            if total > enough:
                break
    return total


def write(cube: Cube, path: str | os.PathLike, *, format: str | None = None, **options) -> None:
    """Write ``cube`` to ``path`` atomically (format from ``format`` or the suffix)."""
    path = Path(path)
    if format is None:
        matches = [n for n in writers if path.suffix.lower() in writers.get(n).suffixes and writers.get(n).by_suffix]
        if not matches:
            known = ", ".join(f"{n} ({', '.join(writers.get(n).suffixes)})" for n in writers)
            raise InvalidParameterError(f"No writer for the suffix {path.suffix!r}. Writers: {known}.")
        format = matches[0]
    writers.get(format).write(cube, path, **options)


def convert(source, target, *, format: str | None = None, read_options: dict | None = None, **write_options) -> Cube:
    """Read ``source`` with any reader and write it to ``target`` (format from ``format`` or the suffix).

    Lazy inputs (Zarr, ``lazy=True``) are written block by block by the Zarr and HDF5 cube
    writers. Returns the Cube that was read.
    """
    cube = read(source, **(read_options or {}))
    write(cube, target, format=format, **write_options)
    return cube


def describe(cube: Cube) -> dict:
    """A JSON-friendly summary of a cube: shape, axis, dtype, invalid pixels, labels.

    A memory-mapped cube is scanned once for non-finite pixels; a lazy one is not (its
    ``n_nonfinite_pixels`` is then ``None``).
    """
    from chemmap.io._build import mask_invalid_pixels

    if not cube.is_lazy:
        cube = mask_invalid_pixels(cube)
    valid = cube.valid_pixels()
    summary = {
        "image_shape": list(cube.image_shape),
        "n_pixels": cube.n_pixels,
        "n_channels": cube.n_channels,
        "axis": cube.axis.to_dict(),
        "dtype": str(cube.dtype),
        "lazy": cube.is_lazy,
        "n_valid_pixels": int(valid.sum()),
        "n_invalid_pixels": int((~valid).sum()),
        "n_missing_pixels": int(cube.attrs.get("n_missing_pixels", 0)),
        "n_nonfinite_pixels": cube.attrs.get("n_nonfinite_pixels", 0),
        "source": cube.attrs.get("source"),
        "reader": cube.attrs.get("reader"),
    }
    for key in ("dataset", "other_datasets", "axis_unit_note", "layout_note"):
        if cube.attrs.get(key):
            summary[key] = cube.attrs[key]
    if not cube.is_lazy and valid.any():
        values = cube.pixels()[valid]
        summary["value_range"] = [float(np.nanmin(values)), float(np.nanmax(values))]
    if cube.labels is not None:
        counts = {cube.label_names[v]: int((cube.labels == v).sum()) for v in cube.label_names}
        summary["labels"] = {
            "n_classes": len(counts),
            "pixels_per_class": counts,
            "n_unlabelled": int((cube.labels < 0).sum()),
        }
    return summary
