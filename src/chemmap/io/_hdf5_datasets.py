"""Choosing the spectral cube among the datasets of an HDF5 file.

Instrument files hold more than spectra: RGB previews, survey images, thumbnails. A 3-D
dataset is a candidate cube unless it looks like an image (the HDF5 image class, 8-bit data
with 3 or 4 samples last, or a name such as ``Preview`` or ``thumbnail``). Among candidates,
one whose spectral axis the file states (a dimension scale, NeXus ``axes``, a dimension
label, or a 1-D axis dataset whose length matches one dimension only) comes first, then the
largest; two equal candidates that the file does not tell apart are refused, not guessed.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from chemmap.core.exceptions import FileFormatError
from chemmap.io._cube_layout import LAYOUT as CUBE_LAYOUT
from chemmap.io._registry import file_head
from chemmap.io._spectral_dim import SPECTRAL_NAMES, stated_spectral_dim

__all__ = [
    "FLAT_LAYOUT",
    "HDF5_SIGNATURE",
    "VENDOR_FLAVOURS",
    "CubeCandidate",
    "axis_unit_of",
    "choose_cube",
    "cube_candidates",
    "decode_text",
    "has_spectral_cube",
    "hdf5_kind",
    "is_hdf5",
    "vendor_flavour",
]

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
#: The ``layout`` attribute of the flat HDF5 files chemmap writes (one row per pixel).
FLAT_LAYOUT = "chemmap-flat"

#: Dataset names of pictures stored beside the spectra.
IMAGE_NAMES = re.compile(r"preview|thumb|rgb|overview|survey|snapshot|navcam|camera|photo", re.IGNORECASE)
UNIT_ATTRS = ("unit", "units", "Unit", "Units")


@dataclass(frozen=True)
class CubeCandidate:
    """A 3-D dataset of the file and what the file says about its dimensions.

    Attributes
    ----------
    name : str
        Path of the dataset in the file.
    shape : tuple of int
    dtype : str
    is_image : bool
        A picture (RGB preview, thumbnail), not spectra.
    labels : tuple of str or None
        A name per dimension, when the file gives them.
    axis_name : str or None
        The 1-D dataset holding the spectral positions, when found.
    spectral_dim : int or None
        The dimension the file states as spectral.
    """

    name: str
    shape: tuple[int, ...]
    dtype: str
    is_image: bool
    labels: tuple[str, ...] | None
    axis_name: str | None
    spectral_dim: int | None

    def describe(self) -> str:
        kind = "image" if self.is_image else "cube"
        return f"{self.name} ({' x '.join(str(n) for n in self.shape)} {self.dtype} {kind})"


def decode_text(value) -> str:
    """An HDF5 attribute or MATLAB char value as text (bytes decoded)."""
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _looks_like_image(name: str, ds) -> bool:
    if decode_text(ds.attrs.get("CLASS", "")) == "IMAGE":
        return True
    if ds.dtype == np.uint8 and ds.shape[-1] in (3, 4):
        return True
    return bool(IMAGE_NAMES.search(name.rsplit("/", 1)[-1]))


def _name_list(value) -> list[str]:
    """Dimension names from an attribute: a list, or one text such as ``"energy:y:x"``."""
    if isinstance(value, (str, bytes)):
        return re.split(r"[:,\s]+", decode_text(value))
    return [decode_text(v) for v in np.ravel(value)]


def _dimension_labels(ds) -> tuple[tuple[str, ...] | None, dict[int, str]]:
    """Labels and attached axis datasets from HDF5 dimension scales, NeXus ``axes`` or the
    dataset's own ``dimension_labels``/``axes`` attribute."""
    labels = [decode_text(dim.label) for dim in ds.dims]
    scales = {i: dim[0].name.lstrip("/") for i, dim in enumerate(ds.dims) if len(dim)}
    parent = ds.parent
    nexus = parent.attrs.get("axes")
    if nexus is not None and decode_text(parent.attrs.get("signal", "")) == ds.name.rsplit("/", 1)[-1]:
        names = _name_list(nexus)
        if len(names) == ds.ndim:
            labels = names
            scales.update({i: parent[n].name.lstrip("/") for i, n in enumerate(names) if n != "." and n in parent})
    own = ds.attrs.get("dimension_labels", ds.attrs.get("axes"))
    if own is not None and not any(labels):
        names = _name_list(own)
        labels = names if len(names) == ds.ndim else labels
    return (tuple(labels) if any(labels) else None), scales


def _axis_datasets(fh) -> list[tuple[str, int]]:
    """1-D numeric datasets named like a spectral axis, with their lengths."""
    import h5py

    found: list[tuple[str, int]] = []

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset) and obj.ndim == 1 and obj.dtype.kind in "iuf":
            if SPECTRAL_NAMES.match(name.rsplit("/", 1)[-1]):
                found.append((name, int(obj.shape[0])))

    fh.visititems(visit)
    return found


def _candidate(name: str, ds, axis_datasets) -> CubeCandidate:
    labels, scales = _dimension_labels(ds)
    dim, _ = stated_spectral_dim(ds.shape, labels=labels)
    axis_name = scales.get(dim) if dim is not None else None
    if dim is None:
        spectral_scales = [(i, s) for i, s in scales.items() if SPECTRAL_NAMES.match(s.rsplit("/", 1)[-1])]
        if len(spectral_scales) == 1:
            dim, axis_name = spectral_scales[0]
    if dim is None:
        group = name.rsplit("/", 1)[0] if "/" in name else ""
        near = sorted(axis_datasets, key=lambda item: (item[0].rsplit("/", 1)[0] if "/" in item[0] else "") != group)
        for axis, length in near:
            dim, _ = stated_spectral_dim(ds.shape, axis_length=length)
            if dim is not None:
                axis_name = axis
                break
    return CubeCandidate(
        name=name,
        shape=tuple(int(n) for n in ds.shape),
        dtype=str(ds.dtype),
        is_image=_looks_like_image(name, ds),
        labels=labels,
        axis_name=axis_name,
        spectral_dim=dim,
    )


def cube_candidates(fh) -> list[CubeCandidate]:
    """Every 3-D dataset of an open HDF5 file, described."""
    import h5py

    axis_datasets = _axis_datasets(fh)
    found: list[CubeCandidate] = []

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset) and obj.ndim == 3 and obj.dtype.kind in "biuf":
            found.append(_candidate(name, obj, axis_datasets))

    fh.visititems(visit)
    return found


def vendor_flavour(fh) -> str | None:
    """The RosettaSciIO plugin for an instrument's own HDF5 layout, by its signature: Delmic
    (Odemis ``Acquisition*`` groups with ``ImageData``, ``PhysicalData`` and ``SVIData``),
    Tofwerk (TofDAQ root attributes and ``FullSpectra``); None for other files."""
    import h5py

    if "TofDAQ Version" in fh.attrs and "FullSpectra" in fh:
        return "Tofwerk"
    for name, group in fh.items():
        if name.startswith("Acquisition") and isinstance(group, h5py.Group):
            if all(part in group for part in ("ImageData", "PhysicalData", "SVIData")):
                return "Delmic"
    return None


def has_spectral_cube(fh) -> bool:
    """True when the file holds a 3-D dataset that is not an image."""
    return any(not c.is_image for c in cube_candidates(fh))


#: The RosettaSciIO plugins of the vendor HDF5 layouts :func:`vendor_flavour` recognises.
VENDOR_FLAVOURS = ("Delmic", "Tofwerk")


def hdf5_kind(path) -> str | None:
    """Which reader an HDF5 file is for, the one answer the readers' signatures share.

    ``"flat"``: the chemmap flat layout, or no 3-D dataset but images; ``"cube"``: the chemmap
    cube layout, or a 3-D dataset that is not an image; a name of :data:`VENDOR_FLAVOURS` for
    an instrument's own layout; None for a file that is not HDF5 or cannot be opened. Cached
    by path, size and modification time, since the readers ask in turn.
    """
    try:
        stat = Path(path).stat()
    except OSError:
        return None
    return _hdf5_kind(str(path), stat.st_size, stat.st_mtime_ns)


def is_hdf5(path: Path, offset: int = 0) -> bool:
    """Whether the file holds the HDF5 signature at byte ``offset`` (0, or the size of a user
    block such as MATLAB v7.3's 512-byte header)."""
    return file_head(path, len(HDF5_SIGNATURE), offset) == HDF5_SIGNATURE


@functools.lru_cache(maxsize=32)
def _hdf5_kind(path: str, size: int, mtime_ns: int) -> str | None:
    if not is_hdf5(Path(path)):
        return None
    try:
        import h5py
    except ImportError:
        return None
    try:
        with h5py.File(path, "r") as fh:
            layout = fh.attrs.get("layout")
            if layout in (FLAT_LAYOUT, CUBE_LAYOUT):
                return "flat" if layout == FLAT_LAYOUT else "cube"
            return vendor_flavour(fh) or ("cube" if has_spectral_cube(fh) else "flat")
    except OSError:
        return None


def choose_cube(candidates: list[CubeCandidate], cube_key: str | None, source: str) -> CubeCandidate:
    """The candidate to read: ``cube_key``'s, else ``cube``, else the best spectral one.

    Raises
    ------
    FileFormatError
        When the file holds no candidate, only images, or two candidates it does not tell apart.
    """
    by_name = {c.name: c for c in candidates}
    if cube_key is not None:
        key = cube_key.lstrip("/")
        if key not in by_name:
            listing = "; ".join(c.describe() for c in candidates) or "none"
            raise FileFormatError(f"{source}: {cube_key!r} is not a 3-D numeric dataset; 3-D datasets are {listing}.")
        return by_name[key]
    if "cube" in by_name:
        return by_name["cube"]
    cubes = [c for c in candidates if not c.is_image]
    if not cubes:
        listing = "; ".join(c.describe() for c in candidates) or "none"
        raise FileFormatError(
            f"{source} holds no spectral cube (height, width, n_channels): its 3-D datasets are {listing}. "
            "To fix this, pass cube_key= if one of them holds spectra after all."
        )
    ranked = sorted(cubes, key=lambda c: (c.spectral_dim is not None, int(np.prod(c.shape))), reverse=True)
    best = ranked[0]
    ties = [c for c in ranked[1:] if c.shape == best.shape and (c.spectral_dim is None) == (best.spectral_dim is None)]
    if ties:
        names = ", ".join(c.name for c in [best, *ties])
        raise FileFormatError(
            f"{source} holds several cubes of shape {best.shape} that the file does not tell apart ({names}). "
            "To fix this, pass cube_key= with the dataset's name."
        )
    return best


def axis_unit_of(ds) -> str | None:
    """The unit an axis dataset states in its attributes, or None."""
    for key in UNIT_ATTRS:
        if key in ds.attrs:
            return decode_text(ds.attrs[key])
    return None
