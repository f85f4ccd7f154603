"""Flat tables (pandas DataFrames) of per-pixel spectra, shared by the CSV and Parquet readers."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from chemmap.core.cube import Cube
from chemmap.core.exceptions import FileFormatError, InvalidParameterError
from chemmap.io._flat import assemble_flat

__all__ = ["cube_to_table", "is_number", "table_to_cube"]


def is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def table_to_cube(
    table,
    source,
    fmt: str,
    *,
    image_shape=None,
    spectral_columns=None,
    metadata_columns=None,
    label_column: str | None = None,
    x_column: str | None = None,
    y_column: str | None = None,
    coordinate_origin: int = 0,
    axis=None,
    axis_unit: str | None = None,
    dtype=np.float32,
) -> Cube:
    """A Cube from a table with one spectrum per row (the CSV and Parquet readers' options).

    Parameters
    ----------
    table : pandas.DataFrame
        One row per pixel.
    source : str or Path
        The file, for messages and provenance.
    fmt : str
        Reader name recorded in ``attrs["format"]``.
    image_shape : (int, int), optional
        ``(height, width)``; needed unless the table has ``pixel_x``/``pixel_y`` columns.
    spectral_columns : list of str, optional
        Names of the spectral columns, in axis order. Default: every column whose header
        is a number.
    metadata_columns : list of str, optional
        Names of the non-spectral columns; every other column is spectral.
    label_column : str, optional
        Column holding the ground-truth class of each pixel.
    x_column, y_column : str, optional
        Columns holding each row's pixel column and row; default ``pixel_x``/``pixel_y``, else
        ``x``/``y``, when both exist. Stage positions on a regular grid (µm, mm) become pixel
        indices by their step.
    coordinate_origin : int
        Index of the first column/row in those columns (0 or 1).
    axis : array-like, optional
        Axis values, when the spectral headers are not numbers.
    axis_unit : str, optional
        Unit of the axis. Default: the value of an ``axis_unit`` column (which chemmap's CSV
        writer adds), else ``"cm-1"``.
    dtype : dtype
        Data type of the spectra (float32 by default).
    """
    import pandas as pd

    if table.shape[0] == 0:
        raise FileFormatError(f"{source} has a header but no data rows; expected one row per pixel.")
    columns = [str(c).strip() for c in table.columns]
    table.columns = columns

    for name in (spectral_columns or []) + (metadata_columns or []):
        if name not in columns:
            raise InvalidParameterError(f"{source} has no column {name!r}; its columns are {columns[:8]}...")
    if spectral_columns is not None:
        spectral = list(spectral_columns)
    elif metadata_columns is not None:
        spectral = [c for c in columns if c not in set(metadata_columns)]
    else:
        spectral = [c for c in columns if is_number(c)]
    x_column, y_column = _coordinate_columns(columns, x_column, y_column, source)
    special = {label_column, x_column, y_column}
    spectral = [c for c in spectral if c not in special]
    if not spectral:
        raise FileFormatError(
            f"{source} has no spectral columns: no header is a number. Expected headers such as "
            "'600.0', '606.03', ... holding the axis values. To fix this, pass "
            "spectral_columns=[...] and axis=[...]."
        )
    if axis is None:
        refuse_headerless(spectral, source)
        bad = [c for c in spectral if not is_number(c)]
        if bad:
            raise FileFormatError(f"{source}: spectral column header {bad[0]!r} is not an axis value; pass axis=[...].")
        axis_values = np.array([float(c) for c in spectral])
    else:
        axis_values = np.asarray(axis, dtype=np.float64)

    block = table[spectral]
    numeric = block.apply(pd.to_numeric, errors="coerce")
    text_cells = numeric.isna().to_numpy() & block.notna().to_numpy()
    if text_cells.any():
        r, c = np.argwhere(text_cells)[0]
        raise FileFormatError(
            f"{source}: spectral column {spectral[c]!r}, data row {r + 1} holds "
            f"{block.iat[r, c]!r}, which is not a number. Expected numeric intensities in "
            "every spectral column; empty cells are allowed and mask the pixel."
        )

    missing = [c for c in (label_column,) if c is not None and c not in columns]
    if missing:
        raise InvalidParameterError(
            f"{source} has no label column {missing[0]!r}; its non-spectral columns are "
            f"{[c for c in columns if c not in spectral]}."
        )
    if axis_unit is None:
        axis_unit = _unit_column(table, source) if UNIT_COLUMN in columns else DEFAULT_UNIT
    has_xy = x_column is not None
    return assemble_flat(
        numeric.to_numpy(dtype=np.float64),
        axis_values,
        unit=axis_unit,
        source=Path(source).name,
        image_shape=image_shape,
        pixel_x=grid_indices(table[x_column].to_numpy(), x_column, source) if has_xy else None,
        pixel_y=grid_indices(table[y_column].to_numpy(), y_column, source) if has_xy else None,
        labels=table[label_column].to_numpy() if label_column else None,
        coordinate_origin=coordinate_origin,
        dtype=dtype,
        attrs={"format": fmt, "label_column": label_column},
    )


#: Column of a flat table holding the unit of the axis in every row (chemmap's CSV writer
#: adds it: a CSV has no other place for it, and read back without it a keV axis became cm-1).
UNIT_COLUMN = "axis_unit"
#: Unit of a flat table's axis when neither the reader's option nor the table says.
DEFAULT_UNIT = "cm-1"


def _unit_column(table, source) -> str:
    """The one unit an ``axis_unit`` column holds."""
    units = {str(v).strip() for v in table[UNIT_COLUMN].dropna().unique()} - {""}
    if len(units) != 1:
        raise FileFormatError(
            f"{source}: its {UNIT_COLUMN!r} column should hold the axis unit, the same in every row; it holds "
            f"{sorted(units) or 'nothing'}. To fix this, pass axis_unit= (--axis-unit) or correct the column."
        )
    return units.pop()


def _coordinate_columns(columns, x_column, y_column, source) -> tuple[str | None, str | None]:
    """The coordinate columns named, or the first of ``pixel_x``/``pixel_y`` and ``x``/``y`` present."""
    if x_column is not None or y_column is not None:
        missing = [c for c in (x_column, y_column) if c is None or c not in columns]
        if missing:
            raise InvalidParameterError(
                f"{source}: x_column and y_column must both name columns of the table; missing {missing}."
            )
        return x_column, y_column
    for x, y in (("pixel_x", "pixel_y"), ("x", "y"), ("X", "Y")):
        if x in columns and y in columns:
            return x, y
    return None, None


def grid_indices(values, name: str, source) -> np.ndarray:
    """Pixel indices of coordinates: integers as they are, stage positions on a regular grid
    (µm, mm ...) divided by their step from the smallest."""
    arr = np.asarray(values)
    if arr.dtype.kind != "f" or not np.all(np.isfinite(arr)) or np.all(arr == np.round(arr)):
        return arr
    levels = np.unique(arr)
    steps = np.diff(levels)
    step = float(np.median(steps)) if steps.size else 1.0
    index = (arr - levels[0]) / step
    if steps.size and np.max(np.abs(index - np.round(index))) > 0.05:
        raise FileFormatError(
            f"{source}: column {name!r} holds positions that are not on a regular grid (steps {steps.min():g} to "
            f"{steps.max():g}); expected whole pixel numbers or evenly spaced stage positions."
        )
    return np.round(index).astype(np.int64)


def refuse_headerless(spectral: list[str], source) -> None:
    """A header row of numbers that go up and down is a spectrum, not an axis: the file has no header."""
    values = np.array([float(c) for c in spectral if is_number(c)])
    if values.size < 4:
        return
    steps = np.diff(values)
    steps = steps[steps != 0]  # a repeated value goes neither up nor down
    if steps.size >= 3 and np.mean(steps > 0) < 0.9 and np.mean(steps < 0) < 0.9:
        raise FileFormatError(
            f"{source} has no header row of axis values: its first row ({', '.join(spectral[:4])}, ...) goes up "
            "and down as intensities do, so it is a spectrum, not an axis. chemmap needs the axis (the first row "
            "as its column headers, e.g. 600.0, 601.9, ...) to map a table. To fix this, add that header row, or "
            "give axis=[...] with spectral_columns=[...]."
        )


def cube_to_table(cube: Cube, *, label_column: str = "label"):
    """A DataFrame with ``pixel_id``, ``pixel_x``, ``pixel_y``, labels and one column per channel.

    Masked pixels get empty (NaN) spectral cells.
    """
    import pandas as pd

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
    return pd.concat([meta, values], axis=1)
