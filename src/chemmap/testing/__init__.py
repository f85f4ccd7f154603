"""Public test helpers: small cubes and cube comparisons."""

from __future__ import annotations

import numpy as np

from chemmap.core.axis import SpectralAxis
from chemmap.core.cube import Cube

__all__ = ["assert_cube_equal", "make_cube"]


def make_cube(
    shape=(8, 10), n_channels: int = 50, *, axis_range=(600.0, 1800.0), unit="cm-1", random_state: int = 0
) -> Cube:
    """A small float32 cube of positive random spectra on an evenly spaced axis."""
    rng = np.random.default_rng(random_state)
    data = rng.uniform(0.5, 1.5, size=(*shape, n_channels)).astype(np.float32)
    return Cube(data, SpectralAxis(np.linspace(*axis_range, n_channels), unit))


def assert_cube_equal(actual: Cube, expected: Cube, *, rtol: float = 1e-6, atol: float = 0.0) -> None:
    """Assert two cubes have equal data (to tolerance, NaN equal NaN), axes, masks and labels.

    A missing mask counts as all pixels valid.
    """
    assert actual.axis == expected.axis, f"axes differ: {actual.axis!r} vs {expected.axis!r}"
    np.testing.assert_allclose(np.asarray(actual.data), np.asarray(expected.data), rtol=rtol, atol=atol, equal_nan=True)
    np.testing.assert_array_equal(actual.valid_pixels(), expected.valid_pixels(), err_msg="masks differ")
    a, b = actual.labels, expected.labels
    assert (a is None) == (b is None), "labels: one cube has them, the other not"
    if a is not None:
        np.testing.assert_array_equal(a, b, err_msg="labels differ")
    assert actual.label_names == expected.label_names
