"""Scenes for denoising with their clean cube: smooth component spectra mixed by smooth
abundance maps, linearly or not, with white noise of a given signal-to-noise ratio."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter

from chemmap._shared.validation import check_int, check_number, check_random_state
from chemmap.core.axis import SpectralAxis
from chemmap.core.cube import Cube
from chemmap.core.exceptions import InvalidParameterError

__all__ = ["DenoisingScene", "make_denoising_scene"]

#: The mixtures :func:`make_denoising_scene` makes.
MIXTURES = ("linear", "nonlinear")


@dataclass
class DenoisingScene:
    """A noisy cube, its clean cube (same shape, float32) and the noise standard deviation."""

    cube: Cube
    clean: np.ndarray
    noise_std: float

    def rmse(self, denoised) -> float:
        """Root-mean-square error of ``denoised`` (array or Cube) against the clean cube."""
        data = np.asarray(getattr(denoised, "data", denoised), dtype=np.float64)
        return float(np.sqrt(np.mean((data - self.clean) ** 2)))


def make_denoising_scene(
    *,
    image_shape: tuple[int, int] = (64, 64),
    n_channels: int = 120,
    n_components: int = 4,
    snr: float = 5.0,
    mixture: str = "linear",
    random_state: int = 0,
) -> DenoisingScene:
    """A cube of ``n_components`` smooth spectra (two or three Gaussian bands each) mixed by
    smooth abundance maps that sum to one, with white Gaussian noise.

    Parameters
    ----------
    image_shape : (int, int)
    n_channels : int
        Channels over 400–2400 nm.
    n_components : int
    snr : float
        Standard deviation of the clean cube (over all values) divided by that of the noise.
    mixture : {"linear", "nonlinear"}
        ``linear``: ``x = A S``. ``nonlinear``: bilinear interactions of every pair of
        components (``0.8 a_i a_j s_i s_j``, as in the generalised bilinear model) and a per-pixel
        brightness from 0.6 to 1.4, then a soft saturation ``1.2 tanh(x / 1.2)``: not a
        low-rank linear subspace.
    random_state : int

    Returns
    -------
    DenoisingScene
    """
    func = "make_denoising_scene"
    h, w = (check_int(n, name=name, func=func, low=4) for n, name in zip(image_shape, ("height", "width"), strict=True))
    c = check_int(n_channels, name="n_channels", func=func, low=8)
    k = check_int(n_components, name="n_components", func=func, low=1)
    snr = check_number(snr, name="snr", func=func, low=0.01)
    if mixture not in MIXTURES:
        raise InvalidParameterError(f"mixture must be one of {MIXTURES}; got {mixture!r}.")
    rng = check_random_state(random_state)
    x = np.linspace(400.0, 2400.0, c)
    spectra = np.zeros((k, c))
    for i in range(k):
        for _ in range(int(rng.integers(2, 4))):
            spectra[i] += rng.uniform(0.3, 1.0) * np.exp(
                -0.5 * ((x - rng.uniform(450, 2350)) / rng.uniform(40, 160)) ** 2
            )
    fields = np.stack([gaussian_filter(rng.normal(size=(h, w)), sigma=max(h, w) / 8) for _ in range(k)], axis=-1)
    fields /= fields.std(axis=(0, 1), keepdims=True)
    abundances = np.exp(2.0 * fields)
    abundances /= abundances.sum(axis=-1, keepdims=True)
    clean = abundances @ spectra
    if mixture == "nonlinear":
        for i in range(k):
            for j in range(i + 1, k):
                clean += 0.8 * (abundances[..., i] * abundances[..., j])[..., None] * (spectra[i] * spectra[j])
        brightness = 1.0 + 0.4 * np.tanh(gaussian_filter(rng.normal(size=(h, w)), sigma=2) * 3)
        clean = 1.2 * np.tanh(clean * brightness[..., None] / 1.2)
    noise_std = float(clean.std() / snr)
    noisy = clean + rng.normal(scale=noise_std, size=clean.shape)
    cube = Cube(noisy.astype(np.float32), SpectralAxis(x, "nm"))
    cube.attrs["source"] = f"make_denoising_scene({mixture}, snr={snr:g}, seed={random_state})"
    return DenoisingScene(cube, clean.astype(np.float32), noise_std)
