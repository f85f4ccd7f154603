"""A scene for unmixing where no pixel is pure: random band spectra mixed by smooth abundance
fields, with per-pixel brightness and white noise; the fractions are its truth."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

from chemmap._shared.validation import check_random_state
from chemmap.core.axis import SpectralAxis
from chemmap.core.cube import Cube

__all__ = ["make_smooth_mixture"]


def make_smooth_mixture(
    *,
    random_state=0,
    noise: float = 0.03,
    brightness: float = 0.0,
    n_components: int = 4,
    image_shape: tuple[int, int] = (60, 60),
) -> tuple[Cube, np.ndarray]:
    """A cube of ``n_components`` random spectra (a 0.1 offset and three Gaussian bands each on
    150 channels of 400-2400 nm) mixed by smooth abundance fields, so that almost no pixel is
    pure: the purest pixels are still mixtures, which extractors that look for pure pixels
    return as endmembers.

    Parameters
    ----------
    random_state : int or Generator
    noise : float
        White noise standard deviation, in the spectra's units (their bands peak at 0.4-1.1).
    brightness : float
        Each pixel is scaled by a gain drawn uniformly in ``1 ± brightness``.
    n_components : int
    image_shape : (int, int)

    Returns
    -------
    cube : Cube
        Float32, axis in nm.
    fractions : ndarray of shape (height, width, n_components)
        The true abundances (they sum to one in every pixel).
    """
    rng = check_random_state(random_state)
    x = np.linspace(400, 2400, 150)
    h, w = image_shape

    def band() -> np.ndarray:
        return rng.uniform(0.3, 1) * np.exp(-0.5 * ((x - rng.uniform(500, 2300)) / rng.uniform(40, 200)) ** 2)

    spectra = np.stack([0.1 + band() + band() + band() for _ in range(n_components)])
    fields = np.stack([gaussian_filter(rng.normal(size=(h, w)), 3) for _ in range(n_components)], axis=-1)
    fractions = np.exp(6 * fields)
    fractions /= fractions.sum(axis=-1, keepdims=True)
    gain = 1 + brightness * rng.uniform(-1, 1, size=(h, w, 1))
    cube = gain * (fractions @ spectra) + rng.normal(scale=noise, size=(h, w, x.size))
    return Cube(cube.astype(np.float32), SpectralAxis(x, "nm")), fractions
