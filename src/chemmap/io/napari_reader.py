"""The napari reader plugin (manifest ``chemmap/napari.yaml``, the ``napari`` extra).

- A file (or store) chemmap reads opens as one image layer of shape ``(band, y, x)``: the
  spectral axis is the first dimension, so napari shows it as a slider. A lazy cube stays a
  Dask array (napari reads the plane it shows). The axis values, unit and the cube's
  provenance are in the layer's ``metadata``.
- A chemmap output folder (it holds ``run_record.json``) opens as its maps (one image layer
  each, from ``maps.npz`` or ``maps.zarr``), its abundances (``abundances.npy``, a component
  slider) and its cluster labels as a labels layer (cluster ``j`` is label ``j + 1``;
  0, napari's background, is outside the mask).

napari itself is not imported: the functions return napari's layer-data tuples
``(data, kwargs, layer_type)``, so they are tested without a window.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from chemmap.core.exceptions import ChemmapError

__all__ = ["get_reader", "read_cube_layers", "read_output_layers"]

RUN_RECORD = "run_record.json"


def get_reader(path) -> Callable | None:
    """napari's reader hook: the function that reads ``path``, or None when chemmap cannot
    (napari then asks other plugins). A list of paths is read when chemmap reads each."""
    paths = [Path(p) for p in (path if isinstance(path, list | tuple) else [path])]
    if all((p / RUN_RECORD).is_file() for p in paths):
        return lambda given: _each(given, read_output_layers)
    if all(_chemmap_reads(p) for p in paths):
        return lambda given: _each(given, read_cube_layers)
    return None


def _each(given, read: Callable) -> list[tuple]:
    paths = given if isinstance(given, list | tuple) else [given]
    return [layer for p in paths for layer in read(p)]


def _chemmap_reads(path: Path) -> bool:
    from chemmap.io import _reader_for

    try:
        _reader_for(path, None)
    except (ChemmapError, OSError):
        return False
    return path.exists()


def read_cube_layers(path) -> list[tuple]:
    """One image layer ``(band, y, x)`` of the cube at ``path``, read by :func:`chemmap.read`."""
    from chemmap.io import read

    path = Path(path)
    cube = read(path)
    data = cube.data.transpose(2, 0, 1)
    axis = cube.axis
    metadata = {
        "axis_values": axis.values,
        "axis_unit": axis.unit,
        "axis_names": list(axis.names) if axis.names is not None else None,
        "chemmap_attrs": cube.attrs,
    }
    if cube.mask is not None:
        metadata["mask"] = cube.mask
    return [(data, {"name": path.name, "metadata": metadata}, "image")]


def read_output_layers(path) -> list[tuple]:
    """The maps, abundances and cluster labels of a chemmap output folder as napari layers."""
    folder = Path(path)
    layers: list[tuple] = []
    for name, image in _maps(folder):
        layers.append((image, {"name": name, "colormap": "viridis", "metadata": {"source": str(folder)}}, "image"))
    if (folder / "abundances.npy").is_file():
        abundances = np.load(folder / "abundances.npy", mmap_mode="r")
        layers.append((np.moveaxis(abundances, -1, 0), {"name": "abundances", "colormap": "magma"}, "image"))
    labels = _labels(folder)
    if labels is not None:
        layers.append((labels, {"name": "cluster_labels", "opacity": 0.6}, "labels"))
    if not layers:
        raise ChemmapError(
            f"{folder} holds a run record but no maps or labels (a run of another workflow?); "
            "open its .npy outputs one by one."
        )
    return layers


def _maps(folder: Path) -> list[tuple[str, object]]:
    if (folder / "maps.npz").is_file():
        with np.load(folder / "maps.npz") as archive:
            return [(name, archive[name]) for name in archive.files]
    if (folder / "maps.zarr").is_dir():
        import dask.array as da
        import zarr

        group = zarr.open_group(store=str(folder / "maps.zarr"), mode="r")
        return [(name, da.from_zarr(group[name])) for name in group.array_keys()]
    return []


def _labels(folder: Path):
    if (folder / "cluster_labels.npy").is_file():
        return np.load(folder / "cluster_labels.npy") + 1
    if (folder / "cluster_labels.zarr").is_dir():
        import dask.array as da
        import zarr

        group = zarr.open_group(store=str(folder / "cluster_labels.zarr"), mode="r")
        return da.from_zarr(group["labels"]) + 1
    return None
