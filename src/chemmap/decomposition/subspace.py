"""How many components: the noise of every band, the explained variance (scree), HySime
(Bioucas-Dias and Nascimento, IEEE TGRS 46, 2008) and the noise-whitened eigenvalues
against the Marchenko–Pastur edge, from one Gram matrix of (a seeded sample
of) the pixels, so a cube on disk is read once."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from chemmap._shared.blockwise import reduce_blocks
from chemmap._shared.noise import spectral_noise_sigma
from chemmap._shared.progress import ProgressCallback
from chemmap.core.cube import Cube
from chemmap.core.exceptions import ShapeError
from chemmap.decomposition.pca import DEFAULT_FIT_SAMPLE, gram_partial

__all__ = [
    "ComponentCount",
    "band_noise",
    "band_noise_std",
    "count_components",
    "hysime",
    "scree_elbow",
    "white_noise_sigma",
    "whitened_count",
]

#: Share of the variance the scree count keeps.
SCREE_VARIANCE = 0.99
#: Margin over the Marchenko–Pastur edge a noise-whitened eigenvalue must clear to count
#: as signal (finite samples scatter a little beyond the edge).
EDGE_MARGIN = 1.1
#: Leading eigenvalues the scree elbow is looked for among.
ELBOW_HEAD = 20
#: Least noise standard deviation of a band, as a share of its root-mean-square value.
NOISE_FLOOR = 1e-6


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


def scree_elbow(eigenvalues, *, head: int = ELBOW_HEAD) -> int:
    """The elbow of a scree: the split of the logarithms of the ``head`` largest
    eigenvalues into a leading and a trailing group that maximises their profile
    likelihood as two normal samples of one variance (Zhu and Ghodsi, Comput. Stat. Data
    Anal. 51, 2006). Returns the size of the leading group (at least 1)."""
    values = np.sort(np.asarray(eigenvalues, dtype=np.float64))[::-1][:head]
    values = values[values > 0]
    if values.size < 3:
        return 1
    d = np.log(values / values[0])
    p = d.size
    best, where = -np.inf, 1
    for q in range(1, p):
        spread = np.sum((d[:q] - d[:q].mean()) ** 2) + np.sum((d[q:] - d[q:].mean()) ** 2)
        variance = max(spread / p, np.finfo(np.float64).tiny)
        likelihood = -0.5 * p * np.log(variance)
        if likelihood > best:
            best, where = likelihood, q
    return int(where)


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
    # a band's residual cannot exceed its own second moment (a nearly singular Gram matrix
    # can give a precision diagonal near zero)
    d = np.minimum(1.0 / np.clip(np.diag(precision), np.finfo(np.float64).tiny, None), np.diag(g))
    dof = max(n - g.shape[0] + 1, 1)
    noise_cov = (d[:, None] * precision * d[None, :]) / dof
    # a band the others predict exactly (few pixels, duplicated bands) keeps a noise floor of
    # NOISE_FLOOR of its root-mean-square, so whitening it stays finite
    floor = (NOISE_FLOOR**2) * np.diag(g) / n + np.finfo(np.float64).tiny
    return noise_cov, np.sqrt(np.maximum(np.diag(noise_cov), floor))


def band_noise_std(spectra: np.ndarray) -> np.ndarray:
    """Per-band noise standard deviation of ``(n, n_channels)`` spectra in memory, float64:
    :func:`band_noise` of their Gram matrix, or where there are too few spectra to regress
    each band on the others (``n <= n_channels + 1``, where the regression fits every band
    exactly and the estimate falls to its floor) the white noise along the spectra
    (:func:`white_noise_sigma`) for every band."""
    spectra = np.asarray(spectra, dtype=np.float64)
    n, c = spectra.shape
    if n <= c + 1:
        return np.full(c, white_noise_sigma(spectra))
    return band_noise(spectra.T @ spectra, n)[1]


def white_noise_sigma(spectra: np.ndarray) -> float:
    """One white-noise standard deviation for ``(n, n_channels)`` spectra: the median over
    the spectra of each one's second-difference estimate (:func:`spectral_noise_sigma`); for
    sparse counts, whose second differences are mostly zero, the root mean square of all
    second differences over √6 (√λ for Poisson counts of mean λ). The floor where even
    that is zero: :data:`NOISE_FLOOR` of the spectra's root-mean-square value."""
    spectra = np.asarray(spectra, dtype=np.float64)
    sigma = spectral_noise_sigma(spectra)
    sigma = sigma[np.isfinite(sigma) & (sigma > 0)]
    if sigma.size > spectra.shape[0] // 2:
        return float(np.median(sigma))
    if spectra.shape[1] >= 3:
        second = spectra[:, :-2] - 2 * spectra[:, 1:-1] + spectra[:, 2:]
        rms = float(np.sqrt(np.nanmean(second**2) / 6.0)) if second.size else 0.0
        if rms > 0:
            return rms
    scale = float(np.sqrt(np.nanmean(spectra**2))) if spectra.size else 1.0
    return NOISE_FLOOR * max(scale, np.finfo(np.float64).tiny)


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
    # v_i' G v_i for every eigenvector, through one matrix product (BLAS): a three-operand
    # einsum loops in C over channels cubed, 40 s for 4 096 channels
    power = np.einsum("ji,ji->i", vectors, (g / n) @ vectors)
    noise = np.einsum("ji,ji->i", vectors, noise_cov @ vectors)
    cost = -power + 2 * noise
    return int(max(1, np.count_nonzero(cost < 0))), cost


@dataclass
class ComponentCount:
    """How many components a cube holds, by several estimates, with the recommendation."""

    hysime: int
    whitened: int
    scree: int
    elbow: int
    explained_variance_ratio: np.ndarray
    noise_std: np.ndarray
    n_pixels: int

    @property
    def recommended(self) -> int:
        """The smaller of the noise-whitened count and the scree elbow plus one.

        The noise-whitened count weighs each direction against the noise of each band,
        with a threshold that holds for small samples (where HySime counts noise
        directions). On real scenes each material's spectral variability, nonlinear mixing
        and structured noise also stand above the white noise (87 directions on Samson,
        which holds 3 materials; every one of 250 pixels' worth on a small scene), so the
        count is capped by the elbow of the centred eigenvalues, plus one for the mean
        spectrum (``k`` mixed materials span ``k - 1`` centred directions). Minor
        components beyond the elbow are then not counted: give ``k`` to keep them.
        """
        return int(max(1, min(self.whitened, self.elbow + 1)))

    @property
    def bounded_by_pixels(self) -> bool:
        """Every direction the pixels span counted as signal (the recommendation reaches
        ``n_pixels - 1``): the count is where the pixels run out, not where the noise
        begins, so they do not say how many components there are."""
        return self.recommended >= self.n_pixels - 1

    @property
    def chosen_by(self) -> str:
        if self.elbow + 1 < self.whitened:
            return (
                f"the elbow of the eigenvalues ({self.elbow} centred directions, plus the mean); {self.whitened} "
                "directions stand above the white noise, the rest read as variability within the components"
            )
        return "noise-whitened eigenvalues above the Marchenko-Pastur edge"

    def to_dict(self) -> dict:
        return {
            "recommended": self.recommended,
            "chosen_by": self.chosen_by,
            "whitened": self.whitened,
            "hysime": self.hysime,
            "scree": self.scree,
            "elbow": self.elbow,
            "scree_variance": SCREE_VARIANCE,
            "explained_variance_ratio": self.explained_variance_ratio[:20].tolist(),
            "noise_std": self.noise_std.tolist(),
            "n_pixels": self.n_pixels,
            "bounded_by_pixels": self.bounded_by_pixels,
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
    if n < 3:
        raise ShapeError(f"Counting components needs at least 3 valid pixels; got {n}.")
    if n > cube.n_channels + 1:
        noise_cov, noise_std = band_noise(gram, n)
    else:  # too few pixels to regress each band on the others: white noise along each spectrum
        pixels = np.asarray(cube.pixels(), dtype=np.float64)
        noise_std = band_noise_std(pixels if valid is None else pixels[np.asarray(valid)])
        noise_cov = np.diag(noise_std**2)
    k, _ = hysime(gram, n, noise_cov)
    mean = total / n
    values = np.clip(np.linalg.eigvalsh((gram - n * np.outer(mean, mean)) / (n - 1))[::-1], 0, None)
    ratio = values / values.sum() if values.sum() > 0 else np.zeros_like(values)
    scree = int(min(np.searchsorted(np.cumsum(ratio), SCREE_VARIANCE) + 1, ratio.size))
    return ComponentCount(
        hysime=k,
        whitened=whitened_count(gram, n, noise_std)[0],
        scree=scree,
        elbow=scree_elbow(values),
        explained_variance_ratio=ratio,
        noise_std=noise_std,
        n_pixels=n,
    )
