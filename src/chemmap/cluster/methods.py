"""Clustering algorithms over a feature matrix, registered by name.

Each method is ``fit(features, k, *, random_state, **options) -> ClusterResult``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chemmap._shared.validation import check_random_state
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
    c2 = np.sum(centroids.astype(np.float64) ** 2, axis=1)
    for start in range(0, features.shape[0], block):
        f = features[start : start + block].astype(np.float64)
        out[start : start + block] = np.argmin(c2 - 2 * f @ centroids.T, axis=1)
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


def _kmeans(features, k, *, random_state, n_init=10, **_):
    from sklearn.cluster import KMeans

    model = KMeans(n_clusters=k, init="k-means++", n_init=n_init, random_state=random_state).fit(features)
    labels = model.labels_.astype(np.int64)
    return ClusterResult(
        labels,
        model.cluster_centers_,
        spherical_bic(features, labels, model.cluster_centers_),
        float(model.inertia_),
        model=model,
    )


def _gmm(features, k, *, random_state, n_init=3, covariance_type="full", **_):
    from sklearn.mixture import GaussianMixture

    model = GaussianMixture(
        n_components=k, covariance_type=covariance_type, n_init=n_init, random_state=random_state, reg_covar=1e-5
    ).fit(features)
    labels = model.predict(features).astype(np.int64)
    return ClusterResult(
        labels, model.means_, float(model.bic(features)), _inertia(features, labels, model.means_), model=model
    )


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
