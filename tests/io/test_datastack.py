"""maxrf4u ``.datastack`` files, written here as maxrf4u writes them: a ZIP holding a Zarr
group with versioned layers."""

import numpy as np
import pytest

from chemmap.cli import main
from chemmap.core.exceptions import FileFormatError
from chemmap.datasets import make_xrf_cube
from chemmap.io import describe, read

zarr = pytest.importorskip("zarr")


def _datastack(path, cube, energies, *, extra_layers=()):
    from zarr.storage import ZipStore

    with ZipStore(path, mode="w") as store:
        group = zarr.open_group(store=store, mode="w")
        for name, values in extra_layers:
            group.create_array(name, data=values)
        group.create_array("maxrf_cube_", data=cube, chunks=(8, cube.shape[1], cube.shape[2]))
        group.create_array("maxrf_energies_", data=energies)
    return path


@pytest.fixture(scope="module")
def scan():
    return make_xrf_cube((24, 32), n_channels=1024, random_state=3)


def test_datastack_reads_the_newest_layer_lazily(tmp_path, scan):
    counts = np.asarray(scan.cube.data)
    old = np.zeros((2, 2, 4), dtype=counts.dtype)  # an older version of the cube layer
    path = _datastack(
        tmp_path / "scan.datastack",
        counts,
        scan.cube.axis.values,
        extra_layers=[
            ("maxrf_cube", old),
            ("maxrf_energies", np.arange(4.0)),
            ("maxrf_sumspectrum", counts.sum((0, 1))),
        ],
    )
    cube = read(path)
    assert cube.attrs["reader"] == "datastack" and cube.is_lazy
    assert cube.axis.unit == "keV" and cube.n_channels == 1024
    np.testing.assert_allclose(cube.axis.values, scan.cube.axis.values)
    np.testing.assert_array_equal(cube.data.compute(), counts)
    summary = describe(cube)
    assert summary["dataset"].startswith("maxrf_cube_ (24 x 32 x 1024)")
    assert set(summary["other_datasets"]) == {"maxrf_cube", "maxrf_energies", "maxrf_sumspectrum"}


def test_datastack_runs_through_peaks(tmp_path, scan, capsys):
    path = _datastack(tmp_path / "scan.datastack", np.asarray(scan.cube.data), scan.cube.axis.values)
    out = tmp_path / "peaks"
    assert main(["peaks", str(path), "--out", str(out), "--no-speckles", "--quiet"]) == 0
    found = capsys.readouterr().out
    assert "Fe Ka1" in found and "Cu Ka1" in found and (out / "peaks.json").exists()


def test_a_zip_without_the_cube_layer_is_refused_with_its_layers(tmp_path):
    path = _datastack(tmp_path / "other.datastack", np.zeros((2, 2, 8)), np.arange(8.0))
    with pytest.raises(FileFormatError, match="no 'spectra' layer.*maxrf_cube_"):
        read(path, cube_layer="spectra")
