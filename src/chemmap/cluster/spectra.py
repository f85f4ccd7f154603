"""Mean, spread and size of every cluster, in one pass over blocks of pixels."""

from __future__ import annotations

import functools

import numpy as np

from chemmap._shared.blockwise import KERNEL_BLOCK_BYTES, reduce_blocks, row_blocks

__all__ = ["cluster_spectra"]


def cluster_spectra(
    pixels, labels: np.ndarray, k: int, *, stage: str = "cluster spectra", progress=None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, standard deviation and size of every cluster, from block partials.

    Each piece of rows that stays in the processor cache is summed in float32, as deviations
    from one of its rows and as spreads about its own cluster means, so no digits are lost
    to a large offset; the pieces are added in float64.

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
    return means, stds, np.rint(counts).astype(np.int64)


def _cluster_moments(block: np.ndarray, labels: np.ndarray, rows: slice, *, k: int):
    """Counts, sums and sums of squares (float64) of each cluster's rows of ``block``."""
    c = block.shape[1]
    counts, sums, squares = np.zeros(k), np.zeros((k, c)), np.zeros((k, c))
    pieces = row_blocks(block.shape[0], c * 4, KERNEL_BLOCK_BYTES)
    work, means_of_rows = (np.empty((pieces[0].stop - pieces[0].start, c), np.float32) for _ in range(2))
    for piece in pieces:
        lab = labels[piece]
        valid = lab >= 0
        if not valid.any():
            continue
        x = work[: lab.size]
        np.copyto(x, block[piece], casting="unsafe")
        x[~valid] = 0  # masked rows may hold NaN, which a zero weight would not cancel
        shift = x[np.argmax(valid)].copy()
        x -= shift  # deviations from one of the rows keep float32's digits
        onehot = (lab[:, None] == np.arange(k)).astype(np.float32)
        n = onehot.sum(axis=0, dtype=np.float64)
        deviation = (onehot.T @ x).astype(np.float64)
        mean = deviation / np.maximum(n, 1)[:, None]
        np.take(mean.astype(np.float32), np.where(valid, lab, 0), axis=0, out=means_of_rows[: lab.size])
        x -= means_of_rows[: lab.size]
        x *= x
        s = deviation + n[:, None] * shift.astype(np.float64)
        counts += n
        sums += s
        squares += (onehot.T @ x).astype(np.float64) + s * (s / np.maximum(n, 1)[:, None])
    return counts, sums, squares
