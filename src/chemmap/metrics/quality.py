"""Data quality: per-band signal-to-noise ratio from the image itself."""

from __future__ import annotations

import numpy as np

from chemmap._shared import sampling
from chemmap.core.cube import Cube
from chemmap.metrics.grades import QUALITY_TABLE, grade
from chemmap.preprocessing.quality import band_snr

__all__ = ["band_snr", "snr_summary"]


def snr_summary(cube: Cube) -> dict:
    """Summary of :func:`band_snr`, graded on the SNR of the strongest 10 % of bands (p90).

    Low-SNR bands are those below the quality table's minimum (10).
    """
    snr = band_snr(cube)
    rows, height = len(sampling.sampled_rows(cube, max_bytes=sampling.SNR_SAMPLE_BYTES)), cube.image_shape[0]
    where = "" if rows == height else f", on {rows} of {height} rows (8 evenly spaced bands of whole rows)"
    finite = snr[np.isfinite(snr)]
    if finite.size == 0:
        return {"method": "neighbour differences", "median": None}
    minimum = QUALITY_TABLE["snr"][0]
    low = snr < minimum
    p90 = float(np.percentile(finite, 90))
    return {
        "method": f"mean |intensity| / noise sigma from horizontally adjacent pixel differences{where}",
        "rows_used": rows,
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
