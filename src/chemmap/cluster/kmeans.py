"""k-means from block partials: k-means++ restarts on a small seeded sample choose the
start, Lloyd iterations on a larger sample bring it near the optimum, then Lloyd passes over
all blocks (each block returns per-cluster sums, counts and its inertia) finish it. In
memory the same passes run over NumPy blocks."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from chemmap._shared.blockwise import FEATURE_BLOCK_BYTES, map_spectra, reduce_blocks, take_rows
from chemmap._shared.progress import ProgressCallback
from chemmap._shared.sampling import seeded_sample
from chemmap._shared.validation import check_random_state

__all__ = [
    "INIT_SAMPLE",
    "RESTART_SAMPLE",
    "KMeansModel",
    "fit_kmeans",
    "kmeans_plusplus",
    "lloyd_in_memory",
    "sample_rows",
]

#: Pixels (seeded sample) on which the best restart is refined before the passes over all.
INIT_SAMPLE = 50_000
#: Pixels (the first of the seeded sample) on which the ``n_init`` restarts compete.
RESTART_SAMPLE = 10_000


def squared_distances(x: np.ndarray, centroids: np.ndarray, *, squares: np.ndarray | None = None) -> np.ndarray:
    """``(n, k)`` squared Euclidean distances, in float64; ``squares``: the rows' ``|x|²``,
    when they are known already."""
    x = x.astype(np.float64, copy=False)
    squares = np.einsum("ij,ij->i", x, x) if squares is None else squares
    d = squares[:, None] - 2.0 * (x @ centroids.T) + np.sum(centroids * centroids, axis=1)[None, :]
    return np.maximum(d, 0.0)


def sample_rows(features, size: int, rng: np.random.Generator):
    """A seeded sample of finite rows in memory (float64), its indices and mean feature variance."""
    idx = seeded_sample(int(features.shape[0]), size, rng)
    sample = take_rows(features, idx).astype(np.float64)
    sample = sample[np.all(np.isfinite(sample), axis=1)]
    return idx, sample, float(np.mean(np.var(sample, axis=0))) or 1.0


@dataclass
class KMeansModel:
    """Fitted centroids; labels are the nearest centroid."""

    centroids: np.ndarray
    inertia: float = float("nan")
    n_iter: int = 0
    converged: bool = True

    def predict(self, features):
        """Nearest centroid of each row: ``(n,)`` int64, lazy for Dask input."""
        centroids = self.centroids

        def nearest(x: np.ndarray) -> np.ndarray:
            return np.argmin(squared_distances(x, centroids), axis=1)[:, None]

        out = map_spectra(nearest, features, n_out=1, dtype=np.int64, block_bytes=FEATURE_BLOCK_BYTES)
        return out[:, 0]


def kmeans_plusplus(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Greedy k-means++ seeding (Arthur & Vassilvitskii 2007) with ``2 + log k`` trials per centre."""
    x = x.astype(np.float64, copy=False)
    n = x.shape[0]
    squares = np.einsum("ij,ij->i", x, x)
    trials = 2 + int(np.log(k))
    centres = np.empty((k, x.shape[1]))
    centres[0] = x[rng.integers(n)]
    closest = squared_distances(x, centres[:1])[:, 0]
    for c in range(1, k):
        potential = closest.sum()
        if potential <= 0:
            centres[c:] = x[rng.integers(n, size=k - c)]
            break
        picks = np.searchsorted(np.cumsum(closest), rng.random(trials) * potential)
        picks = np.minimum(picks, n - 1)
        candidate = np.minimum(closest[None, :], squared_distances(x, x[picks], squares=squares).T)
        best = int(np.argmin(candidate.sum(axis=1)))
        centres[c] = x[picks[best]]
        closest = candidate[best]
    return centres


def _nearest(x: np.ndarray, centroids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The nearest centroid of each row of ``x`` (float64) and ``x . c - |c|^2 / 2`` for it,
    which is ``(|x|^2 - |x - c|^2) / 2``: the largest of these is the nearest centroid, with
    one ``(n, k)`` array instead of the distances' three."""
    scores = x @ centroids.T
    scores -= 0.5 * np.einsum("ij,ij->i", centroids, centroids)
    labels = scores.argmax(axis=1)
    return labels, scores[np.arange(labels.size), labels]


def _update(x: np.ndarray, centroids: np.ndarray):
    """Per-cluster sums and counts, and the inertia, of one block."""
    x = x.astype(np.float64, copy=False)
    x = x[np.all(np.isfinite(x), axis=1)]
    labels, best = _nearest(x, centroids)
    sums, counts = _cluster_sums(x, labels, np.zeros((x.shape[0], centroids.shape[0])))
    return sums, counts, max(float(np.einsum("ij,ij->", x, x)) - 2.0 * float(best.sum()), 0.0)


def _cluster_sums(x: np.ndarray, labels: np.ndarray, onehot: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-cluster sums and counts of the rows of ``x``, through ``onehot``, an ``(n, k)``
    buffer of zeros (left holding the labels' indicators)."""
    onehot[np.arange(labels.size), labels] = 1.0
    return onehot.T @ x, np.bincount(labels, minlength=onehot.shape[1]).astype(np.float64)


def _block_update(block: np.ndarray, rows: slice, *, centroids: np.ndarray):
    return _update(block, centroids)


def _new_centroids(sums, counts, old):
    """Means of the clusters; an empty cluster keeps its previous centre."""
    out = old.copy()
    full = counts > 0
    out[full] = sums[full] / counts[full, None]
    return out


def lloyd_in_memory(x: np.ndarray, centroids: np.ndarray, *, max_iter: int, tol: float):
    """Lloyd iterations on an in-memory sample of finite rows; returns centroids, inertia,
    iterations."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    total = float(np.einsum("ij,ij->", x, x))
    onehot = np.zeros((x.shape[0], centroids.shape[0]))
    inertia = np.inf
    for it in range(1, max_iter + 1):
        labels, best = _nearest(x, centroids)
        inertia = max(total - 2.0 * float(best.sum()), 0.0)
        onehot[:] = 0.0
        new = _new_centroids(*_cluster_sums(x, labels, onehot), centroids)
        shift = float(np.sum((new - centroids) ** 2))
        centroids = new
        if shift <= tol:
            return centroids, inertia, it
    return centroids, inertia, max_iter


def fit_kmeans(
    features,
    k: int,
    *,
    n_init: int = 10,
    random_state=0,
    max_iter: int = 100,
    tol: float = 1e-4,
    init_sample: int = INIT_SAMPLE,
    progress: ProgressCallback | None = None,
) -> KMeansModel:
    """k-means of the rows of ``features`` (NumPy or Dask), Lloyd passes over blocks.

    Parameters
    ----------
    features : array of shape (n, d)
    k : int
    n_init : int
        k-means++ restarts (each with Lloyd iterations) on :data:`RESTART_SAMPLE` rows; the
        one of lowest inertia there is refined on the ``init_sample`` rows, then on all.
    max_iter : int
        Most passes over all rows.
    tol : float
        Stop when the squared centroid shift is below ``tol`` times the mean feature variance.
    init_sample : int
        Rows of the seeded sample.

    Returns
    -------
    KMeansModel
    """
    rng = check_random_state(random_state)
    n = int(features.shape[0])
    idx, sample, scale = sample_rows(features, init_sample, rng)
    tol_abs = tol * scale
    small = sample[rng.permutation(sample.shape[0])[:RESTART_SAMPLE]]
    best = None
    for _ in range(n_init):
        centroids, inertia, _ = lloyd_in_memory(small, kmeans_plusplus(small, k, rng), max_iter=max_iter, tol=tol_abs)
        if best is None or inertia < best[1]:
            best = (centroids, inertia)
    centroids, inertia, _ = lloyd_in_memory(sample, best[0], max_iter=max_iter, tol=tol_abs)
    best = (centroids, inertia)
    if idx.size == n:
        return KMeansModel(centroids, best[1], 0, True)
    for it in range(1, max_iter + 1):
        step = functools.partial(_block_update, centroids=centroids)
        sums, counts, inertia = reduce_blocks(
            step, features, block_bytes=FEATURE_BLOCK_BYTES, summed=True, stage="k-means pass", progress=progress
        )
        new = _new_centroids(sums, counts, centroids)
        shift = float(np.sum((new - centroids) ** 2))
        centroids = new
        if shift <= tol_abs:
            return KMeansModel(centroids, float(inertia), it, True)
    return KMeansModel(centroids, float(inertia), max_iter, False)
