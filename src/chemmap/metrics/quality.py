"""Data quality: per-band signal-to-noise ratio from the image itself."""

from __future__ import annotations

import numpy as np

from chemmap.core.cube import Cube
from chemmap.metrics.grades import QUALITY_TABLE, grade

__all__ = ["band_snr", "row_bands_sample", "snr_summary"]

#: Bytes of whole rows that the image-based noise estimates look at (all rows of smaller cubes).
SAMPLE_BYTES = 64 * 2**20


def band_snr(cube: Cube) -> np.ndarray:
    """Per-band SNR: mean absolute intensity over valid pixels / noise sigma.

    The noise sigma of each band comes from differences between horizontally adjacent
    pixels (robust MAD), so no blank or repeated image is needed.

    Returns
    -------
    ndarray of shape (n_channels,)
    """
    from chemmap.maps.noise import band_noise_from_neighbours

    data, valid = row_bands_sample(cube)
    sigma = band_noise_from_neighbours(data, valid)
    signal = np.abs(data[valid].astype(np.float64)).mean(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(sigma > 0, signal / sigma, np.inf)


def row_bands_sample(cube: Cube, *, max_bytes: int = SAMPLE_BYTES, n_bands: int = 8):
    """Whole rows of ``cube`` in memory: all of them when the cube is at most ``max_bytes``,
    else ``n_bands`` evenly spaced bands of contiguous rows holding about ``max_bytes``.

    Contiguous rows keep horizontal and vertical neighbours together (noise from pixel
    differences) and read few chunks of a cube on disk.

    Returns
    -------
    data : ndarray of shape (rows, width, n_channels)
    valid : ndarray of bool, shape (rows, width)
    """
    h, w, c = cube.shape
    valid = cube.valid_pixels().reshape(cube.image_shape)
    row_bytes = w * c * cube.dtype.itemsize
    if h * row_bytes <= max_bytes:
        rows = np.arange(h)
    else:
        per_band = max(2, max_bytes // (n_bands * row_bytes))
        starts = np.linspace(0, h - per_band, n_bands).astype(int)
        rows = np.unique(np.concatenate([np.arange(s, s + per_band) for s in starts]))
    data = cube.data[rows] if len(rows) < h else cube.data
    if cube.is_lazy:
        from chemmap._shared.compute import compute

        (data,) = compute(data, stage="SNR sample")
    return np.asarray(data), valid[rows]


def snr_summary(cube: Cube) -> dict:
    """Summary of :func:`band_snr`, graded on the SNR of the strongest 10 % of bands (p90).

    Low-SNR bands are those below the quality table's minimum (10).
    """
    snr = band_snr(cube)
    finite = snr[np.isfinite(snr)]
    if finite.size == 0:
        return {"method": "neighbour differences", "median": None}
    minimum = QUALITY_TABLE["snr"][0]
    low = snr < minimum
    p90 = float(np.percentile(finite, 90))
    return {
        "method": "mean |intensity| / noise sigma from horizontally adjacent pixel differences",
        "median": float(np.median(finite)),
        "p90": p90,
        "min": float(finite.min()),
        "max": float(finite.max()),
        "grade": grade("snr", p90),
        "graded_on": "p90 (the strongest 10 % of bands)",
        "n_low_snr_bands": int(low.sum()),
        "low_snr_threshold": minimum,
        "low_snr_ranges": _ranges(cube.axis.values, low),
    }


def _ranges(values: np.ndarray, flags: np.ndarray) -> list[list[float]]:
    """Contiguous runs of flagged channels as [start, stop] axis values."""
    out = []
    start = None
    for i, f in enumerate(flags):
        if f and start is None:
            start = i
        if (not f or i == flags.size - 1) and start is not None:
            stop = i if f else i - 1
            out.append([float(values[start]), float(values[stop])])
            start = None
    return out
