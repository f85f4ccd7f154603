"""Lift per-spectrum NumPy code over blocks of pixels, for NumPy and Dask cubes alike."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import numpy as np

from chemmap._shared.progress import ProgressCallback
from chemmap.core.cube import is_lazy_array

__all__ = [
    "DEFAULT_BLOCK_BYTES",
    "FEATURE_BLOCK_BYTES",
    "in_threads",
    "map_spectra",
    "reduce_blocks",
    "row_blocks",
    "sum_partials",
]

#: Working-set size of one block of pixels, in bytes (input side).
DEFAULT_BLOCK_BYTES = 64 * 2**20
#: Rows handed to a per-spectrum kernel at once: small enough that its temporaries stay in
#: the processor cache (several times faster than whole blocks for element-wise kernels).
KERNEL_BLOCK_BYTES = 2 * 2**20
#: Block size for passes over feature matrices (few columns, many rows): small enough that
#: the rows of an image split into blocks for every thread.
FEATURE_BLOCK_BYTES = 4 * 2**20


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
        Upper bound on the size of one input block for NumPy input (blocks run on the
        threads of the active settings). Within a block, ``func`` gets pieces of about
        :data:`KERNEL_BLOCK_BYTES`.

    Returns
    -------
    ndarray or dask array of shape (..., n_out)
        Lazy when ``data`` is lazy: building it computes nothing.
    """
    n_channels = int(data.shape[-1])
    n_out = n_channels if n_out is None else int(n_out)
    lead = tuple(data.shape[:-1])

    def in_pieces(flat: np.ndarray, out: np.ndarray) -> None:
        for rows in row_blocks(flat.shape[0], n_channels * flat.itemsize, KERNEL_BLOCK_BYTES):
            out[rows] = func(flat[rows])

    def on_block(block: np.ndarray) -> np.ndarray:
        flat = np.asarray(block).reshape(-1, block.shape[-1])
        out = np.empty((flat.shape[0], n_out), dtype=dtype)
        in_pieces(flat, out)
        return out.reshape(*block.shape[:-1], n_out)

    if is_lazy_array(data):
        if len(data.chunks[-1]) != 1:
            data = data.rechunk({data.ndim - 1: -1})
        chunks = (*data.chunks[:-1], (n_out,))
        return data.map_blocks(on_block, chunks=chunks, dtype=dtype)

    flat = np.asarray(data).reshape(-1, n_channels)
    out = np.empty((flat.shape[0], n_out), dtype=dtype)
    blocks = row_blocks(flat.shape[0], n_channels * flat.itemsize, block_bytes)

    def fill(rows: slice) -> None:
        in_pieces(flat[rows], out[rows])

    in_threads(fill, blocks)
    return out.reshape(*lead, n_out)


def in_threads(func: Callable[[slice], object], blocks: list[slice]) -> list:
    """``[func(b) for b in blocks]`` on the threads of the active settings (NumPy releases
    the GIL in the heavy parts), with BLAS limited to one thread each; results in order."""
    from chemmap._shared.compute import active_settings

    settings = active_settings()
    workers = min(len(blocks), settings.n_workers if settings.scheduler != "synchronous" else 1)
    if workers <= 1:
        return [func(b) for b in blocks]
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_limits

    with threadpool_limits(1), ThreadPoolExecutor(workers) as pool:
        return list(pool.map(func, blocks))


def row_blocks(n_rows: int, row_bytes: int, block_bytes: int = DEFAULT_BLOCK_BYTES) -> list[slice]:
    """Consecutive slices of rows, each about ``block_bytes`` (at least one row)."""
    step = max(1, block_bytes // max(1, row_bytes))
    return [slice(start, min(start + step, n_rows)) for start in range(0, n_rows, step)]


def reduce_blocks(
    func: Callable[..., object],
    data,
    *aligned,
    block_bytes: int = DEFAULT_BLOCK_BYTES,
    only=None,
    stage: str = "pass over the data",
    progress: ProgressCallback | None = None,
) -> list:
    """Partial results of ``func`` over blocks of rows, in block order.

    The one place where a pass over pixels is cut into blocks: reductions (sums,
    covariances, cluster statistics) compute a partial per block and the caller combines
    them in block order (see :func:`sum_partials`), so NumPy input, the threaded scheduler,
    processes and a distributed cluster give the same numbers.

    Parameters
    ----------
    func : callable
        ``func(block, *aligned_blocks, rows)``; ``block`` is an in-memory ``(m, ...)``
        array and ``rows`` the slice of ``data`` it covers (for sampling by row number).
    data : ndarray or dask array of shape (n, ...)
        Cut along its first axis; for Dask, its chunks on that axis are the blocks.
    *aligned : ndarray or dask array with n rows (or None)
        Arrays sliced with the same rows (masks, labels, weights).
    block_bytes : int
        Size of one NumPy block.
    only : callable, optional
        ``only(n_blocks) -> block numbers``: visit only those blocks (a sample of a cube
        on disk); all by default.
    stage, progress
        Progress reporting (``progress(stage, done, total)``).

    Returns
    -------
    list
        One partial per block.
    """
    from chemmap._shared.progress import notify

    n = int(data.shape[0])
    if not is_lazy_array(data):
        row_bytes = int(np.prod(data.shape[1:], dtype=np.int64)) * data.dtype.itemsize
        blocks = row_blocks(n, row_bytes, block_bytes)
        if only is not None:
            blocks = [blocks[i] for i in only(len(blocks))]
        done = [0]
        lock = threading.Lock()

        def one(rows: slice):
            partial = func(np.asarray(data[rows]), *(_rows(a, rows) for a in aligned), rows)
            with lock:
                done[0] += 1
                notify(progress, stage, done[0], len(blocks))
            return partial

        return in_threads(one, blocks)
    import dask

    from chemmap._shared.compute import compute

    if data.ndim > 1 and any(len(c) != 1 for c in data.chunks[1:]):
        data = data.rechunk(dict.fromkeys(range(1, data.ndim), -1))
    starts = np.cumsum((0, *data.chunks[0]))
    chunks = data.to_delayed().reshape(-1)
    call = dask.delayed(func)
    tasks = []
    for i in range(len(chunks)) if only is None else only(len(chunks)):
        block = chunks[i]
        rows = slice(int(starts[i]), int(starts[i + 1]))
        tasks.append(call(block, *(_rows(a, rows) for a in aligned), rows))
    return list(compute(*tasks, stage=stage, progress=progress))


def _rows(array, rows: slice):
    if array is None:
        return None
    return array[rows]


def sum_partials(partials: Sequence) -> object:
    """Sum partials (arrays, or tuples of arrays and numbers) in order, element by element."""
    first, *rest = partials
    if isinstance(first, tuple):
        return tuple(sum_partials([p[j] for p in partials]) for j in range(len(first)))
    if isinstance(first, np.ndarray):
        total = first.astype(np.float64 if first.dtype.kind == "f" else first.dtype, copy=True)
    else:
        total = first
    for p in rest:
        total = total + p
    return total
