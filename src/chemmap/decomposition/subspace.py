"""How many components: the noise of every band, the explained variance (scree), HySime
(Bioucas-Dias and Nascimento, IEEE TGRS 46, 2008) and the noise-whitened eigenvalues
against the Marchenko–Pastur edge, from one Gram matrix of (a seeded sample
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

__all__ = ["ComponentCount", "band_noise", "count_components", "hysime", "whitened_count"]

#: Share of the variance the scree count keeps.
SCREE_VARIANCE = 0.99
#: Margin over the Marchenko–Pastur edge a noise-whitened eigenvalue must clear to count
#: as signal (finite samples scatter a little beyond the edge).
EDGE_MARGIN = 1.1


def whitened_count(gram: np.ndarray, n: int, noise_std: np.ndarray) -> tuple[int, np.ndarray]:
    """Signal components: eigenvalues of the noise-whitened second-moment matrix above the
    largest one pure noise would give, the Marchenko–Pastur edge ``(1 + √(c/n))²`` (times
    :data:`EDGE_MARGIN`). Unlike HySime's cost, the threshold allows for the spread of
    noise eigenvalues in a finite sample, so small samples do not inflate the count.

    Returns
    -------
    k : int
    eigenvalues : ndarray
        Whitened eigenvalues, decreasing (1 is the noise level).
    """
    c = gram.shape[0]
    scale = 1.0 / np.clip(noise_std, np.finfo(np.float64).tiny, None)
    values = np.linalg.eigvalsh(scale[:, None] * (np.asarray(gram, dtype=np.float64) / n) * scale[None, :])[::-1]
    edge = (1 + np.sqrt(c / n)) ** 2 * EDGE_MARGIN
    return int(max(1, np.count_nonzero(values > edge))), values


def band_noise(gram: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Noise of every band by multiple regression on all the other bands (HySime's
    estimator), from the (uncentred) Gram matrix ``YᵀY`` of ``n`` pixels alone.

    With ``P = (YᵀY)⁻¹``, band ``i``'s residual is ``(YP)_i / P_ii``; so the noise
    covariance is ``D P D / (n - c + 1)`` with ``D = diag(1 / P_ii)`` (the residual sum of
    squares over its degrees of freedom: ``c - 1`` bands are regressed on).

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
    dof = max(n - g.shape[0] + 1, 1)
    noise_cov = (d[:, None] * precision * d[None, :]) / dof
    return noise_cov, np.sqrt(np.clip(np.diag(noise_cov), 0, None))


def hysime(gram: np.ndarray, n: int, noise_cov: np.ndarray | None = None) -> tuple[int, np.ndarray]:
    """HySime: the signal subspace dimension minimising projection error plus noise power.

    ``noise_cov`` is :func:`band_noise`'s estimate, computed here when not given.

    Returns
    -------
    k : int
        Number of signal components.
    cost : ndarray
        Per-eigenvector cost (negative: kept), by decreasing signal power.
    """
    g = np.asarray(gram, dtype=np.float64)
    if noise_cov is None:
        noise_cov, _ = band_noise(g, n)
    signal_cov = g / n - noise_cov  # E[(y - w)(y - w)ᵀ], the fits being nearly orthogonal to the residuals
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
    whitened: int
    scree: int
    explained_variance_ratio: np.ndarray
    noise_std: np.ndarray
    n_pixels: int

    @property
    def recommended(self) -> int:
        """The noise-whitened count: it weighs each direction's signal against the
        estimated noise of each band, with a threshold that holds for small samples (where
        HySime counts noise directions); the scree count depends on an arbitrary share."""
        return self.whitened

    def to_dict(self) -> dict:
        return {
            "recommended": self.recommended,
            "chosen_by": "noise-whitened eigenvalues above the Marchenko-Pastur edge",
            "whitened": self.whitened,
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
    noise_cov, noise_std = band_noise(gram, n)
    k, _ = hysime(gram, n, noise_cov)
    mean = total / n
    values = np.clip(np.linalg.eigvalsh((gram - n * np.outer(mean, mean)) / (n - 1))[::-1], 0, None)
    ratio = values / values.sum() if values.sum() > 0 else np.zeros_like(values)
    scree = int(min(np.searchsorted(np.cumsum(ratio), SCREE_VARIANCE) + 1, ratio.size))
    return ComponentCount(
        hysime=k,
        whitened=whitened_count(gram, n, noise_std)[0],
        scree=scree,
        explained_variance_ratio=ratio,
        noise_std=noise_std,
        n_pixels=n,
    )
