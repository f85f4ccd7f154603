"""Spectral–spatial segmentation: noise-whitened features, an edge-preserving spatial step,
a Gaussian mixture and a Potts prior whose strength is estimated from the data.

1. **Noise-whitened features** (MNF): the noise covariance is estimated from the most alike
   quarter of the neighbouring pixel pairs (:func:`neighbour_noise_covariance`: all pairs
   would count edges, lines and textures as noise), the data are whitened by it and the
   components of largest signal-to-noise ratio kept. Noise then has unit variance in every
   kept direction.
2. **Edge-preserving smoothing**: each pixel's features are averaged with its 8 neighbours,
   each weighted by ``exp(-||f_i - f_j||² / (4 d))``. In whitened units two pixels of one
   material differ by about ``2 d`` in squared distance, so neighbours across an edge (or off
   a one-pixel line) that the spectra tell apart get almost no weight.
3. **Gaussian mixture** (full covariance) on the smoothed features: per-pixel log-likelihoods.
4. **Potts prior** solved by iterated conditional modes, with ``beta`` (nats per agreeing
   8-neighbour) maximising the pseudo-likelihood of the mixture's own labels: near 0 for a
   label image with no spatial structure, larger for one made of regions.

In memory only (the cube's pixels and their features are held); see ``benchmarks/
segmentation_real.py`` for how it compares with PCA + k-means and PCA + Gaussian mixture on
real scenes. It is not the default of ``chemmap run``: on Samson it loses to PCA + Gaussian
mixture (see the README).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chemmap.cluster.spatial import neighbour_votes, potts_icm
from chemmap.core.exceptions import InvalidParameterError, ShapeError

__all__ = [
    "SpectralSpatialClusterer",
    "SpectralSpatialResult",
    "edge_preserving_smooth",
    "noise_whitened_features",
    "pseudo_likelihood_beta",
    "spectral_spatial_segmentation",
]

#: Potts strengths searched by the pseudo-likelihood (nats per agreeing neighbour).
BETA_GRID = np.linspace(0.0, 3.0, 31)


def noise_whitened_features(image: np.ndarray, n_components: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """MNF components of a ``(height, width, channels)`` image, largest SNR first.

    Returns
    -------
    features : ndarray of shape (height, width, n_components)
        Unit noise variance in every component.
    snr : ndarray of shape (n_components,)
        Variance of each component (signal + unit noise).
    """
    img = np.asarray(image, dtype=np.float64)
    if img.ndim != 3 or img.shape[1] < 2:
        raise ShapeError(f"noise_whitened_features needs an image at least 2 pixels wide; got shape {img.shape}.")
    h, w, c = img.shape
    x = img.reshape(-1, c)
    centred = x - x.mean(axis=0)
    noise = neighbour_noise_covariance(img)
    values, vectors = np.linalg.eigh(noise)
    whitening = vectors / np.sqrt(np.maximum(values, values.max() * 1e-12))
    z = centred @ whitening
    variances, rotation = np.linalg.eigh(np.cov(z.T).reshape(c, c))
    order = np.argsort(variances)[::-1][: min(n_components, c)]
    return (z @ rotation[:, order]).reshape(h, w, -1), variances[order]


#: Share of neighbour pairs (the most alike) that the noise is estimated from.
NOISE_PAIR_SHARE = 0.25


def neighbour_noise_covariance(image: np.ndarray, share: float = NOISE_PAIR_SHARE) -> np.ndarray:
    """Noise covariance from the most alike horizontal and vertical neighbour pairs.

    Half the covariance of all neighbour differences counts every edge, line and texture
    as noise (and whitening then erases them). Only the ``share`` of pairs with the smallest
    differences are used, pairs within one material whatever the image's structure, and the
    truncation is undone by the ratio of a chi-square's mean to its mean below the same
    quantile (the noise is taken as Gaussian).
    """
    from scipy.stats import chi2

    img = np.asarray(image, dtype=np.float64)
    c = img.shape[2]
    pairs = np.concatenate([(img[:, 1:] - img[:, :-1]).reshape(-1, c), (img[1:, :] - img[:-1, :]).reshape(-1, c)])
    pairs = pairs[np.all(np.isfinite(pairs), axis=1)]
    norms = np.einsum("ij,ij->i", pairs, pairs)
    kept = pairs[norms <= np.quantile(norms, share)]
    covariance = kept.T @ kept / max(kept.shape[0], 1) / 2
    cut = chi2.ppf(share, c)
    truncated_mean = chi2.cdf(cut, c + 2) * c / share  # E[X | X <= cut] for X ~ chi2(c)
    covariance *= c / max(truncated_mean, 1e-12)
    return covariance + np.eye(c) * max(np.trace(covariance) / c, 1e-30) * 1e-9


def edge_preserving_smooth(features: np.ndarray, iterations: int = 1) -> np.ndarray:
    """Average each pixel with its 8 neighbours weighted by feature similarity (features in
    units of their noise); ``iterations`` passes."""
    f = np.asarray(features, dtype=np.float64)
    h, w, d = f.shape
    scale = 4.0 * d
    for _ in range(iterations):
        pad = np.pad(f, ((1, 1), (1, 1), (0, 0)), mode="edge")
        total, weights = f.copy(), np.ones((h, w, 1))
        for dr in (-1, 0, 1):
            for dc in (-1, 0, 1):
                if dr == dc == 0:
                    continue
                neighbour = pad[1 + dr : 1 + dr + h, 1 + dc : 1 + dc + w]
                weight = np.exp(-np.sum((neighbour - f) ** 2, axis=2, keepdims=True) / scale)
                total += weight * neighbour
                weights += weight
        f = total / weights
    return f


def pseudo_likelihood_beta(labels: np.ndarray, k: int, grid=BETA_GRID) -> float:
    """The Potts ``beta`` that makes ``labels`` most likely given their 8-neighbours."""
    votes = neighbour_votes(np.asarray(labels), k).astype(np.float64)
    own = np.take_along_axis(votes, np.clip(labels, 0, None)[..., None], axis=2)[..., 0]
    valid = labels >= 0
    scores = [np.sum((b * own - np.log(np.exp(b * votes).sum(axis=2)))[valid]) for b in grid]
    return float(grid[int(np.argmax(scores))])


@dataclass
class SpectralSpatialResult:
    """Labels, probabilities and how the spatial steps went."""

    labels: np.ndarray
    probabilities: np.ndarray
    uncertainty: np.ndarray
    beta: float
    changed: int
    n_components: int


def spectral_spatial_segmentation(
    image: np.ndarray, k: int, *, n_components: int = 10, smoothing: int = 1, random_state: int = 0
) -> SpectralSpatialResult:
    """Segment a ``(height, width, channels)`` image into ``k`` clusters (see the module doc).

    Parameters
    ----------
    image : ndarray of shape (height, width, channels)
    k : int
    n_components : int
        MNF components kept.
    smoothing : int
        Passes of the edge-preserving smoothing (0: none).
    random_state : int

    Returns
    -------
    SpectralSpatialResult
        ``probabilities`` (height, width, k) from the mixture's log-likelihoods plus the Potts
        votes of the final labels; ``uncertainty`` = 1 - the largest probability.
    """
    if not isinstance(k, int | np.integer) or k < 1:
        raise InvalidParameterError(f"k must be a positive integer; got {k!r}.")
    features, _ = noise_whitened_features(image, n_components)
    if smoothing:
        features = edge_preserving_smooth(features, smoothing)
    return _segment_features(features, int(k), None, random_state)


def _segment_features(features: np.ndarray, k: int, valid, random_state: int) -> SpectralSpatialResult:
    """Mixture, Potts labels and probabilities of a feature image (``valid``: pixels that count)."""
    from chemmap.cluster.methods import cluster_methods

    h, w, d = features.shape
    valid = np.ones((h, w), bool) if valid is None else np.asarray(valid, bool)
    flat = features.reshape(-1, d)
    fit = cluster_methods.get("gmm")(flat[valid.reshape(-1)], k, random_state=random_state, n_init=3)
    loglik = fit.model.weighted_log_prob(flat).reshape(h, w, k)
    beta = pseudo_likelihood_beta(np.where(valid, np.argmax(loglik, axis=2), -1), k)
    labels, changed = potts_icm(loglik, beta, valid=valid)
    energy = loglik + beta * neighbour_votes(labels, k)
    energy -= energy.max(axis=2, keepdims=True)
    probabilities = np.exp(energy)
    probabilities /= probabilities.sum(axis=2, keepdims=True)
    uncertainty = np.where(valid, 1 - probabilities.max(axis=2), np.nan).astype(np.float32)
    return SpectralSpatialResult(labels, probabilities.astype(np.float32), uncertainty, beta, changed, d)


class SpectralSpatialClusterer:
    """:func:`spectral_spatial_segmentation` with the attributes of a fitted
    :class:`~chemmap.cluster.PixelClusterer`, for ``chemmap run --method spectral-spatial``.

    Works on cubes in memory (the spatial steps need the whole image). Invalid pixels are
    filled with the mean spectrum for the features and labelled -1.
    """

    method = "spectral-spatial"
    features = "mnf"
    #: The clustering the stability check refits on the features.
    refit_method = "gmm"

    def __init__(self, k="auto", *, criterion="silhouette", k_range=(2, 10), n_components=10, smoothing=1,
                 random_state=0):  # fmt: skip
        self.k, self.criterion, self.k_range = k, criterion, tuple(k_range)
        self.n_components, self.smoothing, self.random_state = n_components, smoothing, random_state

    def method_options(self) -> dict:
        return {"n_init": 3}

    def fit(self, cube, progress=None) -> SpectralSpatialClusterer:
        from chemmap._shared.progress import notify
        from chemmap.cluster.selection import choose_k

        if cube.is_lazy:
            raise InvalidParameterError(
                "method 'spectral-spatial' holds the whole image in memory; this cube is read lazily. To fix "
                "this, read it with lazy=false (if it fits) or use method 'kmeans' or 'gmm'."
            )
        h, w = cube.image_shape
        valid = cube.valid_pixels().reshape(h, w)
        image = np.asarray(cube.data, dtype=np.float64).copy()
        image[~valid] = image[valid].mean(axis=0)
        notify(progress, "spectral-spatial features", 0, 2)
        features, _ = noise_whitened_features(image, self.n_components)
        if self.smoothing:
            features = edge_preserving_smooth(features, self.smoothing)
        rows = features.reshape(-1, features.shape[2])[valid.reshape(-1)]
        self.k_selection_ = None
        k = self.k
        if k == "auto":
            k, self.k_selection_ = choose_k(
                rows, self.k_range, method="gmm", criterion=self.criterion, random_state=self.random_state,
                method_options=self.method_options(),
            )  # fmt: skip
        result = _segment_features(features, int(k), valid, self.random_state)
        notify(progress, "spectral-spatial features", 2, 2)
        self.k_ = int(k)
        self.label_image_ = result.labels
        self.labels_ = result.labels[valid]
        self.features_ = rows
        self.probabilities_, self.uncertainty_ = result.probabilities, result.uncertainty
        self.cleanup_ = {"potts_beta": result.beta, "n_pixels_changed": result.changed}
        self.notes_ = [
            f"spectral-spatial: {features.shape[2]} MNF components, {self.smoothing} edge-preserving smoothing "
            f"pass(es), Gaussian mixture, Potts beta {result.beta:.2f} (pseudo-likelihood) changed "
            f"{result.changed} labels"
        ]
        return self
