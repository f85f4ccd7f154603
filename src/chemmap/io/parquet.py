"""Parquet flat tables (through pyarrow): one spectrum per row, like the flat CSV."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from chemmap.core.cube import Cube
from chemmap.io._build import unreadable_file
from chemmap.io._registry import ReaderEntry, WriterEntry, file_head, readers, writers
from chemmap.io._table import ArrayTable, is_number, table_blocks, table_to_cube

__all__ = ["read_parquet", "write_parquet"]

PARQUET_MAGIC = b"PAR1"


def _require_pyarrow() -> None:
    from chemmap.core.optional import optional_import

    optional_import("pyarrow", extra="formats", purpose="Reading and writing Parquet tables")


def read_parquet(path, **options) -> Cube:
    """Read a Parquet table of per-pixel spectra; options as :func:`chemmap.io._table.table_to_cube`.

    The axis unit is read from the table's metadata key ``chemmap:axis_unit`` when chemmap
    wrote the file and neither ``axis_unit`` nor ``axis`` is given.
    """
    _require_pyarrow()
    import pyarrow.parquet as pq

    path = Path(path)
    try:
        table = pq.read_table(path)
    except (OSError, ValueError) as exc:
        raise unreadable_file("parquet", path, exc) from None
    stored_unit = (table.schema.metadata or {}).get(b"chemmap:axis_unit")
    if stored_unit is not None and "axis_unit" not in options and "axis" not in options:
        options["axis_unit"] = stored_unit.decode()
    arrays = _as_arrays(table)
    return table_to_cube(table.to_pandas() if arrays is None else arrays, path, "parquet", **options)


def _as_arrays(table) -> ArrayTable | None:
    """The Arrow table's columns as NumPy arrays, without pandas (which held three more
    copies of the spectra: 6.3 GB to read 630 MB of them), when every column headed by a
    number holds numbers; None otherwise (pandas converts text that holds numbers). The
    columns headed by numbers go into one matrix (float32 when they all are), the others
    keep their own type."""
    import pyarrow.types as types

    names = [str(n).strip() for n in table.column_names]
    headed = [i for i, name in enumerate(names) if is_number(name)]
    kinds = [table.schema.field(i).type for i in headed]
    if len(set(names)) != len(names) or not all(types.is_integer(t) or types.is_floating(t) for t in kinds):
        return None
    dtype = np.float32 if all(types.is_float32(t) for t in kinds) else np.float64
    numbers = np.empty((len(headed), table.num_rows), dtype=dtype).T  # filled column by column
    for j, i in enumerate(headed):
        numbers[:, j] = table.column(i).to_numpy()
    others = {names[i]: table.column(i).to_numpy() for i in sorted(set(range(len(names))) - set(headed))}
    return ArrayTable(names, numbers, {names[i]: j for j, i in enumerate(headed)}, others)


def write_parquet(cube: Cube, path, *, label_column: str = "label") -> None:
    """Write a cube as a Parquet flat table (columns as the flat CSV), atomically, a row
    group per block of pixels (a lazy cube read a block at a time)."""
    _require_pyarrow()
    import pyarrow as pa
    import pyarrow.parquet as pq

    from chemmap._shared.atomic import atomic_path

    meta = {b"chemmap:axis_unit": cube.axis.unit.encode()}
    meta[b"chemmap:image_shape"] = ",".join(str(n) for n in cube.image_shape).encode()
    with atomic_path(path) as tmp:
        writer = None
        try:
            for columns, spectra, headers in table_blocks(cube, label_column=label_column):
                arrays = [pa.array(values) for values in columns.values()] + [pa.array(c) for c in spectra.T]
                del spectra  # the Arrow arrays hold their own copy
                table = pa.Table.from_arrays(arrays, names=[*columns, *headers]).replace_schema_metadata(meta)
                writer = writer or pq.ParquetWriter(tmp, table.schema)
                writer.write_table(table)  # one row group per block of pixels
        finally:
            if writer is not None:
                writer.close()


def _is_parquet(path: Path) -> bool:
    return file_head(path, len(PARQUET_MAGIC)) == PARQUET_MAGIC


readers.register(
    "parquet",
    ReaderEntry(
        "parquet",
        (".parquet", ".pq"),
        read_parquet,
        "Parquet flat table (pyarrow)",
        sniff=_is_parquet,
        forwards_to=table_to_cube,
    ),
)
writers.register("parquet", WriterEntry("parquet", (".parquet",), write_parquet, "Parquet flat table"))
