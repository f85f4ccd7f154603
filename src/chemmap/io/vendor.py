"""Vendor and microscopy formats through RosettaSciIO (optional extra ``vendor``).

Bruker ``.bcf``/``.spx``, Lispix/Bruker ripple ``.rpl`` + ``.raw``, Renishaw ``.wdf``,
JEOL, EDAX, Horiba JobinYvon, DigitalSurf, EMD, HyperSpy ``.hspy``, ... : whatever
RosettaSciIO opens as a spectrum image (two navigation axes, one signal axis) becomes a
Cube with the signal axis (offset + scale x index, or the file's non-uniform axis) and its
unit. Line scans become one-row images and single spectra one-pixel images.
"""

from __future__ import annotations

import importlib
import warnings
from pathlib import Path

import numpy as np

from chemmap.core.axis import normalize_unit
from chemmap.core.cube import Cube, is_lazy_array
from chemmap.core.exceptions import AxisError, DataWarning, FileFormatError, InvalidParameterError
from chemmap.io._build import build_cube
from chemmap.io._registry import ReaderEntry, readers

__all__ = ["VENDOR_SUFFIXES", "read_vendor"]

#: Suffixes routed to RosettaSciIO (formats chemmap reads natively are not listed).
VENDOR_SUFFIXES = (
    ".bcf", ".spx", ".rpl", ".wdf", ".spd", ".spc", ".pts", ".asw", ".emd", ".hspy", ".zspy",
    ".msa", ".emsa", ".sur", ".pro", ".tvf", ".dm3", ".dm4", ".nxs", ".elid",
)  # fmt: skip


def _rsciio():
    from chemmap._shared.optional import optional_import

    return optional_import("rsciio", extra="vendor", purpose="Reading vendor spectroscopy formats")


def _plugin_for(path: Path, plugin: str | None):
    rsciio = _rsciio()
    suffix = path.suffix.lstrip(".").lower()
    names = {p["name"].lower(): p for p in rsciio.IO_PLUGINS}
    if plugin is not None:
        if plugin.lower() not in names:
            raise InvalidParameterError(
                f"RosettaSciIO has no plugin {plugin!r}; it has {sorted(p['name'] for p in rsciio.IO_PLUGINS)}."
            )
        return names[plugin.lower()]
    matches = [p for p in rsciio.IO_PLUGINS if suffix in (e.lower() for e in p["file_extensions"])]
    if not matches:
        raise FileFormatError(f"RosettaSciIO has no reader for {path.name} (suffix .{suffix}).")
    return matches[0]


def _signal_axis(axis: dict, source: str, axis_unit: str | None) -> tuple[np.ndarray, str]:
    if axis.get("axis") is not None:
        values = np.asarray(axis["axis"], dtype=np.float64)
    else:
        values = axis.get("offset", 0.0) + axis.get("scale", 1.0) * np.arange(axis["size"], dtype=np.float64)
    if axis_unit is not None:
        return values, normalize_unit(axis_unit)
    raw = axis.get("units")
    if raw in (None, "", "<undefined>"):
        return values, "channel"
    try:
        return values, normalize_unit(str(raw))
    except AxisError:
        warnings.warn(
            f"{source}: the signal axis unit {raw!r} is not one chemmap knows; reading the axis as channel "
            "positions. Pass axis_unit= to set it.",
            DataWarning,
            stacklevel=4,
        )
        return values, "channel"


def _spectrum_image(signals: list[dict], source: str) -> dict:
    candidates = [s for s in signals if sum(not a.get("navigate", True) for a in s["axes"]) == 1]
    if not candidates:
        shapes = [tuple(s["data"].shape) for s in signals]
        raise FileFormatError(
            f"{source} holds no spectrum data (signals of shapes {shapes}, none with exactly one spectral axis)."
        )
    return max(candidates, key=lambda s: int(np.prod(s["data"].shape)))


def read_vendor(
    path, *, plugin: str | None = None, axis_unit: str | None = None, dtype=None, lazy: bool = False
) -> Cube:
    """Read a vendor file through RosettaSciIO.

    Parameters
    ----------
    path : str or Path
    plugin : str, optional
        RosettaSciIO plugin name (e.g. ``"Ripple"``, ``"Bruker"``, ``"Renishaw"``); chosen from
        the suffix when omitted.
    axis_unit : str, optional
        Overrides the unit of the signal axis.
    dtype : dtype, optional
        Convert the data; by default the file's type is kept (raw counts stay integers).
    lazy : bool
        Ask RosettaSciIO for a Dask array.
    """
    path = Path(path)
    entry = _plugin_for(path, plugin)
    module = importlib.import_module(entry["api"])
    try:
        signals = module.file_reader(str(path), lazy=lazy)
    except (OSError, ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        raise FileFormatError(f"RosettaSciIO ({entry['name']}) could not read {path.name}: {exc}") from None
    signal = _spectrum_image(signals, path.name)
    axes = sorted(signal["axes"], key=lambda a: a.get("index_in_array", 0))
    data = signal["data"]
    spectral = next(i for i, a in enumerate(axes) if not a.get("navigate", True))
    if spectral != data.ndim - 1:
        data = data.swapaxes(spectral, -1) if is_lazy_array(data) else np.moveaxis(data, spectral, -1)
    nav = data.ndim - 1
    if nav > 2:
        raise FileFormatError(f"{path.name}: the spectrum data have {nav} navigation axes; chemmap maps need 2.")
    data = data.reshape((1,) * (2 - nav) + tuple(data.shape))
    values, unit = _signal_axis(axes[spectral], path.name, axis_unit)
    return build_cube(
        data,
        values,
        unit,
        source=path.name,
        dtype=dtype,
        attrs={
            "format": "vendor",
            "rsciio_plugin": entry["name"],
            "signal_type": str(signal.get("metadata", {}).get("Signal", {}).get("signal_type", "")),
        },
    )


readers.register(
    "vendor",
    ReaderEntry(
        "vendor",
        VENDOR_SUFFIXES,
        read_vendor,
        "vendor formats through RosettaSciIO (Bruker, ripple .rpl, Renishaw, JEOL, ...) [extra: vendor]",
    ),
)
