"""A synthetic benchmark for quantitative maps learned from per-sample reference values:
layered tissue-like samples (fat and lean layers with a smoothly varying per-pixel fat
fraction) imaged in the NIR, each exposing only its masked mean fat % as the reference, with
the per-pixel truth kept for evaluation."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from chemmap.core.axis import SpectralAxis
from chemmap.core.cube import Cube
from chemmap.datasets.synthetic import gaussian_band

__all__ = ["TissueSample", "make_tissue_samples", "nir_pure_spectra", "write_tissue_benchmark"]

#: NIR absorption bands (nm, width nm, height) of the two pure components: fat (C-H
#: overtones and combinations) and lean tissue (water O-H and protein N-H).
FAT_BANDS = ((930, 25, 0.35), (1210, 30, 0.8), (1390, 35, 0.45), (1725, 25, 1.0), (1765, 25, 0.8))
LEAN_BANDS = ((970, 40, 0.5), (1190, 50, 0.25), (1450, 60, 1.0), (1510, 45, 0.45), (1940, 60, 0.2))
#: Broad bands (nm, width nm) of minor constituents (connective tissue, free water, pigments)
#: whose amounts vary from pixel to pixel independently of fat and average out in a sample's mean.
INTERFERENT_BANDS = ((1040, 60), (1320, 80), (1580, 70))


@dataclass(frozen=True)
class TissueSample:
    """One imaged sample.

    Attributes
    ----------
    cube : Cube
        Absorbance-like spectra on an nm axis, ``mask`` marking the sample's pixels.
    reference : float
        Mean fat % over the mask: the only value a user would have from chemistry.
    truth : ndarray of shape (height, width)
        Per-pixel fat % (NaN outside the mask), for evaluation only.
    """

    cube: Cube
    reference: float
    truth: np.ndarray


def nir_pure_spectra(wavelengths: np.ndarray) -> np.ndarray:
    """``(2, n)`` pure spectra of fat and lean tissue on ``wavelengths`` (nm)."""
    out = np.zeros((2, wavelengths.size))
    for row, bands in enumerate((FAT_BANDS, LEAN_BANDS)):
        for centre, width, height in bands:
            out[row] += height * gaussian_band(wavelengths, centre, 2 * width**2)
    return out + 0.05


def _smooth_noise(shape, rng, sigma: float) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    field = gaussian_filter(rng.normal(size=shape), sigma, mode="reflect")
    return field / max(field.std(), 1e-12)


def _sample_mask(shape, rng) -> np.ndarray:
    """An irregular blob covering about 55-75 % of the image."""
    h, w = shape
    rows, cols = np.mgrid[0:h, 0:w]
    radius = np.hypot((rows - h / 2) / (0.42 * h), (cols - w / 2) / (0.46 * w))
    return radius + 0.12 * _smooth_noise(shape, rng, min(h, w) / 6) < 1.0


def _fat_fraction(shape, rng) -> np.ndarray:
    """Per-pixel fat fraction in [0, 1]: wavy alternating layers of fat and lean, each with
    a smooth within-layer variation, blurred at the boundaries."""
    from scipy.ndimage import gaussian_filter

    h, w = shape
    rows = np.arange(h)[:, None] * np.ones((1, w))
    n_layers = rng.integers(3, 7)
    edges = np.sort(rng.uniform(0, h, n_layers - 1))
    wave = 0.08 * h * _smooth_noise(shape, rng, w / 5)
    layer = np.searchsorted(edges, rows + wave)
    fat_first = rng.integers(0, 2)
    is_fat = (layer + fat_first) % 2 == 0
    fat_level = rng.uniform(0.7, 0.95) + 0.05 * _smooth_noise(shape, rng, 6)
    lean_level = rng.uniform(0.02, 0.15) + 0.03 * _smooth_noise(shape, rng, 6)
    fraction = np.where(is_fat, fat_level, lean_level)
    return np.clip(gaussian_filter(fraction, 1.2, mode="nearest"), 0.0, 1.0)


def make_tissue_samples(
    n_samples: int = 40,
    *,
    image_shape: tuple[int, int] = (40, 48),
    n_channels: int = 100,
    wavelength_range: tuple[float, float] = (900.0, 1700.0),
    noise: float = 0.02,
    scatter: float = 0.15,
    baseline: float = 0.1,
    interferent_level: float = 0.1,
    reference_error: float = 0.5,
    random_state: int = 0,
) -> list[TissueSample]:
    """Samples of layered fat / lean tissue with per-pixel truth.

    Each pixel's spectrum is ``s * (f * fat + (1 - f) * lean) + offset + slope * x + a @
    minor + noise``: ``f`` the true fat fraction, ``s`` a smooth multiplicative scatter field
    (``1 ± scatter``), a smooth additive baseline (``baseline``), per-pixel amounts ``a``
    (half-normal, scale ``interferent_level``) of three minor constituents
    (:data:`INTERFERENT_BANDS`), white noise of standard deviation ``noise`` (absorbance
    units; the strongest band is about 1). The minor constituents are what makes a model
    calibrated on sample means noisy per pixel: their pixel-to-pixel variation averages out
    in the means the model learns from (set ``interferent_level=0`` for spectra that are
    linear mixtures of fat and lean only, where PLS maps are nearly exact). Background
    pixels are a flat dark spectrum with noise. The reference is the masked mean of the
    true fat % plus a lab error of standard deviation ``reference_error`` (percentage points).

    Returns
    -------
    list of TissueSample
    """
    rng = np.random.default_rng(random_state)
    x = np.linspace(*wavelength_range, n_channels)
    pure = nir_pure_spectra(x)
    ramp = (x - x.mean()) / np.ptp(x)
    interferents = np.stack([gaussian_band(x, c, 2 * w**2) for c, w in INTERFERENT_BANDS])
    axis = SpectralAxis(x, "nm")
    samples = []
    for i in range(n_samples):
        mask = _sample_mask(image_shape, rng)
        fraction = _fat_fraction(image_shape, rng)
        mixed = fraction[..., None] * pure[0] + (1 - fraction[..., None]) * pure[1]
        scale = 1 + scatter * np.tanh(_smooth_noise(image_shape, rng, 8))
        offset = baseline * _smooth_noise(image_shape, rng, 10)
        slope = baseline * _smooth_noise(image_shape, rng, 10)
        spectra = scale[..., None] * mixed + offset[..., None] + slope[..., None] * ramp
        if interferent_level:
            amounts = interferent_level * np.abs(rng.standard_normal((*image_shape, interferents.shape[0])))
            spectra = spectra + amounts @ interferents
        spectra = np.where(mask[..., None], spectra, 0.02)
        spectra = spectra + rng.normal(scale=noise, size=spectra.shape)
        truth = np.where(mask, 100 * fraction, np.nan).astype(np.float32)
        reference = float(np.nanmean(truth) + rng.normal(scale=reference_error))
        cube = Cube(
            spectra.astype(np.float32),
            axis,
            mask=mask,
            attrs={"source": f"make_tissue_samples(random_state={random_state}) sample {i}"},
        )
        samples.append(TissueSample(cube, reference, truth))
    return samples


def write_tissue_benchmark(folder: str | os.PathLike, samples: list[TissueSample]) -> Path:
    """Write ``samples`` as a sample set: ``sample_NNN.npz`` cubes (with their masks),
    ``sample_NNN_truth.npy`` and ``manifest.csv`` (columns ``cube``, ``reference``,
    ``truth``; paths relative to the manifest). Returns the manifest path."""
    from chemmap.io import write

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, sample in enumerate(samples):
        name = f"sample_{i:03d}"
        write(sample.cube, folder / f"{name}.npz")
        np.save(folder / f"{name}_truth.npy", sample.truth)
        rows.append({"cube": f"{name}.npz", "reference": f"{sample.reference:.4f}", "truth": f"{name}_truth.npy"})
    manifest = folder / "manifest.csv"
    with open(manifest, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=["cube", "reference", "truth"])
        writer.writeheader()
        writer.writerows(rows)
    return manifest
