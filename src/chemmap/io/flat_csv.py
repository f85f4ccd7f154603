"""Flat CSV tables: one spectrum per row, spectral columns headed by their axis values.

A row may also carry metadata columns (``pixel_id``, ``region`` ...). Spectral columns are
those whose header is a number (the axis value), unless ``spectral_columns`` or
``metadata_columns`` say otherwise. ``pixel_x``/``pixel_y`` columns, when present, place
each row in the image (column and row, 0-based unless ``coordinate_origin=1``).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np

from chemmap.core.cube import Cube
from chemmap.core.exceptions import FileFormatError
from chemmap.io._build import unreadable_file
from chemmap.io._registry import ReaderEntry, WriterEntry, readers, writers
from chemmap.io._table import (
    UNIT_COLUMN,
    ArrayTable,
    is_number,
    refuse_headerless,
    table_blocks,
    table_to_cube,
)

__all__ = ["read_flat_csv", "write_flat_csv"]


#: Compressed tables pandas reads as they are (``x.csv.gz``, ``x.csv.xz`` ...).
COMPRESSED_SUFFIXES = (".gz", ".xz", ".bz2", ".zip")
TABLE_SUFFIXES = (".csv", ".tsv", ".txt")
#: Bytes read from the end of a plain table to find its last row.
TAIL_BYTES = 4 * 2**20


def _open_text(path: Path):
    """The file as text, decompressed by its suffix."""
    import bz2
    import gzip
    import io
    import lzma
    import zipfile

    suffix = path.suffix.lower()
    if suffix == ".zip":
        archive = zipfile.ZipFile(path)
        return io.TextIOWrapper(archive.open(archive.namelist()[0]), encoding="utf-8", errors="replace")
    opener = {".gz": gzip.open, ".xz": lzma.open, ".bz2": bz2.open}.get(suffix, open)
    return opener(path, "rt", encoding="utf-8", errors="replace")


def _first_lines(path: Path, n: int = 2) -> list[str]:
    """The first ``n`` lines of the table (decompressed), without their line ends."""
    try:
        with _open_text(path) as fh:
            return [fh.readline().rstrip("\r\n").lstrip("\ufeff") for _ in range(n)]
    except (OSError, EOFError, ValueError) as exc:
        raise FileFormatError(f"{path} cannot be decompressed or read as text ({exc}).") from None


def _sniff_delimiter(header: str, first_row: str) -> str:
    """``;`` or a tab when it splits the header and the first row into as many fields (a
    European table's decimal commas would outnumber its separators), else the most frequent
    of ``,``, ``;`` and tab in the header."""
    for delimiter in (";", "\t"):
        n = header.count(delimiter)
        if n and n == first_row.count(delimiter):
            return delimiter
    counts = {d: header.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


#: A number written with a decimal comma (``0,0152``, ``-1,5e-3``).
_DECIMAL_COMMA = re.compile(r"^\s*[-+]?\d+,\d+([eE][-+]?\d+)?\s*$")


def _decimal_mark(delimiter: str, first_row: str) -> str:
    """``","`` for a table separated by ``;`` or tabs whose first data row writes its numbers
    with decimal commas (European spreadsheets), else ``"."``."""
    if delimiter == ",":
        return "."
    fields = next(csv.reader([first_row], delimiter=delimiter), [])
    commas = sum(bool(_DECIMAL_COMMA.match(f)) for f in fields)
    return "," if commas and commas >= sum(bool(f.strip()) for f in fields) // 2 else "."


def _refuse_duplicate_axis_headers(path: Path, header: str, delimiter: str, decimal: str) -> None:
    """Two spectral columns headed by the same text: pandas would rename the second
    ``606.03.1`` and read it as a metadata column (equal values written differently, ``700``
    and ``700.0``, are refused with the axis)."""
    names = [n.strip() for n in next(csv.reader([header], delimiter=delimiter), [])]
    texts = [n.replace(",", ".") for n in names] if decimal == "," else names
    spectral = [i for i, text in enumerate(texts) if is_number(text)]
    if len({names[i] for i in spectral}) == len(spectral):
        return
    refuse_headerless([texts[i] for i in spectral], path.name)  # a first row of intensities repeats too
    seen: dict[str, int] = {}
    for i in spectral:
        if names[i] in seen:
            raise FileFormatError(
                f"{path.name}: columns {seen[names[i]] + 1} and {i + 1} are both headed {names[i]!r}: two channels at "
                "one axis position. Each spectral column must hold a different axis value. To fix this, export the "
                "table again with its full-precision axis values, or drop the repeated column."
            )
        seen[names[i]] = i


def _check_last_row(path: Path, delimiter: str, n_columns: int) -> None:
    """Refuse a plain table whose last row has fewer fields than the header: a file cut off
    mid-row, whose missing cells pandas would read as empty."""
    if path.suffix.lower() in COMPRESSED_SUFFIXES:
        return  # a compressed file cut short fails to decompress
    with open(path, "rb") as fh:
        fh.seek(max(0, path.stat().st_size - TAIL_BYTES))
        lines = fh.read().rstrip(b"\r\n").split(b"\n")
    if len(lines) < 2:
        return  # the header alone, or a last row longer than the tail read
    last = lines[-1].decode("utf-8", errors="replace")
    fields = len(next(csv.reader([last], delimiter=delimiter, skipinitialspace=True)))
    if fields < n_columns:
        raise FileFormatError(
            f"{path.name}: its last row has {fields} fields but the header has {n_columns}: the file was cut off "
            "mid-row (an interrupted copy or export?). To fix this, copy or export the table again."
        )


def _is_table(path: Path) -> bool:
    """A table by its suffix; a compressed file only when the name inside says so (``x.csv.gz``)."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in COMPRESSED_SUFFIXES:
        return len(suffixes) > 1 and suffixes[-2] in TABLE_SUFFIXES
    return True


def _plain_table(path: Path, header: str, first_row: str, delimiter: str, decimal: str) -> ArrayTable | None:
    """The table parsed by NumPy's reader, without pandas (whose import alone took 0.2 s of
    a 0.2 s read), when it is plain: decimal points, distinct column names, a value in every
    cell of the first row, and in every row as many fields as the header and a number in
    each column whose first value is one. None otherwise: pandas reads the table then, with
    its rules and messages for empty cells, ``NA`` and the like.

    Columns whose first value is text are read as text, each distinct value coded once.
    """
    if decimal != ".":
        return None
    names = [n.strip() for n in next(csv.reader([header], delimiter=delimiter), [])]
    first = [f.strip() for f in next(csv.reader([first_row], delimiter=delimiter), [])]
    if len(first) != len(names) or len(set(names)) != len(names) or not all(names) or not all(first):
        return None
    text = [i for i, value in enumerate(first) if not is_number(value)]
    if any(is_number(names[i]) for i in text):
        return None  # a spectral column of text: pandas says which cell
    codes: dict[int, dict[str, int]] = {i: {} for i in text}

    def coder(values: dict[str, int]):
        return lambda field: values.setdefault(field.lstrip(), len(values))

    try:
        with _open_text(path) as fh:
            numbers = np.loadtxt(
                fh,
                delimiter=delimiter,
                skiprows=1,
                comments=None,
                quotechar='"',
                ndmin=2,
                converters={i: coder(codes[i]) for i in text},
            )
    except (ValueError, OSError, EOFError):
        return None
    numeric = {name: i for i, name in enumerate(names) if i not in codes}
    text = {names[i]: np.array(list(values))[numbers[:, i].astype(np.int64)] for i, values in codes.items()}
    return ArrayTable(names, numbers, numeric, text)


def read_flat_csv(path, *, delimiter: str | None = None, **options) -> Cube:
    """Read a flat CSV table of per-pixel spectra.

    Parameters
    ----------
    path : str or Path
        The CSV file, possibly compressed (``.gz``, ``.xz``, ``.bz2``, ``.zip``).
    delimiter : str, optional
        Field separator; sniffed from the header when not given.
    **options
        Table options of :func:`chemmap.io._table.table_to_cube`: ``image_shape``,
        ``spectral_columns``, ``metadata_columns``, ``label_column``, ``x_column``,
        ``y_column``, ``coordinate_origin``, ``axis``, ``axis_unit`` (default: an
        ``axis_unit`` column's value, else ``"cm-1"``),
        ``dtype`` (float32).

    Returns
    -------
    Cube
    """
    path = Path(path)
    if path.stat().st_size == 0:
        raise FileFormatError(f"{path} is empty; expected a header row and one row per pixel.")
    header, first_row = _first_lines(path)
    if delimiter is None:
        delimiter = _sniff_delimiter(header, first_row)
    decimal = _decimal_mark(delimiter, first_row)
    _refuse_duplicate_axis_headers(path, header, delimiter, decimal)
    plain = _plain_table(path, header, first_row, delimiter, decimal)
    if plain is not None:
        return table_to_cube(plain, path, "csv-flat", **options)
    import pandas as pd

    try:
        table = pd.read_csv(path, sep=delimiter, skipinitialspace=True, decimal=decimal)
        if decimal == ",":  # the axis values in the header are written the same way
            table.columns = [str(c).replace(",", ".") for c in table.columns]
    except pd.errors.EmptyDataError:
        raise FileFormatError(f"{path} is empty; expected a header row and one row per pixel.") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, EOFError) as exc:
        raise unreadable_file("csv-flat", path, exc) from None
    if table.shape[0] == 0:
        raise FileFormatError(f"{path} has a header but no data rows; expected one row per pixel.")
    _check_last_row(path, delimiter, table.shape[1])
    return table_to_cube(table, path, "csv-flat", **options)


def write_flat_csv(cube: Cube, path, *, label_column: str = "label", float_format: str = "%.9g") -> None:
    """Write a cube as a flat CSV table.

    Columns: ``pixel_id``, ``pixel_x``, ``pixel_y``, ``axis_unit`` (the axis unit, in every
    row: the reader takes it from there), the label column (names) when the cube has labels,
    then one column per channel headed by its axis value (``float_format``). Masked pixels
    are written with empty spectral cells; text is quoted where it holds a comma, a quote or
    a line end (as the ``csv`` module and pandas do).
    """
    from chemmap._shared.atomic import atomic_path
    from chemmap._shared.blockwise import row_blocks

    unit = _csv_field(cube.axis.unit)
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        for i, (columns, spectra, headers) in enumerate(table_blocks(cube, label_column=label_column)):
            if i == 0:
                names = [*list(columns)[:3], UNIT_COLUMN, *list(columns)[3:]]
                fh.write(",".join(map(_csv_field, [*names, *headers])) + "\n")
            for rows in row_blocks(len(spectra), spectra.shape[1] * CSV_VALUE_BYTES, CSV_TEXT_BYTES):
                part = {name: values[rows] for name, values in columns.items()}
                fh.write(_csv_rows(part, unit, spectra[rows], float_format))


#: Bytes of Python floats and text made per value while a piece of the table is formatted.
CSV_VALUE_BYTES = 48
#: Bytes of such temporaries at once (a piece of a block of :func:`table_blocks`).
CSV_TEXT_BYTES = 32 * 2**20


def _csv_field(text: str) -> str:
    """``text`` as one CSV field: in double quotes, its quotes doubled, where it holds a comma,
    a quote or a line end."""
    text = str(text)
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\r\n') else text


def _csv_rows(columns: dict, unit: str, spectra: np.ndarray, float_format: str) -> str:
    """The rows of one block as CSV text: the pixel's ids, ``unit``, its label (when
    ``columns`` has one) and its spectrum (``float_format``, NaN as an empty cell).

    Each part is formatted for the whole block by one ``%`` (the numbers in C, no Python
    step per value); the parts are joined row by row by ``map``.
    """
    n, d = spectra.shape
    if n == 0:
        return ""
    values = ((",".join([float_format] * d) + "\n") * n) % tuple(spectra.ravel().tolist())
    values = values.replace("nan", "")  # only numbers here: NaN is an empty cell, as pandas writes it
    ids = [columns[name].tolist() for name in ("pixel_id", "pixel_x", "pixel_y")]
    prefix = f"%d,%d,%d,{unit.replace('%', '%%')},"
    if len(columns) > 3:
        prefix += "%s,"
        ids.append(list(map(_csv_field, columns[list(columns)[3]])))
    rows = map(str.__add__, map(prefix.__mod__, zip(*ids, strict=True)), values.split("\n"))
    return "\n".join(rows) + "\n"


readers.register(
    "csv-flat",
    ReaderEntry(
        "csv-flat",
        (*TABLE_SUFFIXES, *COMPRESSED_SUFFIXES),
        read_flat_csv,
        "flat table, one spectrum per row, numeric headers are the axis",
        sniff=_is_table,
        forwards_to=table_to_cube,
    ),
)
writers.register("csv-flat", WriterEntry("csv-flat", (".csv",), write_flat_csv, "flat CSV table"))
