"""Cropping the spectral axis to a range."""

from __future__ import annotations

from chemmap._shared.params import Param, validate_params
from chemmap.core.cube import Cube
from chemmap.core.exceptions import InvalidParameterError
from chemmap.preprocessing._steps import StepSpec, steps

__all__ = ["crop"]

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
    return cube.with_step("crop", params, data=cube.data[..., window], axis=cube.axis.take(window))


steps.register("crop", StepSpec("crop", PARAMS, crop, "crop the spectral axis"))
