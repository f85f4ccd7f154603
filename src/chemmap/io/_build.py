"""Turn what a cube reader found in a file into a :class:`Cube`, the same way for every format."""

from __future__ import annotations

import functools
import warnings
from pathlib import Path

import numpy as np

from chemmap.core.axis import SpectralAxis, parse_unit, resolve_axis_unit, sort_order
from chemmap.core.cube import Cube, is_lazy_array
from chemmap.core.exceptions import ChemmapError, DataWarning, FileFormatError, MemoryLimitError, ShapeError

__all__ = [
    "ROWS_PER_PASS_BYTES",
    "RemappedFile",
    "build_cube",
    "check_fits_in_file",
    "invalid_pixel_mask",
    "is_memory_mapped",
    "lazy_view",
    "mask_invalid_pixels",
    "unreadable_file",
]

#: Bytes of a cube looked at at once when a reader scans it (finite checks, ignore values).
ROWS_PER_PASS_BYTES = 64 * 2**20
#: Memory-mapped cubes up to this size are scanned for NaN pixels at read time; larger ones
#: (and lazy ones) when a step first reads them (see :func:`mask_invalid_pixels`).
SCAN_AT_READ_BYTES = 256 * 2**20


def check_fits_in_file(path, *, needed: int, available: int, field: str) -> None:
    """Refuse a header whose declared size exceeds the bytes the data file holds.

    Checked before any allocation, so a header claiming 10^12 pixels is an error rather
    than an exhausted memory.
    """
    if needed > available:
        raise FileFormatError(
            f"{path}: the header ({field}) declares {needed:,} bytes of data but the file holds "
            f"{available:,}. The data file is truncated or the header is wrong. To fix this, "
            "check the sizes and data type in the header against the file."
        )


def invalid_pixel_mask(data, *, ignore_value=None) -> np.ndarray:
    """``True`` for pixels that are not finite in some channel or equal ``ignore_value`` in all.

    Reads ``data`` (NumPy, memory map or Dask) block by block, so a memory-mapped cube is
    scanned without holding a float copy of it, and a Dask cube in parallel.
    """
    from chemmap._shared.blockwise import reduce_blocks

    # image rows are the blocks: a transposed memory map (BIL, BSQ) is never reshaped whole
    flags = reduce_blocks(
        functools.partial(_invalid_rows, ignore_value=ignore_value),
        data,
        block_bytes=ROWS_PER_PASS_BYTES,
        stage="scanning for invalid pixels",
    )
    return np.concatenate(flags) if flags else np.zeros(tuple(data.shape[:2]), bool)


def _invalid_rows(block: np.ndarray, rows: slice, *, ignore_value) -> np.ndarray:
    bad = np.zeros(block.shape[:-1], bool)
    if block.dtype.kind in "fc":
        bad |= ~np.all(np.isfinite(block), axis=-1)
    if ignore_value is not None:
        bad |= np.all(block == ignore_value, axis=-1)
    return bad


def is_memory_mapped(data) -> bool:
    """True when ``data`` is (a view of) a NumPy memory map, not a copy of one (``astype`` of a
    ``np.memmap`` is a ``np.memmap`` in memory, whose ``_mmap`` is None)."""
    while data is not None:
        if isinstance(data, np.memmap) and getattr(data, "_mmap", None) is not None:
            return True
        data = getattr(data, "base", None)
    return False


def mask_invalid_pixels(cube: Cube) -> Cube:
    """``cube`` with non-finite pixels removed from the mask, scanning the data once by blocks.

    Readers of memory-mapped and lazy files skip this scan (reading would defeat the
    mapping); callers that are about to read every pixel anyway run it then.
    """
    if cube.attrs.get("n_nonfinite_pixels") is not None:
        return cube
    invalid = invalid_pixel_mask(cube.data)
    mask = ~invalid if cube.mask is None else cube.mask & ~invalid
    attrs = {**cube.attrs, "n_nonfinite_pixels": int(invalid.sum())}
    return cube.replace(mask=mask if invalid.any() or cube.mask is not None else None, attrs=attrs)


def unreadable_file(reader: str, path, exc: BaseException) -> FileFormatError:
    """The error for a file that a parser failed on, at read time or when a lazy block is read."""
    message = f"{type(exc).__name__}: {exc}".strip().rstrip(".")
    return FileFormatError(
        f"The {reader} reader could not read {Path(path).name}: {message}. The file may be damaged or truncated "
        "(copy it again), or in a variant this reader does not know (pass format= to try another reader; "
        "chemmap info --formats lists them)."
    )


def lazy_view(data, *, reader: str | None = None, path=None):
    """A Dask array over ``data`` (memory map, h5py or zarr array) in chunks of whole
    spectra within the block budget of the memory limit (the file's chunks when they fit).

    A memory map is read through :class:`RemappedFile`, so the pages a pass has read leave
    the process's resident memory with each chunk instead of piling up to the file's size.
    With ``reader`` and ``path``, a block that cannot be read later (a truncated or damaged
    chunk) raises :func:`unreadable_file`'s error instead of the parser's own.
    """
    import dask.array as da
    from dask.base import tokenize

    from chemmap._shared.blockwise import bounded_chunks

    chunks = bounded_chunks(data.shape, np.dtype(data.dtype).itemsize, file_chunks=getattr(data, "chunks", None))
    check_declared_shape(data.shape, data.dtype, path, chunks=chunks)
    remapped = RemappedFile.over(data)
    if remapped is None:
        if path is None:
            return da.from_array(data, chunks=chunks, asarray=True, lock=False)
        name = f"read-{tokenize(data, str(path))}"
        return da.from_array(ReportedReads(data, reader, path), chunks=chunks, asarray=True, lock=False, name=name)
    # named here: Dask would otherwise name a memory map by hashing all of its bytes
    return da.from_array(remapped, chunks=chunks, asarray=True, lock=False, name=f"mapped-{remapped.token()}")


#: Most blocks a lazy read may plan: Dask holds a task for each, and beyond this the plan
#: alone takes gigabytes (a 16 GiB cube is a few hundred blocks of the default budget).
MAX_BLOCKS = 1 << 16


def check_declared_shape(shape, dtype, path, *, chunks=None) -> None:
    """Refuse a declared array that holds nothing, or that no run could take under the
    memory limit, even lazily: more blocks (of ``chunks``, default those of a lazy read) than
    :data:`MAX_BLOCKS`, or a dimension so long that an axis of its length would not fit (a
    file that declares far more than it holds, or a damaged header)."""
    from chemmap._shared.blockwise import bounded_chunks
    from chemmap._shared.compute import ensure_bytes_fit, format_bytes

    if len(shape) == 0 or min(shape) == 0:
        raise FileFormatError(
            f"{Path(path).name if path else 'The array'} holds no data (shape {tuple(shape)}). To fix this, "
            "check that the file was written completely."
        )
    if chunks is None:
        chunks = bounded_chunks(shape, np.dtype(dtype).itemsize) if len(shape) == 3 else shape
    blocks = 1
    for n, k in zip(shape, chunks, strict=False):
        blocks *= -(-int(n) // max(1, int(k)))
    declared = f"{Path(path).name if path else 'the array'} declares {' x '.join(map(str, shape))} {np.dtype(dtype)}"
    fix = "check the file (a damaged header declares sizes the data never had), or crop it"
    if blocks > MAX_BLOCKS:
        size = format_bytes(int(np.prod(shape, dtype=np.float64)) * np.dtype(dtype).itemsize)
        raise MemoryLimitError(
            f"{declared} ({size}): {blocks} blocks under the memory limit, more than the {MAX_BLOCKS} a lazy read "
            f"can plan. To fix this, {fix}."
        )
    ensure_bytes_fit(8 * max(shape, default=0), what=f"{declared}; one axis of its longest dimension", fix=fix)


class ReportedReads:
    """``array`` (h5py, zarr, tifffile) whose failed reads raise :func:`unreadable_file`."""

    def __init__(self, array, reader: str, path) -> None:
        self.array, self.reader, self.path = array, reader, path
        self.shape, self.dtype, self.ndim = tuple(array.shape), np.dtype(array.dtype), len(array.shape)

    def __getitem__(self, key) -> np.ndarray:
        try:
            return np.asarray(self.array[key])
        except (ChemmapError, MemoryError):
            raise
        except Exception as exc:
            raise unreadable_file(self.reader, self.path, exc) from exc


class RemappedFile:
    """A read-only array over a file that is memory-mapped afresh for every read.

    A single long-lived map of a large file keeps every page it has served resident (the
    kernel counts them in the process's memory until it needs them back), so one pass over
    a 16 GiB file would show 16 GiB resident. Mapping per read and copying the block out
    unmaps the pages as soon as the block is taken; they stay in the page cache.

    Parameters
    ----------
    path : str
    dtype : dtype
    offset : int
        Bytes before the data.
    stored_shape : tuple of int
        Shape of the data as stored (C order).
    axes : tuple of int
        Transpose from the stored order to the order served (e.g. band-sequential to
        height, width, channel).
    """

    def __init__(self, path: str, dtype, offset: int, stored_shape: tuple, axes: tuple):
        self.path, self.dtype, self.offset = path, np.dtype(dtype), int(offset)
        self.stored_shape, self.axes = tuple(stored_shape), tuple(axes)
        self.shape = tuple(self.stored_shape[a] for a in self.axes)
        self.ndim = len(self.shape)

    @classmethod
    def over(cls, view) -> RemappedFile | None:
        """The file behind ``view`` (a whole NumPy memory map, possibly transposed), or
        ``None`` when ``view`` is not one (a slice of a map, an in-memory array)."""
        root = view
        while isinstance(getattr(root, "base", None), np.memmap):
            root = root.base
        if not isinstance(root, np.memmap) or root.filename is None or not root.flags.c_contiguous:
            return None
        if view.ndim != root.ndim or view.__array_interface__["data"][0] != root.__array_interface__["data"][0]:
            return None
        axes = []
        for size, stride in zip(view.shape, view.strides, strict=True):
            match = [
                a for a in range(root.ndim) if (root.strides[a], root.shape[a]) == (stride, size) and a not in axes
            ]
            if not match:
                return None
            axes.append(match[0])
        return cls(root.filename, root.dtype, root.offset, root.shape, tuple(axes))

    def token(self) -> str:
        """A name for this view of the file that changes when the file does."""
        import hashlib
        import os

        stat = os.stat(self.path)
        key = (self.path, stat.st_mtime_ns, stat.st_size, self.dtype.str, self.offset, self.stored_shape, self.axes)
        return hashlib.sha1(repr(key).encode()).hexdigest()

    def __getitem__(self, key) -> np.ndarray:
        mapped = np.memmap(self.path, dtype=self.dtype, mode="r", offset=self.offset, shape=self.stored_shape)
        return np.array(mapped.transpose(self.axes)[key])  # the map closes with its last reference


def build_cube(
    data,
    axis_values,
    unit: str | None,
    *,
    source: str,
    requested_unit: str | None = None,
    guess_unit: bool = False,
    mask=None,
    labels=None,
    label_names=None,
    dtype=None,
    fwhm=None,
    bad_bands=None,
    ignore_value=None,
    scale: float | None = None,
    attrs: dict | None = None,
) -> Cube:
    """Validate, sort and convert a reader's findings into a Cube.

    Parameters
    ----------
    data : ndarray, memory map or dask array of shape (height, width, n_channels)
    axis_values : array-like of shape (n_channels,) or None
        Channel positions; ``None`` numbers the channels (unit ``"channel"``).
    unit : str or None
        The axis unit as the file states it (``None`` or ``"Unknown"`` when it states none);
        length units are converted to nm (see :func:`chemmap.core.axis.resolve_axis_unit`).
    source : str
        File name used in messages and provenance.
    requested_unit : str, optional
        The user's ``axis_unit=``: converts a stated unit of the same kind, labels an unstated one.
    guess_unit : bool
        Read unstated values that can only be wavelengths as nm (imaging formats), with a warning.
    mask, labels, label_names
        Optional pixel mask and ground truth.
    dtype : dtype, optional
        Convert the data; ``None`` keeps the file's type (a memory map stays a memory map).
    fwhm, bad_bands : array-like of shape (n_channels,), optional
        Per-channel resolution and bad-band flags.
    ignore_value : float, optional
        Pixels equal to it in every channel are masked (ENVI ``data ignore value``).
    scale : float, optional
        Data are divided by it (ENVI ``reflectance scale factor``); gives float32 data.
    attrs : dict, optional
        Extra provenance.
    """
    if data.ndim != 3:
        raise ShapeError(
            f"{source} holds an array of shape {tuple(data.shape)}; expected a cube (height, width, "
            "n_channels). For flat (n_pixels, n_channels) data give image_shape, or use a flat "
            "CSV/HDF5/Parquet table."
        )
    n_channels = int(data.shape[-1])
    if axis_values is None:
        axis_values, unit = np.arange(n_channels, dtype=np.float64), "channel"
    axis_values = np.asarray(axis_values, dtype=np.float64).reshape(-1)
    unit_was_stated = parse_unit(unit)[0]
    axis_values, unit, factor, unit_note = resolve_axis_unit(
        axis_values, unit, requested_unit, source=f"The spectral axis of {source}", guess=guess_unit
    )
    if fwhm is not None and factor != 1:
        fwhm = np.asarray(fwhm, dtype=np.float64) * factor
    if axis_values.shape != (n_channels,):
        raise ShapeError(
            f"The spectral axis of {source} has {axis_values.size} values but the data have "
            f"{n_channels} channels on the last axis."
        )
    extras = {"fwhm": fwhm, "bad_bands": bad_bands}
    for name, values in extras.items():
        if values is not None and np.size(values) != n_channels:
            raise FileFormatError(f"{source}: {name} has {np.size(values)} values for {n_channels} channels.")
    order = sort_order(axis_values, source=f"The spectral axis of {source}")
    if order is not None:
        data, axis_values = data[..., order], axis_values[order]
        extras = {k: None if v is None else np.asarray(v)[order] for k, v in extras.items()}
    nbytes = int(np.prod(data.shape)) * np.dtype(data.dtype).itemsize
    deferred = is_lazy_array(data) or (is_memory_mapped(data) and nbytes > SCAN_AT_READ_BYTES)
    invalid = invalid_pixel_mask(data, ignore_value=ignore_value) if not deferred or ignore_value is not None else None
    if deferred and ignore_value is None and data.dtype.kind not in "fc":
        invalid = np.zeros(data.shape[:2], bool)  # integers cannot be NaN: nothing to scan
    if scale is not None:
        data = data.astype(np.float32) / np.float32(scale)
    if dtype is not None and np.dtype(dtype) != data.dtype:
        data = data.astype(dtype)
    full_mask = None
    if mask is not None or (invalid is not None and invalid.any()):
        full_mask = np.ones(data.shape[:2], bool) if mask is None else np.asarray(mask, dtype=bool).copy()
        if invalid is not None:
            full_mask &= ~invalid
    base_attrs = {
        "source": source,
        "n_missing_pixels": 0,
        "n_nonfinite_pixels": None if invalid is None else int(invalid.sum()),
        "image_shape_source": f"the array shape in {source}",
    }
    if unit_note is not None:
        # a guess: the user should know; a label the user asked for or a conversion is recorded
        if unit_was_stated in (None, "channel") and requested_unit is None:
            warnings.warn(unit_note, DataWarning, stacklevel=3)
        base_attrs["axis_unit_note"] = unit_note
    base_attrs.update(attrs or {})
    axis = SpectralAxis(axis_values, unit, **extras)
    return Cube(data, axis, mask=full_mask, labels=labels, label_names=label_names, attrs=base_attrs)
