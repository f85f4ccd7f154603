"""Row-by-row .npy writing: the file equals np.save of the whole array; a short write fails."""

from __future__ import annotations

import numpy as np
import pytest

from chemmap.workflows.staging import NpyRowWriter


def test_rows_written_in_bands_give_the_same_array(tmp_path):
    data = np.random.default_rng(0).normal(size=(7, 3, 5)).astype(np.float32)
    with NpyRowWriter(tmp_path / "a.npy", data.shape, np.float32) as out:
        for start in range(0, 7, 3):
            out.write(data[start : start + 3])
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), data)
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy", mmap_mode="r")[4], data[4])


def test_a_short_or_misshapen_write_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="2 of 4 rows"), NpyRowWriter(tmp_path / "b.npy", (4, 2), np.int32) as out:
        out.write(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="do not continue"), NpyRowWriter(tmp_path / "c.npy", (4, 2), np.int32) as out:
        out.write(np.zeros((2, 3)))
