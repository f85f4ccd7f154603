"""Which abundance model a scene needs: fractions that sum to one (FCLS) or a free brightness
per pixel (the scaled model), told from the data; and endmembers refined from the purest
pixels of a first unmixing."""

from __future__ import annotations

import numpy as np

from chemmap.core.axis import SpectralAxis
from chemmap.core.cube import Cube
from chemmap.decomposition.abundances import abundance_maps, nnls_gram
from chemmap.decomposition.subspace import band_noise_std

__all__ = [
    "BRIGHTNESS_SPREAD",
    "MAX_NOISE_SHIFTS",
    "PURE_ABUNDANCE",
    "brightness_spread",
    "noise_norm",
    "refine_from_purest",
]


#: Spread of the per-pixel sums of non-negative abundances (interquartile range over the
#: median) beyond which :func:`brightness_spread` says the pixels' brightness varies: 0.004 on
#: scenes whose fractions sum to one, about 0.4 on Samson and on scenes of +-40 % brightness.
BRIGHTNESS_SPREAD = 0.05


def brightness_spread(pixels, components) -> float:
    """How much the pixels' brightness varies beyond what fractions summing to one allow:
    the interquartile range over the median of the per-pixel sums of non-negative
    least-squares abundances of ``pixels`` (``(n, n_channels)``, a seeded sample of the cube:
    :func:`~chemmap.decomposition.endmembers.sample_pixels`).

    Where every pixel is a mixture of the components in fractions that sum to one, the
    sums are all near 1 (spread near 0) and FCLS holds; where illumination, topography or
    focus scale whole spectra, the sums spread, FCLS reads the brightness as composition, and
    the scaled model (``method="scaled"``) is the right one.
    """
    a = np.asarray(components, dtype=np.float64)
    y = np.asarray(pixels, dtype=np.float64)
    sums = nnls_gram(a @ a.T, y @ a.T).sum(axis=1)
    q1, median, q3 = np.percentile(sums, [25, 50, 75])
    return float((q3 - q1) / median) if median > 0 else float("inf")


#: Abundance a sampled pixel needs to count as pure in :func:`refine_from_purest`. Chosen
#: against 0.9 on every scene of ``benchmarks/models_vs_baselines.py --only unmixing`` and
#: against 0.97 and 0.99 on six of them: 0.95 is as good as 0.9 where pure pixels exist
#: (Samson 0.0452, the pure-corner mixtures unchanged) and better where they do not (pixels
#: 0.9 pure are still mixtures there); 0.97 loses Samson's refinement (0.0480).
PURE_ABUNDANCE = 0.95
#: Share of the sampled pixels, most abundant first, searched for pure ones.
PURE_SHARE = 0.01
#: Fewest pure pixels that replace a component's spectrum (else it is kept).
MIN_PURE = 3
#: Farthest a refined spectrum may move from the extracted one, in noise norms (the norm of
#: one pixel's noise over all bands). Averaging pure pixels of the extracted pixel's material
#: removes that pixel's noise: a move of about one noise norm (0.8-1.1 on synthetic scenes
#: of known noise), which fluctuates by only ``1 / sqrt(2 n_channels)`` of itself. A move of
#: many noise norms (6-14 on Samson) means the "pure" pixels are another mixture than the
#: extracted one, and averaging them pulls the endmember into the data cloud: kept.
MAX_NOISE_SHIFTS = 3.0


#: Pixels (at most, or twice the channels where that is more) whose Gram matrix gives
#: :func:`noise_norm`: HySime's regression needs more pixels than channels, and the Gram
#: matrix of 100 000 pixels of 4 096 channels took 40 s.
NOISE_SAMPLE = 10_000


def noise_norm(pixels) -> float:
    """The norm over all bands of one pixel's noise, from HySime's per-band estimate on at
    most :data:`NOISE_SAMPLE` evenly spaced rows of ``pixels`` (n, n_channels)."""
    y = np.asarray(pixels)
    rows = max(NOISE_SAMPLE, 2 * y.shape[1])
    if y.shape[0] > rows:
        y = y[np.linspace(0, y.shape[0] - 1, rows).astype(np.int64)]
    return float(np.linalg.norm(band_noise_std(y)))


def refine_from_purest(
    pixels, spectra, method: str, axis: SpectralAxis, *, noise: float | None = None
) -> tuple[np.ndarray, list[int], list[float]]:
    """Each component spectrum replaced by the mean of the purest pixels of a first unmixing.

    A single-pixel endmember (what the extractors return) carries that pixel's noise; the
    mean of the pixels the first unmixing gives at least :data:`PURE_ABUNDANCE` of the
    component (among the :data:`PURE_SHARE` most abundant of a seeded sample) carries much
    less. Under the scaled model each pixel is brought to the component's norm first, so
    bright pixels do not outweigh dim ones. A component with fewer than :data:`MIN_PURE`
    pure pixels keeps its spectrum, and so does one whose mean would move more than
    :data:`MAX_NOISE_SHIFTS` noise norms from it (the bands' noise estimated from the pixels,
    HySime's regression): averaging then mixes in other material instead of removing noise.

    Parameters
    ----------
    pixels : array-like of shape (n, n_channels)
        A seeded sample of the cube's pixels (:func:`~chemmap.decomposition.endmembers.sample_pixels`).
    spectra : array-like of shape (k, n_channels)
    method : {"fcls", "scaled", "nnls"}
        The abundance model of the first unmixing.
    axis : SpectralAxis
        The cube's axis.
    noise : float, optional
        :func:`noise_norm` of ``pixels``, when it is known already.

    Returns
    -------
    spectra : ndarray of shape (k, n_channels)
    counts : list of int
        Pixels averaged for each component (0: kept).
    shifts : list of float
        How far each component's mean of pure pixels lies from its spectrum, in noise norms
        (``nan`` where it has too few pure pixels).
    """
    spectra = np.asarray(spectra, dtype=np.float64)
    y = np.asarray(pixels, dtype=np.float64)
    rows = Cube(y[:, None, :].astype(np.float32), axis)
    a = np.asarray(abundance_maps(rows, spectra, method=method, residual=False).data)[:, 0, :]
    noise = noise_norm(y) if noise is None else noise
    refined, counts, shifts = spectra.copy(), [], []
    for i in range(spectra.shape[0]):
        top = np.argsort(-a[:, i], kind="stable")[: max(MIN_PURE, int(PURE_SHARE * a.shape[0]))]
        top = top[(a[top, i] >= PURE_ABUNDANCE) & np.any(y[top] != 0, axis=1)]
        if top.size < MIN_PURE:
            counts.append(0)
            shifts.append(float("nan"))
            continue
        pure = y[top]
        if method == "scaled":
            pure = pure / np.linalg.norm(pure, axis=1, keepdims=True) * np.linalg.norm(spectra[i])
        mean = pure.mean(axis=0)
        shifts.append(float(np.linalg.norm(mean - spectra[i]) / max(noise, np.finfo(np.float64).tiny)))
        kept = shifts[-1] > MAX_NOISE_SHIFTS
        counts.append(0 if kept else int(top.size))
        if not kept:
            refined[i] = mean
    return refined, counts, shifts
