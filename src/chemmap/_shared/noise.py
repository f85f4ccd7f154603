"""Noise estimates that need no blank image: from the spectrum itself or from neighbours."""

from __future__ import annotations

import numpy as np

__all__ = [
    "MAD_TO_SIGMA",
    "band_noise_from_neighbours",
    "row_medians",
    "second_difference_dtype",
    "spectral_noise_sigma",
]

#: Factor turning a median absolute deviation into a Gaussian standard deviation.
MAD_TO_SIGMA = 1.4826


def row_medians(x: np.ndarray) -> np.ndarray:
    """Median of each row of a 2-D array (float64; NaN where a row holds NaN), as
    ``np.median(x, axis=1)`` but with one partition: the lower middle of an even row is the
    largest value left of the upper one. ``np.median`` partitions at three places (the two
    middles and the end, for its NaN check), which on float32 rows of 10^4-10^5 values is
    several times slower.
    """
    x = np.asarray(x)
    n = x.shape[1]
    if n == 0:
        return np.full(x.shape[0], np.nan)
    mid = n // 2
    part = np.partition(x, mid, axis=1)
    median = part[:, mid].astype(np.float64)
    if n % 2 == 0:
        median = (part[:, :mid].max(axis=1) + median) / 2
    if x.dtype.kind == "f":
        median[np.isnan(x).any(axis=1)] = np.nan
    return median


def second_difference_dtype(values: np.ndarray) -> type:
    """Where second differences of the spectra ``values`` are exact and small: 16-bit integers
    for counts of 8 bits, or of 16 bits whose largest magnitude is below 2^13 (sparse EDS
    counts), 32-bit integers for other 16-bit counts, float64 for float64 data, else float32.
    Integers take half or less the memory of float32 in the noise tests that look at every
    channel of every pixel."""
    dtype = values.dtype
    if dtype.kind in "iu" and dtype.itemsize <= 2:
        if dtype.itemsize == 1 or values.size == 0:
            return np.int16
        small = int(values.max()) < 2**13 and (dtype.kind == "u" or int(values.min()) > -(2**13))
        return np.int16 if small else np.int32
    return np.float64 if dtype == np.float64 else np.float32


def spectral_noise_sigma(spectra: np.ndarray) -> np.ndarray:
    """Per-spectrum white-noise sigma from second differences along the spectrum.

    For white noise of standard deviation σ, ``x[i-1] - 2 x[i] + x[i+1]`` has standard
    deviation ``σ √6``; the median of its absolute value (the DER_SNR estimator of Stoehr
    et al. 2008, with adjacent channels) is insensitive to peaks and smooth baselines,
    whose second differences are few or near zero.

    Parameters
    ----------
    spectra : ndarray of shape (n_spectra, n_channels)

    Returns
    -------
    ndarray of shape (n_spectra,)
        Noise sigma in intensity units (NaN for spectra shorter than 3 channels).
    """
    x = np.asarray(spectra)
    if x.shape[-1] < 3:
        return np.full(x.shape[:-1], np.nan)
    x = x.astype(second_difference_dtype(x), copy=False)  # counts: exact in integers
    d2 = np.subtract(x[..., :-2], 2 * x[..., 1:-1])
    d2 += x[..., 2:]
    np.abs(d2, out=d2)
    middle = d2.shape[-1] // 2
    median = np.partition(d2, middle, axis=-1)[..., middle]  # upper median: one partial sort
    return MAD_TO_SIGMA * median.astype(np.float64) / np.sqrt(6.0)


def band_noise_from_neighbours(data: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Per-band noise sigma from differences between horizontally adjacent valid pixels.

    Works on a single image: neighbouring pixels share most of their signal, so the robust
    spread of their difference is ``σ √2`` (region edges are outliers the MAD ignores).

    Parameters
    ----------
    data : ndarray of shape (height, width, n_channels)
    valid : ndarray of bool, shape (height, width)

    Returns
    -------
    ndarray of shape (n_channels,)
    """
    data = np.asarray(data)
    exact = np.float64 if data.dtype == np.float64 else np.float32  # float32 holds counts and float32 data exactly
    pairs = valid[:, 1:] & valid[:, :-1]
    if data.shape[1] < 2 or not pairs.any():
        pairs = valid[1:, :] & valid[:-1, :]
        diff = np.subtract(data[1:, :, :], data[:-1, :, :], dtype=exact)[pairs]
    else:
        diff = np.subtract(data[:, 1:, :], data[:, :-1, :], dtype=exact)[pairs]
    if diff.shape[0] == 0:
        return np.full(data.shape[-1], np.nan)
    by_channel = np.ascontiguousarray(diff.T)  # medians along contiguous rows: 3x faster
    centre = row_medians(by_channel).astype(by_channel.dtype)
    np.abs(np.subtract(by_channel, centre[:, None], out=by_channel), out=by_channel)
    mad = row_medians(by_channel)
    return MAD_TO_SIGMA * mad / np.sqrt(2.0)
