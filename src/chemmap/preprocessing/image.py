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


def _line_profile_correction(data, valid: np.ndarray, axis: int, window: int, mode: str, *, in_place: bool = False):
    """Remove per-line offsets (or gains) along image ``axis`` (0: each row is a line).

    Neighbouring lines see almost the same scene, so the median over a line of its
    difference from the previous line is the change of stripe between them: real edges
    cross a line at a few pixels, which the median ignores. Summing those changes gives the
    stripe profile up to a slow drift, which is removed with a running mean over ``window``
    lines (slow trends across lines cannot be told from the scene, and are kept). A gain
    model works the same way on logarithms. Pixels outside ``valid`` are NaN in the result.
    A lazy ``data`` stays lazy (only the medians, one value per line and band, are
    computed); a NumPy one is read and corrected by bands of lines in float32, so no
    float64 copy of the cube is made (the JEOL map's would take 8 GiB); ``in_place`` writes
    the correction into ``data`` (a float32 array of one's own).
    """
    from scipy.ndimage import uniform_filter1d

    if is_lazy_array(data):
        import dask.array as da

        work = da.moveaxis(da.where(valid[..., None], data.astype(np.float64), np.nan), axis, 0)  # lines first
        work = _on_scale(work, mode, da)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "All-NaN slice", RuntimeWarning)
            (step,) = compute(da.nanmedian(work[1:] - work[:-1], axis=1), stage="stripe profile")
    else:
        step = _line_steps(data, valid, axis, mode)
    step = np.nan_to_num(np.asarray(step, dtype=np.float64))  # (n_lines - 1, n_channels)
    profile = np.concatenate([np.zeros((1, step.shape[1])), np.cumsum(step, axis=0)])
    stripe = profile - uniform_filter1d(profile, size=min(window, profile.shape[0]), axis=0, mode="nearest")
    if is_lazy_array(data):
        corrected = work - stripe[:, None, :]
        return da.moveaxis(da.exp(corrected) if mode == "multiplicative" else corrected, 0, axis)
    out = data if in_place else np.empty(data.shape, np.float32)
    lines, out_lines = np.moveaxis(data, axis, 0), np.moveaxis(out, axis, 0)
    for rows in _line_bands(lines):
        block = _on_scale(_masked(lines[rows], np.moveaxis(valid, axis, 0)[rows]), mode, np)
        block -= stripe[rows, None, :].astype(np.float32)
        out_lines[rows] = np.exp(block) if mode == "multiplicative" else block
    return out


def _masked(lines: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """``lines`` as float32 with the pixels outside ``valid`` NaN."""
    return np.where(valid[..., None], lines.astype(np.float32, copy=False), np.float32(np.nan))


def _on_scale(work, mode: str, xp):
    """The values whose line differences give the stripes: themselves, or their logarithm
    for gains (NaN where not positive)."""
    if mode != "multiplicative":
        return work
    with np.errstate(divide="ignore", invalid="ignore"):
        return xp.where(work > 0, xp.log(work), np.nan)


def _line_bands(lines: np.ndarray) -> list[slice]:
    """Bands of lines (first axis) of about a block's worth of float32 each."""
    from chemmap._shared.blockwise import row_blocks

    return row_blocks(lines.shape[0], int(np.prod(lines.shape[1:])) * 4)


def _line_steps(data: np.ndarray, valid: np.ndarray, axis: int, mode: str) -> np.ndarray:
    """Median over each line of its difference from the previous line, per band, ``(n_lines
    - 1, n_channels)``, by bands of lines."""
    lines, good = np.moveaxis(data, axis, 0), np.moveaxis(valid, axis, 0)
    step = np.empty((lines.shape[0] - 1, lines.shape[-1]))
    previous = None
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "All-NaN slice", RuntimeWarning)
        for rows in _line_bands(lines):
            block = _on_scale(_masked(lines[rows], good[rows]), mode, np)
            stacked = block if previous is None else np.concatenate([previous, block])
            if stacked.shape[0] > 1:
                first = rows.start - (0 if previous is None else 1)
                step[first : rows.stop - 1] = np.nanmedian(stacked[1:] - stacked[:-1], axis=1)
            previous = block[-1:]
    return step


def destripe(cube: Cube, **params) -> Cube:
    """Remove stripes of push-broom and line scanners by per-line median normalisation.

    Parameters
    ----------
    cube : Cube
        NumPy or lazy; a lazy cube is read once per direction for the line medians and
        the correction stays lazy; a NumPy one is corrected by bands of lines into one
        float32 copy.
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
    valid = cube.valid_pixels().reshape(cube.image_shape)
    work = cube.data
    axes = {"rows": (0,), "columns": (1,), "both": (0, 1)}[params["direction"]]
    for i, axis in enumerate(axes):
        # the second direction corrects the first one's float32 result where it lies
        in_place = i > 0 and not is_lazy_array(work)
        work = _line_profile_correction(work, valid, axis, params["window"], params["mode"], in_place=in_place)
    return cube.with_step("destripe", params, data=work.astype(np.float32, copy=False))


for _name, _params, _func, _summary in (
    ("flat_field", FLAT_PARAMS, flat_field, "dark/white reference to reflectance"),
    ("absorbance", ABSORBANCE_PARAMS, lambda cube, **p: absorbance(cube, **p), "absorbance -log10(R)"),
    ("destripe", DESTRIPE_PARAMS, destripe, "stripe removal by per-line median normalisation"),
):
    steps.register(_name, StepSpec(_name, _params, _func, _summary))
