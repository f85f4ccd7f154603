"""Which abundance model a scene needs: fractions that sum to one (FCLS) or a free brightness
per pixel (the scaled model), told from the data."""

from __future__ import annotations

import numpy as np

from chemmap.core.cube import Cube
from chemmap.decomposition.abundances import nnls_gram
from chemmap.decomposition.endmembers import sample_pixels

__all__ = ["BRIGHTNESS_SPREAD", "SPREAD_SAMPLE", "brightness_spread"]


#: Spread of the per-pixel sums of non-negative abundances (interquartile range over the
#: median) beyond which :func:`brightness_spread` says the pixels' brightness varies: 0.004 on
#: scenes whose fractions sum to one, about 0.4 on Samson and on scenes of +-40 % brightness.
BRIGHTNESS_SPREAD = 0.05
#: Pixels :func:`brightness_spread` solves for (a seeded sample).
SPREAD_SAMPLE = 20_000


def brightness_spread(cube: Cube, components, *, random_state=0) -> float:
    """How much the pixels' brightness varies beyond what fractions summing to one allow:
    the interquartile range over the median of the per-pixel sums of non-negative
    least-squares abundances, on a seeded sample of pixels.

    Where every pixel is a mixture of the components in fractions that sum to one, the
    sums are all near 1 (spread near 0) and FCLS holds; where illumination, topography or
    focus scale whole spectra, the sums spread, FCLS reads the brightness as composition, and
    the scaled model (``method="scaled"``) is the right one.
    """
    a = np.asarray(components, dtype=np.float64)
    y, _ = sample_pixels(cube, SPREAD_SAMPLE, random_state, func="brightness_spread")
    sums = nnls_gram(a @ a.T, y @ a.T).sum(axis=1)
    q1, median, q3 = np.percentile(sums, [25, 50, 75])
    return float((q3 - q1) / median) if median > 0 else float("inf")
