"""Cubes as HyperSpy signals and back (the ``hyperspy`` extra).

A Cube becomes a ``Signal1D`` (a ``LazySignal1D`` for a lazy Cube, nothing computed) whose
navigation axes are the image's columns (``x``) and rows (``y``) and whose signal axis is the
spectral axis: uniform (offset and scale) where the channels are evenly spaced, else a
non-uniform axis holding every position. The mask, labels and provenance go into
``metadata.chemmap``, so a round trip keeps them; the pixel size the Cube came with (from a
signal's navigation axes) goes back onto the navigation axes.

Any signal with one signal axis becomes a Cube: spectrum images, line scans and single
spectra, lazy ones (the Cube is then lazy), and the EDS, EELS and cathodoluminescence
subclasses of exspy and lumispy (they are Signal1D).
"""

from __future__ import annotations

import json
import warnings

import numpy as np

from chemmap.core.axis import SpectralAxis, known_unit, resolve_axis_unit, sort_order
from chemmap.core.exceptions import InvalidParameterError, ShapeError
from chemmap.core.optional import optional_import

__all__ = ["cube_from_hyperspy", "cube_to_hyperspy"]

#: The signal axis name HyperSpy and its extensions expect for each unit family.
_AXIS_NAMES = {"keV": "Energy", "eV": "Energy", "cm-1": "Raman Shift", "nm": "Wavelength", "um": "Wavelength"}


def _hyperspy():
    return optional_import("hyperspy.api", extra="hyperspy", purpose="Converting to and from HyperSpy")


def cube_to_hyperspy(cube):
    """The Cube as a HyperSpy ``Signal1D`` (``LazySignal1D`` when lazy); see the module."""
    hs = _hyperspy()
    axis = cube.axis
    if axis.names is not None:
        raise InvalidParameterError(
            "This Cube holds named maps, not spectra; HyperSpy's Signal1D needs a spectral axis. "
            "To fix this, convert the maps with to_xarray(), or each map with hs.signals.Signal2D(cube[name])."
        )
    nav = {a["name"]: a for a in cube.attrs.get("navigation_axes", []) if isinstance(a, dict) and "name" in a}
    h, w = cube.image_shape
    axes = [
        {"name": "y", "size": h, "navigate": True, **_navigation(nav.get("y"))},
        {"name": "x", "size": w, "navigate": True, **_navigation(nav.get("x"))},
        {
            "name": _AXIS_NAMES.get(axis.unit, "Channel"),
            "size": len(axis),
            "units": axis.unit,
            "navigate": False,
            **_spectral(axis, cube.attrs.get("signal_axis")),
        },
    ]
    title = str(cube.attrs.get("source", "chemmap cube"))
    chemmap_meta = {"attrs": json.dumps(cube.attrs, default=str)}
    if cube.mask is not None:
        chemmap_meta["mask"] = np.asarray(cube.mask)
    if cube.labels is not None:
        chemmap_meta["labels"] = np.asarray(cube.labels)
        chemmap_meta["label_names"] = json.dumps({str(k): v for k, v in (cube.label_names or {}).items()})
    metadata = {"General": {"title": title}, "Signal": {"signal_type": ""}, "chemmap": chemmap_meta}
    kind = hs.signals.LazySignal1D if cube.is_lazy else hs.signals.Signal1D
    signal = kind(cube.data, axes=axes, metadata=metadata)
    signal_type = str(cube.attrs.get("signal_type") or "")
    if signal_type:
        _set_signal_type(signal, signal_type)
    return signal


def _navigation(stated: dict | None) -> dict:
    if not stated:
        return {"scale": 1.0, "offset": 0.0, "units": "px"}
    return {k: stated[k] for k in ("scale", "offset", "units") if k in stated}


def _spectral(axis: SpectralAxis, stated: dict | None) -> dict:
    """A uniform axis (offset, scale) where it gives exactly the Cube's positions (trying the
    offset and scale the Cube came with first), else every position (non-uniform)."""
    values = axis.values
    n = values.size
    stated = stated if isinstance(stated, dict) else {}
    candidates = [(stated["offset"], stated["scale"])] if {"offset", "scale"} <= set(stated) else []
    if n > 1:
        candidates += [(values[0], (values[-1] - values[0]) / (n - 1)), (values[0], values[1] - values[0])]
    for offset, scale in candidates:
        if np.array_equal(offset + scale * np.arange(n, dtype=np.float64), values):
            return {"offset": float(offset), "scale": float(scale)}
    if n == 1:
        return {"offset": float(values[0]), "scale": 1.0}
    return {"axis": values}


def _set_signal_type(signal, signal_type: str) -> None:
    """The subclass of the Cube's signal type (``EDS_SEM`` ...) where exspy or lumispy provide it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            signal.set_signal_type(signal_type)
        except Exception:
            pass


def cube_from_hyperspy(cube_class, signal, *, axis_unit: str | None = None):
    """A Cube from a HyperSpy signal with one signal axis.

    Parameters
    ----------
    cube_class : type
        :class:`~chemmap.core.cube.Cube` (this is what ``Cube.from_hyperspy`` calls).
    signal : hyperspy.signal.BaseSignal
        One signal axis (the spectrum) and up to two navigation axes; lazy signals give
        lazy Cubes.
    axis_unit : str, optional
        The unit of the spectral axis where the signal states none (or one of the same kind
        to convert to).
    """
    manager = getattr(signal, "axes_manager", None)
    if manager is None:
        raise InvalidParameterError(f"from_hyperspy takes a HyperSpy signal; got {type(signal).__name__}.")
    title = str(signal.metadata.get_item("General.title", "") or "hyperspy signal")
    if manager.signal_dimension != 1:
        raise ShapeError(
            f"The signal {title!r} has {manager.signal_dimension} signal axes; chemmap needs one (the spectrum). "
            "To fix this, make the spectral axis the signal axis: signal.as_signal1D('<axis name>')."
        )
    if manager.navigation_dimension > 2:
        raise ShapeError(
            f"The signal {title!r} has {manager.navigation_dimension} navigation axes; chemmap maps images "
            "(two), line scans (one) and single spectra (none). To fix this, pick or sum the extra axes first "
            "(signal.inav[...] or signal.sum(axis))."
        )
    data = signal.data
    data = data.reshape((1,) * (2 - manager.navigation_dimension) + tuple(data.shape))
    spectral = manager.signal_axes[0]
    raw = None if spectral.units in (None, "", "<undefined>") else str(spectral.units)
    values, unit, _, _ = resolve_axis_unit(
        np.asarray(spectral.axis, dtype=np.float64),
        known_unit(raw, title),
        axis_unit,
        source=f"The signal axis of {title!r}",
    )
    order = sort_order(values, source=f"The signal axis of {title!r}")
    if order is not None:
        data, values = data[..., order], values[order]
    meta = signal.metadata.get_item("chemmap", None)
    mask = labels = label_names = None
    if meta is not None and meta.has_item("attrs"):
        attrs = json.loads(meta.get_item("attrs"))
        mask = meta.get_item("mask", None)
        labels = meta.get_item("labels", None)
        label_names = {int(k): v for k, v in json.loads(meta.get_item("label_names", "{}")).items()}
    else:
        attrs = {
            "source": title,
            "format": "hyperspy",
            "signal_type": str(signal.metadata.get_item("Signal.signal_type", "") or ""),
            **(
                {"signal_axis": {"offset": float(spectral.offset), "scale": float(spectral.scale)}}
                if getattr(spectral, "is_uniform", False)
                else {}
            ),
            "navigation_axes": [
                {"name": name, "scale": float(a.scale), "offset": float(a.offset), "units": str(a.units)}
                for name, a in zip(("x", "y"), manager.navigation_axes, strict=False)
                if getattr(a, "is_uniform", True)
            ],
        }
    return cube_class(data, SpectralAxis(values, unit), mask=mask, labels=labels, label_names=label_names, attrs=attrs)
