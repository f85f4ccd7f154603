"""Seeded pixel samples, so sampled statistics are reproducible and their size recorded."""

from __future__ import annotations

import numpy as np

from chemmap._shared.validation import check_random_state

__all__ = ["pixel_uniforms", "seeded_sample"]


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
