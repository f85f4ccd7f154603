"""Image corrections: dark/white flat-field to reflectance, absorbance, stripe removal."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from chemmap._shared.compute import compute
from chemmap._shared.params import Param, validate_params
from chemmap.core.cube import Cube, is_lazy_array
from chemmap.core.exceptions import InputFileNotFoundError, InvalidParameterError, ShapeError
from chemmap.preprocessing._steps import StepSpec, apply_spectral, steps

__all__ = ["absorbance", "destripe", "flat_field"]


def _reference(value, name, func):
    if isinstance(value, str):
        return value
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        arr = None
    if arr is None or arr.ndim not in (0, 1, 2):
        raise InvalidParameterError(
            f"The {name!r} parameter of {func} must be a number, a spectrum (n_channels values), a per-column "
            f"reference (width x n_channels) or the path of a .npy file holding one. Got {value!r:.80} instead."
        )
    return arr.tolist()


FLAT_PARAMS = {
    "white": Param("any", check=_reference, doc="white reference: number, spectrum, (width, n_channels) or .npy path"),
    "dark": Param("any", 0.0, check=_reference, doc="dark reference, same forms as white (default 0)"),
}
ABSORBANCE_PARAMS = {
    "floor": Param("float", 1e-6, low=0, low_inclusive=False, doc="reflectance below this is invalid (pixel masked)"),
}
DESTRIPE_PARAMS = {
    "direction": Param("choice", "rows", choices=("rows", "columns", "both"), doc="stripes along rows or columns"),
    "mode": Param("choice", "additive", choices=("additive", "multiplicative"), doc="stripe model"),
    "window": Param("int", 31, low=3, doc="lines over which stripes average to zero (slower trends kept), pixels"),
}


def _load_reference(value, n_channels: int, width: int, name: str) -> np.ndarray:
    if isinstance(value, str):
        path = Path(value)
        if not path.is_file():
            raise InputFileNotFoundError(f"The {name} reference file {value!r} does not exist.")
        value = np.load(path, allow_pickle=False)
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        return np.full((1, n_channels), float(arr))
    if arr.shape == (n_channels,):
        return arr[None, :]
    if arr.shape == (width, n_channels):
        return arr
    raise ShapeError(
        f"The {name} reference has shape {arr.shape}; expected ({n_channels},) for one spectrum or "
        f"({width}, {n_channels}) for one spectrum per image column (push-broom line reference)."
    )


def flat_field(cube: Cube, **params) -> Cube:
    """Convert raw counts to reflectance: ``R = (raw - dark) / (white - dark)``.

    Parameters
    ----------
    cube : Cube
    white, dark : float, sequence, array or str
        A number, a spectrum of ``n_channels`` values, one spectrum per image column
        ``(width, n_channels)`` (push-broom cameras image each column with its own detector
        element), or the path of a ``.npy`` file holding one. Where ``white <= dark`` the
        channel cannot be calibrated and the result is NaN (the pixel leaves the mask).
    """
    params = validate_params(FLAT_PARAMS, params, func="flat_field")
    w = cube.image_shape[1]
    white = _load_reference(params["white"], cube.n_channels, w, "white")
    dark = _load_reference(params["dark"], cube.n_channels, w, "dark")
    span = white - dark
    if np.any(span <= 0):
        bad = int(np.sum(span <= 0))
        raise InvalidParameterError(
            f"The white reference is not above the dark reference in {bad} place(s); reflectance would be "
            "undefined. To fix this, check that white and dark were not swapped and come from this camera."
        )
    data = (cube.data.astype(np.float64) - dark[None]) / span[None]  # lazy for a lazy cube
    return cube.with_step("flat_field", params, data=data.astype(np.float32))


def absorbance(x, **params):
    """Absorbance ``A = -log10(R)`` of reflectance or transmittance spectra.

    Values at or below ``floor`` have no absorbance; they become NaN and, on a Cube, the
    pixel leaves the mask.
    """
    params = validate_params(ABSORBANCE_PARAMS, params, func="absorbance")
    floor = params["floor"]

    def kernel(s):
        s = np.asarray(s, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(s > floor, -np.log10(s), np.nan).astype(np.float32)

    return apply_spectral(x, kernel, step="absorbance", params=params)


def _line_profile_correction(data, axis: int, window: int, mode: str):
    """Remove per-line offsets (or gains) along image ``axis`` (0: each row is a line).

    Neighbouring lines see almost the same scene, so the median over a line of its
    difference from the previous line is the change of stripe between them: real edges
    cross a line at a few pixels, which the median ignores. Summing those changes gives the
    stripe profile up to a slow drift, which is removed with a running mean over ``window``
    lines (slow trends across lines cannot be told from the scene, and are kept). A gain
    model works the same way on logarithms. ``data`` may be lazy: only the medians (one
    value per line and band) are computed, the correction stays lazy.
    """
    from scipy.ndimage import uniform_filter1d

    xp = _array_module(data)
    work = xp.moveaxis(data, axis, 0)  # lines first
    if mode == "multiplicative":
        with np.errstate(divide="ignore", invalid="ignore"):
            work = xp.where(work > 0, xp.log(work), np.nan)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "All-NaN slice", RuntimeWarning)
        (step,) = compute(xp.nanmedian(work[1:] - work[:-1], axis=1), stage="stripe profile")
    step = np.nan_to_num(np.asarray(step))  # (n_lines - 1, n_channels)
    profile = np.concatenate([np.zeros((1, step.shape[1])), np.cumsum(step, axis=0)])
    stripe = profile - uniform_filter1d(profile, size=min(window, profile.shape[0]), axis=0, mode="nearest")
    corrected = work - stripe[:, None, :]
    if mode == "multiplicative":
        corrected = xp.exp(corrected)
    return xp.moveaxis(corrected, 0, axis)


def _array_module(data):
    if is_lazy_array(data):
        import dask.array as da

        return da
    return np


def destripe(cube: Cube, **params) -> Cube:
    """Remove stripes of push-broom and line scanners by per-line median normalisation.

    Parameters
    ----------
    cube : Cube
        NumPy or lazy; a lazy cube is read once per direction for the line medians and
        the correction stays lazy.
    direction : {"rows", "columns", "both"}
        ``rows``: each image row has its own offset (line-to-line gain/offset jitter);
        ``columns``: each column (detector element) has its own; ``both`` does rows then columns.
    mode : {"additive", "multiplicative"}
        Offsets are subtracted, gains divided.
    window : int
        Lines over which the stripe estimate is centred: line-to-line jumps are removed,
        trends slower than the window are kept as scene.
    """
    params = validate_params(DESTRIPE_PARAMS, params, func="destripe")
    xp = _array_module(cube.data)
    valid = cube.valid_pixels().reshape(cube.image_shape)
    work = xp.where(valid[..., None], cube.data.astype(np.float64), np.nan)
    axes = {"rows": (0,), "columns": (1,), "both": (0, 1)}[params["direction"]]
    for axis in axes:
        work = _line_profile_correction(work, axis, params["window"], params["mode"])
    return cube.with_step("destripe", params, data=work.astype(np.float32))


for _name, _params, _func, _summary in (
    ("flat_field", FLAT_PARAMS, flat_field, "dark/white reference to reflectance"),
    ("absorbance", ABSORBANCE_PARAMS, lambda cube, **p: absorbance(cube, **p), "absorbance -log10(R)"),
    ("destripe", DESTRIPE_PARAMS, destripe, "stripe removal by per-line median normalisation"),
):
    steps.register(_name, StepSpec(_name, _params, _func, _summary))
