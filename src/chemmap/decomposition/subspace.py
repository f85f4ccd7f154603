"""How many components: the noise of every band, the explained variance (scree) and HySime
(Bioucas-Dias and Nascimento, IEEE TGRS 46, 2008), from one Gram matrix of (a seeded sample
of) the pixels, so a cube on disk is read once."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from chemmap._shared.blockwise import reduce_blocks
from chemmap._shared.progress import ProgressCallback
from chemmap.core.cube import Cube
from chemmap.core.exceptions import ShapeError
from chemmap.decomposition.pca import DEFAULT_FIT_SAMPLE, gram_partial

__all__ = ["ComponentCount", "band_noise", "count_components", "hysime"]

#: Share of the variance the scree count keeps.
SCREE_VARIANCE = 0.99


def band_noise(gram: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Noise of every band by multiple regression on all the other bands (HySime's
    estimator), from the (uncentred) Gram matrix ``YᵀY`` of ``n`` pixels alone.

    With ``P = (YᵀY)⁻¹``, band ``i``'s residual is ``(YP)_i / P_ii``; so the noise
    covariance is ``D P D / n`` with ``D = diag(1 / P_ii)``.

    Returns
    -------
    noise_cov : ndarray of shape (n_channels, n_channels)
    noise_std : ndarray of shape (n_channels,)
        Per-band noise standard deviation (the cube's units).
    """
    g = np.asarray(gram, dtype=np.float64)
    ridge = 1e-10 * max(float(np.trace(g)) / g.shape[0], np.finfo(np.float64).tiny)
    precision = np.linalg.pinv(g + ridge * np.eye(g.shape[0]), hermitian=True)
    d = 1.0 / np.clip(np.diag(precision), np.finfo(np.float64).tiny, None)
    noise_cov = (d[:, None] * precision * d[None, :]) / n
    return noise_cov, np.sqrt(np.clip(np.diag(noise_cov), 0, None))


def hysime(gram: np.ndarray, n: int) -> tuple[int, np.ndarray]:
    """HySime: the signal subspace dimension minimising projection error plus noise power.

    Returns
    -------
    k : int
        Number of signal components.
    cost : ndarray
        Per-eigenvector cost (negative: kept), by decreasing signal power.
    """
    g = np.asarray(gram, dtype=np.float64)
    noise_cov, _ = band_noise(g, n)
    signal_cov = g / n - noise_cov  # E[(y - w)(y - w)ᵀ], the regression fit being orthogonal to its residual
    values, vectors = np.linalg.eigh(signal_cov)
    vectors = vectors[:, np.argsort(values)[::-1]]
    power = np.einsum("ij,jk,ki->i", vectors.T, g / n, vectors)
    noise = np.einsum("ij,jk,ki->i", vectors.T, noise_cov, vectors)
    cost = -power + 2 * noise
    return int(max(1, np.count_nonzero(cost < 0))), cost


@dataclass
class ComponentCount:
    """How many components a cube holds, by several estimates, with the recommendation."""

    hysime: int
    scree: int
    explained_variance_ratio: np.ndarray
    noise_std: np.ndarray
    n_pixels: int

    @property
    def recommended(self) -> int:
        """HySime's count: it weighs each direction's signal against the estimated noise,
        where the scree count depends on an arbitrary variance share."""
        return self.hysime

    def to_dict(self) -> dict:
        return {
            "recommended": self.recommended,
            "chosen_by": "hysime",
            "hysime": self.hysime,
            "scree": self.scree,
            "scree_variance": SCREE_VARIANCE,
            "explained_variance_ratio": self.explained_variance_ratio[:20].tolist(),
            "noise_std": self.noise_std.tolist(),
            "n_pixels": self.n_pixels,
        }


def count_components(
    cube: Cube, *, sample: int | None = DEFAULT_FIT_SAMPLE, random_state=0, progress: ProgressCallback | None = None
) -> ComponentCount:
    """Estimate the number of components of ``cube`` (valid pixels; a seeded sample of about
    ``sample`` of them, all if ``None``)."""
    data = cube.pixels()
    valid = None if cube.mask is None else cube.valid_pixels()
    n_valid = int(data.shape[0] if valid is None else np.count_nonzero(valid))
    fraction = 1.0 if sample is None else min(1.0, sample / max(n_valid, 1))
    count, total, gram = reduce_blocks(
        functools.partial(gram_partial, fraction=fraction, seed=int(random_state)),
        data,
        valid,
        summed=True,
        stage="component count",
        progress=progress,
    )
    n = int(count)
    if n <= cube.n_channels:
        raise ShapeError(
            f"Counting components needs more valid pixels than channels ({cube.n_channels}); got {n}. "
            "Use a larger sample or fewer channels."
        )
    k, _ = hysime(gram, n)
    mean = total / n
    values = np.clip(np.linalg.eigvalsh((gram - n * np.outer(mean, mean)) / (n - 1))[::-1], 0, None)
    ratio = values / values.sum() if values.sum() > 0 else np.zeros_like(values)
    scree = int(min(np.searchsorted(np.cumsum(ratio), SCREE_VARIANCE) + 1, ratio.size))
    return ComponentCount(
        hysime=k, scree=scree, explained_variance_ratio=ratio, noise_std=band_noise(gram, n)[1], n_pixels=n
    )
