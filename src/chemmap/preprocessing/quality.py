"""Data quality: per-band SNR from neighbouring pixels, saturated and dead pixel detection."""

from __future__ import annotations

import warnings

import numpy as np

from chemmap._shared import sampling
from chemmap._shared.blockwise import map_spectra
from chemmap._shared.compute import compute
from chemmap._shared.noise import band_noise_from_neighbours
from chemmap._shared.params import Param, validate_params
from chemmap._shared.sampling import row_bands_sample
from chemmap.core.cube import Cube
from chemmap.core.exceptions import DataWarning, InvalidParameterError
from chemmap.preprocessing._steps import StepSpec, steps

__all__ = ["bad_pixel_masks", "band_noise", "band_snr", "mask_bad_pixels"]

BAD_PIXEL_PARAMS = {
    "saturation": Param(
        "float",
        None,
        allow_none=True,
        doc="value at or above which a channel is saturated (default: the integer type's maximum)",
    ),
    "max_saturated_fraction": Param(
        "float", 0.0, low=0, high=1, doc="pixels with more saturated channels than this fraction are masked"
    ),
}


def band_noise(cube: Cube) -> np.ndarray:
    """Noise sigma of each band from differences between horizontally neighbouring pixels.

    For two neighbours sharing the same signal, ``x1 - x2`` holds only noise with variance
    ``2 sigma^2``; the robust spread (1.4826 x MAD) of those differences, divided by
    sqrt(2), estimates sigma without replicate images. Edges between regions add a few
    outliers that the median ignores. Cubes above 64 MiB (lazy ones included) are
    estimated on evenly spaced bands of whole rows (:func:`row_bands_sample`).

    Returns
    -------
    ndarray of shape (n_channels,)
        Noise standard deviation per band, in data units.
    """
    data, valid = row_bands_sample(cube, stage="band noise")
    return _noise(data, valid)


def _noise(data: np.ndarray, valid: np.ndarray) -> np.ndarray:
    sigma = band_noise_from_neighbours(data, valid)
    if np.all(np.isnan(sigma)):
        raise InvalidParameterError(
            "Band noise and SNR are estimated from differences between neighbouring pixels, and this cube has no "
            "pair of neighbouring valid pixels (one spectrum, or pixels the mask leaves apart). To fix this, leave "
            "out mask_low_snr_bands where you asked for it, or give an image of neighbouring pixels."
        )
    return sigma


def band_snr(cube: Cube) -> np.ndarray:
    """Signal-to-noise ratio of each band: mean absolute intensity over valid pixels /
    :func:`band_noise` (both on the same rows, evenly spaced bands of whole rows holding
    about :data:`~chemmap._shared.sampling.SNR_SAMPLE_BYTES`, for larger cubes).

    Bands with zero noise get ``inf`` unless their mean is 0 too (then 0).
    """
    data, valid = row_bands_sample(cube, max_bytes=sampling.SNR_SAMPLE_BYTES, stage="band SNR")
    # per row in the data's precision (a row of float32 sums to 1e-7), then across rows in
    # float64: a float64 copy of the sample cost 30x the time
    by_row = np.abs(data).sum(axis=1, where=valid[..., None], dtype=np.result_type(data.dtype, np.float32))
    signal = by_row.sum(axis=0, dtype=np.float64) / max(int(valid.sum()), 1)
    noise = _noise(data, valid)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(noise > 0, signal / noise, np.where(signal > 0, np.inf, 0.0))


#: Share of the valid pixels above which "dead" pixels are more likely empty measurements.
MOSTLY_DEAD = 0.5


def bad_pixel_masks(cube: Cube, *, saturation=None, max_saturated_fraction: float = 0.0) -> dict[str, np.ndarray]:
    """Boolean ``(height, width)`` maps of saturated and dead pixels (one pass, by blocks).

    A pixel is **saturated** when more than ``max_saturated_fraction`` of its channels reach
    ``saturation`` (default: the maximum of an integer dtype; float data need the value) and
    **dead** when its spectrum is constant (all channels equal, e.g. all zero).
    """
    if saturation is None and cube.dtype.kind in "iu":
        saturation = np.iinfo(cube.dtype).max

    def flags(spectra: np.ndarray) -> np.ndarray:
        out = np.zeros((spectra.shape[0], 2), bool)
        if saturation is not None:
            out[:, 0] = np.mean(spectra >= saturation, axis=-1) > max_saturated_fraction
        out[:, 1] = np.all(spectra == spectra[:, :1], axis=-1)
        return out

    (found,) = compute(map_spectra(flags, cube.data, n_out=2, dtype=bool), stage="bad pixels")
    return {"saturated": found[..., 0], "dead": found[..., 1]}


def mask_bad_pixels(cube: Cube, **params) -> Cube:
    """Remove saturated and dead pixels from the mask; counts go into the history."""
    params = validate_params(BAD_PIXEL_PARAMS, params, func="mask_bad_pixels")
    found = bad_pixel_masks(cube, **params)
    bad = found["saturated"] | found["dead"]
    mask = ~bad if cube.mask is None else cube.mask & ~bad
    record = {**params, "n_saturated": int(found["saturated"].sum()), "n_dead": int(found["dead"].sum())}
    valid = int(cube.valid_pixels().sum())
    if record["n_dead"] > MOSTLY_DEAD * max(valid, 1):
        warnings.warn(
            f"mask_bad_pixels masked {record['n_dead']} of {valid} pixels as dead (their spectra are constant, "
            "most often all zero). Where counts are sparse (X-ray maps) an empty spectrum is a pixel no photon "
            "reached, not a dead pixel: leave the step out, or bin pixels first.",
            DataWarning,
            stacklevel=2,
        )
    return cube.with_step("mask_bad_pixels", record, mask=mask)


steps.register(
    "mask_bad_pixels", StepSpec("mask_bad_pixels", BAD_PIXEL_PARAMS, mask_bad_pixels, "mask saturated and dead pixels")
)
