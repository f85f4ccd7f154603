"""Peaks found straight from the cube: summary spectra streamed over blocks, peak detection
with slice bounds from the peak widths, and hot-max spectra (the pixel that sets each
peak of the max spectrum)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np

from chemmap._shared.blockwise import reduce_blocks, take_rows
from chemmap._shared.noise import spectral_noise_sigma
from chemmap._shared.progress import ProgressCallback
from chemmap.core.cube import Cube
from chemmap.core.exceptions import InvalidParameterError, ShapeError

__all__ = [
    "HotMaxSpectra",
    "Peak",
    "SummarySpectra",
    "find_peaks",
    "hotmax_spectra",
    "is_counts",
    "summary_spectra",
    "without_spikes",
]


@dataclass
class SummarySpectra:
    """Per-channel summaries over the valid pixels.

    Attributes
    ----------
    max : ndarray of shape (n_channels,)
        Largest value of each channel over the pixels' spectra with their spikes removed
        (see :func:`without_spikes`): a cosmic ray or hot pixel one or two channels wide
        does not set it.
    raw_max : ndarray of shape (n_channels,)
        Largest value of each channel, spikes included: its channel-to-channel noise is the
        noise of ``max`` before the spike removal smoothed it.
    spike_free_mean : ndarray of shape (n_channels,)
        Mean of the pixels' spectra with their spikes removed, as for ``max``: lower than
        ``mean`` by about a noise sigma (the opening lowers noise tops), its bands in place.
    argmax : ndarray of int64, shape (n_channels,)
        Flat index of the pixel that sets it (the first such pixel on ties).
    sum, mean : ndarray of shape (n_channels,)
    n_pixels : int
        Valid pixels summarised.
    pixel_totals : ndarray of shape (n_pixels_in_image,), optional
        Each pixel's sum over the channels (its total counts; NaN where invalid), in
        row-major order: the sum image that MA-XRF scans are registered on.
    """

    max: np.ndarray
    argmax: np.ndarray
    sum: np.ndarray
    mean: np.ndarray
    n_pixels: int
    pixel_totals: np.ndarray | None = None
    raw_max: np.ndarray | None = None
    spike_free_mean: np.ndarray | None = None


def summary_spectra(cube: Cube, *, progress: ProgressCallback | None = None) -> SummarySpectra:
    """Max, argmax, sum and mean spectra of the valid pixels, in one pass over blocks.

    Works on NumPy, memory-mapped and lazy cubes alike; integer counts are summed in
    float64 without a float copy of the cube.
    """
    pixels = cube.pixels()
    valid = None if cube.mask is None else cube.valid_pixels()
    partials = reduce_blocks(_summary_partial, pixels, valid, stage="summary spectra", progress=progress)
    best, where = partials[0][:2]
    raw_max = np.max([p[5] for p in partials], axis=0)
    spike_free_sum = np.sum([p[6] for p in partials], axis=0)
    totals = np.full(cube.n_pixels, np.nan)
    for b_max, b_where, _, _, (start, block_totals), _, _ in partials:
        better = b_max > best  # strict: on ties the earlier pixel keeps the place
        best = np.where(better, b_max, best)
        where = np.where(better, b_where, where)
        totals[start : start + block_totals.size] = block_totals
    total = np.sum([p[2] for p in partials], axis=0)
    count = sum(p[3] for p in partials)
    if count == 0:
        raise ShapeError("The cube has no valid pixel to summarise.")
    return SummarySpectra(
        best, where.astype(np.int64), total, total / count, int(count), totals, raw_max, spike_free_sum / count
    )


def _summary_partial(block: np.ndarray, valid, rows: slice):
    x = block.astype(np.float64, copy=False) if block.dtype.kind == "f" else block
    if valid is not None:
        keep = np.flatnonzero(valid)
        x = x[keep]
    else:
        keep = None
    totals = np.full(block.shape[0], np.nan)
    if x.shape[0] == 0:
        n = block.shape[1]
        empty = np.full(n, -np.inf)
        return empty, np.zeros(n, np.int64), np.zeros(n), 0, (rows.start, totals), empty, np.zeros(n)
    spike_free = without_spikes(x)
    best = spike_free.max(axis=0)
    local = _first_row_equal(spike_free, best)
    where = (local if keep is None else keep[local]) + rows.start
    totals[slice(None) if keep is None else keep] = x.sum(axis=1, dtype=np.float64)
    sums = x.sum(axis=0, dtype=np.float64)
    raw = x.max(axis=0).astype(np.float64)
    clean_sums = spike_free.sum(axis=0, dtype=np.float64)
    return best.astype(np.float64), where.astype(np.int64), sums, x.shape[0], (rows.start, totals), raw, clean_sums


def without_spikes(spectra: np.ndarray) -> np.ndarray:
    """Each spectrum (row) with spikes one or two channels wide removed: a morphological
    opening over three channels (the running minimum, then the running maximum).

    Every three-channel window around a channel of such a spike (cosmic ray, hot pixel) also
    holds a channel beside the spike, so the minimum drops the spike to its neighbours' level
    and the maximum cannot bring it back; the flanks of a peak wider than three channels come
    back where they were (its width is kept), its top lowered to its higher neighbour.
    """
    if spectra.shape[1] < 3:
        return spectra
    return _running_extreme(_running_extreme(spectra, np.minimum), np.maximum)


def _running_extreme(spectra: np.ndarray, extreme) -> np.ndarray:
    """``extreme`` (np.minimum or np.maximum) over each channel and its two neighbours (one
    at the ends)."""
    pairs = extreme(spectra[:, :-1], spectra[:, 1:])
    out = np.empty_like(spectra)
    extreme(pairs[:, :-1], pairs[:, 1:], out=out[:, 1:-1])
    out[:, 0], out[:, -1] = pairs[:, 0], pairs[:, -1]
    return out


#: Rows compared at once when looking for the row that holds each channel's maximum.
_SEARCH_ROWS = 256


def _first_row_equal(x: np.ndarray, best: np.ndarray) -> np.ndarray:
    """For each column, the first row where ``x`` equals ``best`` (its column maximum).

    ``np.argmax(x, axis=0)`` walks each column with a stride of a whole spectrum, about
    twenty times slower than this scan of bands of rows, which stops as soon as every
    column has been found (usually within the first bands).
    """
    where = np.full(x.shape[1], -1, dtype=np.int64)
    for start in range(0, x.shape[0], _SEARCH_ROWS):
        equal = x[start : start + _SEARCH_ROWS] == best
        new = np.flatnonzero(equal.any(axis=0) & (where < 0))
        if new.size:
            where[new] = start + np.argmax(equal[:, new], axis=0)
            if np.all(where >= 0):
                return where
    missing = np.flatnonzero(where < 0)  # NaN maxima equal nothing
    where[missing] = np.argmax(x[:, missing], axis=0)
    return where


@dataclass
class Peak:
    """A detected peak and the slice of channels its maps integrate.

    Attributes
    ----------
    index : int
        Channel of the maximum.
    position : float
        Axis value of the maximum (keV, cm-1, ...).
    height, prominence : float
        In the detection spectrum's units.
    fwhm : float
        Full width at half maximum, axis units.
    lower, upper : float
        Slice bounds, axis units (inclusive).
    lower_index, upper_index : int
        Slice as channels ``[lower_index, upper_index)``.
    """

    index: int
    position: float
    height: float
    prominence: float
    fwhm: float
    lower: float
    upper: float
    lower_index: int
    upper_index: int

    def to_dict(self) -> dict:
        return {k: (float(v) if isinstance(v, float | np.floating) else int(v)) for k, v in asdict(self).items()}

    def on_axis(self, gain: float, offset: float = 0.0) -> Peak:
        """The same peak on the axis ``offset + gain * x`` (position, width and slice bounds;
        channels, heights and prominence unchanged)."""
        return replace(
            self,
            position=offset + gain * self.position,
            fwhm=gain * self.fwhm,
            lower=offset + gain * self.lower,
            upper=offset + gain * self.upper,
        )


def is_counts(spectrum) -> bool:
    """Whether every value is a non-negative integer (counts, whose noise is Poisson)."""
    y = np.asarray(spectrum)
    return bool(np.all(y >= 0) and np.all(np.mod(y, 1) == 0))


def find_peaks(
    axis_values,
    spectrum,
    *,
    prominence: float | None = None,
    noise_sigmas: float = 5.0,
    min_width: float | None = None,
    max_width: float | None = None,
    slice_width: float = 1.5,
    smooth: float = 1.0,
    counts: bool | None = None,
    noise_spectrum=None,
) -> list[Peak]:
    """Peaks of a summary spectrum, with slice bounds from their widths.

    Parameters
    ----------
    axis_values : array of shape (n_channels,)
        Increasing axis values.
    spectrum : array of shape (n_channels,)
        Usually the max spectrum (finds peaks that occur in a few pixels only) or the
        mean spectrum.
    prominence : float, optional
        Least prominence, in the spectrum's units. Default: ``noise_sigmas`` noise sigmas,
        the noise measured from the spectrum itself (second differences), on the square
        root of the spectrum for counts (Poisson noise made uniform).
    noise_sigmas : float
        See ``prominence``.
    min_width, max_width : float, optional
        FWHM limits in axis units; default at least 3 channel spacings (single-channel
        noise spikes of a max spectrum are narrower), no upper limit.
    slice_width : float
        Slice width in FWHMs, centred on the peak (1.5 FWHM holds about 94 % of a Gaussian's
        area). Slices are cut where they would overlap a neighbour's, at the midpoint.
    smooth : float
        Sigma (channels) of a Gaussian smoothing of the spectrum before detection (0: none);
        widths and heights are measured on the spectrum itself.
    counts : bool, optional
        Treat the spectrum as counts (square-root transform for detection); default when
        all values are non-negative integers.
    noise_spectrum : array of shape (n_channels,), optional
        The spectrum the default threshold's noise is measured on (default ``spectrum``):
        the raw max spectrum for a max spectrum whose spikes were removed, as the removal
        smooths the noise that the threshold must clear.

    Returns
    -------
    list of Peak
        In axis order.
    """
    from scipy.signal import find_peaks as scipy_find_peaks
    from scipy.signal import peak_prominences, peak_widths

    x = np.asarray(axis_values, dtype=np.float64)
    y = np.asarray(spectrum, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1 or x.size < 5:
        raise ShapeError(f"find_peaks needs an axis and a spectrum of one length (>= 5); got {x.shape}, {y.shape}.")
    if not np.all(np.diff(x) > 0):
        raise InvalidParameterError("find_peaks needs an increasing axis.")
    if slice_width <= 0:
        raise InvalidParameterError(f"slice_width must be positive (in FWHMs); got {slice_width}.")
    spacing = float(np.median(np.diff(x)))
    if counts is None:
        counts = is_counts(y)
    finite, smoothed = _finite_and_smoothed(y, smooth)
    if prominence is None:
        # the noise of the unsmoothed spectrum (Poisson noise made uniform by the square
        # root for counts) is a conservative threshold for the smoothed one
        noisy = finite if noise_spectrum is None else _finite_and_smoothed(np.asarray(noise_spectrum, float), 0)[0]
        raw = np.sqrt(np.clip(noisy, 0, None)) if counts else noisy
        threshold = noise_sigmas * max(float(spectral_noise_sigma(raw[None, :])[0]), 1e-12)
        detect = np.sqrt(np.clip(smoothed, 0, None)) if counts else smoothed
    else:
        detect, threshold = smoothed, float(prominence)
    min_channels = 3.0 if min_width is None else min_width / spacing
    max_channels = None if max_width is None else max_width / spacing
    found, _ = scipy_find_peaks(detect, prominence=threshold, width=(min_channels, max_channels))
    if found.size == 0:
        return []
    prominences = peak_prominences(smoothed, found)[0]
    if counts and prominence is None:
        # a count peak must also stand out of the Poisson noise of its own base (a few
        # counts over an empty background are not a peak however flat the rest is)
        base = smoothed[found] - prominences
        keep = prominences >= noise_sigmas * np.sqrt(np.clip(base, 0, None) + 1.0)
        found, prominences = found[keep], prominences[keep]
        if found.size == 0:
            return []
    widths = peak_widths(smoothed, found, rel_height=0.5)[0] * spacing
    half = slice_width * widths / 2
    lowers, uppers = x[found] - half, x[found] + half
    mids = (x[found][1:] + x[found][:-1]) / 2
    lowers[1:] = np.maximum(lowers[1:], mids)
    uppers[:-1] = np.minimum(uppers[:-1], mids)
    peaks = []
    for i, channel in enumerate(found):
        lo = int(np.searchsorted(x, lowers[i], side="left"))
        hi = int(np.searchsorted(x, uppers[i], side="right"))
        lo, hi = min(lo, channel), max(hi, channel + 1)
        peaks.append(
            Peak(
                index=int(channel),
                position=float(x[channel]),
                height=float(smoothed[channel]),
                prominence=float(prominences[i]),
                fwhm=float(widths[i]),
                lower=float(x[lo]),
                upper=float(x[hi - 1]),
                lower_index=lo,
                upper_index=hi,
            )
        )
    return peaks


def _finite_and_smoothed(y: np.ndarray, smooth: float) -> tuple[np.ndarray, np.ndarray]:
    """The spectrum with non-finite values set to its minimum, and that Gaussian-smoothed
    (``smooth`` channels; 0: not smoothed): what peaks are detected and measured on."""
    from scipy.ndimage import gaussian_filter1d

    finite = np.where(np.isfinite(y), y, np.nanmin(y))
    return finite, gaussian_filter1d(finite, smooth, mode="nearest") if smooth > 0 else finite


def merge_peaks(axis_values, spectrum, primary: list[Peak], secondary: list[Peak], *, smooth: float = 1.0):
    """The peaks of ``primary`` and those of ``secondary`` that no primary slice holds.

    Two detections of one image (the max spectrum finds lines of a few pixels, the mean
    spectrum weak lines of many) are merged so that every peak is measured on one spectrum,
    ``spectrum`` (the primary's): a secondary peak keeps its position, width and slice, and
    takes its height there and its prominence (the height above the lowest point of its
    slice where ``spectrum`` shows it only as a shoulder). Slices are cut at midpoints where
    neighbours would overlap.

    Returns
    -------
    peaks : list of Peak
        In axis order.
    found_on : list of str
        ``"primary"``, ``"secondary"`` or ``"both"`` for each peak.
    """
    import warnings

    from scipy.signal import peak_prominences

    x = np.asarray(axis_values, dtype=np.float64)
    y = np.asarray(spectrum, dtype=np.float64)
    smoothed = _finite_and_smoothed(y, smooth)[1]
    merged = [(p, "primary") for p in primary]
    for peak in secondary:
        holder = next((i for i, (p, _) in enumerate(merged) if p.lower_index <= peak.index < p.upper_index), None)
        if holder is not None:
            merged[holder] = (merged[holder][0], "both" if merged[holder][1] != "secondary" else "secondary")
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # scipy's PeakPropertyWarning: a shoulder, not a peak
            prominence = float(peak_prominences(smoothed, [peak.index])[0][0])
        if prominence <= 0:
            prominence = float(smoothed[peak.index] - smoothed[peak.lower_index : peak.upper_index].min())
        merged.append((replace(peak, height=float(smoothed[peak.index]), prominence=prominence), "secondary"))
    merged.sort(key=lambda item: item[0].index)
    peaks = [p for p, _ in merged]
    for i in range(len(peaks) - 1):
        left, right = peaks[i], peaks[i + 1]
        if left.upper_index > right.lower_index:
            cut = int(np.searchsorted(x, (left.position + right.position) / 2, side="left"))
            cut = min(max(cut, left.index + 1), right.index)
            peaks[i] = replace(left, upper_index=cut, upper=float(x[cut - 1]))
            peaks[i + 1] = replace(right, lower_index=cut, lower=float(x[cut]))
    return peaks, [origin for _, origin in merged]


@dataclass
class HotMaxSpectra:
    """Spectra of the pixels that set the max spectrum's peaks.

    Attributes
    ----------
    pixels : ndarray of shape (n_groups, 2)
        Row and column of each hot pixel.
    spectra : ndarray of shape (n_groups, n_channels)
    peaks : list of list of int
        For each hot pixel, the numbers of the peaks (in the peak list) it sets; a pixel
        that sets several peaks appears once.
    """

    pixels: np.ndarray
    spectra: np.ndarray
    peaks: list[list[int]]


def hotmax_spectra(cube: Cube, peaks: list[Peak], summary: SummarySpectra) -> HotMaxSpectra:
    """The full spectrum of the pixel holding each peak's maximum, grouped by pixel."""
    if not peaks:
        return HotMaxSpectra(np.zeros((0, 2), np.int64), np.zeros((0, cube.n_channels)), [])
    owners = np.array([summary.argmax[p.index] for p in peaks], dtype=np.int64)
    unique = np.unique(owners)
    groups = [[int(i) for i in np.flatnonzero(owners == pixel)] for pixel in unique]
    spectra = take_rows(cube.pixels(), unique)
    rows, cols = np.unravel_index(unique, cube.image_shape)
    return HotMaxSpectra(np.stack([rows, cols], axis=1), np.asarray(spectra), groups)
