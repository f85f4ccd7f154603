"""A link planted beside a header (ENVI data file, ripple .raw, TIA .ser) cannot make chemmap
read a file from elsewhere: companions found by the reader must really sit in the folder;
a file the user names is read wherever it lives."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from chemmap.cli import main
from chemmap.core.exceptions import FileFormatError
from chemmap.datasets import make_demo_cube
from chemmap.io import read, write

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real_files"


def _planted(tmp_path: Path, header_name: str) -> tuple[Path, Path]:
    """A cube written to ``outside/``; its header copied to ``inside/`` beside a link to the
    data file outside. Returns (header inside, the folder outside)."""
    outside, inside = tmp_path / "outside", tmp_path / "inside"
    outside.mkdir()
    inside.mkdir()
    write(make_demo_cube(), outside / header_name)
    (data,) = [p for p in outside.iterdir() if p.name != header_name]
    shutil.copy(outside / header_name, inside / header_name)
    os.symlink(data, inside / data.name)
    return inside / header_name, outside


@pytest.mark.parametrize("header_name", ["c.hdr", "c.rpl"], ids=["ENVI", "ripple"])
def test_a_data_file_linked_from_elsewhere_is_refused_and_nothing_is_written(tmp_path, header_name, capsys):
    header, _ = _planted(tmp_path, header_name)
    with pytest.raises(FileFormatError, match="is a link to .*outside the folder"):
        read(header)
    assert main(["convert", str(header), str(tmp_path / "copy.npz")]) == 2
    assert "is a link to" in capsys.readouterr().err
    assert not (tmp_path / "copy.npz").exists()


@pytest.mark.parametrize("header_name", ["c.hdr", "c.rpl"], ids=["ENVI", "ripple"])
def test_a_data_file_the_user_names_is_read_and_links_inside_the_folder_are_followed(tmp_path, header_name):
    header, outside = _planted(tmp_path, header_name)
    (data,) = [p for p in header.parent.iterdir() if p.is_symlink()]
    expected = np.asarray(read(outside / header_name).data)
    np.testing.assert_array_equal(np.asarray(read(data).data), expected)  # named by the user
    # a link to a file in the same folder (a renamed version) is a companion like any other
    data.unlink()
    shutil.copy(outside / data.name, header.parent / f"v2{data.suffix}")
    os.symlink(header.parent / f"v2{data.suffix}", data)
    np.testing.assert_array_equal(np.asarray(read(header).data), expected)


def test_a_tia_ser_file_linked_from_elsewhere_is_refused(tmp_path):
    emi = REAL / "tia" / "16x16-spectrum_image-5x5x1024.emi"
    if not emi.exists():
        pytest.skip(f"{emi} is absent: the real files of ../shared/data are not here")
    pytest.importorskip("rsciio", reason="TIA files are read through RosettaSciIO (the 'vendor' extra)")
    shutil.copy(emi, tmp_path / emi.name)
    os.symlink(REAL / "tia" / "16x16-spectrum_image-5x5x1024_1.ser", tmp_path / "16x16-spectrum_image-5x5x1024_1.ser")
    with pytest.raises(FileFormatError, match="TIA data file .* is a link to"):
        read(tmp_path / emi.name)
