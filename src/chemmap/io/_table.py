"""Flat tables of per-pixel spectra (pandas DataFrames, or the arrays the CSV and Parquet
readers parse), shared by those readers and writers."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from chemmap.core.cube import Cube
from chemmap.core.exceptions import FileFormatError, InvalidParameterError
from chemmap.io._flat import assemble_flat

__all__ = ["ArrayTable", "is_number", "table_blocks", "table_to_cube"]


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
    table : pandas.DataFrame or ArrayTable
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
    table = table if isinstance(table, ArrayTable) else _FrameTable(table)
    if table.n_rows == 0:
        raise FileFormatError(f"{source} has a header but no data rows; expected one row per pixel.")
    columns = table.names

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
    spectra = table.numbers(spectral, source)

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
        spectra,
        axis_values,
        unit=axis_unit,
        source=Path(source).name,
        image_shape=image_shape,
        pixel_x=grid_indices(table.column(x_column), x_column, source) if has_xy else None,
        pixel_y=grid_indices(table.column(y_column), y_column, source) if has_xy else None,
        labels=table.column(label_column) if label_column else None,
        coordinate_origin=coordinate_origin,
        dtype=dtype,
        attrs={"format": fmt, "label_column": label_column},
    )


class ArrayTable:
    """A table already parsed into NumPy arrays: its numeric columns in one matrix and its
    text columns by name (what the CSV and Parquet readers make without pandas).

    Parameters
    ----------
    names : list of str
        Every column, in the file's order.
    numbers : ndarray of shape (n_rows, n)
        Numeric columns (float32 or float64; it may hold others too, e.g. the CSV reader's
        codes of its text columns).
    numeric : dict of str to int
        The index in ``numbers`` of each column it holds.
    others : dict of str to ndarray
        The other columns: text (a string or None per row), or numbers of their own type.
    """

    def __init__(self, names: list[str], numbers: np.ndarray, numeric: dict[str, int], others: dict) -> None:
        self.names, self._numbers, self._index, self._others = names, numbers, numeric, others
        self.n_rows = numbers.shape[0]

    def numbers(self, names: list[str], source) -> np.ndarray:
        """The columns ``names`` as a matrix, a view where they lie side by side (a text column
        among them is refused)."""
        text = [n for n in names if n not in self._index and self._others[n].dtype.kind not in "iuf"]
        if text:
            raise FileFormatError(
                f"{source}: spectral column {text[0]!r}, data row 1 holds {str(self._others[text[0]][0])!r}, which is "
                "not a number. Expected numeric intensities in every spectral column; empty cells are allowed and "
                "mask the pixel."
            )
        if any(n not in self._index for n in names):  # spectra chosen among columns of their own type
            return np.column_stack([self.column(n) for n in names]).astype(np.float64)
        index = [self._index[n] for n in names]
        if index == list(range(index[0], index[0] + len(index))):
            return self._numbers[:, index[0] : index[0] + len(index)]
        return self._numbers[:, index]

    def column(self, name: str) -> np.ndarray:
        """One column: integers where every value is whole (as pandas reads them), else floats or strings."""
        if name in self._others:
            return self._others[name]
        values = self._numbers[:, self._index[name]]
        return values.astype(np.int64) if np.all(values == np.round(values)) else values


class _FrameTable:
    """A pandas DataFrame seen as an :class:`ArrayTable`."""

    def __init__(self, frame) -> None:
        self.frame = frame
        self.names = [str(c).strip() for c in frame.columns]
        frame.columns = self.names
        self.n_rows = frame.shape[0]

    def numbers(self, names: list[str], source) -> np.ndarray:
        """The columns ``names`` as float64 (empty cells NaN; float32 columns stay float32); a
        cell of text is refused."""
        import pandas as pd

        block = self.frame[names]
        dtypes = set(block.dtypes)
        if all(isinstance(d, np.dtype) and d.kind in "fiu" for d in dtypes):  # NumPy numbers: no conversion
            return block.to_numpy(dtype=np.float32 if dtypes == {np.dtype(np.float32)} else np.float64)
        numeric = block.apply(pd.to_numeric, errors="coerce")
        text_cells = numeric.isna().to_numpy() & block.notna().to_numpy()
        if text_cells.any():
            r, c = np.argwhere(text_cells)[0]
            raise FileFormatError(
                f"{source}: spectral column {names[c]!r}, data row {r + 1} holds "
                f"{block.iat[r, c]!r}, which is not a number. Expected numeric intensities in "
                "every spectral column; empty cells are allowed and mask the pixel."
            )
        return numeric.to_numpy(dtype=np.float64)

    def column(self, name: str) -> np.ndarray:
        return self.frame[name].to_numpy()


#: Column of a flat table holding the unit of the axis in every row (chemmap's CSV writer
#: adds it: a CSV has no other place for it, and read back without it a keV axis became cm-1).
UNIT_COLUMN = "axis_unit"
#: Unit of a flat table's axis when neither the reader's option nor the table says.
DEFAULT_UNIT = "cm-1"


def _unit_column(table, source) -> str:
    """The one unit an ``axis_unit`` column holds."""
    values = set(table.column(UNIT_COLUMN).tolist())
    units = {str(v).strip() for v in values if v is not None and v == v} - {""}  # v != v: NaN
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


def _table_dtype(dtype) -> type:
    """float32 where it holds every value exactly (float32 data, counts of up to 16 bits),
    else float64; a float either way, for the NaN of masked pixels."""
    dtype = np.dtype(dtype)
    exact = dtype == np.float32 or (dtype.kind in "iub" and dtype.itemsize <= 2)
    return np.float32 if exact else np.float64


#: Spectra written at once by the table writers (a Parquet row group, a piece of a CSV), bytes.
TABLE_BLOCK_BYTES = 64 * 2**20


def table_blocks(cube: Cube, *, label_column: str = "label", block_bytes: int | None = None):
    """The cube's flat table by blocks of rows, each ``(columns, spectra, headers)``:
    ``pixel_id``, ``pixel_x``, ``pixel_y`` and the labels (names) when the cube has them, by
    name; the spectra, one row per pixel (NaN where masked; float32 where that holds every
    value); the spectral columns' headers. Blocks of about ``block_bytes`` of spectra
    (default :data:`TABLE_BLOCK_BYTES`); a lazy cube is read a block at a time."""
    from chemmap._shared.blockwise import row_blocks
    from chemmap._shared.compute import compute

    _h, w = cube.image_shape
    dtype = _table_dtype(cube.dtype)
    headers = [repr(float(v)) for v in cube.axis.values]
    pixels, valid = cube.pixels(), cube.valid_pixels()
    labels = None if cube.labels is None else cube.labels.reshape(-1)
    block_bytes = TABLE_BLOCK_BYTES if block_bytes is None else block_bytes
    for rows in row_blocks(cube.n_pixels, cube.n_channels * np.dtype(dtype).itemsize, block_bytes):
        ids = np.arange(rows.start, rows.stop)
        columns = {"pixel_id": ids, "pixel_x": ids % w, "pixel_y": ids // w}
        if labels is not None:
            codes, where = np.unique(labels[rows], return_inverse=True)
            names = [cube.label_names.get(int(v), "") if v >= 0 else "" for v in codes]
            columns[label_column] = np.array(names, dtype=object)[where.reshape(-1)]
        spectra = np.array(compute(pixels[rows])[0], dtype=dtype)
        spectra[~valid[rows]] = np.nan
        yield columns, spectra, headers
