"""Data quality: per-band SNR from neighbouring pixels, saturated and dead pixel detection."""

from __future__ import annotations

import numpy as np

from chemmap._shared.params import Param, validate_params
from chemmap.core.cube import Cube
from chemmap.core.exceptions import InvalidParameterError
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
    ``2 sigma^2``; the robust spread (1.4826 x MAD) of those differences over the image,
    divided by sqrt(2), estimates sigma without replicate images. Edges between regions
    add a few outliers that the median ignores.

    Returns
    -------
    ndarray of shape (n_channels,)
        Noise standard deviation per band, in data units.
    """
    cube = cube.to_numpy()
    h, w = cube.image_shape
    data = np.asarray(cube.data, dtype=np.float32)
    valid = cube.valid_pixels().reshape(h, w)
    if w >= 2:
        diff, both = data[:, 1:] - data[:, :-1], valid[:, 1:] & valid[:, :-1]
    else:
        diff, both = data[1:] - data[:-1], valid[1:] & valid[:-1]
    diffs = diff[both]
    if diffs.shape[0] < 2:
        raise InvalidParameterError("Band noise needs at least two pairs of neighbouring valid pixels.")
    med = np.median(diffs, axis=0)
    return 1.4826 * np.median(np.abs(diffs - med), axis=0) / np.sqrt(2)


def band_snr(cube: Cube) -> np.ndarray:
    """Signal-to-noise ratio of each band: mean over valid pixels / :func:`band_noise`.

    Bands with zero noise get ``inf`` unless their mean is 0 too (then 0).
    """
    cube = cube.to_numpy()
    signal = np.abs(np.nanmean(np.asarray(cube.pixels()[cube.valid_pixels()], dtype=np.float64), axis=0))
    noise = band_noise(cube)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(noise > 0, signal / noise, np.where(signal > 0, np.inf, 0.0))


def bad_pixel_masks(cube: Cube, *, saturation=None, max_saturated_fraction: float = 0.0) -> dict[str, np.ndarray]:
    """Boolean ``(height, width)`` maps of saturated and dead pixels.

    A pixel is **saturated** when more than ``max_saturated_fraction`` of its channels reach
    ``saturation`` (default: the maximum of an integer dtype; float data need the value) and
    **dead** when its spectrum is constant (all channels equal, e.g. all zero).
    """
    cube = cube.to_numpy()
    data = np.asarray(cube.data)
    if saturation is None and data.dtype.kind in "iu":
        saturation = np.iinfo(data.dtype).max
    saturated = np.zeros(cube.image_shape, bool)
    if saturation is not None:
        saturated = np.mean(data >= saturation, axis=-1) > max_saturated_fraction
    dead = np.all(data == data[..., :1], axis=-1)
    return {"saturated": saturated, "dead": dead}


def mask_bad_pixels(cube: Cube, **params) -> Cube:
    """Remove saturated and dead pixels from the mask; counts go into the history."""
    params = validate_params(BAD_PIXEL_PARAMS, params, func="mask_bad_pixels")
    found = bad_pixel_masks(cube, **params)
    bad = found["saturated"] | found["dead"]
    mask = ~bad if cube.mask is None else cube.mask & ~bad
    record = {**params, "n_saturated": int(found["saturated"].sum()), "n_dead": int(found["dead"].sum())}
    return cube.with_step("mask_bad_pixels", record, mask=mask)


steps.register(
    "mask_bad_pixels", StepSpec("mask_bad_pixels", BAD_PIXEL_PARAMS, mask_bad_pixels, "mask saturated and dead pixels")
)
