"""The readers under fuzzing (``fuzz_readers.py``, run as a program so that its peak memory is
its own): every bent file gives a consistent Cube or a one-line ChemmapError, and the peak
resident memory stays below the memory limit plus the interpreter's and imports' own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

#: Memory the interpreter, NumPy, pandas, h5py, Dask and hypothesis take before any file is
#: read (about 0.25 GiB measured), with room to spare.
ALLOWANCE = 512 << 20
LIMIT = 256 << 20  # fuzz_readers.LIMIT


def test_bent_flat_tables_envi_npz_and_hdf5_files_give_a_cube_or_a_clear_error_within_memory():
    program = Path(__file__).with_name("fuzz_readers.py")
    done = subprocess.run(
        [sys.executable, str(program), "100"], capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr[-4000:]
    peak = int(done.stdout.split()[-1])
    assert peak < LIMIT + ALLOWANCE, f"peak RSS {peak / 2**20:.0f} MiB\n{done.stdout}"
