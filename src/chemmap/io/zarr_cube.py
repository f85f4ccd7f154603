"""Zarr (v3) cube stores: ``(height, width, n_channels)`` chunked by pixels, axis in attributes.

The store is a folder (``name.zarr``) in the ``chemmap-cube`` layout (see
``chemmap.io._cube_layout``): group attributes ``axis`` and ``axis_unit``, arrays ``cube``,
``mask`` and ``labels``. A bare array store (no group) with ``axis``/``axis_unit``
attributes is read too. Reading is lazy by default: a Dask array over the chunks.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from chemmap._shared.validation import check_choice
from chemmap.core.cube import Cube
from chemmap.core.exceptions import FileFormatError
from chemmap.io._build import lazy_view, unreadable_file
from chemmap.io._cube_layout import cube_attrs, cube_chunks, cube_from_parts, iter_row_blocks
from chemmap.io._registry import ReaderEntry, WriterEntry, readers, writers
from chemmap.io._spectral_dim import move_spectral_last

__all__ = ["check_chunks_present", "read_zarr", "write_zarr"]


def check_chunks_present(array, source: str, *, missing_chunks: str = "error") -> None:
    """Refuse a Zarr array some of whose chunks are not in the store.

    Zarr reads an absent chunk as the array's fill value, which then looks like data (a
    store copied in part reads as rows of zeros). ``missing_chunks="fill"`` accepts that.
    """
    check_choice(missing_chunks, ("error", "fill"), name="missing_chunks", func="the Zarr reader")
    present = array.nchunks_initialized
    if missing_chunks == "error" and present < array.nchunks:
        raise FileFormatError(
            f"{source}: {array.nchunks - present} of the {array.nchunks} chunks of the cube are missing from the "
            f"store; they would read as its fill value ({array.fill_value}) as if that were data. The store is "
            "incomplete (an interrupted copy or write?), or it was written by a program that leaves out chunks "
            "holding only the fill value (Zarr's default, write_empty_chunks=False). To fix this, copy or write "
            "it again; where such chunks were left out on purpose, pass missing_chunks='fill' (--read-option "
            "missing_chunks=fill) to read them as the fill value."
        )


def read_zarr(
    path, *, cube_key: str = "cube", layout: str = "auto", dtype=None, lazy: bool = True, missing_chunks: str = "error"
) -> Cube:
    """Read a Zarr cube store.

    Parameters
    ----------
    path : str or Path
        The store folder.
    cube_key : str
        Array of the group holding the cube.
    layout : {"auto", "bands_last", "bands_first"}
        Where the spectral dimension is; ``auto`` takes the array's ``dimension_names`` or the
        dimension as long as the ``axis`` attribute, else the last.
    dtype : dtype, optional
        Convert the data; by default the stored type is kept.
    lazy : bool
        Return a Dask array (default) instead of reading it all: the store's chunks when
        they hold whole spectra within the block budget of the memory limit, else pieces
        of that size.
    missing_chunks : {"error", "fill"}
        A store that lacks some of the cube's chunks is an error; ``fill`` reads them as the
        array's fill value.
    """
    import zarr

    path = Path(path)
    try:
        node = zarr.open(store=str(path), mode="r")
    except (FileNotFoundError, ValueError, KeyError, TypeError) as exc:
        raise unreadable_file("zarr", path, exc) from None
    mask = labels = None
    if isinstance(node, zarr.Group):
        if cube_key not in node:
            raise FileFormatError(
                f"{path}: the Zarr group has no array {cube_key!r}; it has {sorted(node.array_keys())}. "
                "To fix this, pass cube_key=."
            )
        array, attrs = node[cube_key], dict(node.attrs)
        mask = node["mask"][...] if "mask" in node else None
        labels = node["labels"][...] if "labels" in node else None
    else:
        array, attrs = node, dict(node.attrs)
    if array.ndim != 3:
        raise FileFormatError(
            f"{path}: the cube array has shape {array.shape}; expected (height, width, n_channels) or, with "
            "layout='bands_first', (n_channels, height, width)."
        )
    check_chunks_present(array, path.name, missing_chunks=missing_chunks)
    if lazy:
        data = lazy_view(array, reader="zarr", path=path)
    else:
        data = array[...]
    names = getattr(getattr(array, "metadata", None), "dimension_names", None)
    length = len(attrs["axis"]) if attrs.get("axis") is not None else None
    data, note = move_spectral_last(data, layout, source=path.name, labels=names, axis_length=length)
    cube = cube_from_parts(data, attrs, mask=mask, labels=labels, source=path.name, dtype=dtype, fmt="zarr")
    if note:
        cube.attrs["layout_note"] = note
    return cube


def write_zarr(cube: Cube, path, *, chunk_mb: float = 16.0, compression: str = "auto") -> None:
    """Write ``cube`` as a Zarr v3 store, block by block, replacing ``path`` atomically.

    Parameters
    ----------
    cube : Cube
        NumPy or Dask backed; a Dask cube is computed one band of rows at a time.
    path : str or Path
        The store folder (``name.zarr``).
    chunk_mb : float
        Approximate chunk size in MiB; chunks hold whole spectra.
    compression : {"auto", "none", "zstd", "lz4"}
        ``auto``: none for float data (noisy spectra shrink by under 10 % and decoding
        would double the time of every pass), zstd for integer counts (which shrink a lot).
        ``lz4`` is Blosc-LZ4 with byte shuffle (fast to decode).
    """
    import zarr

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        group = zarr.open_group(store=str(tmp), mode="w", zarr_format=3)
        group.attrs.update(cube_attrs(cube))
        chunks = cube_chunks(cube.data.shape, cube.dtype.itemsize, chunk_bytes=int(chunk_mb * 2**20))
        # by its type string: NumPy's unsigned long long (Bruker .spx counts) is uint64 to NumPy
        # but matches no Zarr data type
        dtype = np.dtype(cube.dtype.str)
        array = group.create_array(
            "cube",
            shape=cube.data.shape,
            chunks=chunks,
            dtype=dtype,
            compressors=_compressors(compression, dtype),
            # every chunk, also one of zeros (empty pixels of a counts map): Zarr leaves those
            # out by default, and the reader takes an absent chunk for an interrupted copy
            config={"write_empty_chunks": True},
        )
        for start, block in iter_row_blocks(cube.data, chunks[0]):
            array[start : start + block.shape[0]] = block
        if cube.mask is not None:
            group.create_array("mask", data=np.asarray(cube.mask))
        if cube.labels is not None:
            group.create_array("labels", data=np.asarray(cube.labels, dtype=np.int32))
        _replace_folder(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _compressors(compression: str, dtype):
    from zarr.codecs import BloscCodec, ZstdCodec

    check_choice(compression, ("auto", "none", "zstd", "lz4"), name="compression", func="write_zarr")
    if compression == "auto":
        compression = "none" if np.dtype(dtype).kind == "f" else "zstd"
    return {
        "none": None,
        "zstd": ZstdCodec(level=1),
        "lz4": BloscCodec(cname="lz4", clevel=5, shuffle="shuffle"),
    }[compression]


def _replace_folder(new: Path, target: Path) -> None:
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
        os.replace(target, old / target.name)
        os.replace(new, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(new, target)


def _is_zarr(path: Path) -> bool:
    return path.is_dir() and ((path / "zarr.json").is_file() or (path / ".zgroup").is_file())


readers.register(
    "zarr",
    ReaderEntry("zarr", (".zarr", ""), read_zarr, "Zarr v3 cube store (a folder), read lazily", sniff=_is_zarr),
)
writers.register("zarr", WriterEntry("zarr", (".zarr",), write_zarr, "Zarr v3 cube store, written block-wise"))
