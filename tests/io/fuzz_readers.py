"""Fuzzing of the flat-table, ENVI, npz and HDF5 readers, run as a program of its own so that
its peak memory is its own (``tests/io/test_fuzz_readers.py`` starts it).

Each example is a valid small file bent by hypothesis (cells replaced, headers repeated,
sizes declared far beyond what the file holds, bytes cut off). ``chemmap.read`` must give a
Cube that holds what the file can hold, or a ChemmapError (the one-line ``chemmap: error:``
of the CLI); any other exception fails. The memory limit is ``LIMIT``; the program prints its
peak resident memory after each reader's examples.
"""

from __future__ import annotations

import itertools
import resource
import sys
import tempfile
from pathlib import Path

import h5py
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chemmap import compute_settings, read
from chemmap.core.exceptions import ChemmapError
from chemmap.datasets import make_demo_cube
from chemmap.io import write

LIMIT = "256MiB"
EXAMPLES = int(sys.argv[1]) if len(sys.argv) > 1 else 60
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
FOLDER = Path(tempfile.mkdtemp(prefix="chemmap-fuzz-"))
_DEMO = make_demo_cube(image_shape=(3, 4))
CUBE = _DEMO.replace(data=np.asarray(_DEMO.data)[..., ::25], axis=_DEMO.axis.take(np.arange(0, 200, 25)))
TOKENS = ["", "nan", "inf", "-1e308", "1e999", "abc", '"', '"a,b', "1,5", ";", "999999999999", "-3", "0x10", "1e12"]
COUNT = itertools.count()
HUGE = st.sampled_from([0, 1, 2, 3, 7, 8, 255, 65536, 10**6, 10**9, 10**12, -1])


def peak_rss() -> int:
    """This program's peak resident memory in bytes: VmHWM, which starts afresh with the
    program (``ru_maxrss`` keeps the peak of the process it was forked from, pytest's)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def check(path: Path, rows_in_file: int | None = None, **options) -> None:
    """``read`` gives a consistent Cube (computed, when lazy and small) or a ChemmapError."""
    try:
        cube = read(path, **options)
    except ChemmapError:
        return
    h, w, c = cube.data.shape
    assert (h, w) == cube.image_shape and c == cube.axis.values.size, (path, cube.data.shape)
    assert c == 1 or np.all(np.diff(cube.axis.values) > 0) or np.all(np.diff(cube.axis.values) < 0)
    if rows_in_file is not None:
        assert int(np.count_nonzero(cube.valid_pixels())) <= rows_in_file, "more spectra than lines in the file"
    if cube.data.nbytes < 2**24:
        np.asarray(cube.data)


def csv_text() -> list[str]:
    path = FOLDER / "valid.csv"
    write(CUBE, path, label_column="region")
    return path.read_text().splitlines()


LINES = csv_text()


@FUZZ
@given(
    st.lists(
        st.tuples(st.integers(0, 12), st.integers(0, 20), st.sampled_from(["set", "delete", "dup", "drop", "cut"])),
        max_size=6,
    ),
    st.sampled_from(TOKENS),
    st.sampled_from([None, (3, 4), (4, 3), (1, 12), (100000, 100000)]),
)
def fuzz_flat_csv(edits, token, shape) -> None:
    lines = [line.split(",") for line in LINES]
    for row, column, kind in edits:
        cells = lines[row % len(lines)]
        column %= len(cells)
        if kind == "set":
            cells[column] = token
        elif kind == "delete" and len(cells) > 1:
            del cells[column]
        elif kind == "dup":
            cells.insert(column, cells[column])
        elif kind == "drop" and len(lines) > 1:
            del lines[row % len(lines)]
        elif kind == "cut":
            cells[:] = cells[: column + 1]
    path = FOLDER / "fuzz.csv"
    path.write_text("\n".join(",".join(cells) for cells in lines) + "\n")
    options = {"label_column": "region"} | ({"image_shape": shape} if shape else {})
    check(path, rows_in_file=len(lines) - 1, **options)


def envi_header() -> tuple[str, bytes]:
    write(CUBE, FOLDER / "valid.hdr")
    return (FOLDER / "valid.hdr").read_text(), (FOLDER / "valid.img").read_bytes()


HEADER, DATA = envi_header()


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from(["samples", "lines", "bands", "header offset", "data type", "byte order"]), HUGE, max_size=3
    ),
    st.sampled_from(["bsq", "bil", "bip", "xyz"]),
    st.one_of(st.just(len(DATA)), st.integers(0, len(DATA) + 64)),
)
def fuzz_envi(fields, interleave, data_length) -> None:
    lines = []
    for line in HEADER.splitlines():
        key = line.split("=")[0].strip()
        if key in fields:
            line = f"{key} = {fields[key]}"
        elif key == "interleave":
            line = f"interleave = {interleave}"
        lines.append(line)
    (FOLDER / "fuzz.hdr").write_text("\n".join(lines) + "\n")
    (FOLDER / "fuzz.img").write_bytes((DATA * 2)[:data_length])
    check(FOLDER / "fuzz.hdr")


ARRAYS = st.builds(
    lambda shape, dtype: np.zeros(shape, dtype=dtype),
    st.lists(st.integers(0, 9), min_size=0, max_size=4).map(tuple),
    st.sampled_from(["<f4", "<f8", "<i2", "u1", "?", "<c8", "<U3"]),
)


@FUZZ
@given(
    st.dictionaries(st.sampled_from(["cube", "axis", "labels", "axis_unit", "mask", "other"]), ARRAYS, max_size=4),
    st.integers(0, 4000),
    st.booleans(),
)
def fuzz_npz(arrays, cut, compressed) -> None:
    path = FOLDER / "fuzz.npz"
    if arrays:
        (np.savez_compressed if compressed else np.savez)(path, **arrays)
    else:
        write(CUBE, path)
        data = path.read_bytes()
        path.write_bytes(data[: cut % max(1, len(data))])
    check(path)


@FUZZ
@given(
    st.tuples(HUGE, HUGE, HUGE),
    st.integers(-1, 12),
    st.sampled_from(["<f4", "<u2", "<i8"]),
    st.booleans(),
)
def fuzz_hdf5_cube(shape, axis_length, dtype, written) -> None:
    path = FOLDER / f"fuzz{next(COUNT)}.h5"  # a lazy cube of the last example may hold its file open
    shape = tuple(max(0, n) for n in shape)
    with h5py.File(path, "w") as f:
        try:
            data = f.create_dataset("cube", shape=shape, dtype=dtype, chunks=True if all(shape) else None)
        except (ValueError, TypeError, OverflowError):  # a shape HDF5 itself cannot declare
            return
        if written and 0 < int(np.prod(shape, dtype=np.float64)) <= 4096:
            data[...] = 1
        if axis_length >= 0:
            f.create_dataset("axis", data=np.arange(axis_length, dtype=np.float64))
    check(path)


if __name__ == "__main__":
    with compute_settings(memory_limit=LIMIT):
        for fuzz in (fuzz_flat_csv, fuzz_envi, fuzz_npz, fuzz_hdf5_cube):
            fuzz()
            print(fuzz.__name__, peak_rss())
