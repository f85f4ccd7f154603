"""Lispix/Bruker ripple files: every record layout, byte order and data length round-trips;
Bruker M6 headers without an energy axis read as channels; bad headers are refused."""

from __future__ import annotations

import numpy as np
import pytest

from chemmap.core.axis import SpectralAxis
from chemmap.core.cube import Cube
from chemmap.core.exceptions import FileFormatError
from chemmap.io import read, write

BRUKER_HEADER = """key\tvalue
width\t{w}
height\t{h}
depth\t{c}
offset\t{offset}
data-length\t2
data-type\tunsigned
byte-order\tlittle-endian
record-by\tvector
"""


@pytest.mark.parametrize("record_by", ["vector", "image"])
@pytest.mark.parametrize("byte_order", ["little", "big"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int32, np.float32])
def test_round_trip_keeps_counts_type_and_axis(tmp_path, record_by, byte_order, dtype):
    data = np.random.default_rng(0).poisson(20, (6, 5, 24)).astype(dtype)
    cube = Cube(data, SpectralAxis(0.5 + 0.01 * np.arange(24), "keV"))
    write(cube, tmp_path / "scan.rpl", record_by=record_by, byte_order=byte_order)
    back = read(tmp_path / "scan.raw")
    assert back.attrs["reader"] == "ripple" and back.dtype.kind == np.dtype(dtype).kind
    np.testing.assert_array_equal(np.asarray(back.data), data)
    np.testing.assert_allclose(back.axis.values, cube.axis.values)
    assert back.axis.unit == "keV"
    lazy = read(tmp_path / "scan.rpl", lazy=True)
    assert lazy.is_lazy
    np.testing.assert_array_equal(lazy.data.compute(), data)


def test_bruker_header_without_energy_reads_channels_with_an_offset(tmp_path):
    counts = np.arange(4 * 3 * 16, dtype="<u2").reshape(4, 3, 16)
    (tmp_path / "m6.rpl").write_text(BRUKER_HEADER.format(w=3, h=4, c=16, offset=8))
    (tmp_path / "m6.raw").write_bytes(b"\0" * 8 + counts.tobytes())
    cube = read(tmp_path / "m6.rpl")
    assert cube.axis.unit == "channel" and cube.dtype == np.uint16
    np.testing.assert_array_equal(np.asarray(cube.data), counts)
    assert isinstance(cube.data, np.memmap) or isinstance(cube.data.base, np.memmap)  # mapped, not read


def test_bad_ripple_files_are_refused_with_the_reason(tmp_path):
    (tmp_path / "short.rpl").write_text(BRUKER_HEADER.format(w=30, h=40, c=16, offset=0))
    (tmp_path / "short.raw").write_bytes(b"\0" * 100)
    with pytest.raises(FileFormatError, match="declares 38,400 bytes.*holds 100"):
        read(tmp_path / "short.rpl")
    (tmp_path / "nokeys.rpl").write_text("width\t3\nheight\t4\n")
    (tmp_path / "nokeys.raw").write_bytes(b"\0" * 10)
    with pytest.raises(FileFormatError, match="lacks depth, data-length, data-type"):
        read(tmp_path / "nokeys.rpl", format="ripple")
    text = BRUKER_HEADER.format(w=1, h=1, c=2, offset=0).replace("little-endian", "middle-endian")
    (tmp_path / "order.rpl").write_text(text)
    (tmp_path / "order.raw").write_bytes(b"\0" * 4)
    with pytest.raises(FileFormatError, match="byte-order 'middle-endian' not understood"):
        read(tmp_path / "order.rpl")


def test_a_lazy_read_of_a_mapped_file_reads_nothing_until_asked(tmp_path):
    resource = pytest.importorskip("resource", reason="needs the Unix resource module to read peak memory")
    import dask.array  # noqa: F401  (imported before the measurement)

    data = np.random.default_rng(0).integers(0, 1000, (128, 128, 1024), dtype=np.uint16)  # 32 MiB
    write(Cube(data, SpectralAxis(np.arange(1024.0), "channel")), tmp_path / "big.rpl", record_by="image")
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    cube = read(tmp_path / "big.rpl", lazy=True)
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - peak_before
    assert grown < 8 * 2**20  # naming the Dask array by hashing the map would copy all 32 MiB
    rows = cube.data[40:60].compute()
    np.testing.assert_array_equal(rows, data[40:60])
