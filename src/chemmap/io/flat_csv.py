"""Flat CSV tables: one spectrum per row, spectral columns headed by their axis values.

A row may also carry metadata columns (``pixel_id``, ``region`` ...). Spectral columns are
those whose header is a number (the axis value), unless ``spectral_columns`` or
``metadata_columns`` say otherwise. ``pixel_x``/``pixel_y`` columns, when present, place
each row in the image (column and row, 0-based unless ``coordinate_origin=1``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from chemmap.core.cube import Cube
from chemmap.core.exceptions import FileFormatError
from chemmap.io._registry import ReaderEntry, WriterEntry, readers, writers
from chemmap.io._table import cube_to_table, table_to_cube

__all__ = ["read_flat_csv", "write_flat_csv"]


def _sniff_delimiter(path: Path) -> str:
    with open(path, encoding="utf-8", errors="replace") as fh:
        header = fh.readline()
    counts = {d: header.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def read_flat_csv(
    path,
    *,
    image_shape=None,
    spectral_columns=None,
    metadata_columns=None,
    label_column: str | None = None,
    x_column: str = "pixel_x",
    y_column: str = "pixel_y",
    coordinate_origin: int = 0,
    axis=None,
    axis_unit: str = "cm-1",
    delimiter: str | None = None,
    dtype=np.float32,
) -> Cube:
    """Read a flat CSV table of per-pixel spectra.

    Parameters
    ----------
    path : str or Path
        The CSV file.
    image_shape : (int, int), optional
        ``(height, width)``; needed unless the table has ``pixel_x``/``pixel_y`` columns.
    spectral_columns : list of str, optional
        Names of the spectral columns, in axis order. Default: every column whose header
        is a number.
    metadata_columns : list of str, optional
        Names of the non-spectral columns; every other column is spectral.
    label_column : str, optional
        Column holding the ground-truth class of each pixel.
    x_column, y_column : str
        Columns holding each row's pixel column and row, used when both exist.
    coordinate_origin : int
        Index of the first column/row in those columns (0 or 1).
    axis : array-like, optional
        Axis values, when the spectral headers are not numbers.
    axis_unit : str
        Unit of the axis (default ``"cm-1"``).
    delimiter : str, optional
        Field separator; sniffed from the header when not given.
    dtype : dtype
        Data type of the spectra (float32 by default).

    Returns
    -------
    Cube
    """
    import pandas as pd

    path = Path(path)
    if path.stat().st_size == 0:
        raise FileFormatError(f"{path} is empty; expected a header row and one row per pixel.")
    if delimiter is None:
        delimiter = _sniff_delimiter(path)
    try:
        table = pd.read_csv(path, sep=delimiter, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise FileFormatError(f"{path} is empty; expected a header row and one row per pixel.") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise FileFormatError(f"{path} is not a readable CSV table: {exc}") from None
    if table.shape[0] == 0:
        raise FileFormatError(f"{path} has a header but no data rows; expected one row per pixel.")
    return table_to_cube(
        table,
        source=path,
        image_shape=image_shape,
        spectral_columns=spectral_columns,
        metadata_columns=metadata_columns,
        label_column=label_column,
        x_column=x_column,
        y_column=y_column,
        coordinate_origin=coordinate_origin,
        axis=axis,
        axis_unit=axis_unit,
        dtype=dtype,
        fmt="csv-flat",
    )


def write_flat_csv(cube: Cube, path, *, label_column: str = "label", float_format: str = "%.9g") -> None:
    """Write a cube as a flat CSV table.

    Columns: ``pixel_id``, ``pixel_x``, ``pixel_y``, the label column (names) when the cube
    has labels, then one column per channel headed by its axis value. Masked pixels are
    written with empty spectral cells.
    """
    from chemmap._shared.atomic import atomic_path

    frame = cube_to_table(cube, label_column=label_column)
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, float_format=float_format)


readers.register(
    "csv-flat",
    ReaderEntry(
        "csv-flat",
        (".csv", ".tsv", ".txt"),
        read_flat_csv,
        "flat table, one spectrum per row, numeric headers are the axis",
    ),
)
writers.register("csv-flat", WriterEntry("csv-flat", (".csv",), write_flat_csv, "flat CSV table"))
