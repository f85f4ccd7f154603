"""Clustering algorithms over a feature matrix, registered by name.

Each method is ``fit(features, k, *, random_state, **options) -> ClusterResult``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chemmap._shared.validation import check_random_state
from chemmap.cluster.kmeans import fit_kmeans, squared_distances
from chemmap.cluster.mixture import fit_gaussian_mixture
from chemmap.core.registry import Registry

__all__ = ["HIERARCHICAL_MAX_SAMPLES", "ClusterResult", "cluster_methods", "nearest_centroid"]

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
            return np.asarray(self.model.predict(features), dtype=np.int64)
        return nearest_centroid(features, self.centroids)


def nearest_centroid(features: np.ndarray, centroids: np.ndarray, block: int = 65536) -> np.ndarray:
    """Index of the nearest centroid (Euclidean) of each row, block by block."""
    out = np.empty(features.shape[0], dtype=np.int64)
    for start in range(0, features.shape[0], block):
        out[start : start + block] = np.argmin(squared_distances(features[start : start + block], centroids), axis=1)
    return out


def _inertia(features, labels, centroids) -> float:
    diff = features.astype(np.float64) - centroids[labels]
    return float(np.sum(diff * diff))


def spherical_bic(features: np.ndarray, labels: np.ndarray, centroids: np.ndarray) -> float:
    """BIC of a hard spherical Gaussian mixture with one shared variance (X-means style).

    Lower is better. ``n d log(SSE / (n d)) + p log n`` with ``p = k d + 1`` parameters
    (up to constants shared by every k).
    """
    n, d = features.shape
    k = centroids.shape[0]
    sse = max(_inertia(features, labels, centroids), 1e-300)
    counts = np.bincount(labels, minlength=k)
    log_lik = -0.5 * n * d * np.log(sse / (n * d)) + np.sum(counts[counts > 0] * np.log(counts[counts > 0] / n))
    return float(-2 * log_lik + (k * d + k) * np.log(n))


def _kmeans(features, k, *, random_state, n_init=10, progress=None, **_):
    model = fit_kmeans(features, k, n_init=n_init, random_state=random_state, progress=progress)
    labels = np.asarray(model.predict(features), dtype=np.int64)
    inertia = _inertia(features, labels, model.centroids)
    notes = "" if model.converged else f"k-means stopped after {model.n_iter} passes without converging."
    return ClusterResult(
        labels, model.centroids, spherical_bic(features, labels, model.centroids), inertia, notes, model=model
    )


def _gmm(features, k, *, random_state, n_init=3, covariance_type="full", progress=None, **_):
    model = fit_gaussian_mixture(
        features, k, covariance_type=covariance_type, n_init=n_init, random_state=random_state, progress=progress
    )
    labels = np.asarray(model.predict(features), dtype=np.int64)
    notes = "" if model.converged else f"EM stopped after {model.n_iter} passes without converging."
    return ClusterResult(labels, model.means, model.bic(), _inertia(features, labels, model.means), notes, model=model)


def _hierarchical(features, k, *, random_state, **_):
    from sklearn.cluster import AgglomerativeClustering

    n = features.shape[0]
    notes = ""
    if n > HIERARCHICAL_MAX_SAMPLES:
        rng = check_random_state(random_state)
        idx = np.sort(rng.choice(n, HIERARCHICAL_MAX_SAMPLES, replace=False))
        sample = features[idx]
        notes = (
            f"Ward linkage fitted on a seeded sample of {HIERARCHICAL_MAX_SAMPLES} of {n} pixels; "
            "the rest joined the nearest centroid."
        )
    else:
        sample = features
    sample_labels = AgglomerativeClustering(n_clusters=k, linkage="ward").fit_predict(sample)
    centroids = np.stack([sample[sample_labels == j].mean(axis=0) for j in range(k)])
    labels = nearest_centroid(features, centroids) if n > HIERARCHICAL_MAX_SAMPLES else sample_labels.astype(np.int64)
    return ClusterResult(
        labels, centroids, spherical_bic(features, labels, centroids), _inertia(features, labels, centroids), notes
    )


cluster_methods = Registry("clustering method")
cluster_methods.register("kmeans", _kmeans)
cluster_methods.register("gmm", _gmm)
cluster_methods.register("hierarchical", _hierarchical)
