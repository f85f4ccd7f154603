"""TIFF stacks (through tifffile): multi-page ``(bands, H, W)``, ``(H, W, bands)`` and ImageJ
hyperstacks.

Which dimension is spectral comes from the file when it says so (tifffile axes: ``S`` =
samples per pixel is last, ``C``/``Z``/``T``/``L``/``E`` of a hyperstack first); for a
plain multi-page file the pages are taken as bands unless ``layout="bands_last"``. The
axis comes from the ``axis`` option, else from metadata written by chemmap (``axis`` and
``unit`` in the JSON description), GeoTIFF GDAL metadata (wavelength, FWHM, bad bands; see
``chemmap.io._gdal``) or numeric ImageJ slice labels, else channel numbers. GDAL's nodata
value masks the pixels that hold it in every band and flags the bands that hold it in
every pixel.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from chemmap.core.cube import Cube
from chemmap.core.exceptions import FileFormatError, InvalidParameterError
from chemmap.io._build import build_cube, lazy_view, unreadable_file
from chemmap.io._gdal import bands_all_nodata, gdal_metadata, gdal_unit
from chemmap.io._registry import ReaderEntry, WriterEntry, file_head, readers, writers

__all__ = ["read_tiff", "write_tiff"]

_TIFF_SIGNATURES = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


def _tifffile():
    from chemmap.core.optional import optional_import

    return optional_import("tifffile", extra="formats", purpose="Reading TIFF stacks")


def _to_hwc(data, axes: str, layout: str, source: str):
    """Data and the tifffile axes string -> an ``(H, W, C)`` array (a view when possible)."""
    if layout != "auto":
        squeezed = data.reshape([n for n in data.shape if n > 1]) if data.ndim > 3 else data
        if squeezed.ndim != 3:
            raise FileFormatError(
                f"{source}: layout={layout!r} needs a 3-D stack; the series has shape {tuple(data.shape)}."
            )
        return squeezed.transpose(1, 2, 0) if layout == "bands_first" else squeezed
    if "Y" not in axes or "X" not in axes:
        raise FileFormatError(f"{source}: the TIFF series has axes {axes!r}; expected image axes Y and X.")
    others = [i for i, a in enumerate(axes) if a not in "YX"]
    long = [i for i in others if data.shape[i] > 1]
    if len(long) > 1:
        raise FileFormatError(
            f"{source}: the TIFF series has axes {axes!r} with shape {tuple(data.shape)}: more than one "
            "non-image dimension is longer than 1, so the spectral one is ambiguous. To fix this, save "
            "one spectral stack per file."
        )
    if not others:
        return data[..., None]
    dim = long[0] if long else others[0]
    index = tuple(slice(None) if a in "YX" or i == dim else 0 for i, a in enumerate(axes))
    kept = [a if a in "YX" else "S" for i, a in enumerate(axes) if a in "YX" or i == dim]
    return data[index].transpose(kept.index("Y"), kept.index("X"), kept.index("S"))


def _written_layout(tif) -> tuple[str, tuple[int, ...]] | None:
    """Where chemmap's writer put the spectral dimension, and the shape it wrote: from the
    layout it records, or in files written before it recorded one, from the end of the
    shape the axis's length matches. tifffile stores a stack with one column (or one pixel)
    as a single page, whose axes alone would put the bands among the rows."""
    for meta in tif.shaped_metadata or ():
        if not (isinstance(meta, dict) and "axis" in meta and len(meta.get("shape", ())) == 3):
            continue
        shape, n = tuple(int(v) for v in meta["shape"]), len(meta["axis"])
        if meta.get("layout") in ("bands_first", "bands_last"):
            return meta["layout"], shape
        if shape[0] == n:
            return "bands_first", shape
        if shape[-1] == n:
            return "bands_last", shape
    return None


def _metadata_axis(tif, n: int) -> tuple[np.ndarray | None, str | None]:
    for meta in tif.shaped_metadata or ():
        if isinstance(meta, dict) and "axis" in meta and len(meta["axis"]) == n:
            return np.asarray(meta["axis"], dtype=np.float64), meta.get("unit", "channel")
    labels = (tif.imagej_metadata or {}).get("Labels")
    if labels is not None and len(labels) == n:
        try:
            return np.array([float(v) for v in labels]), (tif.imagej_metadata or {}).get("unit", "channel")
        except (TypeError, ValueError):
            return None, None
    return None, None


def read_tiff(
    path,
    *,
    axis=None,
    axis_unit: str | None = None,
    layout: str = "auto",
    series: int = 0,
    dtype=None,
    lazy: bool = False,
) -> Cube:
    """Read a TIFF stack into a Cube.

    Parameters
    ----------
    path : str or Path
    axis : array-like of shape (n_channels,), optional
        Channel positions; overrides the file's metadata.
    axis_unit : str, optional
        Unit of ``axis`` (or overrides the file's).
    layout : {"auto", "bands_first", "bands_last"}
        Where the spectral dimension is, for files that do not say.
    series : int
        Which image series of the file.
    dtype : dtype, optional
        Convert the data; by default the file's type is kept.
    lazy : bool
        Return a Dask array (memory-mapped when the file is uncompressed and contiguous).
    """
    from chemmap._shared.validation import check_choice

    tifffile = _tifffile()
    layout = check_choice(layout, ("auto", "bands_first", "bands_last"), name="layout", func="read_tiff")
    path = Path(path)
    try:
        tif = tifffile.TiffFile(path)
    except (tifffile.TiffFileError, OSError, ValueError) as exc:
        raise unreadable_file("tiff", path, exc) from None
    with tif:
        if not 0 <= series < len(tif.series):
            raise InvalidParameterError(f"{path} has {len(tif.series)} image series; series={series} does not exist.")
        s = tif.series[series]
        if lazy:
            try:
                data = tifffile.memmap(path, series=series, mode="r")
            except ValueError:
                data = s.asarray()
        else:
            data = s.asarray()
        written = _written_layout(tif) if layout == "auto" else None
        if written is not None and int(np.prod(written[1])) == data.size:
            data, layout = data.reshape(written[1]), written[0]
        data = _to_hwc(data, s.axes, layout, str(path))
        meta_axis, meta_unit = _metadata_axis(tif, data.shape[-1])
        gdal = gdal_metadata(tif.pages[0], data.shape[-1])
    if lazy:
        data = lazy_view(data, reader="tiff", path=path)
    requested = None
    if axis is not None:
        values, unit = axis, axis_unit or "channel"
    elif meta_axis is None and gdal.wavelength is not None:
        values, unit, requested = gdal.wavelength, gdal_unit(gdal.unit), axis_unit
    else:
        values, unit = meta_axis, axis_unit or meta_unit or "channel"
    bad_bands, nodata_note = gdal.bad_bands, None
    if gdal.nodata is not None and not lazy:
        nodata_bands = bands_all_nodata(data, gdal.nodata)
        if nodata_bands.any():
            bad_bands = nodata_bands if bad_bands is None else bad_bands | nodata_bands
            nodata_note = f"{int(nodata_bands.sum())} bands hold only the GDAL nodata value; flagged bad"
    cube = build_cube(
        data,
        values,
        unit,
        source=path.name,
        requested_unit=requested,
        guess_unit=requested is None and unit is None,
        dtype=dtype,
        fwhm=gdal.fwhm if values is gdal.wavelength else None,
        bad_bands=bad_bands,
        ignore_value=gdal.nodata,
        attrs={"format": "tiff", "tiff_axes": s.axes},
    )
    if nodata_note:
        cube.attrs["nodata_note"] = nodata_note
    return cube


def _is_tiff(path: Path) -> bool:
    return file_head(path, 4) in _TIFF_SIGNATURES


def write_tiff(cube: Cube, path, *, layout: str = "bands_first", compression: str | None = None) -> None:
    """Write ``cube`` as a TIFF stack with the axis and unit in the description, atomically.

    Parameters
    ----------
    layout : {"bands_first", "bands_last"}
        ``bands_first`` writes one page per band (what most viewers show as a stack).
    compression : str, optional
        tifffile compression name, e.g. ``"zlib"``.
    """
    from chemmap._shared.atomic import atomic_path
    from chemmap._shared.validation import check_choice

    tifffile = _tifffile()
    layout = check_choice(layout, ("bands_first", "bands_last"), name="layout", func="write_tiff")
    cube = cube.to_numpy()
    data = np.asarray(cube.data)
    meta = {"axis": [float(v) for v in cube.axis.values], "unit": cube.axis.unit, "layout": layout}
    with atomic_path(path) as tmp:
        if layout == "bands_first":
            tifffile.imwrite(
                tmp, np.moveaxis(data, -1, 0), metadata=meta, photometric="minisblack", compression=compression
            )
        else:
            tifffile.imwrite(
                tmp, data, metadata=meta, photometric="minisblack", planarconfig="contig", compression=compression
            )


readers.register(
    "tiff",
    ReaderEntry("tiff", (".tif", ".tiff"), read_tiff, "TIFF stacks and ImageJ hyperstacks (tifffile)", sniff=_is_tiff),
)
writers.register("tiff", WriterEntry("tiff", (".tif", ".tiff"), write_tiff, "TIFF stack, one page per band"))
