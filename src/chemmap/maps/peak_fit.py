"""Peak maps by fitting a fixed dictionary to every pixel: one Gaussian at each detected peak
plus a continuum, solved by non-negative least squares for all pixels at once. Unlike
slicing, overlapping peaks share their counts instead of counting them twice."""

from __future__ import annotations

import numpy as np

from chemmap._shared.progress import ProgressCallback
from chemmap.core.cube import Cube
from chemmap.core.exceptions import InvalidParameterError, ShapeError
from chemmap.maps.peak_detection import Peak

__all__ = ["CONTINUUM", "FWHM_PER_SIGMA", "peak_dictionary", "peak_fit_maps"]

#: FWHM of a Gaussian in standard deviations, ``2 sqrt(2 ln 2)``.
FWHM_PER_SIGMA = 2.0 * np.sqrt(2.0 * np.log(2.0))
#: Name of the continuum component's map.
CONTINUUM = "continuum"


def peak_dictionary(axis_values, peaks: list[Peak], reference, *, counts: bool = True) -> np.ndarray:
    """Component spectra: a Gaussian per peak and a continuum, on ``axis_values``.

    Parameters
    ----------
    axis_values : array of shape (n_channels,)
    peaks : list of Peak
        Their positions and FWHMs (axis units) shape the Gaussians.
    reference : array of shape (n_channels,)
        A spectrum of the image (the mean spectrum); with every peak slice bridged by a
        straight line it becomes the continuum component.
    counts : bool
        Scale each component to unit sum (its coefficient is then counts), else to unit
        integral over the axis (the coefficient is intensity x axis units).

    Returns
    -------
    ndarray of shape (len(peaks) + 1, n_channels)
        The Gaussians in peak order, the continuum last.
    """
    x = np.asarray(axis_values, dtype=np.float64)
    y = np.asarray(reference, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ShapeError(
            f"peak_dictionary needs an axis and a reference spectrum of equal length; got {x.shape}, {y.shape}."
        )
    spacing = float(np.median(np.abs(np.diff(x)))) if x.size > 1 else 1.0
    norm = 1.0 if counts else spacing
    rows = []
    for peak in peaks:
        sigma = max(peak.fwhm, spacing) / FWHM_PER_SIGMA
        gaussian = np.exp(-0.5 * ((x - peak.position) / sigma) ** 2)
        rows.append(gaussian / (gaussian.sum() * norm))
    continuum = y.copy()
    for peak in peaks:
        lo, hi = peak.lower_index, peak.upper_index
        left, right = max(lo - 1, 0), min(hi, x.size - 1)
        continuum[lo:hi] = np.interp(x[lo:hi], [x[left], x[right]], [continuum[left], continuum[right]])
    continuum = np.clip(continuum, 0, None)
    total = continuum.sum() * norm
    if total <= 0:
        raise InvalidParameterError("The reference spectrum has no continuum left outside the peaks to model.")
    rows.append(continuum / total)
    return np.stack(rows)


def peak_fit_maps(
    cube: Cube,
    peaks: list[Peak],
    reference,
    *,
    names: list[str] | None = None,
    progress: ProgressCallback | None = None,
) -> Cube:
    """Maps of every peak's area from a non-negative fit of the peak dictionary.

    Parameters
    ----------
    cube : Cube
        NumPy, memory-mapped or lazy.
    peaks : list of Peak
    reference : array of shape (n_channels,)
        The spectrum the continuum is taken from (usually the mean spectrum).
    names : list of str, optional
        One map name per peak (default ``"peak <position> <unit>"``).

    Returns
    -------
    Cube
        One map per peak (counts for integer data, intensity x axis units otherwise), the
        ``continuum`` map (its total) and the ``fit residual`` (``||y - A x|| / ||y||``).
    """
    from chemmap.decomposition.abundances import abundance_maps  # keeps scikit-learn out of chemmap.maps

    if not peaks:
        raise InvalidParameterError("peak_fit_maps needs at least one peak; find_peaks found none.")
    counts = np.dtype(cube.dtype).kind in "iu"
    components = peak_dictionary(cube.axis.values, peaks, reference, counts=counts)
    names = [f"peak {p.position:.4g} {cube.axis.unit}" for p in peaks] if names is None else list(names)
    if CONTINUUM in names:
        raise InvalidParameterError(f"{CONTINUUM!r} is reserved for the continuum map; rename that peak.")
    fitted = abundance_maps(cube, components, names=[*names, CONTINUUM], method="nnls", progress=progress)
    unit = "counts" if counts else f"intensity x {cube.axis.unit}"
    info = dict(fitted.attrs["maps"])
    for name, peak in zip(names, peaks, strict=True):
        info[name] = {"kind": "fitted peak area", "unit": unit, "position": peak.position, "fwhm": peak.fwhm}
    info[CONTINUUM] = {"kind": "fitted continuum", "unit": unit}
    return fitted.replace(attrs={**fitted.attrs, "maps": info})
