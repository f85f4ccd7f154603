"""ENVI raster files: a text header (``.hdr``) beside a raw binary data file.

Reads all three interleaves (``bsq``, ``bil``, ``bip``), both byte orders and data types
1, 2, 3, 4, 5, 12, 13, 14 and 15; honours ``header offset``, ``wavelength`` and
``wavelength units``, ``fwhm``, ``data ignore value`` (pixels masked), ``reflectance scale
factor`` and ``bbl`` (bands flagged bad on the axis). The data are memory-mapped: nothing is
read until needed. Sizes declared by the header are checked against the data file before
anything is allocated.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np

from chemmap.core.axis import UNSTATED_UNITS, parse_unit
from chemmap.core.cube import Cube
from chemmap.core.exceptions import AxisError, DataWarning, FileFormatError, InputFileNotFoundError
from chemmap.io._build import build_cube, check_fits_in_file, lazy_view
from chemmap.io._companion import companion_file
from chemmap.io._registry import ReaderEntry, WriterEntry, readers, writers

__all__ = ["DATA_SUFFIXES", "ENVI_DTYPES", "parse_envi_header", "read_envi", "write_envi"]

#: ENVI ``data type`` codes and the NumPy types they stand for (complex types 6 and 9 are not maps).
ENVI_DTYPES = {
    1: np.uint8,
    2: np.int16,
    3: np.int32,
    4: np.float32,
    5: np.float64,
    12: np.uint16,
    13: np.uint32,
    14: np.int64,
    15: np.uint64,
}
_CODE_OF = {np.dtype(t): code for code, t in ENVI_DTYPES.items()}

#: Suffixes the data file of a header may have (tried in this order; none is also tried).
DATA_SUFFIXES = (".img", ".dat", ".raw", ".bsq", ".bil", ".bip", ".sli")

#: How ENVI spells axis units, mapped to chemmap's units.
ENVI_UNITS = {
    "nanometers": "nm",
    "micrometers": "um",
    "microns": "um",
    "millimeters": "mm",
    "meters": "m",
    "wavenumber": "cm-1",
    "wavenumbers": "cm-1",
    "index": "channel",
    "kev": "keV",
    "ev": "eV",
}
_LIST_FIELDS = ("wavelength", "fwhm", "bbl", "band names", "spectra names")


def parse_envi_header(text: str, *, source: str = "the header") -> dict[str, str | list[str]]:
    """Parse ENVI header text into ``{field: value}`` (field names lower case).

    Brace-delimited values (which may span lines) become lists of strings for the list
    fields (``wavelength``, ``fwhm``, ``bbl``, ``band names``) and stripped text otherwise.
    """
    lines = text.replace("\r\n", "\n").split("\n")
    if not lines or not lines[0].strip().upper().startswith("ENVI"):
        raise FileFormatError(f"{source} is not an ENVI header: its first line must be 'ENVI'.")
    fields: dict[str, str | list[str]] = {}
    body = "\n".join(lines[1:])
    pos = 0
    pattern = re.compile(r"^[ \t]*([^=\n;][^=\n]*?)[ \t]*=[ \t]*", re.MULTILINE)
    while True:
        match = pattern.search(body, pos)
        if match is None:
            break
        key = match.group(1).strip().lower()
        pos = match.end()
        if body[pos : pos + 1] == "{":
            close = body.find("}", pos)
            if close < 0:
                raise FileFormatError(f"{source}: the value of {key!r} opens '{{' but never closes it.")
            raw = body[pos + 1 : close]
            pos = close + 1
            value: str | list[str] = (
                [item.strip() for item in raw.split(",") if item.strip()] if key in _LIST_FIELDS else raw.strip()
            )
        else:
            end = body.find("\n", pos)
            end = len(body) if end < 0 else end
            value = body[pos:end].strip()
            pos = end
        fields[key] = value
    return fields


def _int_field(fields: dict, key: str, source: str, *, default=None, low: int = 0) -> int:
    raw = fields.get(key, default)
    if raw is None:
        raise FileFormatError(f"{source}: the required field {key!r} is missing. Every ENVI header needs it.")
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise FileFormatError(f"{source}: field {key!r} must be an integer; got {raw!r}.") from None
    if value < low:
        raise FileFormatError(f"{source}: field {key!r} must be >= {low}; got {value}.")
    return value


def _float_list(fields: dict, key: str, source: str, n: int) -> np.ndarray | None:
    raw = fields.get(key)
    if raw is None:
        return None
    items = raw if isinstance(raw, list) else [raw]
    try:
        values = np.array([float(v) for v in items], dtype=np.float64)
    except ValueError:
        raise FileFormatError(f"{source}: field {key!r} must be a list of numbers.") from None
    if values.size != n:
        raise FileFormatError(f"{source}: field {key!r} has {values.size} values but the header declares {n} bands.")
    return values


def _float_field(fields: dict, key: str, source: str) -> float | None:
    raw = fields.get(key)
    if raw is None:
        return None
    try:
        return float(str(raw).strip())
    except ValueError:
        raise FileFormatError(f"{source}: field {key!r} must be a number; got {raw!r}.") from None


def _stated_unit(fields: dict, source: str) -> str | None:
    """``wavelength units`` as chemmap spells it; ``None`` when the header states none."""
    raw = str(fields.get("wavelength units", "unknown")).strip()
    if raw.lower() in UNSTATED_UNITS:
        return None
    spelled = ENVI_UNITS.get(raw.lower(), raw)
    try:
        parse_unit(spelled)
    except AxisError:
        warnings.warn(
            f"{source}: 'wavelength units = {raw}' is not a unit chemmap knows; the axis is read as "
            "plain channel positions. Pass axis_unit= to set it.",
            DataWarning,
            stacklevel=4,
        )
        return "channel"
    return spelled


def header_for(path: Path) -> Path:
    """The header of ``path`` (itself when it is one, else ``name.hdr`` or ``stem.hdr``)."""
    if path.suffix.lower() == ".hdr":
        return path
    for candidate in (path.with_name(path.name + ".hdr"), path.with_suffix(".hdr"), path.with_suffix(".HDR")):
        if candidate.is_file():
            return candidate
    raise InputFileNotFoundError(
        f"No ENVI header found for {path}: tried {path.name}.hdr and {path.stem}.hdr. To fix this, "
        "keep the .hdr file beside the data file."
    )


def _data_file_for(header: Path, fields: dict, data_file) -> Path:
    if data_file is not None:
        path = Path(data_file)
        if not path.is_file():
            raise InputFileNotFoundError(f"The data file {path} does not exist.")
        return path
    named = fields.get("data file") or fields.get("filename")
    if named:
        target = header.parent / str(named)
        if target.resolve().parent != header.parent.resolve() and not target.is_symlink():
            raise FileFormatError(
                f"{header}: field 'data file' points to {named!r}, outside the header's folder. chemmap only "
                "reads data files that sit beside their header. To fix this, move the data file next to the "
                "header, or pass data_file= explicitly."
            )
        if not target.is_file():
            raise InputFileNotFoundError(f"{header}: field 'data file' names {named!r}, which does not exist.")
        return companion_file(header, target, what="data file", option="data_file=, or name the data file")
    stem = header.with_suffix("")
    candidates = [stem] if stem.suffix else []
    candidates += [stem.with_name(stem.name + s) for s in (*DATA_SUFFIXES, *(s.upper() for s in DATA_SUFFIXES))]
    candidates.append(stem)
    for candidate in candidates:
        if candidate.is_file() and candidate != header:
            return companion_file(header, candidate, what="data file", option="data_file=, or name the data file")
    tried = ", ".join(sorted({c.name for c in candidates}))
    raise InputFileNotFoundError(
        f"No data file found for the ENVI header {header}: tried {tried}. To fix this, keep the data file "
        "beside the header with one of those names, or pass data_file=."
    )


def _memmap(data_path: Path, fields: dict, source: str):
    samples = _int_field(fields, "samples", source, low=1)
    lines = _int_field(fields, "lines", source, low=1)
    bands = _int_field(fields, "bands", source, low=1)
    offset = _int_field(fields, "header offset", source, default=0)
    code = _int_field(fields, "data type", source)
    if code not in ENVI_DTYPES:
        raise FileFormatError(
            f"{source}: field 'data type' = {code} is not supported. Supported codes: "
            f"{', '.join(f'{c} ({np.dtype(t).name})' for c, t in ENVI_DTYPES.items())}; complex data (6, 9) "
            "cannot be mapped."
        )
    order = _int_field(fields, "byte order", source, default=0)
    if order not in (0, 1):
        raise FileFormatError(f"{source}: field 'byte order' must be 0 (little endian) or 1 (big endian); got {order}.")
    interleave = str(fields.get("interleave", "bsq")).strip().lower()
    shapes = {"bsq": (bands, lines, samples), "bil": (lines, bands, samples), "bip": (lines, samples, bands)}
    if interleave not in shapes:
        raise FileFormatError(f"{source}: field 'interleave' must be bsq, bil or bip; got {interleave!r}.")
    dtype = np.dtype(ENVI_DTYPES[code]).newbyteorder(">" if order == 1 else "<")
    needed = offset + samples * lines * bands * dtype.itemsize
    check_fits_in_file(
        data_path,
        needed=needed,
        available=data_path.stat().st_size,
        field=f"samples={samples}, lines={lines}, bands={bands}, data type={code}, header offset={offset}",
    )
    raw = np.memmap(data_path, dtype=dtype, mode="r", offset=offset, shape=shapes[interleave])
    to_hwc = {"bsq": (1, 2, 0), "bil": (0, 2, 1), "bip": (0, 1, 2)}[interleave]
    return raw.transpose(to_hwc)


def read_envi(
    path,
    *,
    data_file=None,
    dtype=None,
    lazy: bool = False,
    apply_scale: bool = True,
    axis_unit: str | None = None,
) -> Cube:
    """Read an ENVI image (header + data file) into a Cube.

    Parameters
    ----------
    path : str or Path
        The ``.hdr`` header or its data file.
    data_file : str or Path, optional
        The data file, when its name does not follow the header's (a relative path is
        relative to the header's folder).
    dtype : dtype, optional
        Convert the data; by default the file's type is kept and the data stay memory-mapped.
    lazy : bool
        Return a Dask array over the memory map (chunks hold whole spectra).
    apply_scale : bool
        Divide by ``reflectance scale factor`` when the header has one (float32 data).
    axis_unit : str, optional
        Converts from ``wavelength units`` (eV and keV; lengths are kept in nm), or labels
        the axis when the header states no unit.

    Returns
    -------
    Cube
        ``axis.fwhm`` and ``axis.bad_bands`` come from ``fwhm`` and ``bbl``; ``attrs["envi"]``
        keeps the header fields.
    """
    path = Path(path)
    header = header_for(path)
    source = str(header)
    try:
        text = header.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise FileFormatError(f"{header} cannot be read ({exc}).") from None
    fields = parse_envi_header(text, source=source)
    if data_file is not None and not Path(data_file).is_absolute():
        data_file = header.parent / data_file  # beside the header, as 'data file' in a header is
    data_path = _data_file_for(header, fields, data_file if data_file is not None or path == header else path)
    library = str(fields.get("file type", "")).strip().lower() == "envi spectral library"
    data = _memmap(data_path, fields, source)
    if library:
        data = _library_table(data, source)
    bands = data.shape[-1]
    wavelength = _float_list(fields, "wavelength", source, bands)
    unit = _stated_unit(fields, source) if wavelength is not None else "channel"
    fwhm = _float_list(fields, "fwhm", source, bands)
    bbl = _float_list(fields, "bbl", source, bands)
    scale = _float_field(fields, "reflectance scale factor", source) if apply_scale else None
    if scale is not None and (scale == 0 or not np.isfinite(scale)):
        raise FileFormatError(f"{source}: field 'reflectance scale factor' must be a non-zero number; got {scale}.")
    if scale == 1.0:
        scale = None
    if lazy:
        data = lazy_view(data)
    return build_cube(
        data,
        wavelength,
        unit,
        source=data_path.name,
        requested_unit=axis_unit,
        guess_unit=True,
        dtype=dtype,
        fwhm=fwhm,
        bad_bands=None if bbl is None else bbl == 0,
        ignore_value=_float_field(fields, "data ignore value", source),
        scale=scale,
        attrs={
            "format": "envi",
            "envi": {k: v for k, v in fields.items() if k not in _LIST_FIELDS},
            **(_library_attrs(fields, data.shape[0]) if library else {}),
        },
    )


def _library_table(data, source: str):
    """An ENVI spectral library (``lines`` spectra of ``samples`` channels, one band) as a
    one-column image: one spectrum per row, the axis from ``wavelength``."""
    bands = data.shape[2]
    if bands != 1:
        raise FileFormatError(f"{source}: a spectral library must have bands = 1 (one spectrum per line); got {bands}.")
    return data.transpose(0, 2, 1)


def _library_attrs(fields: dict, n_spectra: int) -> dict:
    names = fields.get("spectra names")
    names = list(names) if isinstance(names, list) and len(names) == n_spectra else None
    return {"spectral_library": True, "spectrum_names": names}


def _is_envi(path: Path) -> bool:
    if not path.is_file():
        return False
    try:
        header = header_for(path)
        with open(header, "rb") as fh:
            return fh.read(4).upper() == b"ENVI"
    except (OSError, FileFormatError):
        return False


def _list(values, fmt: str = "{:.10g}") -> str:
    return "{" + ", ".join(fmt.format(v) for v in values) + "}"


def write_envi(cube: Cube, path, *, interleave: str = "bsq", byte_order: str = "little", ignore_value=None) -> None:
    """Write ``cube`` as an ENVI header and data file, atomically.

    Parameters
    ----------
    cube : Cube
    path : str or Path
        The header (``x.hdr``; data go to ``x.img``) or the data file (``x.img``; header
        ``x.hdr``).
    interleave : {"bsq", "bil", "bip"}
    byte_order : {"little", "big"}
    ignore_value : float, optional
        Written into masked pixels and recorded as ``data ignore value``; by default NaN for
        float data (recorded) and nothing for integers (the mask is then lost).
    """
    from chemmap._shared.atomic import atomic_path
    from chemmap._shared.validation import check_choice

    interleave = check_choice(interleave, ("bsq", "bil", "bip"), name="interleave", func="write_envi")
    byte_order = check_choice(byte_order, ("little", "big"), name="byte_order", func="write_envi")
    path = Path(path)
    header = path if path.suffix.lower() == ".hdr" else path.with_suffix(".hdr")
    data_path = header.with_suffix(".img") if path.suffix.lower() == ".hdr" else path
    cube = cube.to_numpy()
    data = np.asarray(cube.data)
    if np.dtype(data.dtype.name) not in _CODE_OF:
        data = data.astype(np.float32)
    invalid = ~cube.valid_pixels().reshape(cube.image_shape)
    if invalid.any() and (ignore_value is not None or data.dtype.kind == "f"):
        ignore_value = np.nan if ignore_value is None else ignore_value
        data = data.copy()
        data[invalid] = ignore_value
    else:
        ignore_value = None
    order = {"bsq": (2, 0, 1), "bil": (0, 2, 1), "bip": (0, 1, 2)}[interleave]
    stored = np.ascontiguousarray(data.transpose(order)).astype(
        data.dtype.newbyteorder(">" if byte_order == "big" else "<"), copy=False
    )
    h, w, c = data.shape
    unit_names = {"nm": "Nanometers", "um": "Micrometers", "cm-1": "Wavenumber", "channel": "Index"}
    lines = [
        "ENVI",
        "description = {written by chemmap}",
        f"samples = {w}",
        f"lines = {h}",
        f"bands = {c}",
        "header offset = 0",
        "file type = ENVI Standard",
        f"data type = {_CODE_OF[np.dtype(data.dtype.name)]}",
        f"interleave = {interleave}",
        f"byte order = {1 if byte_order == 'big' else 0}",
        f"wavelength units = {unit_names.get(cube.axis.unit, cube.axis.unit)}",
        f"wavelength = {_list(cube.axis.values)}",
    ]
    if cube.axis.fwhm is not None:
        lines.append(f"fwhm = {_list(cube.axis.fwhm)}")
    if cube.axis.bad_bands is not None:
        lines.append(f"bbl = {_list(cube.axis.good_bands.astype(int), '{:d}')}")
    if ignore_value is not None and not (isinstance(ignore_value, float) and np.isnan(ignore_value)):
        lines.append(f"data ignore value = {ignore_value}")
    if cube.axis.names is not None:
        lines.append(f"band names = {_list(cube.axis.names, '{}')}")
    with atomic_path(header) as tmp_header, atomic_path(data_path) as tmp_data:
        stored.tofile(tmp_data)
        tmp_header.write_text("\n".join(lines) + "\n", encoding="utf-8")


readers.register(
    "envi",
    ReaderEntry(
        "envi",
        (".hdr", *DATA_SUFFIXES, ""),
        read_envi,
        "ENVI header + raw data (bsq/bil/bip), memory-mapped",
        sniff=_is_envi,
    ),
)
writers.register("envi", WriterEntry("envi", (".hdr", ".img"), write_envi, "ENVI header + data (.hdr + .img)"))
