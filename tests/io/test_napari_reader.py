"""The napari plugin without a window: the npe2 manifest validates and names every suffix a
chemmap reader takes, and the reader returns the layers a user expects."""

from __future__ import annotations

from pathlib import Path

import dask.array as da
import numpy as np
import pytest

import chemmap
from chemmap.datasets import make_demo_cube
from chemmap.io import readers
from chemmap.io.napari_reader import get_reader

npe2 = pytest.importorskip("npe2", reason="npe2 is not installed (pip install 'chemmap[napari]')")

MANIFEST = Path(chemmap.__file__).parent / "napari.yaml"


def test_the_manifest_validates_and_its_command_imports():
    manifest = npe2.PluginManifest.from_file(MANIFEST)
    manifest.validate_imports()
    (reader,) = manifest.contributions.readers
    assert reader.command == "chemmap.get_reader" and reader.accepts_directories


def test_the_installed_package_declares_the_manifest():
    assert npe2.PluginManifest.from_distribution("chemmap").name == "chemmap"


def test_the_manifest_names_every_suffix_a_reader_takes():
    (reader,) = npe2.PluginManifest.from_file(MANIFEST).contributions.readers
    patterns = set(reader.filename_patterns)
    suffixes = {s for name in readers for s in readers.get(name).suffixes if s}
    assert {f"*{s}" for s in suffixes} <= patterns


def test_a_cube_file_opens_with_the_spectral_axis_as_the_slider(tmp_path):
    cube = make_demo_cube()
    chemmap.write(cube, tmp_path / "demo.npz")
    read = get_reader(str(tmp_path / "demo.npz"))
    (layer,) = read(str(tmp_path / "demo.npz"))
    data, kwargs, kind = layer
    assert kind == "image" and data.shape == (cube.n_channels, *cube.image_shape)
    assert np.array_equal(data[17], cube.data[..., 17])
    assert np.array_equal(kwargs["metadata"]["axis_values"], cube.axis.values)
    assert kwargs["metadata"]["axis_unit"] == "cm-1"


def test_a_lazy_store_stays_lazy(tmp_path):
    chemmap.write(make_demo_cube(), tmp_path / "demo.zarr")
    ((data, _, kind),) = get_reader(str(tmp_path / "demo.zarr"))(str(tmp_path / "demo.zarr"))
    assert kind == "image" and isinstance(data, da.Array)


@pytest.mark.parametrize("lazy", [False, True])
def test_an_output_folder_opens_as_map_and_label_layers(tmp_path, lazy):
    cube = make_demo_cube()
    if lazy:
        cube = cube.replace(data=da.from_array(cube.data, chunks=(15, 30, cube.n_channels)))
    result = chemmap.run_cube(cube, {"clustering": {"k": 2}}, tmp_path / "out")
    layers = get_reader(str(tmp_path / "out"))(str(tmp_path / "out"))
    by_name = {kwargs["name"]: (np.asarray(data), kind) for data, kwargs, kind in layers}
    assert set(result.maps.map_names) <= set(by_name)
    first = result.maps.map_names[0]
    assert np.array_equal(by_name[first][0], result.maps[first], equal_nan=True)
    labels, kind = by_name["cluster_labels"]
    assert kind == "labels" and np.array_equal(labels, result.label_image + 1)
    assert labels.min() >= 1  # no masked pixels here: every pixel has a cluster, 0 is background


def test_files_chemmap_cannot_read_are_left_to_other_plugins(tmp_path):
    (tmp_path / "notes.docx").write_bytes(b"PK\x03\x04")
    assert get_reader(str(tmp_path / "notes.docx")) is None
    assert get_reader(str(tmp_path / "missing.npz")) is None
