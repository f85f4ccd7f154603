"""Band intensity and band ratio maps with windows in axis units."""

from __future__ import annotations

import warnings

import numpy as np

from chemmap._shared.blockwise import map_spectra
from chemmap._shared.noise import MAD_TO_SIGMA, second_difference_dtype, spectral_noise_sigma
from chemmap._shared.validation import check_choice, check_number
from chemmap.core.axis import SpectralAxis
from chemmap.core.cube import Cube
from chemmap.core.exceptions import DataWarning, InvalidParameterError, NarrowWindowWarning

__all__ = [
    "DEFAULT_WINDOW_CHANNELS",
    "band_weights",
    "complete_map_info",
    "default_window",
    "intensity_map",
    "ratio_map",
]

#: Default window: this many channel spacings, so a band value averages a few channels.
DEFAULT_WINDOW_CHANNELS = 5


def default_window(axis: SpectralAxis) -> float:
    """The default full window width: ``DEFAULT_WINDOW_CHANNELS`` channel spacings, at most
    the channels of a short axis less two (so a band in the middle keeps its window)."""
    channels = min(DEFAULT_WINDOW_CHANNELS, max(len(axis.values) - 2, 1))
    return channels * axis.spacing


def band_weights(
    axis: SpectralAxis,
    at: float,
    *,
    window: float | None,
    mode: str = "mean",
    baseline: str | None = None,
    name: str = "at",
) -> tuple[slice, np.ndarray, dict]:
    """The channels and linear weights that turn a spectrum into one band value.

    ``value = spectrum[channels] @ weights``; the noise of the value is therefore
    ``sigma * ||weights||`` for white noise of standard deviation ``sigma``.

    Parameters
    ----------
    axis : SpectralAxis
    at : float
        Band centre in axis units.
    window : float or None
        Full width in axis units; ``None`` uses :func:`default_window`.
    mode : {"mean", "area"}
        Mean intensity over the window, or area (trapezoid, intensity x axis units).
    baseline : {None, "linear"}
        Subtract the straight line through the window's two end channels.

    Returns
    -------
    channels : slice
    weights : ndarray of shape (n_window,)
    info : dict
        Resolved window, channel count and range, for provenance.
    """
    check_choice(mode, ("mean", "area"), name="mode", func="intensity_map")
    check_choice(baseline, (None, "linear"), name="baseline", func="intensity_map")
    at = axis.check_position(at, name)
    window = (
        default_window(axis)
        if window is None
        else check_number(window, name="window", func="intensity_map", low=0, low_inclusive=False)
    )
    channels = axis.window_slice(at, window)
    x = axis.values[channels]
    n = x.size
    if at - window / 2 < axis.start or at + window / 2 > axis.stop:
        warnings.warn(
            f"The window {at:g} ± {window / 2:g} {axis.unit} extends beyond the axis "
            f"({axis.start:g}..{axis.stop:g}); it was cut to {n} channels.",
            DataWarning,
            stacklevel=3,
        )
    if n < 2:
        warnings.warn(
            f"The window of {window:g} {axis.unit} at {at:g} covers only {n} channel (channel "
            f"spacing {axis.spacing:g} {axis.unit}); the band value is one noisy channel. "
            f"Widen the window to at least {2 * axis.spacing:g} {axis.unit}.",
            NarrowWindowWarning,
            stacklevel=3,
        )
    if mode == "mean" or n < 2:
        weights = np.full(n, 1.0 / n)
    else:
        weights = np.zeros(n)
        dx = np.diff(x)
        weights[:-1] += dx / 2
        weights[1:] += dx / 2
    if baseline == "linear":
        if n < 3:
            raise InvalidParameterError(
                f"A linear baseline needs a window of at least 3 channels; this one covers {n}. "
                "To fix this, widen the window."
            )
        t = (x - x[0]) / (x[-1] - x[0])
        total = weights.copy()
        weights[0] -= np.sum(total * (1 - t))
        weights[-1] -= np.sum(total * t)
    info = {
        "at": at,
        "window": float(window),
        "mode": mode,
        "baseline": baseline,
        "n_channels": int(n),
        "range": [float(x[0]), float(x[-1])],
    }
    return channels, weights, info


def _band_values(cube: Cube, bands: list[tuple[slice, np.ndarray]]):
    """``(height, width, n)``: one value per band; lazy for a lazy cube (building it reads nothing)."""

    def kernel(spectra):
        return np.stack([spectra[:, ch].astype(np.float64) @ w for ch, w in bands], axis=1)

    return map_spectra(kernel, cube.data, n_out=len(bands), dtype=np.float64)


#: What each pixel of a ratio map is (the third output of :func:`_ratio_values`).
DEFINED, BOUND, UNDEFINED = 0.0, 1.0, 2.0


def _ratio_values(cube: Cube, numerator, denominator, threshold: float, contrast: str = "ratio"):
    """``(height, width, 3)``: the contrast, the denominator band value and each pixel's state.

    A band is *strong* in a pixel when its value exceeds ``threshold`` times its noise
    (``sigma * ||w||``, ``sigma`` the DER_SNR median of
    :func:`~chemmap._shared.noise.spectral_noise_sigma`; decided without sorting: the median of
    the ``|second differences|`` is below a limit exactly when more than half of them are).

    ``contrast="ratio"``: numerator / denominator where the denominator is strong
    (``DEFINED``); where only the numerator is, the ratio is at least numerator / (the
    denominator's noise threshold), and that lower bound is given (``BOUND``); NaN where
    neither band is strong (``UNDEFINED``). ``contrast="difference"``: (A - B) / (A + B) of
    the band values clipped at 0, wherever either band is strong: in [-1, 1].
    """
    (ch_n, w_n), (ch_d, w_d) = numerator, denominator
    to_sigma = MAD_TO_SIGMA / np.sqrt(6.0)
    per_sigma_d = threshold * np.linalg.norm(w_d) * to_sigma
    per_sigma_n = threshold * np.linalg.norm(w_n) * to_sigma

    def kernel(spectra):
        num = spectra[:, ch_n].astype(np.float64) @ w_n
        den = spectra[:, ch_d].astype(np.float64) @ w_d
        x = spectra.astype(second_difference_dtype(spectra), copy=False)
        d2 = np.add(x[:, :-2], x[:, 2:])
        d2 -= 2 * x[:, 1:-1]
        np.abs(d2, out=d2)
        half = d2.shape[1] // 2 + 1

        def strong(value, per_sigma):
            with np.errstate(invalid="ignore", divide="ignore"):
                limit = np.where(per_sigma > 0, value / per_sigma, np.inf)
                if d2.dtype.kind == "i":  # an integer is below a float32 limit exactly when below its ceiling
                    limit = np.ceil(np.nan_to_num(limit.astype(np.float32), nan=0.0, posinf=np.inf))
                    limit = np.clip(limit, 0, np.iinfo(d2.dtype).max)
                return (value > 0) & (np.count_nonzero(d2 < limit[:, None].astype(d2.dtype), axis=1) >= half)

        den_ok, num_ok = strong(den, per_sigma_d), strong(num, per_sigma_n)
        state = np.full(num.shape, UNDEFINED)
        with np.errstate(invalid="ignore", divide="ignore"):
            if contrast == "difference":
                a, b = np.clip(num, 0, None), np.clip(den, 0, None)  # a band in the noise is no band: 0
                defined = (den_ok | num_ok) & (a + b > 0)
                value = np.where(defined, (a - b) / np.where(defined, a + b, 1.0), np.nan)
                state[defined] = DEFINED
            else:
                value = np.where(den_ok, num / np.where(den_ok, den, 1.0), np.nan)
                state[den_ok] = DEFINED
                bound = num_ok & ~den_ok
                if bound.any():
                    floor = per_sigma_d * np.median(d2[bound], axis=1)  # the denominator's detection limit
                    value[bound] = num[bound] / np.where(floor > 0, floor, np.nan)
                    state[bound] = BOUND
        return np.stack([value, den, state], axis=1)

    return map_spectra(kernel, cube.data, n_out=3, dtype=np.float64)


def _finish(maps: dict, cube: Cube, info: dict) -> Cube:
    valid = cube.valid_pixels().reshape(cube.image_shape)
    maps = {k: np.where(valid, v, np.nan) for k, v in maps.items()}
    attrs = {"source": cube.attrs.get("source"), "maps": info, "unit": cube.axis.unit}
    return Cube.from_maps(maps, mask=valid, attrs=attrs)


def complete_map_info(maps: Cube) -> None:
    """Fill the statistics a lazy map defers (the bound and undefined pixels of ratio maps)
    from the computed maps, in place."""
    valid = maps.valid_pixels().reshape(maps.image_shape)
    names = set(maps.map_names)
    for name, info in maps.attrs["maps"].items():
        if info.get("kind") == "ratio" and info.get("n_undefined") is None:
            state = np.where(np.isnan(np.asarray(maps[name])), UNDEFINED, DEFINED)
            if f"{name}_bound" in names:
                state[np.asarray(maps[f"{name}_bound"]) == 1] = BOUND
            _count_states(info, state, valid)


def intensity_map(
    cube: Cube, at: float, *, window: float | None = None, mode: str = "mean", baseline: str | None = None
) -> Cube:
    """Map of one band's intensity.

    Parameters
    ----------
    cube : Cube
    at : float
        Band centre in axis units (e.g. 1655 for 1655 cm-1).
    window : float, optional
        Full window width in axis units; default :data:`DEFAULT_WINDOW_CHANNELS` channel
        spacings. A window covering fewer than two channels gives a
        :class:`NarrowWindowWarning` that says how many it covers.
    mode : {"mean", "area"}
        Mean intensity in the window, or the area under it (intensity x axis units).
    baseline : {None, "linear"}
        Subtract the line through the window's end channels first.

    Returns
    -------
    Cube
        A map Cube with one map, ``intensity_<at>``; masked pixels are NaN.

    Examples
    --------
    >>> from chemmap.datasets import make_demo_cube
    >>> m = intensity_map(make_demo_cube(), 1655, window=30)
    >>> m.map_names
    ('intensity_1655',)
    """
    if not isinstance(cube, Cube):
        raise InvalidParameterError("intensity_map needs a Cube (it uses the cube's axis).")
    channels, weights, info = band_weights(cube.axis, at, window=window, mode=mode, baseline=baseline)
    values = _band_values(cube, [(channels, weights)])
    name = f"intensity_{info['at']:g}"
    info["kind"] = "intensity"
    return _finish({name: values[..., 0]}, cube, {name: info})


CONTRASTS = ("ratio", "difference")


def ratio_map(
    cube: Cube,
    numerator: float,
    denominator: float,
    *,
    window: float | None = None,
    mode: str = "mean",
    baseline: str | None = None,
    noise_threshold: float = 10.0,
    contrast: str = "ratio",
) -> Cube:
    """Map of the contrast of two bands, with noise-aware division.

    A band is taken as present in a pixel when it stands ``noise_threshold`` times above its
    own noise there (the spectral white-noise sigma propagated through the window weights).

    ``contrast="ratio"`` (numerator / denominator): where the denominator is present, the
    ratio. Where only the numerator is, the ratio exceeds numerator / (the denominator's
    limit), and that **lower bound** is the map's value; a second map ``<name>_bound`` is 1
    there, so figures draw those pixels at the top of the scale, marked, and never as
    measured ratios. Pixels where neither band is present are blank (NaN): there is nothing
    to compare. ``contrast="difference"``: the normalised difference (A - B) / (A + B) in
    [-1, 1], defined wherever either band is present, with no bounds.

    Parameters
    ----------
    cube : Cube
    numerator, denominator : float
        Band centres in axis units (A and B).
    window : float, optional
        Full window width in axis units for both bands (default: 5 channel spacings).
    mode, baseline
        As in :func:`intensity_map`.
    noise_threshold : float
        Presence of a band, in noise sigmas. The default, 10, is the IUPAC limit of
        quantification: below it the denominator alone puts more than 10 % relative error
        into the ratio. Use 3 (the limit of detection) to keep bands that are merely present.
    contrast : {"ratio", "difference"}

    Returns
    -------
    Cube
        A map Cube: ``ratio_<A>_<B>`` and ``ratio_<A>_<B>_bound``, or ``normdiff_<A>_<B>``;
        lazy for a lazy cube. ``attrs["maps"][name]`` counts ``n_bound`` and ``n_undefined``
        pixels (``n_low_denominator``: both; filled by :func:`complete_map_info` once a lazy
        map is computed).
    """
    from chemmap._shared.validation import check_choice

    if not isinstance(cube, Cube):
        raise InvalidParameterError("ratio_map needs a Cube (it uses the cube's axis).")
    threshold = check_number(noise_threshold, name="noise_threshold", func="ratio_map", low=0)
    contrast = check_choice(contrast, CONTRASTS, name="contrast", func="ratio_map")
    ch_n, w_n, info_n = band_weights(
        cube.axis, numerator, window=window, mode=mode, baseline=baseline, name="numerator"
    )
    ch_d, w_d, info_d = band_weights(
        cube.axis, denominator, window=window, mode=mode, baseline=baseline, name="denominator"
    )
    values = _ratio_values(cube, (ch_n, w_n), (ch_d, w_d), threshold, contrast)
    valid = cube.valid_pixels().reshape(cube.image_shape)
    prefix = "ratio" if contrast == "ratio" else "normdiff"
    name = f"{prefix}_{info_n['at']:g}_{info_d['at']:g}"
    info = {
        "kind": "ratio",
        "contrast": contrast,
        "numerator": info_n,
        "denominator": info_d,
        "noise_threshold": threshold,
        "n_low_denominator": None,
        "n_bound": None,
        "n_undefined": None,
        "median_denominator_noise": None,
    }
    maps, infos = {name: values[..., 0]}, {name: info}
    if contrast == "ratio":
        maps[f"{name}_bound"] = values[..., 2] == BOUND
        infos[f"{name}_bound"] = {"kind": "ratio bound", "of": name, "noise_threshold": threshold}
    if not cube.is_lazy:
        _count_states(info, np.asarray(values[..., 2]), valid)
        info["median_denominator_noise"] = _median_noise(cube, valid, np.linalg.norm(w_d))
    return _finish(maps, cube, infos)


def _count_states(info: dict, state: np.ndarray, valid: np.ndarray) -> None:
    info["n_bound"] = int(np.count_nonzero((state == BOUND) & valid))
    info["n_undefined"] = int(np.count_nonzero((state == UNDEFINED) & valid))
    info["n_low_denominator"] = info["n_bound"] + info["n_undefined"] if info["contrast"] == "ratio" else None


def _median_noise(cube: Cube, valid: np.ndarray, weight_norm: float, sample: int = 10_000) -> float | None:
    """Median over (at most ``sample`` evenly spaced) valid pixels of the denominator noise."""
    index = np.flatnonzero(valid.reshape(-1))
    if index.size == 0:
        return None
    index = index[:: max(1, index.size // sample)]
    sigma = spectral_noise_sigma(np.asarray(cube.pixels()[index]))
    return float(np.nanmedian(sigma * weight_norm))
