"""The one data model: a hyperspectral cube with its axis, mask, labels and provenance."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import numpy as np

from chemmap.core.axis import SpectralAxis
from chemmap.core.exceptions import InvalidParameterError, ShapeError

__all__ = ["Cube", "is_lazy_array"]


def is_lazy_array(data: Any) -> bool:
    """True for a Dask array (checked without importing Dask)."""
    return type(data).__module__.split(".")[0] == "dask" and hasattr(data, "compute")


class Cube:
    """A hyperspectral image: ``(height, width, n_channels)`` data with a spectral axis.

    A Cube is never mutated; every processing step returns a new Cube and appends to
    ``attrs["history"]``. Flattened pixel order is row-major:
    ``pixel_id = row * width + col``.

    Parameters
    ----------
    data : ndarray or dask array of shape (height, width, n_channels)
        Spectra, spectral axis last. Float data are kept as given (float32 is the
        library default); integer counts stay integers until a step needs floats.
    axis : SpectralAxis
        Positions of the channels; its length must equal ``n_channels``.
    mask : ndarray of bool, shape (height, width), optional
        ``True`` where the pixel belongs to the sample and holds a valid spectrum.
    labels : ndarray of int, shape (height, width), optional
        Ground-truth classes; ``-1`` marks unlabelled pixels.
    label_names : mapping of int to str, optional
        Class names for the label values; defaults to ``str(value)``.
    attrs : mapping, optional
        Provenance: ``source``, ``image_shape_source``, ``history`` (list of steps) ...
    """

    __slots__ = ("attrs", "axis", "data", "label_names", "labels", "mask")

    def __init__(
        self,
        data,
        axis: SpectralAxis,
        *,
        mask: np.ndarray | None = None,
        labels: np.ndarray | None = None,
        label_names: Mapping[int, str] | None = None,
        attrs: Mapping[str, Any] | None = None,
    ) -> None:
        if not is_lazy_array(data):
            data = np.asarray(data)
        if data.ndim != 3:
            raise ShapeError(
                f"Cube data must have 3 dimensions (height, width, n_channels); got shape "
                f"{tuple(data.shape)}. To fix this, reshape flat spectra with image_shape."
            )
        if not isinstance(axis, SpectralAxis):
            raise InvalidParameterError(f"axis must be a SpectralAxis; got {type(axis).__name__}.")
        if len(axis) != data.shape[-1]:
            raise ShapeError(
                f"The spectral axis has {len(axis)} values but the data have {data.shape[-1]} "
                "channels on the last axis."
            )
        image_shape = tuple(int(n) for n in data.shape[:2])
        self.data = data
        self.axis = axis
        self.mask = _check_image_array(mask, image_shape, "mask", bool)
        self.labels = _check_image_array(labels, image_shape, "labels", np.int64)
        if self.labels is not None:
            present = _present_labels(self.labels)
            given = {int(k): str(v) for k, v in (label_names or {}).items()}
            self.label_names = {v: given.get(v, str(v)) for v in present}
        else:
            self.label_names = None
        self.attrs = dict(attrs or {})
        self.attrs.setdefault("history", [])

    # --- shape -------------------------------------------------------------
    @property
    def image_shape(self) -> tuple[int, int]:
        return (int(self.data.shape[0]), int(self.data.shape[1]))

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(int(n) for n in self.data.shape)  # type: ignore[return-value]

    @property
    def n_pixels(self) -> int:
        return self.image_shape[0] * self.image_shape[1]

    @property
    def n_channels(self) -> int:
        return int(self.data.shape[-1])

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def is_lazy(self) -> bool:
        return is_lazy_array(self.data)

    @property
    def history(self) -> list[dict]:
        return self.attrs["history"]

    def __repr__(self) -> str:
        kind = "lazy " if self.is_lazy else ""
        return (
            f"<Cube {kind}{self.image_shape[0]}x{self.image_shape[1]} pixels x "
            f"{self.n_channels} channels, {self.dtype}, {self.axis!r}>"
        )

    def _repr_html_(self) -> str:
        """Jupyter's view: shape, axis, dtype, mask and label counts, lazy or not, and the mean
        spectrum (see :mod:`chemmap.core.html_repr`)."""
        from chemmap.core.html_repr import cube_html

        return cube_html(self)

    # --- pixels view ---------------------------------------------------------
    def pixels(self):
        """Spectra as ``(n_pixels, n_channels)``, row-major; a view when possible."""
        return self.data.reshape(self.n_pixels, self.n_channels)

    def valid_pixels(self) -> np.ndarray:
        """Boolean ``(n_pixels,)``: inside the mask (all pixels when there is none)."""
        if self.mask is None:
            return np.ones(self.n_pixels, dtype=bool)
        return self.mask.reshape(-1)

    def unflatten(self, values, *, fill=None) -> np.ndarray:
        """Put per-pixel results back into image shape.

        Parameters
        ----------
        values : ndarray of shape (n_pixels,) or (n_pixels, k), or (n_valid,) / (n_valid, k)
            One value (or vector) per pixel in row-major order, or per valid pixel.
        fill : scalar, optional
            Value for pixels outside the mask; NaN for floats, -1 for integers.

        Returns
        -------
        ndarray of shape (height, width) or (height, width, k)
        """
        values = np.asarray(values)
        valid = self.valid_pixels()
        if fill is None:
            fill = -1 if np.issubdtype(values.dtype, np.integer) else np.nan
        if values.shape[0] == self.n_pixels:
            out = values.copy()
            out[~valid] = fill
        elif values.shape[0] == int(valid.sum()):
            dtype = values.dtype if np.can_cast(np.asarray(fill).dtype, values.dtype, "same_kind") else np.float64
            out = np.full((self.n_pixels, *values.shape[1:]), fill, dtype=dtype)
            out[valid] = values
        else:
            raise ShapeError(
                f"unflatten got {values.shape[0]} values; expected one per pixel "
                f"({self.n_pixels}) or one per valid pixel ({int(valid.sum())})."
            )
        return out.reshape(*self.image_shape, *values.shape[1:])

    # --- new cubes -------------------------------------------------------------
    def replace(self, **changes) -> Cube:
        """A new Cube with some of ``data``, ``axis``, ``mask``, ``labels``, ``label_names``,
        ``attrs`` replaced; the others are shared (arrays are never mutated)."""
        unknown = set(changes) - {"data", "axis", "mask", "labels", "label_names", "attrs"}
        if unknown:
            raise InvalidParameterError(f"Cube.replace got unknown fields {sorted(unknown)}.")
        fields = {
            "data": self.data,
            "axis": self.axis,
            "mask": self.mask,
            "labels": self.labels,
            "label_names": self.label_names,
            "attrs": copy.deepcopy(self.attrs),
        }
        fields.update(changes)
        data = fields.pop("data")
        axis = fields.pop("axis")
        return Cube(data, axis, **fields)

    def with_step(self, step: str, params: Mapping[str, Any], **changes) -> Cube:
        """A new Cube with ``changes`` applied and ``{step, params}`` appended to history."""
        new = self.replace(**changes)
        new.attrs["history"].append({"step": step, "params": _jsonable(dict(params))})
        return new

    # --- maps ------------------------------------------------------------------
    @classmethod
    def from_maps(cls, maps: Mapping[str, np.ndarray], *, mask=None, attrs=None) -> Cube:
        """A map Cube: each named ``(height, width)`` map becomes one "channel" (lazy if any map is)."""
        if not maps:
            raise InvalidParameterError("from_maps needs at least one map.")
        arrays = [m.astype(np.float32) if is_lazy_array(m) else np.asarray(m, np.float32) for m in maps.values()]
        shapes = {tuple(a.shape) for a in arrays}
        if len(shapes) != 1 or arrays[0].ndim != 2:
            raise ShapeError(f"Maps must all be 2-D with one shape; got {sorted(shapes)}.")
        # np.stack dispatches to Dask (NEP 18) when a map is lazy
        return cls(np.stack(arrays, axis=-1), SpectralAxis.from_names(list(maps)), mask=mask, attrs=attrs)

    @property
    def map_names(self) -> tuple[str, ...]:
        if self.axis.names is None:
            raise InvalidParameterError("This Cube holds spectra, not named maps.")
        return self.axis.names

    def __getitem__(self, name: str) -> np.ndarray:
        """The map called ``name`` as a ``(height, width)`` array (map Cubes only)."""
        names = self.map_names
        if name not in names:
            raise InvalidParameterError(f"No map named {name!r}; maps are {list(names)}.")
        return np.asarray(self.data[..., names.index(name)])

    # --- other libraries ---------------------------------------------------------
    def to_xarray(self):
        """This Cube as an ``xarray.DataArray`` with dims ``("y", "x", "band")``: the axis
        values (unit in ``attrs["units"]``) on ``band``, ``mask`` and ``labels`` as
        coordinates, provenance in ``attrs``; Dask-backed when the Cube is lazy (nothing is
        computed). Needs the ``xarray`` extra. See :mod:`chemmap.core.xarray_bridge`."""
        from chemmap.core.xarray_bridge import cube_to_xarray

        return cube_to_xarray(self)

    @classmethod
    def from_xarray(cls, data, *, variable: str | None = None, axis_unit: str | None = None) -> Cube:
        """A Cube from an ``xarray.DataArray`` (or a ``Dataset`` with one 3-D variable) whose
        dims are two spatial ones (``y``/``x``, ``lat``/``lon`` ...) and one spectral one
        (``band``, ``wavelength``, ``wavenumber``, ``energy`` ...), in any order; lazy stays
        lazy. See :func:`chemmap.core.xarray_bridge.cube_from_xarray`."""
        from chemmap.core.xarray_bridge import cube_from_xarray

        return cube_from_xarray(cls, data, variable=variable, axis_unit=axis_unit)

    def to_hyperspy(self):
        """This Cube as a HyperSpy ``Signal1D`` (``LazySignal1D`` when lazy, nothing computed):
        navigation axes ``x`` and ``y``, the spectral axis as the signal axis with its unit;
        mask, labels and provenance in ``metadata.chemmap``. Needs the ``hyperspy`` extra.
        See :mod:`chemmap.core.hyperspy_bridge`."""
        from chemmap.core.hyperspy_bridge import cube_to_hyperspy

        return cube_to_hyperspy(self)

    @classmethod
    def from_hyperspy(cls, signal, *, axis_unit: str | None = None) -> Cube:
        """A Cube from any HyperSpy signal with one signal axis (spectrum images, line scans,
        single spectra; lazy signals give lazy Cubes; EDS/EELS/CL subclasses included). See
        :func:`chemmap.core.hyperspy_bridge.cube_from_hyperspy`."""
        from chemmap.core.hyperspy_bridge import cube_from_hyperspy

        return cube_from_hyperspy(cls, signal, axis_unit=axis_unit)

    def to_numpy(self) -> Cube:
        """This Cube with its data computed into memory (no-op for NumPy data)."""
        if not self.is_lazy:
            return self
        return self.replace(data=np.asarray(self.data.compute()))


def _check_image_array(arr, image_shape, name, dtype):
    if arr is None:
        return None
    arr = np.asarray(arr)
    if arr.shape != image_shape:
        raise ShapeError(
            f"{name} has shape {arr.shape} but the image is {image_shape[0]} x {image_shape[1]} "
            "pixels. To fix this, give one value per pixel in image shape."
        )
    if dtype is bool and arr.dtype != bool:
        raise InvalidParameterError(f"{name} must be boolean; got dtype {arr.dtype}.")
    if dtype is not bool and not np.issubdtype(arr.dtype, np.integer):
        raise InvalidParameterError(f"{name} must hold integers; got dtype {arr.dtype}.")
    if arr.dtype == dtype and arr.flags.owndata and not arr.flags.writeable:
        return arr  # another Cube's (or frozen by its owner): shared, as replace() promises
    arr = arr.astype(dtype, copy=True)  # the caller's array stays the caller's
    arr.setflags(write=False)
    return arr


def _present_labels(labels: np.ndarray) -> list[int]:
    """The label values >= 0 present in ``labels`` (int64), ascending: by counting where the
    largest is small (one pass), else by sorting."""
    if labels.size == 0:
        return []
    top = int(labels.max())
    if top < 0:
        return []
    if top < 2**20:
        kept = labels if int(labels.min()) >= 0 else labels[labels >= 0]
        return np.flatnonzero(np.bincount(kept.ravel(), minlength=top + 1)).tolist()
    return sorted(int(v) for v in np.unique(labels) if v >= 0)


def _jsonable(value):
    """Convert NumPy scalars/arrays inside parameters to plain Python for the history."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist() if value.size <= 64 else f"<array shape={value.shape}>"
    if isinstance(value, np.generic):
        return value.item()
    return value
