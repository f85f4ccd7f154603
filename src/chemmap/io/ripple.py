"""Lispix ripple files (``.rpl`` header + ``.raw`` data), as Bruker M6 MA-XRF scanners and
HyperSpy export them.

The header is ``key<TAB>value`` lines: ``width``, ``height``, ``depth``, ``offset``,
``data-length`` (1, 2, 4 or 8 bytes), ``data-type`` (``signed``, ``unsigned``, ``float``),
``byte-order`` (``little-endian``, ``big-endian``, ``dont-care``) and ``record-by``
(``vector``: each pixel's spectrum contiguous; ``image``: one image per channel). The
spectral axis comes from ``depth-scale``/``depth-origin``/``depth-units`` (HyperSpy) or
``ev-per-chan`` (energy in eV per channel); Bruker M6 files carry neither, so their axis is
channel numbers (see :func:`chemmap.xrf.calibrate_energy`). The data are memory-mapped and
counts keep their integer type.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from chemmap.core.cube import Cube
from chemmap.core.exceptions import FileFormatError, InputFileNotFoundError
from chemmap.io._build import build_cube, check_fits_in_file, lazy_view
from chemmap.io._companion import companion_file
from chemmap.io._registry import ReaderEntry, WriterEntry, readers, writers

__all__ = ["parse_rpl_header", "read_ripple", "write_ripple"]

_KINDS = {"signed": "i", "unsigned": "u", "float": "f"}
#: ``dont-care`` (written by HyperSpy for any data length) means the writer's native order.
_ORDERS = {"little-endian": "<", "big-endian": ">", "dont-care": "="}
_REQUIRED = ("width", "height", "depth", "data-length", "data-type")


def parse_rpl_header(text: str, *, source: str = "the header") -> dict[str, str]:
    """``{key: value}`` of a ripple header (keys lower case; comments after ``;`` dropped)."""
    fields = {}
    for line in text.splitlines():
        line = line.split(";", 1)[0].strip()
        if not line:
            continue
        parts = line.split(None, 1)
        if len(parts) == 2:
            fields[parts[0].lower()] = parts[1].strip()
    if fields.get("key", "").lower() == "value":
        del fields["key"]
    missing = [k for k in _REQUIRED if k not in fields]
    if missing:
        raise FileFormatError(
            f"{source} is not a ripple header: it lacks {', '.join(missing)}. A ripple header has "
            "tab-separated lines such as 'width<TAB>1000', 'height', 'depth', 'data-length', 'data-type'."
        )
    return fields


def _int(fields: dict, key: str, source: str, *, default=None, low: int = 0) -> int:
    value = fields.get(key, default)
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = None
    if number is None or number < low:
        raise FileFormatError(f"{source}: field {key!r} must be an integer >= {low}; got {value!r}.")
    return number


def _dtype(fields: dict, source: str) -> np.dtype:
    kind = _KINDS.get(fields["data-type"].lower())
    length = _int(fields, "data-length", source, low=1)
    order = _ORDERS.get(fields.get("byte-order", "dont-care").lower())
    if kind is None or order is None:
        raise FileFormatError(
            f"{source}: data-type {fields['data-type']!r} / byte-order {fields.get('byte-order')!r} not understood; "
            f"expected data-type in {sorted(_KINDS)} and byte-order in {sorted(_ORDERS)}."
        )
    try:
        dtype = np.dtype(f"{order}{kind}{length}")
    except TypeError:
        raise FileFormatError(f"{source}: data-length {length} is not valid for {fields['data-type']} data.") from None
    return dtype


def _axis(fields: dict, depth: int, source: str) -> tuple[np.ndarray | None, str]:
    def number(key):
        try:
            return float(fields[key])
        except (KeyError, ValueError):
            return None

    scale, origin = number("depth-scale"), number("depth-origin")
    if scale is not None and scale != 0:
        return (origin or 0.0) + scale * np.arange(depth), fields.get("depth-units")
    per_channel = number("ev-per-chan")
    if per_channel is not None and per_channel > 0:
        offset = number("ev-offset") or 0.0
        return (offset + per_channel * np.arange(depth)) / 1000.0, "keV"
    return None, "channel"


def read_ripple(path, *, data_file=None, dtype=None, lazy: bool = False) -> Cube:
    """Read a ripple ``.rpl`` header and its ``.raw`` data into a Cube (memory-mapped).

    Parameters
    ----------
    path : str or Path
        The ``.rpl`` header or the ``.raw`` data file beside it.
    data_file : str or Path, optional
        The data file, when it is not the header's name with ``.raw``.
    dtype : dtype, optional
        Convert the data; by default the counts keep the file's integer type.
    lazy : bool
        Return a Dask array over the memory map, in chunks within the memory limit's block
        budget.

    Returns
    -------
    Cube
        ``attrs["ripple"]`` keeps the header fields; an axis in channel numbers when the
        header has no energy calibration.
    """
    path = Path(path)
    header = path if path.suffix.lower() == ".rpl" else path.with_suffix(".rpl")
    if not header.is_file():
        raise InputFileNotFoundError(f"The ripple header {header} does not exist (a .raw file needs its .rpl).")
    raw_path = Path(data_file) if data_file is not None else header.with_suffix(".raw")
    if not raw_path.is_file():
        raise InputFileNotFoundError(
            f"The ripple data file {raw_path} does not exist. Pass data_file= if it is named otherwise."
        )
    if data_file is None and path != raw_path:
        raw_path = companion_file(header, raw_path, what="data file", option="data_file=, or name the .raw file")
    source = str(header)
    fields = parse_rpl_header(header.read_text(encoding="latin-1"), source=source)
    w, h, depth = (_int(fields, k, source, low=1) for k in ("width", "height", "depth"))
    offset = _int(fields, "offset", source, default=0)
    stored = _dtype(fields, source)
    record_by = fields.get("record-by", "vector" if depth > 1 else "dont-care").lower()
    if record_by == "dont-care" and depth == 1:
        record_by = "vector"
    if record_by not in ("vector", "image"):
        raise FileFormatError(f"{source}: record-by must be 'vector' or 'image'; got {record_by!r}.")
    check_fits_in_file(
        raw_path,
        needed=offset + w * h * depth * stored.itemsize,
        available=raw_path.stat().st_size,
        field=f"width={w}, height={h}, depth={depth}, data-length={stored.itemsize}, offset={offset}",
    )
    if record_by == "vector":
        data = np.memmap(raw_path, dtype=stored, mode="r", offset=offset, shape=(h, w, depth))
    else:
        data = np.memmap(raw_path, dtype=stored, mode="r", offset=offset, shape=(depth, h, w)).transpose(1, 2, 0)
    values, unit = _axis(fields, depth, source)
    if lazy:
        data = lazy_view(data)
    return build_cube(
        data, values, unit, source=raw_path.name, dtype=dtype, attrs={"format": "ripple", "ripple": dict(fields)}
    )


def write_ripple(cube: Cube, path, *, record_by: str = "vector", byte_order: str = "little") -> None:
    """Write ``cube`` as a ripple ``.rpl`` header and ``.raw`` data, block by block, atomically.

    Integer and float types are kept (``data-type`` and ``data-length`` follow the dtype);
    the axis is written as ``depth-origin``/``depth-scale``/``depth-units`` when it is
    uniform. Lazy cubes are written a band of rows at a time.

    Parameters
    ----------
    cube : Cube
    path : str or Path
        The header (``x.rpl``) or the data file (``x.raw``).
    record_by : {"vector", "image"}
    byte_order : {"little", "big"}
    """
    from chemmap._shared.atomic import atomic_path
    from chemmap._shared.validation import check_choice
    from chemmap.io._cube_layout import cube_chunks, iter_row_blocks

    record_by = check_choice(record_by, ("vector", "image"), name="record_by", func="write_ripple")
    byte_order = check_choice(byte_order, ("little", "big"), name="byte_order", func="write_ripple")
    path = Path(path)
    header, raw_path = path.with_suffix(".rpl"), path.with_suffix(".raw")
    h, w, c = cube.shape
    dtype = np.dtype(cube.dtype).newbyteorder(">" if byte_order == "big" else "<")
    kind = {"i": "signed", "u": "unsigned", "f": "float"}.get(dtype.kind)
    if kind is None:
        raise FileFormatError(f"A ripple file cannot hold {dtype.name} data; convert to an integer or float type.")
    lines = [
        "key\tvalue",
        f"width\t{w}",
        f"height\t{h}",
        f"depth\t{c}",
        "offset\t0",
        f"data-length\t{dtype.itemsize}",
        f"data-type\t{kind}",
        f"byte-order\t{byte_order}-endian",
        f"record-by\t{record_by}",
    ]
    values = cube.axis.values
    steps = np.diff(values)
    if c > 1 and cube.axis.unit != "channel":
        if not np.allclose(steps, steps[0], rtol=1e-6):
            raise FileFormatError(
                "A ripple header holds only a uniform axis (origin + scale); this cube's axis is not uniform. "
                "To fix this, resample it onto a uniform axis first, or write Zarr or HDF5."
            )
        lines += [f"depth-origin\t{values[0]:.10g}", f"depth-scale\t{steps[0]:.10g}", f"depth-units\t{cube.axis.unit}"]
    rows = cube_chunks(cube.shape, dtype.itemsize)[0]
    with atomic_path(header) as tmp_header, atomic_path(raw_path) as tmp_raw:
        shape = (h, w, c) if record_by == "vector" else (c, h, w)
        out = np.memmap(tmp_raw, dtype=dtype, mode="w+", shape=shape)
        for start, block in iter_row_blocks(cube.data, rows):
            if record_by == "vector":
                out[start : start + block.shape[0]] = block
            else:
                out[:, start : start + block.shape[0]] = np.moveaxis(block, 2, 0)
        out.flush()
        del out
        tmp_header.write_text("\n".join(lines) + "\n", encoding="latin-1")


def _is_ripple(path: Path) -> bool:
    header = path if path.suffix.lower() == ".rpl" else path.with_suffix(".rpl")
    try:
        parse_rpl_header(header.read_text(encoding="latin-1")[:4096])
        return True
    except (OSError, FileFormatError):
        return False


readers.register(
    "ripple",
    ReaderEntry(
        "ripple",
        (".rpl", ".raw"),
        read_ripple,
        "Lispix/Bruker ripple header + raw data (.rpl + .raw), memory-mapped",
        sniff=_is_ripple,
    ),
)
writers.register(
    "ripple", WriterEntry("ripple", (".rpl",), write_ripple, "Lispix ripple header + raw data (.rpl + .raw)")
)
