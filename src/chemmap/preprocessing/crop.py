"""Cropping the spectral axis to a range."""

from __future__ import annotations

from chemmap._shared.params import Param, validate_params
from chemmap.core.cube import Cube
from chemmap.core.exceptions import InvalidParameterError
from chemmap.preprocessing._steps import StepSpec, steps

__all__ = ["MIN_CHANNELS", "crop"]

#: Fewest channels a crop may keep: with one or two, a "spectrum" has no shape to baseline,
#: smooth, normalise or cluster on (a one-channel crop of a Raman map was split into six
#: clusters of its intensity with a silhouette of 0.34).
MIN_CHANNELS = 3

PARAMS = {
    "lower": Param("float", None, allow_none=True, doc="lowest axis value kept, in axis units"),
    "upper": Param("float", None, allow_none=True, doc="highest axis value kept, in axis units"),
}


def crop(cube: Cube, **params) -> Cube:
    """Keep the channels with ``lower <= position <= upper`` (axis units).

    Examples
    --------
    >>> from chemmap.testing import make_cube
    >>> crop(make_cube(), lower=800, upper=1700).axis.start >= 800
    True
    """
    params = validate_params(PARAMS, params, func="crop")
    if not isinstance(cube, Cube):
        raise InvalidParameterError("crop needs a Cube; slice a plain array directly.")
    lo, hi = params["lower"], params["upper"]
    if lo is not None and hi is not None and lo >= hi:
        raise InvalidParameterError(f"crop needs lower < upper; got lower={lo:g}, upper={hi:g}.")
    window = cube.axis.crop_slice(lo, hi)
    kept = window.stop - window.start
    if kept < MIN_CHANNELS and cube.n_channels >= MIN_CHANNELS:
        axis = cube.axis
        spacing = axis.spacing
        centre = float(axis.values[window.start : window.stop].mean())
        inside = min(axis.stop if hi is None else hi, axis.stop) - max(axis.start if lo is None else lo, axis.start)
        raise InvalidParameterError(
            f"crop lower={lo}, upper={hi} ({axis.unit}) keeps {kept} channel{'s' if kept > 1 else ''} (a channel every "
            f"{spacing:.3g} {axis.unit}); a spectrum needs at least {MIN_CHANNELS}. To fix this, widen the range "
            f"to {MIN_CHANNELS * spacing:.3g} {axis.unit} or more, or map that band without cropping "
            f"(--intensity {centre:.6g} --window {max(inside, MIN_CHANNELS * spacing):.3g})."
        )
    return cube.with_step("crop", params, data=cube.data[..., window], axis=cube.axis.take(window))


steps.register("crop", StepSpec("crop", PARAMS, crop, "crop the spectral axis"))
