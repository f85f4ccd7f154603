"""Peak-area and peak-position maps of every peak slice, in one pass over the cube, with
each map's noise and detection limit."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chemmap._shared.blockwise import map_spectra
from chemmap._shared.compute import compute
from chemmap._shared.progress import ProgressCallback
from chemmap.core.axis import SpectralAxis
from chemmap.core.cube import Cube
from chemmap.core.exceptions import InvalidParameterError
from chemmap.maps.peak_detection import Peak

__all__ = ["MAD_NORMAL", "PeakMaps", "map_noise", "peak_maps"]

#: The median of |z| for a standard normal z (0.6745): turns a median deviation into a sigma.
MAD_NORMAL = 0.6745
#: Detection limit in noise sigmas (IUPAC).
DETECTION_SIGMAS = 3.0


@dataclass
class PeakMaps:
    """Maps of every peak slice.

    Attributes
    ----------
    areas : Cube
        Net area of each slice above a linear baseline, one map per peak; for integer counts
        the net counts, for other data the integral in intensity x axis units.
    positions : Cube
        Axis value of each pixel's maximum inside each slice.
    noise : list of dict
        Per map: ``robust_sigma`` (from the negative half of the map), ``poisson_sigma``
        (median over pixels of the counting error, counts only), ``sigma`` (the one
        used: robust, else Poisson), ``detection_limit`` (3 sigma) and
        ``fraction_above`` (share of valid pixels above it).
    names : list of str
        Map names (``"peak 6.40 keV"``).
    sigma : ndarray of shape (height, width, n_peaks) or None
        Counting error of each pixel's net area (counts only), from the Poisson variance
        of the slice and of its baseline.
    """

    areas: Cube
    positions: Cube
    noise: list[dict]
    names: list[str]
    sigma: np.ndarray | None = None


def _peak_name(peak: Peak, unit: str) -> str:
    return f"peak {peak.position:.4g} {unit}"


def peak_maps(
    cube: Cube,
    peaks: list[Peak],
    *,
    baseline_channels: int | None = None,
    names: list[str] | None = None,
    progress: ProgressCallback | None = None,
) -> PeakMaps:
    """Net-area and position maps of every peak slice, in one pass over the cube.

    The baseline under each slice is the straight line through the mean of
    ``baseline_channels`` channels just below the slice and the mean of as many just above
    it (means, not single noisy channels); the net area is the slice's sum minus that
    line's sum over the slice's channels. Every sum comes from the sums of the segments
    between slice and window boundaries, taken once per pixel in one pass over its
    channels, so the cost hardly grows with the number of peaks.

    Parameters
    ----------
    cube : Cube
        NumPy, memory-mapped or lazy; integer counts are not copied to float.
    peaks : list of Peak
        From :func:`~chemmap.maps.peak_detection.find_peaks`.
    baseline_channels : int, optional
        Channels averaged at each end for the baseline (0: no baseline). Default: half the
        slice's channels, at least 3, so the baseline adds about as much noise as the
        slice itself instead of dominating it.
    names : list of str, optional
        Map names (default ``"peak <position> <unit>"``).

    Returns
    -------
    PeakMaps
    """
    if not peaks:
        raise InvalidParameterError("peak_maps needs at least one peak; find_peaks found none.")
    if baseline_channels is not None and baseline_channels < 0:
        raise InvalidParameterError(f"baseline_channels must be >= 0; got {baseline_channels}.")
    n_channels = cube.n_channels
    lo = np.array([p.lower_index for p in peaks])
    hi = np.array([p.upper_index for p in peaks])
    if np.any(lo < 0) or np.any(hi > n_channels) or np.any(hi <= lo):
        raise InvalidParameterError("A peak slice lies outside the cube's channels; were the peaks found on this axis?")
    if baseline_channels is None:
        n = np.maximum(3, np.ceil((hi - lo) / 2)).astype(int)
    else:
        n = np.full(len(peaks), int(baseline_channels))
    left0, right1 = np.maximum(lo - n, 0), np.minimum(hi + n, n_channels)
    n_left, n_right, n_slice = lo - left0, right1 - hi, hi - lo
    # channel centres of the baseline windows and the slice
    x_left = np.where(n_left > 0, (left0 + lo - 1) / 2, lo)
    x_right = np.where(n_right > 0, (hi + right1 - 1) / 2, hi - 1)
    x_slice = (lo + hi - 1) / 2
    span = np.where(x_right > x_left, x_right - x_left, 1.0)
    w_right = np.clip((x_slice - x_left) / span, 0, 1)
    w_left = 1 - w_right
    counts = np.dtype(cube.dtype).kind in "iu"
    # counts are summed as they are; other data are integrated over the axis
    step = float(np.median(np.abs(np.diff(cube.axis.values)))) if not counts and n_channels > 1 else 1.0
    axis_values = cube.axis.values
    k = len(peaks)

    # the sums needed are over intervals between a few boundary channels: sum each segment
    # between consecutive boundaries once (integers exactly, in int64), then accumulate
    bounds = np.unique(np.concatenate([[0, n_channels], left0, lo, hi, right1]))
    p_left0, p_lo, p_hi, p_right1 = (np.searchsorted(bounds, b) for b in (left0, lo, hi, right1))
    small_ints = np.dtype(cube.dtype).kind in "iu" and np.dtype(cube.dtype).itemsize < 8
    accumulate = np.int64 if small_ints else np.float64

    def kernel(spectra: np.ndarray) -> np.ndarray:
        x = spectra if small_ints else spectra.astype(np.float64)
        segments = np.add.reduceat(x, bounds[:-1], axis=1, dtype=accumulate)
        cs = np.zeros((x.shape[0], bounds.size))
        np.cumsum(segments, axis=1, out=cs[:, 1:], dtype=np.float64)
        total = cs[:, p_hi] - cs[:, p_lo]
        left_sum, right_sum = cs[:, p_lo] - cs[:, p_left0], cs[:, p_right1] - cs[:, p_hi]
        with np.errstate(invalid="ignore", divide="ignore"):
            left_mean = np.where(n_left > 0, left_sum / np.maximum(n_left, 1), np.nan)
            right_mean = np.where(n_right > 0, right_sum / np.maximum(n_right, 1), np.nan)
        left_mean = np.where(np.isnan(left_mean), right_mean, left_mean)
        right_mean = np.where(np.isnan(right_mean), left_mean, right_mean)
        left_mean = np.where(n > 0, left_mean, 0.0)
        right_mean = np.where(n > 0, right_mean, 0.0)
        baseline = n_slice * (w_left * left_mean + w_right * right_mean)
        area = (total - baseline) * step
        # counting error of the net area: the slice's counts plus the baseline estimate's
        variance = total + n_slice**2 * (
            w_left**2 * left_sum / np.maximum(n_left, 1) ** 2 + w_right**2 * right_sum / np.maximum(n_right, 1) ** 2
        )
        position = np.empty_like(total)
        for j in range(k):
            position[:, j] = axis_values[lo[j] + np.argmax(x[:, lo[j] : hi[j]], axis=1)]
        return np.concatenate([area, position, variance * step**2], axis=1)

    stacked = map_spectra(kernel, cube.data, n_out=3 * k, dtype=np.float32)
    (stacked,) = compute(stacked, stage="peak maps", progress=progress)
    stacked = np.asarray(stacked)
    valid = cube.valid_pixels().reshape(cube.image_shape)
    stacked[~valid] = np.nan
    names = [_peak_name(p, cube.axis.unit) for p in peaks] if names is None else list(names)
    if len(names) != k or len(set(names)) != k:
        raise InvalidParameterError(f"names must be {k} distinct map names, one per peak.")
    noise = [
        map_noise(stacked[..., j][valid], poisson_variance=stacked[..., 2 * k + j][valid] if counts else None)
        for j in range(k)
    ]
    unit = "counts" if counts else f"intensity x {cube.axis.unit}"
    info = {
        name: {"kind": "peak area", "unit": unit, "position": p.position, "lower": p.lower, "upper": p.upper}
        for name, p in zip(names, peaks, strict=True)
    }
    position_info = {n: {**i, "kind": "peak position", "unit": cube.axis.unit} for n, i in info.items()}
    # views of the one result array: an image-sized stack is not copied again
    map_axis = SpectralAxis.from_names(names)
    areas = Cube(stacked[..., :k], map_axis, mask=cube.mask, attrs={"maps": info})
    positions = Cube(stacked[..., k : 2 * k], map_axis, mask=cube.mask, attrs={"maps": position_info})
    sigma = None
    if counts:
        sigma = stacked[..., 2 * k :]
        np.sqrt(sigma, out=sigma)
    return PeakMaps(areas, positions, noise, names, sigma)


def map_noise(values: np.ndarray, *, poisson_variance: np.ndarray | None = None) -> dict:
    """Noise sigma, 3-sigma detection limit and the share of pixels above it, for one map.

    ``robust_sigma`` comes from the negative half of the map, ``median(-z[z < 0]) /
    0.6745``: pixels without the component scatter around zero and their negative half is
    pure noise, whatever the positive half holds. ``poisson_sigma`` is the median counting
    error when ``poisson_variance`` (per pixel) is given. The robust value is used when the
    map has negative values, else the Poisson one.
    """
    z = np.asarray(values, dtype=np.float64)
    z = z[np.isfinite(z)]
    negative = -z[z < 0]
    robust = float(np.median(negative) / MAD_NORMAL) if negative.size else None
    poisson = None
    if poisson_variance is not None:
        var = np.asarray(poisson_variance, dtype=np.float64)
        var = var[np.isfinite(var)]
        poisson = float(np.sqrt(np.median(var))) if var.size else None
    sigma = robust if robust is not None else poisson
    limit = None if sigma is None else DETECTION_SIGMAS * sigma
    above = None if limit is None or z.size == 0 else float(np.mean(z > limit))
    return {
        "robust_sigma": robust,
        "poisson_sigma": poisson,
        "sigma": sigma,
        "detection_limit": limit,
        "fraction_above": above,
    }
