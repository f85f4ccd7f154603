"""maxrf4u ``.datastack`` files: a ZIP archive holding a Zarr group of MA-XRF layers.

The spectra are the ``maxrf_cube`` layer (height, width, channels) and the channel energies
the ``maxrf_energies`` layer, in keV. maxrf4u keeps every version of a layer: a name with
more trailing underscores (``maxrf_cube_``, ``maxrf_cube__``) is a newer version of the same
layer, and the newest is read. The cube is read lazily (Dask over the Zarr chunks), as the
Zarr reader does; ``info`` names the layers read and lists the others.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from chemmap.core.cube import Cube
from chemmap.core.exceptions import FileFormatError
from chemmap.io._build import build_cube, lazy_view, unreadable_file
from chemmap.io._registry import ReaderEntry, readers
from chemmap.io.zarr_cube import check_chunks_present

__all__ = ["newest_layer", "read_datastack"]

CUBE_LAYER = "maxrf_cube"
ENERGY_LAYER = "maxrf_energies"


def newest_layer(names, layer: str) -> str | None:
    """The newest version of ``layer`` among ``names``: the one with most trailing underscores."""
    versions = [n for n in names if n.rstrip("_") == layer]
    return max(versions, key=len) if versions else None


def read_datastack(
    path,
    *,
    cube_layer: str = CUBE_LAYER,
    energy_layer: str = ENERGY_LAYER,
    dtype=None,
    lazy: bool = True,
    missing_chunks: str = "error",
) -> Cube:
    """Read the MA-XRF cube of a maxrf4u ``.datastack``.

    Parameters
    ----------
    path : str or Path
    cube_layer, energy_layer : str
        Layer names (without the version underscores) of the cube and of its energies (keV).
    dtype : dtype, optional
        Convert the data; by default the stored counts keep their type.
    lazy : bool
        Return a Dask array over the Zarr chunks (default), or read the cube into memory.
    missing_chunks : {"error", "fill"}
        As for the Zarr reader: chunks absent from the archive are an error unless ``fill``.
    """
    import zarr
    from zarr.storage import ZipStore

    path = Path(path)
    try:
        store = ZipStore(path, mode="r")
        group = zarr.open_group(store=store, mode="r")
        names = sorted(group.array_keys())
    except (zipfile.BadZipFile, OSError, ValueError, KeyError, TypeError) as exc:
        raise unreadable_file("datastack", path, exc) from None
    cube_name, energy_name = newest_layer(names, cube_layer), newest_layer(names, energy_layer)
    if cube_name is None:
        raise FileFormatError(
            f"{path.name} has no {cube_layer!r} layer; its layers are {names or 'none'}. To fix this, pass "
            "cube_layer= with the layer holding the (height, width, channels) spectra."
        )
    array = group[cube_name]
    if array.ndim != 3:
        raise FileFormatError(
            f"{path.name}: layer {cube_name!r} has shape {array.shape}; expected (height, width, channels)."
        )
    check_chunks_present(array, path.name, missing_chunks=missing_chunks)
    energies = None if energy_name is None else group[energy_name][...]
    data = lazy_view(array, reader="datastack", path=path) if lazy else array[...]
    others = [n for n in names if n not in (cube_name, energy_name)]
    return build_cube(
        data,
        energies,
        "keV" if energies is not None else None,
        source=path.name,
        dtype=dtype,
        attrs={
            "format": "datastack",
            "dataset": f"{cube_name} ({' x '.join(str(n) for n in array.shape)})"
            + (f", energies {energy_name}" if energy_name else ""),
            "other_datasets": others,
        },
    )


def _is_datastack(path: Path) -> bool:
    return zipfile.is_zipfile(path)


readers.register(
    "datastack",
    ReaderEntry(
        "datastack",
        (".datastack",),
        read_datastack,
        "maxrf4u .datastack: ZIP of a Zarr group, maxrf_cube + maxrf_energies (keV), newest layer versions",
        sniff=_is_datastack,
    ),
)
