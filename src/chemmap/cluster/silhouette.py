"""The mean silhouette of a labelling, exact, from blocks of pairwise distances (what
scikit-learn's ``silhouette_score`` gives, about 10x faster on the 10 000-pixel samples a run
scores)."""

from __future__ import annotations

import numpy as np

__all__ = ["silhouette_score"]

#: Rows of the distance matrix held at once (x the sample size x 8 bytes).
_BLOCK_ROWS = 512


def silhouette_score(features: np.ndarray, labels: np.ndarray) -> float:
    """Mean over the rows of ``(b - a) / max(a, b)``: ``a`` the mean Euclidean distance to the
    other rows of the row's cluster, ``b`` the smallest mean distance to another cluster's
    rows; 0 for a row alone in its cluster.

    Parameters
    ----------
    features : ndarray of shape (n, d)
    labels : ndarray of shape (n,)
        Any integer labels; at least two distinct ones.
    """
    x = np.asarray(features, dtype=np.float64)
    x = (x - x.mean(axis=0)).astype(np.float32)  # centred: distances in float32 lose nothing to an offset
    _, codes = np.unique(np.asarray(labels), return_inverse=True)
    n, k = codes.size, int(codes.max()) + 1
    if k < 2:
        raise ValueError("The silhouette needs at least two clusters.")
    members = np.zeros((n, k), dtype=np.float32)
    members[np.arange(n), codes] = 1.0
    sizes = members.sum(axis=0)
    squares = np.einsum("ij,ij->i", x, x)
    xt = np.ascontiguousarray(x.T)
    scores = np.empty(n)
    for start in range(0, n, _BLOCK_ROWS):
        rows = slice(start, min(start + _BLOCK_ROWS, n))
        d = x[rows] @ xt  # the squared distances, built in place (one block, no temporaries)
        d *= -2.0
        d += squares[None, :]
        d += squares[rows, None]
        np.maximum(d, 0.0, out=d)
        d[np.arange(d.shape[0]), np.arange(rows.start, rows.stop)] = 0.0  # a row's distance to itself
        np.sqrt(d, out=d)
        mean_to = (d @ members) / sizes  # mean distance of each row to each cluster
        own = codes[rows]
        here = np.arange(own.size)
        own_size = sizes[own]
        with np.errstate(invalid="ignore", divide="ignore"):
            a = mean_to[here, own] * own_size / (own_size - 1)  # without the row itself
        mean_to[here, own] = np.inf
        b = mean_to.min(axis=1)
        with np.errstate(invalid="ignore"):
            s = (b - a) / np.maximum(a, b)
        scores[rows] = np.where(own_size > 1, np.nan_to_num(s), 0.0)
    return float(scores.mean())
