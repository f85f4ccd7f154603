"""Cosmic-ray spike removal for Raman spectra, batched over pixels."""

from __future__ import annotations

import numpy as np

from chemmap._shared.noise import row_medians
from chemmap._shared.params import Param, validate_params
from chemmap.preprocessing._steps import StepSpec, apply_spectral, steps

__all__ = ["despike", "find_spikes"]

PARAMS = {
    "threshold": Param("float", 6.0, low=0, low_inclusive=False, doc="modified z-score of first differences"),
    "width": Param("int", 1, low=0, high=50, doc="channels on each side of a detection also replaced"),
}


def find_spikes(spectra: np.ndarray, *, threshold: float = 6.0, width: int = 1) -> np.ndarray:
    """Boolean ``(n, n_channels)``: channels hit by a spike (Whitaker & Hayes 2018).

    The modified z-score ``0.6745 (d - median(d)) / MAD(d)`` of each spectrum's first
    differences ``d`` flags abrupt jumps; a spike is a narrow excursion, so both of its
    flanks jump. Raman bands are many channels wide and change smoothly, so their first
    differences stay within the noise-scaled threshold; a flagged channel must also rise
    above the channels two away by more than half its height over the local floor.
    """
    from scipy.ndimage import minimum_filter1d

    y = np.asarray(spectra, dtype=np.float64)
    d = np.diff(y, axis=-1)
    med = row_medians(d)[:, None]
    mad = row_medians(np.abs(d - med))[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        z = 0.6745 * (d - med) / np.where(mad > 0, mad, np.inf)
    jump = np.abs(z) > threshold
    hit = np.zeros(y.shape, bool)
    hit[:, 1:] |= jump  # the channels on both sides of each jump
    hit[:, :-1] |= jump
    # A spike is narrower than any band: it stands out from the channels two away by most of
    # its height above the local floor, a band (several channels wide) by a fraction of it.
    sigma = 1.4826 * mad / 0.6745 / np.sqrt(2)
    padded = np.pad(y, ((0, 0), (2, 2)), mode="edge")
    excess = y - 0.5 * (padded[:, :-4] + padded[:, 4:])
    floor = minimum_filter1d(y, size=11, axis=-1, mode="nearest")
    hit &= (excess > threshold * sigma) & (excess > 0.5 * (y - floor))
    for _ in range(width):
        grown = hit.copy()
        grown[:, 1:] |= hit[:, :-1]
        grown[:, :-1] |= hit[:, 1:]
        hit = grown
    return hit


def _interpolate_over(y: np.ndarray, bad: np.ndarray) -> np.ndarray:
    """Replace ``bad`` channels by linear interpolation between the nearest good ones (per row)."""
    n = y.shape[-1]
    idx = np.broadcast_to(np.arange(n), y.shape)
    left = np.maximum.accumulate(np.where(bad, -1, idx), axis=-1)
    right = np.flip(np.minimum.accumulate(np.flip(np.where(bad, n, idx), axis=-1), axis=-1), axis=-1)
    left_ok, right_ok = left >= 0, right < n
    li, ri = np.clip(left, 0, n - 1), np.clip(right, 0, n - 1)
    yl = np.take_along_axis(y, li, axis=-1)
    yr = np.take_along_axis(y, ri, axis=-1)
    span = np.where(ri > li, ri - li, 1)
    frac = (idx - li) / span
    both = yl + (yr - yl) * frac
    filled = np.where(left_ok & right_ok, both, np.where(left_ok, yl, yr))
    return np.where(bad, filled, y)


def despike(x, **params):
    """Remove cosmic-ray spikes from every spectrum and interpolate over them.

    Parameters
    ----------
    x : Cube or ndarray of shape (..., n_channels)
    threshold : float
        Modified z-score of first differences above which a jump is a spike (default 6).
    width : int
        Neighbouring channels also replaced on each side of a spike.
    """
    params = validate_params(PARAMS, params, func="despike")

    def kernel(s):
        y = np.asarray(s, dtype=np.float64)
        bad = find_spikes(y, threshold=params["threshold"], width=params["width"])
        return _interpolate_over(y, bad).astype(np.float32)

    return apply_spectral(x, kernel, step="despike", params=params)


steps.register(
    "despike",
    StepSpec("despike", PARAMS, lambda cube, **p: despike(cube, **p), "cosmic-ray spike removal"),
)
