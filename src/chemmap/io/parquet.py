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
    wrote the file and neither ``axis_unit`` nor ``axis`` is given. Tables whose columns
    headed by numbers hold numbers are read a batch of rows at a time into one matrix.
    """
    _require_pyarrow()
    import pyarrow.parquet as pq

    path = Path(path)
    try:
        table = pq.ParquetFile(path)
        stored_unit = (table.schema_arrow.metadata or {}).get(b"chemmap:axis_unit")
        if stored_unit is not None and "axis_unit" not in options and "axis" not in options:
            options["axis_unit"] = stored_unit.decode()
        arrays = _as_arrays(table, path)
        return table_to_cube(table.read().to_pandas() if arrays is None else arrays, path, "parquet", **options)
    except (OSError, ValueError) as exc:
        raise unreadable_file("parquet", path, exc) from None


#: Rows of a Parquet table converted at once.
BATCH_ROWS = 16_384


def _as_arrays(table, path: Path) -> ArrayTable | None:
    """The columns of a ``pyarrow.parquet.ParquetFile`` as NumPy arrays, without pandas (which
    held three more copies of the spectra: 6.3 GB to read 630 MB of them), read a batch of
    rows at a time, when every column headed by a number holds numbers; None otherwise
    (pandas converts text that holds numbers). The columns headed by numbers go into one
    matrix (float32 when they all are), the others keep their own type."""
    import pyarrow.types as types

    from chemmap._shared.compute import ensure_bytes_fit

    schema = table.schema_arrow
    names = [str(n).strip() for n in schema.names]
    headed = [i for i, name in enumerate(names) if is_number(name)]
    kinds = [schema.field(i).type for i in headed]
    if len(set(names)) != len(names) or not all(types.is_integer(t) or types.is_floating(t) for t in kinds):
        return None
    dtype = np.float32 if all(types.is_float32(t) for t in kinds) else np.float64
    n_rows = table.metadata.num_rows
    ensure_bytes_fit(
        n_rows * len(headed) * np.dtype(dtype).itemsize,
        what=f"the {n_rows} spectra of {len(headed)} channels in {path.name}",
        fix="raise --memory-limit, or read the table in parts and write them to a Zarr store",
    )
    numbers = np.empty((len(headed), n_rows), dtype=dtype).T  # filled column by column
    others: dict[int, list] = {i: [] for i in sorted(set(range(len(names))) - set(headed))}
    start = 0
    for batch in table.iter_batches(batch_size=BATCH_ROWS):
        stop = start + batch.num_rows
        for j, i in enumerate(headed):
            numbers[start:stop, j] = batch.column(i).to_numpy(zero_copy_only=False)
        for i, parts in others.items():
            parts.append(batch.column(i).to_numpy(zero_copy_only=False))
        start = stop
    columns = {names[i]: np.concatenate(parts) if parts else np.empty(0) for i, parts in others.items()}
    return ArrayTable(names, numbers, {names[i]: j for j, i in enumerate(headed)}, columns)


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
