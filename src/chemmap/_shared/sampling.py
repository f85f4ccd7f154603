"""Seeded pixel samples, so sampled statistics are reproducible and their size recorded."""

from __future__ import annotations

import numpy as np

from chemmap._shared.validation import check_random_state

__all__ = [
    "ROW_SAMPLE_BYTES",
    "SNR_SAMPLE_BYTES",
    "pixel_uniforms",
    "row_bands_sample",
    "sampled_rows",
    "seeded_sample",
]

#: Bytes of whole rows that image-based estimates (noise, SNR, fill values) look at; all
#: rows of smaller cubes.
ROW_SAMPLE_BYTES = 64 * 2**20

#: Bytes of whole rows the band SNR of a run's report looks at: a summary, for which 16 MiB
#: (16 384 pixel pairs per band of a 256-channel float32 cube) is as good as 64 in 1/4 of
#: the time (0.7 s of a 1 GiB run at 64).
SNR_SAMPLE_BYTES = 16 * 2**20


def seeded_sample(n: int, size: int, random_state) -> np.ndarray:
    """Sorted indices of ``min(n, size)`` rows drawn without replacement (all rows if n <= size)."""
    if n <= size:
        return np.arange(n)
    return np.sort(check_random_state(random_state).choice(n, size, replace=False))


def pixel_uniforms(start: int, n: int, seed: int) -> np.ndarray:
    """Uniform [0, 1) numbers for rows ``start .. start + n - 1``, a pure function of
    ``(seed, row)`` (SplitMix64), so a sample drawn block by block is the same whatever
    the blocks are."""
    with np.errstate(over="ignore"):
        z = (np.arange(start, start + n, dtype=np.uint64) + np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15)) * (
            np.uint64(0x9E3779B97F4A7C15)
        )
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * (1.0 / 2**53)


def sampled_rows(cube, *, max_bytes: int | None = None, n_bands: int = 8) -> np.ndarray:
    """The rows :func:`row_bands_sample` reads: all of them when the cube is at most
    ``max_bytes`` (default :data:`ROW_SAMPLE_BYTES`), else ``n_bands`` evenly spaced bands of
    contiguous rows holding about ``max_bytes``."""
    h, w, c = cube.shape
    max_bytes = ROW_SAMPLE_BYTES if max_bytes is None else max_bytes
    row_bytes = w * c * cube.dtype.itemsize
    if h * row_bytes <= max_bytes:
        return np.arange(h)
    per_band = max(2, max_bytes // (n_bands * row_bytes))
    starts = np.linspace(0, h - per_band, n_bands).astype(int)
    return np.unique(np.concatenate([np.arange(s, s + per_band) for s in starts]))


def row_bands_sample(cube, *, max_bytes: int | None = None, n_bands: int = 8, stage: str = "row sample"):
    """Whole rows of ``cube`` in memory (:func:`sampled_rows`).

    Contiguous rows keep horizontal and vertical neighbours together (noise from pixel
    differences) and read few chunks of a cube on disk.

    Returns
    -------
    data : ndarray of shape (rows, width, n_channels)
    valid : ndarray of bool, shape (rows, width)
    """
    h = cube.shape[0]
    valid = cube.valid_pixels().reshape(cube.image_shape)
    rows = sampled_rows(cube, max_bytes=max_bytes, n_bands=n_bands)
    data = cube.data[rows] if len(rows) < h else cube.data
    if cube.is_lazy:
        from chemmap._shared.compute import compute

        (data,) = compute(data, stage=stage)
    return np.asarray(data), valid[rows]
