"""Which summary spectrum a cube's peaks are found on, chosen from the data, and the
baseline taken off molecular spectra before detection."""

from __future__ import annotations

import numpy as np

from chemmap.maps.peak_detection import SummarySpectra, is_counts

__all__ = ["MOLECULAR_UNITS", "SPARSE_COUNTS", "choose_detection", "detection_baseline"]

#: Axis units of molecular (vibrational, electronic) spectra: Raman, IR, VNIR/SWIR.
MOLECULAR_UNITS = ("cm-1", "nm", "um")
#: Counts below which no single pixel's line can stand 5 Poisson sigmas out of nothing
#: (5 * sqrt(25) = 25): the max spectrum of such a cube cannot show a line.
SPARSE_COUNTS = 25
#: Baselines are fitted with a smoothness that follows the channel count: arPLS with
#: ``lam = (n_channels / BASELINE_CHANNELS_PER_WAVE) ** 4``, so its stiffest wiggle spans
#: about a fifth of the axis whatever the sampling (wide fluorescence stays baseline,
#: bands of a few dozen channels stay peaks).
BASELINE_CHANNELS_PER_WAVE = 25.0
#: Spectra shorter than this keep their baseline (too few channels to tell it from bands).
BASELINE_MIN_CHANNELS = 64


def choose_detection(summary: SummarySpectra) -> tuple[str, str]:
    """The spectrum to find peaks on, ``"spectrum"`` (one pixel), ``"mean"`` or
    ``"max and mean"`` (both, merged), and why, in one sentence.

    The mean (the summed counts for counts) where the counts are sparse (no pixel holds
    :data:`SPARSE_COUNTS` in a channel: the max spectrum cannot show a line); both elsewhere:
    the max (spikes removed) finds lines or bands of a few pixels, speckles, that the mean
    dilutes, and measures the bands of regions that differ apart where the mean merges
    overlapping ones; the mean finds weak lines or bands of many pixels. Molecular spectra
    are no exception: where their max spectrum is only the noise's upper envelope it shows
    no peak and the mean's are kept.
    """
    if summary.n_pixels == 1:
        return "spectrum", "one spectrum: its peaks are found on it."
    top = float(np.nanmax(summary.max))
    if is_counts(summary.sum) and top < SPARSE_COUNTS:
        return "mean", (
            f"sparse counts: no pixel holds more than {top:g} counts in a channel (spikes removed), too few for a "
            f"line of a few pixels to stand 5 Poisson sigmas out; the summed counts of all {summary.n_pixels} "
            "pixels can."
        )
    return "max and mean", (
        "the max spectrum finds lines that a few pixels carry (speckles the mean dilutes), the mean spectrum "
        "weak lines of many pixels; both are searched and merged."
    )


def detection_baseline(spectra) -> tuple[np.ndarray, str | None]:
    """The baseline under a molecular spectrum, or under each row of ``spectra`` (arPLS,
    smoothness from the channel count, see :data:`BASELINE_CHANNELS_PER_WAVE`), and how it was
    fitted; zeros and None for spectra shorter than :data:`BASELINE_MIN_CHANNELS`."""
    from chemmap.preprocessing.baseline import arpls

    y = np.asarray(spectra, dtype=np.float64)
    n = y.shape[-1]
    if n < BASELINE_MIN_CHANNELS:
        return np.zeros_like(y), None
    lam = (n / BASELINE_CHANNELS_PER_WAVE) ** 4
    rows = np.atleast_2d(y)
    finite = np.where(np.isfinite(rows), rows, np.nanmin(rows, axis=1, keepdims=True))
    fitted = arpls(finite, lam=lam).reshape(y.shape)
    return fitted, f"arpls, lam = {lam:.3g} ((channels / {BASELINE_CHANNELS_PER_WAVE:g})^4)"
