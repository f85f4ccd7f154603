"""An output folder that only ever receives complete files of one run: everything is written
into a hidden staging folder beside it and moved into place when the run has succeeded."""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from chemmap._shared.interrupt import check_interrupted, interrupts_deferred
from chemmap.core.exceptions import OutputError
from chemmap.report.metrics_json import to_json_safe

__all__ = [
    "OUTPUT_CHUNK",
    "RUN_RECORD",
    "NpyRowWriter",
    "check_file_target",
    "previous_run_outputs",
    "staged_output",
    "write_zarr_outputs",
]

#: Chunk of the Zarr label and map outputs, in pixels per side.
OUTPUT_CHUNK = 1024


#: The file every run writes last into its folder; its ``outputs`` list the files the run wrote.
RUN_RECORD = "run_record.json"


def _staging_prefix(out_dir: Path) -> str:
    """Name start of this host's staging folders of ``out_dir``; the owning process's id and a
    random part follow."""
    return f".{out_dir.name}.staging-{socket.gethostname()}-"


def _staging_parent(out_dir: Path) -> Path:
    """Where the staging folder goes: beside ``out_dir``, on the file system of its parent,
    unless ``out_dir`` is a folder on another one (a mount point, a link to another disk),
    where a rename from beside it would fail (EXDEV); then inside it."""
    if out_dir.is_dir() and out_dir.stat().st_dev != out_dir.parent.stat().st_dev:
        return out_dir
    return out_dir.parent


def _remove_stale_staging(out_dir: Path) -> None:
    """Delete the staging folders of ``out_dir`` left by runs of this host that no longer run
    (killed with SIGKILL, or the machine stopped); those of live runs, and of other hosts
    sharing the folder, are left alone."""
    if os.name != "posix":  # os.kill(pid, 0) tests a process only on POSIX
        return
    start = _staging_prefix(out_dir)
    for folder in _staging_parent(out_dir).glob(glob.escape(start) + "*"):
        pid = folder.name[len(start) :].split("-", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except PermissionError:  # alive, another user's
            pass


def previous_run_outputs(out_dir: Path) -> set[str] | None:
    """The names of the files an earlier run wrote into ``out_dir`` (from its
    ``run_record.json``), or None when the folder holds no run. Only plain names in the folder
    count: a damaged or edited record cannot make a run replace a file elsewhere."""
    record = out_dir / RUN_RECORD
    if not record.is_file():
        return None
    try:
        listed = json.loads(record.read_text(encoding="utf-8")).get("outputs", [])
    except (OSError, UnicodeDecodeError, ValueError, AttributeError, RecursionError):
        listed = []
    names = {n for n in listed if isinstance(n, str) and n not in ("", ".", "..") and Path(n).name == n}
    return names | {RUN_RECORD}


def _refuse_another_run(out_dir: Path) -> None:
    raise OutputError(
        f"{out_dir} holds the results of another chemmap run ({RUN_RECORD}); a second run there would mix "
        "the two. To fix this, choose another --out folder, or add --overwrite to replace that run's files."
    )


@contextlib.contextmanager
def _output_lock(out_dir: Path) -> Iterator[None]:
    """Hold ``.{name}.lock`` where the staging folder goes (beside ``out_dir``, or inside it on
    another file system) for the whole run, so that a second run into the same folder is
    refused instead of mixing its files with the first's (POSIX ``flock``; the lock ends with
    the process, however it ends)."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks of this kind
        yield
        return
    path = _staging_parent(out_dir) / f".{out_dir.name}.lock"
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise OutputError(
                f"Cannot write in {path.parent} ({exc.strerror}), where the run stages its files before they move "
                f"into {out_dir}. To fix this, choose an --out folder in a place you can write to."
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise OutputError(
                f"Another chemmap run (process {holder}) is writing to {out_dir}; two runs into one folder would "
                "mix their files. To fix this, wait until it has ended, or choose another --out folder."
            ) from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:  # the last holder removed it between our open and lock
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
        os.close(fd)


@contextlib.contextmanager
def staged_output(
    out_dir: str | os.PathLike, *, overwrite: bool = False, replaces: tuple[str, ...] = ()
) -> Iterator[Path]:
    """Yield a staging folder; on success move its files into ``out_dir``.

    The rule of an output folder: a run never mixes its files with another run's, and never
    replaces or deletes a file that no chemmap run wrote. ``out_dir`` may be new, empty, or
    hold files of the user's (kept; one of the same name as an output is refused). A folder
    that holds an earlier run (its ``run_record.json``) is refused unless ``overwrite``; then
    that run's files are replaced as a whole (those the new run does not write are removed).
    A lock beside the folder refuses a second run into it while one is running.

    On any exception the staging folder is deleted and ``out_dir`` is left as it was (a
    failed run leaves no partial files there). Files are moved with ``os.replace``, which
    is atomic per file on one file system. Staging folders of ``out_dir`` left by runs
    that were killed are deleted first.

    Parameters
    ----------
    out_dir : str or Path
    overwrite : bool
        Replace the files of an earlier run in ``out_dir``.
    replaces : tuple of str
        Further names that this write may replace (the demo's own input files).
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(
            f"The output folder {out_dir} is a file; the results are a folder of files. To fix this, name a folder."
        )
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with _output_lock(out_dir):
        if previous_run_outputs(out_dir) is not None and not overwrite:
            _refuse_another_run(out_dir)  # before the run, not after it
        _remove_stale_staging(out_dir)
        parent = _staging_parent(out_dir)
        staging = Path(tempfile.mkdtemp(prefix=f"{_staging_prefix(out_dir)}{os.getpid()}-", dir=parent))
        try:
            yield staging
            check_interrupted()
            with interrupts_deferred():  # a folder is never left half moved
                _move_into(staging, out_dir, overwrite=overwrite, replaces=set(replaces))
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def _move_into(staging: Path, out_dir: Path, *, overwrite: bool, replaces: set[str]) -> None:
    """Move the files of ``staging`` into ``out_dir`` under the rule of :func:`staged_output`;
    every refusal comes before the first file moves."""
    out_dir.mkdir(parents=True, exist_ok=True)
    previous = previous_run_outputs(out_dir)
    if previous is not None and not overwrite:
        _refuse_another_run(out_dir)
    replaceable = (previous or set()) | replaces
    items = sorted(staging.iterdir())
    foreign = [item.name for item in items if _exists(out_dir / item.name) and item.name not in replaceable]
    if foreign:
        raise OutputError(
            f"{out_dir} already holds {', '.join(foreign[:3])}{' ...' if len(foreign) > 3 else ''}, which no "
            "chemmap run wrote there, where this run writes its own; nothing was written there. To fix this, "
            "choose an empty --out folder, or move those away."
        )
    aside = staging / ".replaced"  # the earlier run's files, deleted with the staging folder
    aside.mkdir()
    for name in sorted(replaceable):
        if _exists(out_dir / name):
            os.replace(out_dir / name, aside / name)
    for item in items:
        os.replace(item, out_dir / item.name)


def check_file_target(target: Path, source, *, overwrite: bool) -> None:
    """Refuse an output file that exists (unless ``overwrite``) or that is the input itself
    (always: the input is still being read while the output is written)."""
    if not _exists(target):
        return
    if source is not None and Path(source).exists() and Path(source).resolve() == target.resolve():
        raise OutputError(
            f"The output {target} is the input file itself; writing it would destroy what is being read. "
            "To fix this, name another output file."
        )
    if not overwrite:
        raise OutputError(f"{target} exists. To fix this, name another output file, or add --overwrite to replace it.")


def _exists(path: Path) -> bool:
    return path.exists() or path.is_symlink()


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
