"""Lift per-spectrum NumPy code over blocks of pixels, for NumPy and Dask cubes alike."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from chemmap.core.cube import is_lazy_array

__all__ = ["DEFAULT_BLOCK_BYTES", "map_spectra"]

#: Working-set size of one block of pixels, in bytes (input side).
DEFAULT_BLOCK_BYTES = 64 * 2**20


def map_spectra(
    func: Callable[[np.ndarray], np.ndarray],
    data,
    *,
    n_out: int | None = None,
    dtype=np.float32,
    block_bytes: int = DEFAULT_BLOCK_BYTES,
):
    """Apply ``func`` to every spectrum of a ``(..., n_channels)`` array, block by block.

    Parameters
    ----------
    func : callable
        Takes spectra of shape ``(n, n_channels)`` and returns ``(n, n_out)``; it must
        treat each row independently.
    data : ndarray or dask array of shape (..., n_channels)
        The spectral axis is last and, for Dask, in one chunk.
    n_out : int, optional
        Length of each output row; defaults to ``n_channels``.
    dtype : dtype
        Output dtype.
    block_bytes : int
        Upper bound on the size of one input block for NumPy input.

    Returns
    -------
    ndarray or dask array of shape (..., n_out)
        Lazy when ``data`` is lazy: building it computes nothing.
    """
    n_channels = int(data.shape[-1])
    n_out = n_channels if n_out is None else int(n_out)
    lead = tuple(data.shape[:-1])

    def on_block(block: np.ndarray) -> np.ndarray:
        flat = np.asarray(block).reshape(-1, block.shape[-1])
        out = np.asarray(func(flat), dtype=dtype)
        return out.reshape(*block.shape[:-1], n_out)

    if is_lazy_array(data):
        if len(data.chunks[-1]) != 1:
            data = data.rechunk({data.ndim - 1: -1})
        chunks = (*data.chunks[:-1], (n_out,))
        return data.map_blocks(on_block, chunks=chunks, dtype=dtype)

    flat = np.asarray(data).reshape(-1, n_channels)
    n = flat.shape[0]
    out = np.empty((n, n_out), dtype=dtype)
    step = max(1, block_bytes // max(1, n_channels * flat.itemsize))
    for start in range(0, n, step):
        out[start : start + step] = func(flat[start : start + step])
    return out.reshape(*lead, n_out)
