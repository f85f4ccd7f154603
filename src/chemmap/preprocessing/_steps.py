"""The preprocessing step registry and the helper that lifts array kernels onto Cubes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from chemmap._shared.blockwise import map_spectra
from chemmap._shared.params import Param, validate_params
from chemmap.core.cube import Cube
from chemmap.core.exceptions import InvalidParameterError
from chemmap.core.registry import Registry

__all__ = ["StepSpec", "apply_spectral", "as_spectra", "steps"]


@dataclass(frozen=True)
class StepSpec:
    """A preprocessing step that a chain can run by name.

    Attributes
    ----------
    name : str
        Name used in config files (``step = "baseline"``).
    params : dict of str to Param
        Declared parameters.
    apply : callable
        ``apply(cube, **params) -> Cube``.
    fit : callable, optional
        ``fit(cube, **params) -> dict`` of learned parameters (e.g. the MSC reference),
        frozen into the chain so a new cube is processed identically.
    summary : str
        One line for the report.
    """

    name: str
    params: dict[str, Param]
    apply: Callable[..., Cube]
    summary: str
    fit: Callable[..., dict] | None = None

    def validate(self, given: dict) -> dict:
        return validate_params(self.params, given, func=f"the {self.name!r} step")


steps: Registry[StepSpec] = Registry("preprocessing step")


def as_spectra(x, name: str = "spectra") -> np.ndarray:
    """``x`` as a float array with the spectral axis last (float32 unless float64 given)."""
    arr = np.asarray(x)
    if arr.ndim < 1 or arr.shape[-1] < 1:
        raise InvalidParameterError(f"{name} must have the spectral axis last; got shape {arr.shape}.")
    if arr.dtype != np.float64:
        arr = arr.astype(np.float32, copy=False)
    return arr


def apply_spectral(
    x,
    kernel: Callable[[np.ndarray], np.ndarray],
    *,
    step: str,
    params: dict,
    n_out: int | None = None,
    new_axis=None,
    piece_bytes: int | None = None,
):
    """Run a per-spectrum ``kernel`` on a Cube (block by block) or on an array.

    ``kernel`` maps ``(n, n_channels)`` to ``(n, n_out)`` and treats rows independently.
    On a Cube the result is a new Cube with the step in its history; pixels whose result is
    not finite are removed from the mask (NumPy cubes; lazy cubes keep their mask).
    ``piece_bytes`` sets the input bytes of one kernel call (see
    :func:`~chemmap._shared.blockwise.map_spectra`).
    """
    if isinstance(x, Cube):
        pieces = {} if piece_bytes is None else {"piece_bytes": piece_bytes}
        data = map_spectra(kernel, x.data, n_out=n_out, dtype=np.float32, **pieces)
        changes = {"data": data}
        if new_axis is not None:
            changes["axis"] = new_axis
        if not x.is_lazy:
            finite = np.all(np.isfinite(data), axis=-1)
            base = np.ones(x.image_shape, bool) if x.mask is None else x.mask
            changes["mask"] = base & finite
        return x.with_step(step, params, **changes)
    arr = as_spectra(x)
    flat = arr.reshape(-1, arr.shape[-1])
    with np.errstate(invalid="ignore", divide="ignore"):
        out = kernel(flat)
    return out.reshape(*arr.shape[:-1], out.shape[-1])


def axis_values_of(x, axis, func: str) -> np.ndarray:
    """Axis positions from a Cube or from the ``axis`` argument given with an array."""
    if isinstance(x, Cube):
        return x.axis.values
    if axis is None:
        raise InvalidParameterError(
            f"{func} on a plain array needs axis= (the channel positions); a Cube carries its own."
        )
    values = np.asarray(getattr(axis, "values", axis), dtype=np.float64)
    if values.shape != (np.shape(x)[-1],):
        raise InvalidParameterError(f"axis has {values.size} values but the spectra have {np.shape(x)[-1]} channels.")
    return values
