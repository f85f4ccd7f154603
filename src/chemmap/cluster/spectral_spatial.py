"""Spectral–spatial segmentation: noise-whitened features, an edge-preserving spatial step,
a Gaussian mixture and a Potts prior whose strength is estimated from the data.

1. **Noise-whitened features** (MNF): the noise covariance is estimated from the most alike
   quarter of the neighbouring pixel pairs (:func:`neighbour_noise_covariance`: all pairs
   would count edges, lines and textures as noise), the data are whitened by it and the
   components of largest signal-to-noise ratio kept: ``k`` of them, fewer where fewer rise
   above the noise, at most ``n_components`` (:func:`component_count`). Noise then has unit
   variance in every kept direction.
2. **Edge-preserving smoothing**: each pixel's features are averaged with its 8 neighbours,
   each weighted by ``exp(-||f_i - f_j||² / (4 d))``. In whitened units two pixels of one
   material differ by about ``2 d`` in squared distance, so neighbours across an edge (or off
   a one-pixel line) that the spectra tell apart get almost no weight.
3. **Gaussian mixture** (full covariance) on the smoothed features: per-pixel log-likelihoods.
   A pixel that lies, within the noise, between the means of its two most likely classes is
   read as their mixture and given to the majority class (:func:`mixed_pixel_log_likelihood`).
4. **Potts prior** solved by iterated conditional modes, with ``beta`` (nats per agreeing
   8-neighbour) maximising the pseudo-likelihood of the mixture's own labels: near 0 for a
   label image with no spatial structure, larger for one made of regions.

With ``k="auto"`` the number of clusters is chosen on k-means partitions of the features
(silhouette by default): a full-covariance mixture's elongated clusters score low on every
distance-based criterion.

In memory only (the cube's pixels and their features are held); see ``benchmarks/
segmentation_real.py`` for how it compares with PCA + k-means and PCA + Gaussian mixture on
real scenes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chemmap.cluster.spatial import neighbour_votes, potts_icm
from chemmap.core.exceptions import InvalidParameterError, ShapeError

__all__ = [
    "SpectralSpatialClusterer",
    "SpectralSpatialResult",
    "component_count",
    "edge_preserving_smooth",
    "mixed_pixel_log_likelihood",
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


#: MNF components count as signal where their variance is at least this many times the
#: noise's (signal variance >= noise variance).
SIGNIFICANT_SNR = 2.0


def component_count(k: int, snr: np.ndarray) -> int:
    """MNF components the mixture is fitted on: ``k``, or fewer where fewer rise above the noise.

    ``k`` class means span ``k - 1`` directions; one more keeps the largest within-class
    direction (brightness, moisture). More components add within-class variation that a
    full-covariance mixture spends its clusters on: chosen across the scenes of
    ``benchmarks/segmentation_real.py`` (Indian Pines, Samson and the synthetic traps).
    """
    significant = int(np.count_nonzero(np.asarray(snr) >= SIGNIFICANT_SNR))
    return max(1, min(int(k), significant, len(snr)))


#: Significance of the test that a pixel lies on the segment between two class means
#: (chi-square of its whitened residual).
MIXED_PIXEL_ALPHA = 1e-3


def mixed_pixel_log_likelihood(
    features: np.ndarray, loglik: np.ndarray, means: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Give pixels that are mixtures of two classes the likelihood of their majority class.

    A Gaussian mixture gives a mixed pixel to the wider of its two classes, wherever it lies
    between them. A pixel whose noise-whitened ``features`` (unit noise) lie on the segment
    between the means of its two most likely classes, within the noise (chi-square test at
    :data:`MIXED_PIXEL_ALPHA`), is read as ``(1 - t) a + t b``: the two classes share their
    summed likelihood in proportion ``1 - t : t``, so its label is the majority class and its
    probability the class's share. The class means are taken from the pixels that are not
    such mixtures (a class's mean is otherwise drawn towards its mixtures).

    Returns
    -------
    loglik : ndarray like ``loglik``
    mixed : ndarray of bool, shape (height, width)
        Pixels read as two-class mixtures.
    """
    h, w, k = loglik.shape
    x = features.reshape(-1, features.shape[-1])
    lp = loglik.reshape(-1, k)
    if k < 2:
        return loglik, np.zeros((h, w), bool)
    top = np.argsort(lp, axis=1)[:, ::-1][:, :2]
    t, mixed = _segment_position(x, means, top)
    interior = mixed & (t > 0.1) & (t < 0.9)
    core = np.stack(
        [x[(top[:, 0] == j) & ~interior].mean(axis=0) if np.any((top[:, 0] == j) & ~interior) else means[j]
         for j in range(k)]
    )  # fmt: skip
    t, mixed = _segment_position(x, core, top)
    out = lp.copy()
    rows = np.flatnonzero(mixed)
    a, b = top[rows, 0], top[rows, 1]
    total = np.logaddexp(lp[rows, a], lp[rows, b])
    share = np.clip(t[rows], 1e-6, 1 - 1e-6)
    out[rows, a] = total + np.log1p(-share)
    out[rows, b] = total + np.log(share)
    return out.reshape(h, w, k), mixed.reshape(h, w)


def _segment_position(x: np.ndarray, means: np.ndarray, top: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Position ``t`` of each row along the segment from ``means[top[:, 0]]`` to
    ``means[top[:, 1]]``, and whether it lies on it within unit noise."""
    from scipy.stats import chi2

    start, step = means[top[:, 0]], means[top[:, 1]] - means[top[:, 0]]
    t = np.einsum("ij,ij->i", x - start, step) / np.maximum(np.einsum("ij,ij->i", step, step), 1e-300)
    residual = x - start - np.clip(t, 0, 1)[:, None] * step
    limit = chi2.ppf(1 - MIXED_PIXEL_ALPHA, max(x.shape[1] - 1, 1))
    return t, (t > 0) & (t < 1) & (np.einsum("ij,ij->i", residual, residual) <= limit)


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
    n_mixed: int
    #: The (smoothed) features the mixture was fitted on, ``(height, width, n_components)``.
    features: np.ndarray


def spectral_spatial_segmentation(
    image: np.ndarray, k: int, *, n_components: int = 10, smoothing: int = 1, random_state: int = 0
) -> SpectralSpatialResult:
    """Segment a ``(height, width, channels)`` image into ``k`` clusters (see the module doc).

    Parameters
    ----------
    image : ndarray of shape (height, width, channels)
    k : int
    n_components : int
        Most MNF components kept (:func:`component_count` says how many below that).
    smoothing : int
        Passes of the edge-preserving smoothing (0: none).
    random_state : int

    Returns
    -------
    SpectralSpatialResult
        ``probabilities`` (height, width, k) from the mixture's log-likelihoods (mixed pixels
        shared by their two classes) plus the Potts votes of the final labels;
        ``uncertainty`` = 1 - the largest probability.
    """
    if not isinstance(k, int | np.integer) or k < 1:
        raise InvalidParameterError(f"k must be a positive integer; got {k!r}.")
    whitened, snr = noise_whitened_features(image, MAX_COMPONENTS)
    d = min(component_count(k, snr), int(n_components))
    return _segment_features(whitened[..., :d], int(k), None, smoothing, random_state)


#: MNF components computed (the signal-to-noise ratios of these decide how many are kept).
MAX_COMPONENTS = 30


def _segment_features(whitened: np.ndarray, k: int, valid, smoothing: int, random_state: int) -> SpectralSpatialResult:
    """Mixture, mixed pixels, Potts labels and probabilities of a whitened feature image
    (``valid``: pixels that count)."""
    from chemmap.cluster.methods import cluster_methods

    h, w, d = whitened.shape
    valid = np.ones((h, w), bool) if valid is None else np.asarray(valid, bool)
    smoothed = edge_preserving_smooth(whitened, smoothing) if smoothing else whitened
    flat = smoothed.reshape(-1, d)
    fit = cluster_methods.get("gmm")(flat[valid.reshape(-1)], k, random_state=random_state, n_init=3)
    loglik = fit.model.weighted_log_prob(flat).reshape(h, w, k)
    loglik, mixed = mixed_pixel_log_likelihood(whitened, loglik, fit.model.means)
    beta = pseudo_likelihood_beta(np.where(valid, np.argmax(loglik, axis=2), -1), k)
    labels, changed = potts_icm(loglik, beta, valid=valid)
    energy = loglik + beta * neighbour_votes(labels, k)
    energy -= energy.max(axis=2, keepdims=True)
    probabilities = np.exp(energy)
    probabilities /= probabilities.sum(axis=2, keepdims=True)
    uncertainty = np.where(valid, 1 - probabilities.max(axis=2), np.nan).astype(np.float32)
    n_mixed = int(np.count_nonzero(mixed & valid))
    return SpectralSpatialResult(
        labels, probabilities.astype(np.float32), uncertainty, beta, changed, d, n_mixed, smoothed
    )


class SpectralSpatialClusterer:
    """:func:`spectral_spatial_segmentation` with the attributes of a fitted
    :class:`~chemmap.cluster.PixelClusterer`, for ``chemmap run --method spectral-spatial``.

    Works on cubes in memory (the spatial steps need the whole image). Invalid pixels are
    filled with the mean spectrum for the features and labelled -1. ``n_components`` caps the
    MNF components (a variance fraction, which applies to PCA, caps them at
    :data:`MAX_COMPONENTS`).
    """

    method = "spectral-spatial"
    features = "mnf"
    #: The clustering the stability check refits on the features.
    refit_method = "gmm"

    def __init__(self, k="auto", *, criterion="silhouette", k_range=(2, 10), n_components=10, smoothing=1,
                 random_state=0):  # fmt: skip
        self.k, self.criterion, self.k_range = k, criterion, tuple(k_range)
        self.n_components = n_components if isinstance(n_components, int) else MAX_COMPONENTS
        self.smoothing, self.random_state = smoothing, random_state

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
        whitened, snr = noise_whitened_features(image, MAX_COMPONENTS)
        self.k_selection_ = None
        k = self.k
        if k == "auto":
            d = component_count(self.n_components, snr)
            rows = edge_preserving_smooth(whitened[..., :d], self.smoothing).reshape(-1, d)[valid.reshape(-1)]
            k, self.k_selection_ = choose_k(
                rows, self.k_range, method="kmeans", criterion=self.criterion, random_state=self.random_state
            )
        d = min(component_count(k, snr), self.n_components)
        result = _segment_features(whitened[..., :d], int(k), valid, self.smoothing, self.random_state)
        notify(progress, "spectral-spatial features", 2, 2)
        self.k_ = int(k)
        self.label_image_ = result.labels
        self.labels_ = result.labels[valid]
        self.features_ = result.features.reshape(-1, d)[valid.reshape(-1)]
        self.probabilities_, self.uncertainty_ = result.probabilities, result.uncertainty
        self.cleanup_ = {
            "potts_beta": result.beta, "n_pixels_changed": result.changed, "n_mixed_pixels": result.n_mixed
        }  # fmt: skip
        self.notes_ = [
            f"spectral-spatial: {d} MNF components, {self.smoothing} edge-preserving smoothing pass(es), Gaussian "
            f"mixture; {result.n_mixed} pixels read as two-class mixtures (labelled by their majority class); Potts "
            f"beta {result.beta:.2f} (pseudo-likelihood) changed {result.changed} labels"
        ]
        return self
