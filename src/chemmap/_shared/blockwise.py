"""Lift per-spectrum NumPy code over blocks of pixels, for NumPy and Dask cubes alike."""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Sequence

import numpy as np

from chemmap._shared.compute import (
    FEATURE_BLOCK_BYTES,
    INTERMEDIATE_SHARE,
    active_settings,
    block_budget,
    compute,
    spill_target,
)
from chemmap._shared.progress import ProgressCallback, notify
from chemmap.core.cube import is_lazy_array

__all__ = [
    "FEATURE_BLOCK_BYTES",
    "bound_chunks",
    "bounded_chunks",
    "in_threads",
    "map_image",
    "map_spectra",
    "reduce_blocks",
    "row_blocks",
    "spread_blocks",
    "sum_partials",
    "take_rows",
]

#: Rows handed to a per-spectrum kernel at once: small enough that its temporaries stay in
#: the processor cache (several times faster than whole blocks for element-wise kernels).
KERNEL_BLOCK_BYTES = 2 * 2**20


def map_spectra(
    func: Callable[[np.ndarray], np.ndarray],
    data,
    *,
    n_out: int | None = None,
    dtype=np.float32,
    block_bytes: int | None = None,
    piece_bytes: int = KERNEL_BLOCK_BYTES,
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
    block_bytes : int, optional
        Upper bound on the size of one input block for NumPy input (blocks run on the
        threads of the active settings); default
        :func:`~chemmap._shared.compute.block_budget`. Within a block, ``func`` gets
        pieces of about ``piece_bytes``.
    piece_bytes : int
        Input bytes of one call of ``func`` (default :data:`KERNEL_BLOCK_BYTES`); larger for
        kernels whose cost per call matters more than their working set.

    Returns
    -------
    ndarray or dask array of shape (..., n_out)
        Lazy when ``data`` is lazy: building it computes nothing.
    """
    n_channels = int(data.shape[-1])
    n_out = n_channels if n_out is None else int(n_out)
    lead = tuple(data.shape[:-1])

    def in_pieces(flat: np.ndarray, out: np.ndarray) -> None:
        for rows in row_blocks(flat.shape[0], n_channels * flat.itemsize, piece_bytes):
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
    blocks = row_blocks(flat.shape[0], n_channels * flat.itemsize, _block_bytes(block_bytes))

    def fill(rows: slice) -> None:
        in_pieces(flat[rows], out[rows])

    in_threads(fill, blocks)
    return out.reshape(*lead, n_out)


#: Channels of an in-memory image filtered at once by :func:`map_image`, in float32 bytes.
IMAGE_BLOCK_BYTES = 64 * 2**20


def map_image(func: Callable[..., np.ndarray], data, *aligned, depth: int, dtype=np.float32):
    """Apply an image filter ``func(block, *aligned_blocks)`` that filters each channel on
    its own and needs ``depth`` neighbouring pixels on each side, to a ``(height, width,
    n_channels)`` cube.

    NumPy input is filtered whole image by whole image, a block of channels at a time (about
    :data:`IMAGE_BLOCK_BYTES` of float32 each) into one output array, so the filter's
    temporaries stay small beside the cube. An output larger than
    :data:`~chemmap._shared.compute.INTERMEDIATE_SHARE` of the memory limit goes to a
    temporary store on disk, chunked by bands of rows within each block of channels, and
    comes back as a Dask array of bands of rows (whole spectra). Dask input is filtered chunk by chunk with
    ``depth`` pixels of overlap from the neighbouring chunks (none beyond the image edge,
    where ``func``'s own edge mode applies), so the result equals the whole-image one.

    Parameters
    ----------
    func : callable
        ``func(block, *aligned_blocks, channels=slice)``: a ``(h, w, channels)`` block, the
        aligned ``(h, w, ...)`` blocks and which channels of the cube the block holds;
        returns an array of the block's shape.
    data : ndarray or dask array of shape (height, width, n_channels)
    *aligned : ndarray of shape (height, width, m)
        Per-pixel arrays the filter needs (masks), cut like ``data``.
    depth : int
        Pixels of overlap (the filter's radius).
    dtype : dtype
        Output dtype.
    """
    if not is_lazy_array(data):
        data, aligned = np.asarray(data), [np.asarray(a) for a in aligned]
        h, w, c = data.shape
        step = max(1, IMAGE_BLOCK_BYTES // max(1, h * w * 4))
        if step >= c:
            return func(data, *aligned, channels=slice(0, c)).astype(dtype, copy=False)
        lazy = None
        if h * w * c * np.dtype(dtype).itemsize > INTERMEDIATE_SHARE * active_settings().memory_limit:
            rows = bounded_chunks(data.shape, np.dtype(dtype).itemsize)
            out, lazy = spill_target(data.shape, dtype, chunks=(rows[0], w, step), read_chunks=rows)
        else:
            out = np.empty(data.shape, dtype=dtype)
        for start in range(0, c, step):
            channels = slice(start, min(start + step, c))
            out[..., channels] = func(data[..., channels], *aligned, channels=channels)
        return out if lazy is None else lazy
    import dask.array as da

    if len(data.chunks[2]) != 1:
        data = data.rechunk({2: -1})
    extra = [da.from_array(np.asarray(a), chunks=(data.chunks[0], data.chunks[1], a.shape[2])) for a in aligned]
    depth = {0: int(depth), 1: int(depth), 2: 0}
    return da.map_overlap(
        lambda *blocks: func(*blocks, channels=slice(0, data.shape[2])).astype(dtype, copy=False),
        data,
        *extra,
        depth=[depth] * (1 + len(extra)),
        boundary="none",
        dtype=dtype,
        align_arrays=False,
    )


def in_threads(func: Callable[[object], object], blocks: Sequence, *, summed: bool = False):
    """``[func(b) for b in blocks]`` on the threads of the active settings (NumPy releases
    the GIL in the heavy parts), with BLAS limited to one thread each; results in order.
    ``blocks`` are usually row slices, but any items (e.g. map numbers) will do.

    With ``summed``, the results are added up in block order as they arrive (see
    :func:`add_partial`) and only the total is returned, so they are never all held.
    """
    from chemmap._shared import forked

    settings = active_settings()
    workers = min(len(blocks), settings.n_workers if settings.scheduler != "synchronous" else 1)
    if workers <= 1 or forked.in_forked_copy:
        results = (func(b) for b in blocks)
        return _fold(results) if summed else list(results)
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_limits

    # each call runs in a copy of the caller's context, so the compute settings hold there too
    calls = [(contextvars.copy_context(), b) for b in blocks]
    with threadpool_limits(1), ThreadPoolExecutor(workers) as pool:
        results = pool.map(lambda call: call[0].run(func, call[1]), calls)
        return _fold(results) if summed else list(results)


def _block_bytes(block_bytes: int | None) -> int:
    return block_budget() if block_bytes is None else int(block_bytes)


def row_blocks(n_rows: int, row_bytes: int, block_bytes: int | None = None) -> list[slice]:
    """Consecutive slices of rows, each about ``block_bytes`` (at least one row; default
    :func:`~chemmap._shared.compute.block_budget`)."""
    block_bytes = _block_bytes(block_bytes)
    step = max(1, block_bytes // max(1, row_bytes))
    return [slice(start, min(start + step, n_rows)) for start in range(0, n_rows, step)]


def reduce_blocks(
    func: Callable[..., object],
    data,
    *aligned,
    block_bytes: int | None = None,
    only=None,
    summed: bool = False,
    stage: str = "pass over the data",
    progress: ProgressCallback | None = None,
):
    """Partial results of ``func`` over blocks of rows, in block order, or their sum.

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
    block_bytes : int, optional
        Size of one NumPy block (default: the block budget of the memory limit).
    only : callable, optional
        ``only(n_blocks) -> block numbers``: visit only those blocks (a sample of a cube
        on disk); all by default.
    summed : bool
        Return the sum of the partials (as :func:`sum_partials`) instead of the list,
        adding them as they are computed (in block order for NumPy, by a fixed pairwise
        tree over the chunks for Dask), so large partials (Gram matrices) are not all held.
    stage, progress
        Progress reporting (``progress(stage, done, total)``).

    Returns
    -------
    list or partial
        One partial per block, or their sum with ``summed``.
    """
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

        return in_threads(one, blocks, summed=summed)
    import dask

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
    if summed:
        add = dask.delayed(add_partial)
        while len(tasks) > 1:
            pairs = [add(tasks[i], tasks[i + 1]) for i in range(0, len(tasks) - 1, 2)]
            tasks = pairs + tasks[len(pairs) * 2 :]
        (total,) = compute(add(None, tasks[0]), stage=stage, progress=progress)
        return total
    return list(compute(*tasks, stage=stage, progress=progress))


def bounded_chunks(shape, itemsize: int, *, file_chunks=None, block_bytes: int | None = None) -> tuple:
    """Chunks for a lazy ``(height, width, n_channels)`` cube that hold whole spectra and
    at most ``block_bytes`` each (default: the block budget of the memory limit).

    Bands of whole rows when a row fits, else pieces of one row. When the file's own
    chunks (``file_chunks``, whole spectra) already fit, they are kept, so a task reads
    exactly one stored chunk; when they do not, bands of rows split each stored chunk
    into equal parts, so no task reads (and decodes) two stored chunks.
    """
    h, w, c = (int(n) for n in shape)
    budget = _block_bytes(block_bytes)
    pixels = max(1, budget // max(1, c * itemsize))
    rows = max(1, min(h, pixels // max(w, 1)))
    cols = w if pixels >= w else max(1, pixels)
    if file_chunks is not None:
        fr, fc, fz = (int(n) for n in file_chunks[:3])
        if fz >= c and fr * fc * c * itemsize <= budget:
            return (min(fr, h), min(fc, w), c)
        if cols == w and rows < fr <= h:
            rows = fr // -(-fr // rows)  # equal parts of a stored chunk's rows
    return rows, cols, c


def bound_chunks(data):
    """A lazy cube with chunks larger than the block budget (or splitting the spectral
    axis), rechunked to :func:`bounded_chunks`; other arrays are returned as they are."""
    if not is_lazy_array(data) or data.ndim != 3:
        return data
    largest = max(data.chunks[0]) * max(data.chunks[1]) * int(data.shape[2]) * data.dtype.itemsize
    if len(data.chunks[2]) == 1 and largest <= _block_bytes(None):
        return data
    return data.rechunk(bounded_chunks(data.shape, data.dtype.itemsize))


#: Fewest blocks :func:`spread_blocks` picks (so a sample spans the image).
MIN_SAMPLE_BLOCKS = 16


def spread_blocks(n_blocks: int, *, share: float, seed: int) -> list[int]:
    """About ``share`` of ``n_blocks`` block numbers (at least :data:`MIN_SAMPLE_BLOCKS`),
    evenly spaced from a seeded offset: ``only=`` of :func:`reduce_blocks` for a sample."""
    count = min(n_blocks, max(MIN_SAMPLE_BLOCKS, int(np.ceil(share * n_blocks))))
    offset = np.random.default_rng(seed).random() * n_blocks / count
    return sorted({int(offset + i * n_blocks / count) % n_blocks for i in range(count)})


def take_rows(data, idx: np.ndarray) -> np.ndarray:
    """Rows ``idx`` (sorted) of a NumPy or Dask array, in memory."""
    rows = data[idx]
    if is_lazy_array(rows):
        (rows,) = compute(rows, stage="sample")
    return np.asarray(rows)


def _rows(array, rows: slice):
    if array is None:
        return None
    return array[rows]


def add_partial(total, partial):
    """``total + partial`` element by element for arrays, numbers or tuples of them; a
    ``None`` total starts a sum (floating arrays are summed in float64)."""
    if isinstance(partial, tuple):
        if total is None:
            total = (None,) * len(partial)
        return tuple(add_partial(t, p) for t, p in zip(total, partial, strict=True))
    if total is None:
        if isinstance(partial, np.ndarray):
            return partial.astype(np.float64 if partial.dtype.kind == "f" else partial.dtype, copy=True)
        return partial
    if isinstance(total, np.ndarray) and total.dtype.kind == "f":
        return np.add(total, partial, dtype=np.float64)
    return total + partial


def _fold(partials) -> object:
    total = None
    for p in partials:
        total = add_partial(total, p)
    return total


def sum_partials(partials: Sequence) -> object:
    """Sum partials (arrays, or tuples of arrays and numbers) in order, element by element."""
    return _fold(partials)
