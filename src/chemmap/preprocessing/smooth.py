"""Smoothing: Savitzky–Golay (with derivatives) and Whittaker along the spectrum; Gaussian and median across pixels."""

from __future__ import annotations

import numpy as np

from chemmap._shared.blockwise import map_image
from chemmap._shared.params import Param, validate_params
from chemmap._shared.sampling import row_bands_sample
from chemmap.core.cube import Cube
from chemmap.core.exceptions import InvalidParameterError
from chemmap.preprocessing._steps import StepSpec, apply_spectral, axis_values_of, steps

#: Gaussian kernels reach this many sigmas (SciPy's default).
TRUNCATE = 4.0

__all__ = ["savgol", "spatial_gaussian", "spatial_median", "whittaker"]

SAVGOL_PARAMS = {
    "window": Param("float", None, low=0, low_inclusive=False, allow_none=True, doc="full window width in axis units"),
    "window_channels": Param(
        "int", None, low=3, allow_none=True, doc="full window width in channels (odd); instead of window"
    ),
    "polyorder": Param("int", 2, low=0, high=10, doc="polynomial order"),
    "deriv": Param("int", 0, low=0, high=2, doc="derivative order (per axis unit)"),
}

SPATIAL_PARAMS = {
    "sigma": Param("float", 1.0, low=0, low_inclusive=False, doc="Gaussian sigma in pixels"),
}
MEDIAN_PARAMS = {"size": Param("int", 3, low=1, high=51, doc="median window side in pixels (odd)")}
WHITTAKER_PARAMS = {
    "lam": Param("float", 10.0, low=0, low_inclusive=False, doc="smoothness penalty on second differences"),
}


def whittaker(x, **params):
    """Whittaker smoother (Eilers 2003): ``(I + lam DᵀD) z = y`` for every spectrum at once.

    Parameters
    ----------
    x : Cube or ndarray of shape (..., n_channels)
    lam : float
        Penalty on second differences (dimensionless, per channel); larger is smoother.
    """
    from chemmap.preprocessing.baseline import pentadiagonal_solve, second_difference_gram

    params = validate_params(WHITTAKER_PARAMS, params, func="whittaker")
    lam = params["lam"]

    def kernel(s):
        y = np.asarray(s, dtype=np.float64).T
        if y.shape[0] < 3:
            return s.astype(np.float32)
        main, off1, off2 = second_difference_gram(y.shape[0])
        diag = np.repeat((1.0 + lam * main)[:, None], y.shape[1], axis=1)
        return pentadiagonal_solve(diag, lam * off1, lam * off2, y).T.astype(np.float32)

    return apply_spectral(x, kernel, step="whittaker", params=params)


def _window_channels(params: dict, n_channels: int, spacing: float, unit: str) -> int:
    """The odd number of channels the Savitzky–Golay window covers on an axis of
    ``n_channels`` a ``spacing`` apart; an error that gives the allowed range, in the units
    the window was given in, when it is out of range."""
    if (params["window"] is None) == (params["window_channels"] is None):
        raise InvalidParameterError(
            "savgol needs exactly one of window (axis units) and window_channels (channels); "
            f"got window={params['window']}, window_channels={params['window_channels']}."
        )
    if params["window_channels"] is not None:
        n = params["window_channels"]
    else:
        n = round(params["window"] / spacing)
    n = n + 1 if n % 2 == 0 else n
    order = params["polyorder"]
    shortest = order + 1 if order % 2 == 0 else order + 2  # odd, above the polynomial's order
    longest = n_channels if n_channels % 2 else n_channels - 1
    if shortest > longest:
        raise InvalidParameterError(
            f"The spectral axis has {n_channels} channels, too few for a Savitzky–Golay polynomial of "
            f"order {order} (the window must cover an odd number of channels above polyorder). "
            f"To fix this, lower polyorder to at most {max(longest - 1, 0)}, or leave the smoothing out."
        )
    if shortest <= n <= longest:
        return n
    if params["window_channels"] is not None:
        given, allowed = f"window_channels={params['window_channels']}", f"from {shortest} to {longest} channels"
    else:
        given = f"window of {params['window']:g} {unit} covers {n} channels (spacing {spacing:.4g} {unit})"
        low, high = f"{shortest * spacing:.4g}", f"{longest * spacing:.4g}"
        allowed = f"exactly {low} {unit}" if low == high else f"from {low} to {high} {unit}"
    fix = "narrow the window" if n > longest else "widen the window or lower polyorder"
    raise InvalidParameterError(
        f"The Savitzky–Golay {given}; it must cover more than polyorder={order} channels and at most "
        f"the {n_channels} channels of the axis: {allowed}. To fix this, {fix}."
    )


def savgol(x, *, axis=None, **params):
    """Savitzky–Golay smoothing or derivative of every spectrum.

    Parameters
    ----------
    x : Cube or ndarray of shape (..., n_channels)
    axis : array-like, optional
        Channel positions for a plain array (needed with ``window`` or ``deriv``).
    window : float, optional
        Full window width in axis units (rounded to an odd number of channels).
    window_channels : int, optional
        Full window width in channels.
    polyorder : int
        Order of the local polynomial.
    deriv : int
        Derivative order; derivatives are per axis unit (``delta`` = channel spacing).

    Returns
    -------
    Cube or ndarray
    """
    from scipy.signal import savgol_filter

    params = validate_params(SAVGOL_PARAMS, params, func="savgol")
    if isinstance(x, Cube) or axis is not None:
        values = axis_values_of(x, axis, "savgol")
    else:
        values = np.arange(np.shape(x)[-1], dtype=np.float64)
    delta = float(np.median(np.diff(values))) if values.size > 1 else 1.0
    n = _window_channels(params, values.size, abs(delta), x.axis.unit if isinstance(x, Cube) else "axis units")
    params["window_channels_used"] = n

    def smoothed(s):
        return savgol_filter(s, n, params["polyorder"], deriv=params["deriv"], delta=delta, axis=-1, mode="interp")

    def kernel(s):
        finite = np.isfinite(s).all(axis=-1)
        if finite.all():
            return smoothed(s).astype(np.float32)
        # its edge fits refuse NaN: spectra that hold one (masked pixels) stay NaN, and stay masked
        out = np.full(s.shape, np.nan, np.float32)
        if finite.any():  # a piece of masked pixels only (98 % of a Velox EDS map's are empty) has none
            out[finite] = smoothed(s[finite])
        return out

    return apply_spectral(x, kernel, step="savgol", params=params)


def spatial_gaussian(cube: Cube, **params) -> Cube:
    """Gaussian smoothing across pixels, channel by channel, ignoring masked pixels.

    Masked pixels neither contribute nor receive values (normalised convolution), so a
    sample's edge is not blurred into the background. Lazy cubes are filtered chunk by
    chunk with an overlap of the kernel's radius (same result).

    Parameters
    ----------
    cube : Cube
    sigma : float
        Standard deviation of the Gaussian, in pixels.
    """
    from scipy.ndimage import gaussian_filter

    params = validate_params(SPATIAL_PARAMS, params, func="spatial_gaussian")
    if not isinstance(cube, Cube):
        raise InvalidParameterError("spatial_gaussian needs a Cube (it works across pixels).")
    sigma = params["sigma"]
    h, w = cube.image_shape
    if sigma > max(h, w) / 2:  # on a 5 x 5 map, sigma 50 gave 5 clusters with a silhouette of 1.000
        raise InvalidParameterError(
            f"A spatial Gaussian of sigma {sigma:g} pixels is wider than half the {h} x {w} image: every "
            "pixel would become the image's mean, and what still told the pixels apart would be rounding. "
            f"To fix this, use a sigma of at most {max(h, w) / 2:g} pixels (1 to 3 is usual), or leave the "
            "spatial smoothing out."
        )

    def smooth(block: np.ndarray, valid: np.ndarray, *, channels: slice) -> np.ndarray:
        valid = valid[..., 0]
        data = np.where(valid[..., None], block, 0).astype(np.float32)
        weight = gaussian_filter(valid.astype(np.float32), sigma, mode="nearest", truncate=TRUNCATE)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = gaussian_filter(data, (sigma, sigma, 0), mode="nearest", truncate=TRUNCATE) / weight[..., None]
        out[~valid] = np.nan
        return out

    data = map_image(smooth, cube.data, _valid_image(cube), depth=int(TRUNCATE * sigma + 0.5))
    return cube.with_step("spatial_gaussian", params, data=data)


def spatial_median(cube: Cube, **params) -> Cube:
    """Median filter across pixels, channel by channel (removes isolated outlier pixels).

    Masked pixels are filled with the band's median of the valid pixels (of evenly spaced
    rows for cubes above 64 MiB) before filtering and stay masked afterwards.
    """
    from scipy.ndimage import median_filter

    params = validate_params(MEDIAN_PARAMS, params, func="spatial_median")
    if not isinstance(cube, Cube):
        raise InvalidParameterError("spatial_median needs a Cube (it works across pixels).")
    size = params["size"] + (1 - params["size"] % 2)
    sample, sample_valid = row_bands_sample(cube, stage="band medians")
    valid_rows = sample[sample_valid].astype(np.float32)
    fill = np.nanmedian(valid_rows, axis=0) if valid_rows.size else np.zeros(cube.n_channels, np.float32)

    def filtered(block: np.ndarray, valid: np.ndarray, *, channels: slice) -> np.ndarray:
        valid = valid[..., 0]
        out = median_filter(
            np.where(valid[..., None], block, fill[channels]).astype(np.float32), size=(size, size, 1), mode="nearest"
        )
        out[~valid] = np.nan
        return out

    data = map_image(filtered, cube.data, _valid_image(cube), depth=size // 2)
    return cube.with_step("spatial_median", {"size": size}, data=data)


def _valid_image(cube: Cube) -> np.ndarray:
    return cube.valid_pixels().reshape(*cube.image_shape, 1)


steps.register(
    "savgol",
    StepSpec("savgol", SAVGOL_PARAMS, lambda cube, **p: savgol(cube, **p), "Savitzky–Golay smoothing / derivative"),
)
steps.register(
    "spatial_gaussian",
    StepSpec("spatial_gaussian", SPATIAL_PARAMS, spatial_gaussian, "Gaussian smoothing across pixels"),
)
steps.register(
    "spatial_median",
    StepSpec("spatial_median", MEDIAN_PARAMS, spatial_median, "median filter across pixels"),
)
steps.register(
    "whittaker",
    StepSpec("whittaker", WHITTAKER_PARAMS, lambda cube, **p: whittaker(cube, **p), "Whittaker smoothing"),
)
