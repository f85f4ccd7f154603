"""Small PNG images of maps for notebooks (no figure, no axes: one pixel per shown pixel)."""

from __future__ import annotations

import io

import numpy as np

from chemmap.viz.figures import categorical_colors

__all__ = ["THUMBNAIL_PIXELS", "png_thumbnail"]

#: Longest side of a thumbnail, pixels.
THUMBNAIL_PIXELS = 160


def png_thumbnail(image, *, categorical: bool = False, size: int = THUMBNAIL_PIXELS) -> bytes:
    """PNG bytes of a ``(height, width)`` map reduced by an even stride to at most ``size``
    pixels a side: viridis between the 1st and 99th percentiles for values, a colour per
    class for labels (``-1`` and NaN transparent). A lazy map computes only the strided pixels."""
    from matplotlib.colors import ListedColormap
    from matplotlib.image import imsave

    stride = max(1, -(-max(image.shape[:2]) // size))
    small = image[::stride, ::stride]
    small = np.asarray(small.compute() if hasattr(small, "compute") else small)
    buffer = io.BytesIO()
    if categorical:
        n = int(small.max()) + 1 if (small >= 0).any() else 1
        shown = np.ma.masked_less(small, 0)
        imsave(buffer, shown, cmap=ListedColormap(categorical_colors(n)), vmin=0, vmax=max(n - 1, 1), format="png")
    else:
        values = small[np.isfinite(small)]
        low, high = np.percentile(values, [1, 99]) if values.size else (0.0, 1.0)
        shown = np.ma.masked_invalid(small.astype(np.float64))
        imsave(buffer, shown, cmap="viridis", vmin=low, vmax=high if high > low else low + 1, format="png")
    return buffer.getvalue()
