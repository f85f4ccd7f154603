"""Parquet flat tables (through pyarrow): one spectrum per row, like the flat CSV."""

from __future__ import annotations

from pathlib import Path

from chemmap.core.cube import Cube
from chemmap.io._build import unreadable_file
from chemmap.io._registry import ReaderEntry, WriterEntry, file_head, readers, writers
from chemmap.io._table import cube_to_table, table_to_cube

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
    return table_to_cube(table.to_pandas(), path, "parquet", **options)


def write_parquet(cube: Cube, path, *, label_column: str = "label") -> None:
    """Write a cube as a Parquet flat table (columns as the flat CSV), atomically."""
    _require_pyarrow()
    import pyarrow as pa
    import pyarrow.parquet as pq

    from chemmap._shared.atomic import atomic_path

    frame = cube_to_table(cube, label_column=label_column)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[b"chemmap:axis_unit"] = cube.axis.unit.encode()
    meta[b"chemmap:image_shape"] = ",".join(str(n) for n in cube.image_shape).encode()
    with atomic_path(path) as tmp:
        pq.write_table(table.replace_schema_metadata(meta), tmp)


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
