"""Seeded pixel samples, so sampled statistics are reproducible and their size recorded."""

from __future__ import annotations

import numpy as np

from chemmap._shared.validation import check_random_state

__all__ = ["seeded_sample"]


def seeded_sample(n: int, size: int, random_state) -> np.ndarray:
    """Sorted indices of ``min(n, size)`` rows drawn without replacement (all rows if n <= size)."""
    if n <= size:
        return np.arange(n)
    return np.sort(check_random_state(random_state).choice(n, size, replace=False))
