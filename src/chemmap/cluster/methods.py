"""Clustering algorithms over a feature matrix, registered by name.

Each method is ``fit(features, k, *, random_state, **options) -> ClusterResult``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chemmap._shared.blockwise import FEATURE_BLOCK_BYTES, reduce_blocks, row_blocks, take_rows
from chemmap._shared.compute import compute
from chemmap._shared.validation import check_random_state
from chemmap.cluster.kmeans import KMeansModel, fit_kmeans
from chemmap.cluster.mixture import fit_gaussian_mixture
from chemmap.core.registry import Registry

__all__ = ["HIERARCHICAL_MAX_SAMPLES", "ClusterResult", "cluster_methods", "nearest_centroid", "size_order"]

#: Ward clustering is O(n^2) in memory; above this many pixels it runs on a seeded sample
#: and the other pixels join the nearest centroid.
HIERARCHICAL_MAX_SAMPLES = 5000


@dataclass
class ClusterResult:
    """Labels (0..k-1, one per feature row), centroids and a model-based BIC."""

    labels: np.ndarray
    centroids: np.ndarray
    bic: float
    inertia: float
    notes: str = ""
    model: object = None

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Labels of new rows: the fitted model's rule, else the nearest centroid."""
        if self.model is not None and hasattr(self.model, "predict"):
            return _labels(self.model.predict(features))
        return nearest_centroid(features, self.centroids)


def nearest_centroid(features, centroids: np.ndarray) -> np.ndarray:
    """Index of the nearest centroid of every row (NumPy or Dask rows), in memory."""
    return _labels(KMeansModel(np.asarray(centroids, dtype=np.float64)).predict(features))


def size_order(labels: np.ndarray, k: int) -> np.ndarray:
    """Mapping that renumbers clusters 0..k-1 from largest to smallest (stable outputs)."""
    counts = np.bincount(labels, minlength=k)
    order = np.argsort(-counts, kind="stable")
    mapping = np.empty(k, dtype=np.int64)
    mapping[order] = np.arange(k)
    return mapping


def _labels(lazy_or_array) -> np.ndarray:
    (labels,) = compute(lazy_or_array, stage="labels")
    return np.asarray(labels, dtype=np.int64)


def _inertia(features, labels: np.ndarray, centroids: np.ndarray) -> float:
    """Sum of squared distances of the rows to their centroids, by blocks."""

    def partial(block: np.ndarray, block_labels: np.ndarray, rows: slice) -> float:
        diff = block.astype(np.float64) - centroids[block_labels]
        return float(np.sum(diff * diff))

    total = reduce_blocks(partial, features, labels, block_bytes=FEATURE_BLOCK_BYTES, summed=True, stage="inertia")
    return float(total)


def spherical_bic(n_features: int, labels: np.ndarray, k: int, inertia: float) -> float:
    """BIC of a hard spherical Gaussian mixture with one shared variance (X-means style).

    Lower is better. ``n d log(SSE / (n d)) + p log n`` with ``p = k d + 1`` parameters
    (up to constants shared by every k); ``inertia`` is the SSE of ``labels``.
    """
    n, d = labels.size, n_features
    sse = max(inertia, 1e-300)
    counts = np.bincount(labels, minlength=k)
    log_lik = -0.5 * n * d * np.log(sse / (n * d)) + np.sum(counts[counts > 0] * np.log(counts[counts > 0] / n))
    return float(-2 * log_lik + (k * d + k) * np.log(n))


def _kmeans(features, k, *, random_state, n_init=10, progress=None, **_):
    model = fit_kmeans(features, k, n_init=n_init, random_state=random_state, progress=progress)
    labels = _labels(model.predict(features))
    inertia = _inertia(features, labels, model.centroids)
    notes = "" if model.converged else f"k-means stopped after {model.n_iter} passes without converging."
    bic = spherical_bic(features.shape[1], labels, k, inertia)
    return ClusterResult(labels, model.centroids, bic, inertia, notes, model=model)


def _gmm(features, k, *, random_state, n_init=3, covariance_type="full", progress=None, **_):
    model = fit_gaussian_mixture(
        features, k, covariance_type=covariance_type, n_init=n_init, random_state=random_state, progress=progress
    )
    labels = _labels(model.predict(features))
    notes = "" if model.converged else f"EM stopped after {model.n_iter} passes without converging."
    return ClusterResult(labels, model.means, model.bic(), _inertia(features, labels, model.means), notes, model=model)


def _hierarchical(features, k, *, random_state, **_):
    n = features.shape[0]
    notes = ""
    if n > HIERARCHICAL_MAX_SAMPLES:
        rng = check_random_state(random_state)
        idx = np.sort(rng.choice(n, HIERARCHICAL_MAX_SAMPLES, replace=False))
        sample = take_rows(features, idx)
        notes = (
            f"Ward linkage fitted on a seeded sample of {HIERARCHICAL_MAX_SAMPLES} of {n} pixels; "
            "the rest joined the nearest centroid."
        )
    else:
        sample = take_rows(features, np.arange(n))
    sample_labels = ward_labels(sample, k)
    centroids = np.stack([sample[sample_labels == j].mean(axis=0) for j in range(k)])
    labels = nearest_centroid(features, centroids) if n > HIERARCHICAL_MAX_SAMPLES else sample_labels.astype(np.int64)
    inertia = _inertia(features, labels, centroids)
    return ClusterResult(labels, centroids, spherical_bic(features.shape[1], labels, k, inertia), inertia, notes)


def ward_labels(rows: np.ndarray, k: int) -> np.ndarray:
    """Ward's agglomerative clustering of ``rows`` cut into ``k`` clusters: SciPy's linkage
    (the tree scikit-learn's ``AgglomerativeClustering`` builds), on pairwise distances
    computed by matrix products, a band of rows at a time, instead of one feature at a time
    (5 000 spectra of 2 048 channels: 6.5 s in SciPy's ``pdist``), and without importing
    scikit-learn (1.2 s)."""
    from scipy.cluster.hierarchy import linkage

    x = np.asarray(rows, dtype=np.float64)  # not centred: counts stay integers, their distances exact
    n = x.shape[0]
    if n < 2:
        return np.zeros(n, dtype=np.int64)
    squares = np.einsum("ij,ij->i", x, x)
    condensed = np.empty(n * (n - 1) // 2)
    start = 0
    for band in row_blocks(n, n * 8, FEATURE_BLOCK_BYTES):
        after = slice(band.start, n)  # the upper triangle only
        distances = squares[band, None] + squares[None, after] - 2.0 * (x[band] @ x[after].T)
        np.sqrt(np.maximum(distances, 0.0, out=distances), out=distances)
        for offset in range(band.stop - band.start):
            condensed[start : start + n - band.start - offset - 1] = distances[offset, offset + 1 :]
            start += n - band.start - offset - 1
    return _first_merges(linkage(condensed, method="ward"), n, min(k, n))


def _first_merges(tree: np.ndarray, n: int, k: int) -> np.ndarray:
    """Cluster of each of ``n`` leaves after the first ``n - k`` merges of a linkage ``tree``
    (SciPy's ``cut_tree`` walks the tree again for every merge: 1.8 s for 2 000 leaves
    of which 1 500 are equal)."""
    root = np.arange(2 * n - 1)

    def find(node: int) -> int:
        while root[node] != node:
            root[node] = root[root[node]]
            node = root[node]
        return node

    for step, (a, b) in enumerate(tree[: n - k, :2].astype(np.int64)):
        root[find(a)] = root[find(b)] = n + step
    return np.unique([find(leaf) for leaf in range(n)], return_inverse=True)[1].astype(np.int64)


cluster_methods = Registry("clustering method")
cluster_methods.register("kmeans", _kmeans)
cluster_methods.register("gmm", _gmm)
cluster_methods.register("hierarchical", _hierarchical)
