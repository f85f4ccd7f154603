"""How much of a map's variance is spatially structured: the empirical semivariogram of a
masked map computed with FFTs, and an exponential model fitted to it (nugget against partial
sill)."""

from __future__ import annotations

import numpy as np

from chemmap.core.exceptions import ShapeError

__all__ = ["fit_exponential_variogram", "semivariogram", "spatial_variance_fraction"]

#: Fewest pixel pairs a distance bin needs to enter the fit.
MIN_PAIRS = 30


def _correlate(a: np.ndarray, b: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``sum_x a(x) b(x + h)`` for every lag ``h``, by FFT on a zero-padded grid."""
    fa = np.fft.rfft2(a, shape)
    fb = np.fft.rfft2(b, shape)
    return np.fft.irfft2(np.conj(fa) * fb, shape)


def semivariogram(image: np.ndarray, mask: np.ndarray | None = None, *, max_lag: float | None = None):
    """Isotropic empirical semivariogram of the pixels of ``image`` inside ``mask``.

    ``gamma(h) = sum m(x) m(x+h) (z(x) - z(x+h))^2 / (2 sum m(x) m(x+h))`` over all pairs at
    distance ``h`` (in pixels, binned to whole pixels), from three FFT cross-correlations,
    so every pair in the mask counts at ``O(N log N)`` cost.

    Parameters
    ----------
    image : ndarray of shape (height, width)
    mask : ndarray of bool, optional
        Pixels that belong to the sample (non-finite pixels are always left out).
    max_lag : float, optional
        Largest distance, pixels; default a third of the mask's smaller extent (at least 3).

    Returns
    -------
    lags : ndarray
        Mean distance of the pairs in each bin, pixels (0 excluded).
    gamma : ndarray
        Semivariance in the map's units squared.
    pairs : ndarray
        Number of ordered pixel pairs in each bin.
    """
    z = np.asarray(image, dtype=np.float64)
    if z.ndim != 2:
        raise ShapeError(f"A map must be 2-D (height, width); got shape {z.shape}.")
    m = np.isfinite(z) if mask is None else np.asarray(mask, bool) & np.isfinite(z)
    if m.sum() < 2:
        raise ShapeError("The map has fewer than two valid pixels; no variogram.")
    z = np.where(m, z - z[m].mean(), 0.0)
    w = m.astype(np.float64)
    h, wd = z.shape
    shape = (2 * h, 2 * wd)
    pairs = _correlate(w, w, shape)
    squares = _correlate(w * z * z, w, shape) + _correlate(w, w * z * z, shape) - 2 * _correlate(z, z, shape)
    dy = np.fft.fftfreq(shape[0], 1 / shape[0])[:, None]
    dx = np.fft.fftfreq(shape[1], 1 / shape[1])[None, :]
    distance = np.hypot(dy, dx)
    if max_lag is None:
        rows, cols = np.nonzero(m)
        max_lag = max(3.0, min(np.ptp(rows) + 1, np.ptp(cols) + 1) / 3)
    bins = np.rint(distance).astype(np.int64)
    keep = (bins >= 1) & (bins <= max_lag) & (pairs > 0.5)
    n_pairs = np.rint(pairs[keep])
    count = np.bincount(bins[keep], weights=n_pairs)
    total = np.bincount(bins[keep], weights=squares[keep])
    mean_lag = np.bincount(bins[keep], weights=distance[keep] * n_pairs)
    used = np.flatnonzero(count > 0)  # bin 0 (a pixel with itself) is never kept
    return mean_lag[used] / count[used], np.maximum(total[used], 0) / (2 * count[used]), count[used]


def fit_exponential_variogram(lags: np.ndarray, gamma: np.ndarray, pairs: np.ndarray) -> dict:
    """Fit ``gamma(h) = nugget + partial_sill * (1 - exp(-h / range))`` by least squares
    weighted by the pair counts (bins with fewer than :data:`MIN_PAIRS` pairs left out).

    Returns
    -------
    dict
        ``nugget``, ``partial_sill`` (map units squared), ``range`` (pixels) and
        ``spatial_fraction`` = partial_sill / (nugget + partial_sill), in [0, 1].
    """
    from scipy.optimize import least_squares

    keep = pairs >= MIN_PAIRS
    h, g, n = lags[keep], gamma[keep], pairs[keep]
    if h.size < 3:
        raise ShapeError("Too few distance bins with enough pixel pairs to fit a variogram; the map is too small.")
    weight = np.sqrt(n / n.sum())
    scale = max(float(g.max()), 1e-300)

    def residuals(p):
        nugget, sill, log_range = p
        return weight * (nugget + sill * (1 - np.exp(-h / np.exp(log_range))) - g / scale)

    starts = [(g[0] / scale * f, 1.0 - g[0] / scale * f, np.log(r)) for f in (0.1, 0.9) for r in (1.0, h.max() / 3)]
    best = None
    for start in starts:
        fit = least_squares(
            residuals,
            np.clip(start, [0, 0, np.log(0.1)], [2, 2, np.log(50 * h.max())]),
            bounds=([0, 0, np.log(0.1)], [np.inf, np.inf, np.log(50 * h.max())]),
        )
        if best is None or fit.cost < best.cost:
            best = fit
    nugget, sill, log_range = best.x
    total = nugget + sill
    return {
        "nugget": float(nugget * scale),
        "partial_sill": float(sill * scale),
        "range": float(np.exp(log_range)),
        "spatial_fraction": float(sill / total) if total > 0 else 0.0,
    }


def spatial_variance_fraction(image: np.ndarray, mask: np.ndarray | None = None, *, max_lag: float | None = None):
    """Share of the map's variance that is spatially correlated (partial sill over total
    sill of the exponential variogram fit): about 0 for white noise, about 1 for a smooth
    field. See :func:`semivariogram` and :func:`fit_exponential_variogram`.

    Returns
    -------
    dict
        The fit's ``nugget``, ``partial_sill``, ``range`` and ``spatial_fraction``.
    """
    return fit_exponential_variogram(*semivariogram(image, mask, max_lag=max_lag))
