"""Working on the spectral axis: flag and drop bad bands, mask low-SNR bands, resample."""

from __future__ import annotations

import numpy as np

from chemmap._shared.params import Param, validate_params
from chemmap.core.cube import Cube
from chemmap.core.exceptions import AxisError, InvalidParameterError
from chemmap.preprocessing._steps import StepSpec, apply_spectral, axis_values_of, steps
from chemmap.preprocessing.quality import band_snr

__all__ = ["drop_bad_bands", "mask_bands", "mask_low_snr_bands", "resample"]


def _ranges(value, name, func):
    if not isinstance(value, list | tuple) or not all(isinstance(r, list | tuple) and len(r) == 2 for r in value):
        raise InvalidParameterError(
            f"The {name!r} parameter of {func} must be a list of [low, high] ranges in axis units, e.g. "
            f"[[1340, 1460], [1790, 1960]]. Got {value!r} instead."
        )
    return [[float(lo), float(hi)] for lo, hi in value]


MASK_PARAMS = {"ranges": Param("any", [], check=_ranges, doc="[low, high] axis ranges flagged bad, in axis units")}
DROP_PARAMS: dict[str, Param] = {}
SNR_PARAMS = {"threshold": Param("float", 3.0, low=0, doc="bands with a lower SNR (mean / noise sigma) are flagged")}
RESAMPLE_PARAMS = {
    "to": Param("floats", doc="new channel positions, in the cube's axis units, increasing"),
    "kind": Param("choice", "linear", choices=("linear", "cubic"), doc="interpolation"),
    "outside": Param(
        "choice", "error", choices=("error", "crop"), doc="new positions outside the axis: error, or crop them away"
    ),
}


def mask_bands(cube: Cube, **params) -> Cube:
    """Flag the channels inside ``ranges`` as bad bands (kept in the data, marked on the axis).

    Examples
    --------
    >>> from chemmap.testing import make_cube
    >>> int(mask_bands(make_cube(), ranges=[[600, 700]]).axis.bad_bands.sum()) > 0
    True
    """
    params = validate_params(MASK_PARAMS, params, func="mask_bands")
    values = cube.axis.values
    bad = ~cube.axis.good_bands
    for lo, hi in params["ranges"]:
        bad |= (values >= min(lo, hi)) & (values <= max(lo, hi))
    return cube.with_step("mask_bands", params, axis=cube.axis.replace(bad_bands=bad))


def drop_bad_bands(cube: Cube, **params) -> Cube:
    """Remove the channels flagged bad (ENVI ``bbl``, :func:`mask_bands`, low SNR)."""
    validate_params(DROP_PARAMS, params, func="drop_bad_bands")
    keep = cube.axis.good_bands
    if not keep.any():
        raise AxisError("Every band is flagged bad; nothing would be left. Check the bad-band list.")
    dropped = [float(v) for v in cube.axis.values[~keep]]
    axis = cube.axis.take(np.flatnonzero(keep)).replace(bad_bands=None)
    return cube.with_step("drop_bad_bands", {"dropped": dropped}, data=cube.data[..., keep], axis=axis)


def mask_low_snr_bands(cube: Cube, **params) -> Cube:
    """Flag the bands whose SNR (from neighbouring-pixel differences) is below ``threshold``."""
    params = validate_params(SNR_PARAMS, params, func="mask_low_snr_bands")
    snr = band_snr(cube)
    low = ~(snr >= params["threshold"])
    bad = ~cube.axis.good_bands | low
    record = {**params, "flagged": [float(v) for v in cube.axis.values[low]]}
    return cube.with_step("mask_low_snr_bands", record, axis=cube.axis.replace(bad_bands=bad))


def resample(x, *, axis=None, **params):
    """Interpolate every spectrum onto new channel positions; never extrapolates.

    Parameters
    ----------
    x : Cube or ndarray of shape (..., n_channels)
    axis : array-like, optional
        Current channel positions of a plain array.
    to : sequence of float
        New channel positions, in axis units.
    kind : {"linear", "cubic"}
    outside : {"error", "crop"}
        New positions outside the current axis raise an error, or are dropped.
    """
    from scipy.interpolate import CubicSpline

    params = validate_params(RESAMPLE_PARAMS, params, func="resample")
    old = axis_values_of(x, axis, "resample")
    new = np.asarray(params["to"], dtype=np.float64)
    if new.size < 1 or (new.size > 1 and not np.all(np.diff(new) > 0)):
        raise InvalidParameterError("resample needs new axis positions that strictly increase.")
    inside = (new >= old[0]) & (new <= old[-1])
    if not inside.all():
        if params["outside"] == "error":
            raise AxisError(
                f"{int((~inside).sum())} new positions lie outside the axis ({old[0]:g}..{old[-1]:g}); resampling "
                "never extrapolates. To fix this, choose positions inside the axis or pass outside='crop'."
            )
        new = new[inside]
        if new.size == 0:
            raise AxisError("No new position lies inside the axis; nothing to resample onto.")
    params["to"] = [float(v) for v in new]

    def kernel(s):
        s = np.asarray(s, dtype=np.float64)
        if params["kind"] == "cubic":
            return CubicSpline(old, s, axis=1)(new).astype(np.float32)
        index = np.clip(np.searchsorted(old, new, side="right") - 1, 0, old.size - 2)
        frac = (new - old[index]) / (old[index + 1] - old[index])
        return (s[:, index] * (1 - frac) + s[:, index + 1] * frac).astype(np.float32)

    new_axis = None
    if isinstance(x, Cube):
        new_axis = x.axis.replace(values=new, names=None, fwhm=None, bad_bands=None)
    return apply_spectral(x, kernel, step="resample", params=params, n_out=new.size, new_axis=new_axis)


for _name, _params, _func, _summary in (
    ("mask_bands", MASK_PARAMS, mask_bands, "flag axis ranges as bad bands"),
    ("drop_bad_bands", DROP_PARAMS, drop_bad_bands, "remove the bands flagged bad"),
    ("mask_low_snr_bands", SNR_PARAMS, mask_low_snr_bands, "flag bands with a low SNR"),
    ("resample", RESAMPLE_PARAMS, lambda cube, **p: resample(cube, **p), "interpolate onto a new axis"),
):
    steps.register(_name, StepSpec(_name, _params, _func, _summary))
