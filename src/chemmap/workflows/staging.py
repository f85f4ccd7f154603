"""An output folder that only ever receives complete files: everything is written into a
hidden staging folder beside it and moved into place when the run has succeeded."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from chemmap.core.exceptions import OutputError
from chemmap.report.metrics_json import to_json_safe

__all__ = ["OUTPUT_CHUNK", "NpyRowWriter", "staged_output", "write_zarr_outputs"]

#: Chunk of the Zarr label and map outputs, in pixels per side.
OUTPUT_CHUNK = 1024


def _staging_prefix(out_dir: Path) -> str:
    """Name start of this host's staging folders of ``out_dir``; the owning process's id and a
    random part follow."""
    return f".{out_dir.name}.staging-{socket.gethostname()}-"


def _remove_stale_staging(out_dir: Path) -> None:
    """Delete the staging folders of ``out_dir`` left by runs of this host that no longer run
    (killed with SIGKILL, or the machine stopped); those of live runs, and of other hosts
    sharing the folder, are left alone."""
    if os.name != "posix":  # os.kill(pid, 0) tests a process only on POSIX
        return
    start = _staging_prefix(out_dir)
    for folder in out_dir.parent.glob(glob.escape(start) + "*"):
        pid = folder.name[len(start) :].split("-", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except PermissionError:  # alive, another user's
            pass


@contextlib.contextmanager
def staged_output(out_dir: str | os.PathLike) -> Iterator[Path]:
    """Yield a staging folder; on success move its files into ``out_dir``.

    On any exception the staging folder is deleted and ``out_dir`` is left as it was (a
    failed run leaves no partial files there). Files are moved with ``os.replace``, which
    is atomic per file on one file system. Staging folders of ``out_dir`` left by runs
    that were killed are deleted first.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(
            f"The output folder {out_dir} is a file; the results are a folder of files. To fix this, name a folder."
        )
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_staging(out_dir)
    staging = Path(tempfile.mkdtemp(prefix=f"{_staging_prefix(out_dir)}{os.getpid()}-", dir=out_dir.parent))
    try:
        yield staging
        out_dir.mkdir(parents=True, exist_ok=True)
        items = sorted(staging.iterdir())
        targets = [out_dir / item.name for item in items]
        clashes = [t for item, t in zip(items, targets, strict=True) if t.exists() and t.is_dir() != item.is_dir()]
        if clashes:  # refused before any file moves, so the folder is left as it was
            kinds = ", ".join(f"{c.name} ({'a folder' if c.is_dir() else 'a file'})" for c in clashes[:3])
            raise OutputError(
                f"{out_dir} already holds {kinds} where this run writes "
                f"{'a file' if clashes[0].is_dir() else 'a folder'} of that name; nothing was written there. "
                "To fix this, choose an empty --out folder, or move those away."
            )
        for item, target in zip(items, targets, strict=True):
            if item.is_dir() and target.exists():
                shutil.rmtree(target)
            os.replace(item, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def write_zarr_outputs(label_image, maps, folder: Path) -> None:
    """``cluster_labels.zarr`` (int32, -1 = masked) and ``maps.zarr`` (one float32 array per
    map, its provenance in the attributes), written chunk by chunk from the arrays as they
    are (no second copy of an image in memory)."""
    import zarr

    h, w = label_image.shape
    chunks = (min(h, OUTPUT_CHUNK), min(w, OUTPUT_CHUNK))
    labels = zarr.open_group(store=str(folder / "cluster_labels.zarr"), mode="w", zarr_format=3)
    labels.attrs.update({"description": "cluster of each pixel; -1 = masked or invalid", "layout": "row-major"})
    target = labels.create_array("labels", shape=(h, w), chunks=chunks, dtype=np.int32, fill_value=-1)
    _copy_by_rows(label_image, target, chunks[0])
    group = zarr.open_group(store=str(folder / "maps.zarr"), mode="w", zarr_format=3)
    group.attrs.update({"maps": to_json_safe(maps.attrs.get("maps", {})), "unit": maps.attrs.get("unit")})
    for i, name in enumerate(maps.map_names):
        target = group.create_array(name, shape=(h, w), chunks=chunks, dtype=np.float32, fill_value=np.nan)
        _copy_by_rows(maps.data[..., i], target, chunks[0])


def _copy_by_rows(source, target, rows: int) -> None:
    for start in range(0, source.shape[0], rows):
        target[start : start + rows] = np.asarray(source[start : start + rows], dtype=target.dtype)


class NpyRowWriter:
    """Write a ``.npy`` array of known shape band of rows after band, in order, with plain
    file writes (a memory map would count every written page in the process's memory).

    Use as a context manager; :meth:`write` takes the next rows. Leaving the block before
    every row was written raises, so a short file is never left looking complete.
    """

    def __init__(self, path: str | os.PathLike, shape: tuple[int, ...], dtype) -> None:
        self.path, self.shape, self.dtype = Path(path), tuple(int(n) for n in shape), np.dtype(dtype)
        self.rows = 0

    def __enter__(self) -> NpyRowWriter:
        self._fh = open(self.path, "wb")
        header = {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False, "shape": self.shape}
        np.lib.format.write_array_header_2_0(self._fh, header)
        return self

    def write(self, rows: np.ndarray) -> None:
        rows = np.ascontiguousarray(rows, dtype=self.dtype)
        if rows.shape[1:] != self.shape[1:] or self.rows + rows.shape[0] > self.shape[0]:
            raise ValueError(f"rows of shape {rows.shape} do not continue an array of shape {self.shape}")
        self._fh.write(rows.data)
        self.rows += rows.shape[0]

    def __exit__(self, kind, value, traceback) -> None:
        self._fh.close()
        if kind is None and self.rows != self.shape[0]:
            raise ValueError(f"{self.path}: {self.rows} of {self.shape[0]} rows were written")
