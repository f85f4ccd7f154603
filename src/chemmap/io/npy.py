"""NumPy cubes: ``.npz`` with named arrays and ``.npy`` with an ``axis=`` option.

``.npz`` keys: ``cube`` (H, W, C), ``axis`` (C,), optional ``axis_unit`` (str), ``mask``
(H, W) bool, ``labels`` (H, W) int (-1 = unlabelled), ``label_names`` (array of str,
indexed by label value).
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import NamedTuple

import numpy as np

from chemmap._shared.compute import ensure_bytes_fit
from chemmap.core.cube import Cube
from chemmap.core.exceptions import FileFormatError
from chemmap.io._build import build_cube, unreadable_file
from chemmap.io._registry import ReaderEntry, WriterEntry, readers, writers

__all__ = ["read_npy", "read_npz", "write_npz"]


def _make_cube(data, axis_values, unit, *, source, mask=None, labels=None, label_names=None, dtype=None):
    return build_cube(
        data, axis_values, unit, source=source, mask=mask, labels=labels, label_names=label_names, dtype=dtype
    )


def read_npz(path, *, axis_unit: str | None = None, dtype=np.float32) -> Cube:
    """Read a ``.npz`` cube (keys in the module docstring)."""
    path = Path(path)
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise unreadable_file("npz", path, exc) from None
    with archive:
        if "cube" not in archive:
            raise FileFormatError(
                f"{path} has no array named 'cube'; found {sorted(archive.files)}. Expected keys "
                "cube (H, W, C) and axis (C,)."
            )
        header = _member_header(archive, "cube", path)
        shape, stored = header.shape, header.dtype
        n = int(np.prod(shape, dtype=np.int64))
        ensure_bytes_fit(
            n * max(stored.itemsize, np.dtype(dtype).itemsize),
            what=f"the cube of {path.name} ({' x '.join(map(str, shape))} {stored}; {path.stat().st_size} B on disk)",
            fix="raise --memory-limit, or save the cube in a format read lazily (Zarr, HDF5)",
        )
        unit = axis_unit or (str(archive["axis_unit"]) if "axis_unit" in archive else "channel")
        names = None
        if "label_names" in archive:
            names = dict(enumerate(str(n) for n in archive["label_names"]))
        return _make_cube(
            _stored_member(path, archive, "cube", header),
            archive["axis"] if "axis" in archive else None,
            unit,
            source=path.name,
            mask=archive["mask"] if "mask" in archive else None,
            labels=archive["labels"] if "labels" in archive else None,
            label_names=names,
            dtype=dtype,
        )


def _stored_member(path: Path, archive, name: str, header: MemberHeader):
    """The ``.npy`` member ``name`` of an uncompressed ``.npz`` (``np.savez``) as a read-only
    memory map: no copy, pages are read as the run touches them (a 1 GiB cube took 0.4-3 s to
    read into fresh memory). ``header``: the member's (:func:`_member_header`). The array is
    read into memory where the member is compressed, Fortran-ordered or cannot be mapped."""
    info = archive.zip.getinfo(f"{name}.npy")
    stored = info.compress_type == zipfile.ZIP_STORED and not info.flag_bits & 0x1
    if not stored or header.fortran or header.dtype.hasobject or 0 in header.shape:
        return archive[name]
    try:
        with open(path, "rb") as fh:
            fh.seek(info.header_offset)
            local = fh.read(30)  # the local file header: its name and extra field lengths at 26 and 28
        if local[:4] != b"PK\x03\x04":
            return archive[name]
        name_length, extra_length = int.from_bytes(local[26:28], "little"), int.from_bytes(local[28:30], "little")
        offset = info.header_offset + 30 + name_length + extra_length + header.length
        return np.memmap(path, dtype=header.dtype, mode="r", offset=offset, shape=header.shape)
    except (OSError, ValueError):
        return archive[name]


class MemberHeader(NamedTuple):
    """What the ``.npy`` header of an ``.npz`` member declares, and its length in bytes."""

    shape: tuple[int, ...]
    dtype: np.dtype
    fortran: bool
    length: int


def _member_header(archive, name: str, path: Path) -> MemberHeader:
    """The ``.npy`` header of an ``.npz`` member (read without decompressing the array: a
    small file can declare a huge one)."""
    try:
        with archive.zip.open(f"{name}.npy") as fh:
            version = np.lib.format.read_magic(fh)
            read_header = (
                np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            )
            shape, fortran, stored = read_header(fh)
            length = fh.tell()
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise unreadable_file("npz", path, exc) from None
    return MemberHeader(tuple(int(n) for n in shape), np.dtype(stored), bool(fortran), int(length))


def read_npy(path, *, axis=None, axis_unit: str = "channel", layout: str = "auto", dtype=np.float32) -> Cube:
    """Read a ``.npy`` cube.

    Parameters
    ----------
    path : str or Path
    axis : array-like of shape (n_channels,), optional
        Channel positions; with ``layout="auto"`` the dimension of the same length is spectral.
    axis_unit : str
        Unit of ``axis``.
    layout : {"auto", "bands_last", "bands_first"}
        ``(H, W, C)`` or channels-first ``(C, H, W)``; ``auto`` follows ``axis``, else last.
    dtype : dtype
    """
    from chemmap.io._spectral_dim import move_spectral_last

    path = Path(path)
    try:
        data = np.load(path, allow_pickle=False, mmap_mode="r")
    except (OSError, ValueError) as exc:
        raise unreadable_file("npy", path, exc) from None
    length = None if axis is None else int(np.size(axis))
    data, note = move_spectral_last(np.asarray(data), layout, source=path.name, axis_length=length)
    unit = axis_unit if axis is not None else "channel"
    cube = _make_cube(data, axis, unit, source=path.name, dtype=dtype)
    if note:
        cube.attrs["layout_note"] = note
    return cube


def write_npz(cube: Cube, path) -> None:
    """Write ``cube`` as ``.npz`` (compressed), atomically."""
    from chemmap._shared.atomic import atomic_path

    cube = cube.to_numpy()
    arrays = {"cube": cube.data, "axis": cube.axis.values, "axis_unit": np.array(cube.axis.unit)}
    if cube.mask is not None:
        arrays["mask"] = cube.mask
    if cube.labels is not None:
        top = max(cube.label_names, default=-1)
        arrays["labels"] = cube.labels
        arrays["label_names"] = np.array([cube.label_names.get(i, str(i)) for i in range(top + 1)])
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)


readers.register("npz", ReaderEntry("npz", (".npz",), read_npz, "NumPy archive with cube, axis, ..."))
readers.register(
    "npy", ReaderEntry("npy", (".npy",), read_npy, "NumPy array (H, W, C) or (C, H, W); axis=, layout= options")
)
writers.register("npz", WriterEntry("npz", (".npz",), write_npz, "NumPy archive"))
