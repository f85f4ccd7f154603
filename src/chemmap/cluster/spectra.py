"""Mean spectrum, spread and size of every cluster, in one pass over blocks of pixels."""

from __future__ import annotations

import functools

import numpy as np

from chemmap._shared.blockwise import reduce_blocks

__all__ = ["cluster_spectra"]


def cluster_spectra(
    pixels, labels: np.ndarray, k: int, *, stage: str = "cluster spectra", progress=None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, standard deviation and size of every cluster, from block partials.

    Parameters
    ----------
    pixels : ndarray or dask array of shape (n, n_channels)
    labels : ndarray of shape (n,), values 0..k-1; negative values (masked pixels) are left out

    Returns
    -------
    means, stds : ndarray of shape (k, n_channels)
    counts : ndarray of shape (k,)
    """
    counts, sums, sq = reduce_blocks(
        functools.partial(_cluster_moments, k=k),
        pixels,
        labels,
        summed=True,
        stage=stage,
        progress=progress,
    )
    n = np.maximum(counts, 1)[:, None]
    means = sums / n
    stds = np.sqrt(np.maximum(sq / n - means**2, 0))
    return means, stds, counts.astype(np.int64)


def _cluster_moments(block: np.ndarray, labels: np.ndarray, rows: slice, *, k: int):
    keep = labels >= 0
    x = block[keep].astype(np.float64)
    onehot = (labels[keep][:, None] == np.arange(k)[None, :]).astype(np.float64)
    return onehot.sum(axis=0), onehot.T @ x, onehot.T @ (x * x)
