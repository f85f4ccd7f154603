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
from chemmap.core.exceptions import FileFormatError, InvalidParameterError
from chemmap.io._flat import assemble_flat
from chemmap.io._registry import ReaderEntry, WriterEntry, readers, writers

__all__ = ["read_flat_csv", "write_flat_csv"]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


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
    columns = [str(c).strip() for c in table.columns]
    table.columns = columns

    for name in (spectral_columns or []) + (metadata_columns or []):
        if name not in columns:
            raise InvalidParameterError(f"{path} has no column {name!r}; its columns are {columns[:8]}...")
    if spectral_columns is not None:
        spectral = list(spectral_columns)
    elif metadata_columns is not None:
        spectral = [c for c in columns if c not in set(metadata_columns)]
    else:
        spectral = [c for c in columns if _is_number(c)]
    special = {label_column, x_column, y_column}
    spectral = [c for c in spectral if c not in special]
    if not spectral:
        raise FileFormatError(
            f"{path} has no spectral columns: no header is a number. Expected headers such as "
            "'600.0', '606.03', ... holding the axis values. To fix this, pass "
            "spectral_columns=[...] and axis=[...]."
        )
    if axis is None:
        bad = [c for c in spectral if not _is_number(c)]
        if bad:
            raise FileFormatError(f"{path}: spectral column header {bad[0]!r} is not an axis value; pass axis=[...].")
        axis_values = np.array([float(c) for c in spectral])
    else:
        axis_values = np.asarray(axis, dtype=np.float64)

    block = table[spectral]
    numeric = block.apply(pd.to_numeric, errors="coerce")
    text_cells = numeric.isna().to_numpy() & block.notna().to_numpy()
    if text_cells.any():
        r, c = np.argwhere(text_cells)[0]
        raise FileFormatError(
            f"{path}: spectral column {spectral[c]!r}, data row {r + 1} holds "
            f"{block.iat[r, c]!r}, which is not a number. Expected numeric intensities in "
            "every spectral column; empty cells are allowed and mask the pixel."
        )

    missing = [c for c in (label_column,) if c is not None and c not in columns]
    if missing:
        raise InvalidParameterError(
            f"{path} has no label column {missing[0]!r}; its non-spectral columns are "
            f"{[c for c in columns if c not in spectral]}."
        )
    has_xy = x_column in columns and y_column in columns
    return assemble_flat(
        numeric.to_numpy(dtype=np.float64),
        axis_values,
        unit=axis_unit,
        source=path.name,
        image_shape=image_shape,
        pixel_x=table[x_column].to_numpy() if has_xy else None,
        pixel_y=table[y_column].to_numpy() if has_xy else None,
        labels=table[label_column].to_numpy() if label_column else None,
        coordinate_origin=coordinate_origin,
        dtype=dtype,
        attrs={"format": "csv-flat", "label_column": label_column},
    )


def write_flat_csv(cube: Cube, path, *, label_column: str = "label", float_format: str = "%.9g") -> None:
    """Write a cube as a flat CSV table.

    Columns: ``pixel_id``, ``pixel_x``, ``pixel_y``, the label column (names) when the cube
    has labels, then one column per channel headed by its axis value. Masked pixels are
    written with empty spectral cells.
    """
    import pandas as pd

    from chemmap._shared.atomic import atomic_path

    cube = cube.to_numpy()
    _h, w = cube.image_shape
    ids = np.arange(cube.n_pixels)
    columns = {"pixel_id": ids, "pixel_x": ids % w, "pixel_y": ids // w}
    if cube.labels is not None:
        flat = cube.labels.reshape(-1)
        columns[label_column] = [cube.label_names.get(int(v), "") if v >= 0 else "" for v in flat]
    spectra = np.asarray(cube.pixels(), dtype=np.float64).copy()
    spectra[~cube.valid_pixels()] = np.nan
    meta = pd.DataFrame(columns)
    values = pd.DataFrame(spectra, columns=[repr(float(v)) for v in cube.axis.values])
    with atomic_path(path) as tmp:
        pd.concat([meta, values], axis=1).to_csv(tmp, index=False, float_format=float_format)


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
