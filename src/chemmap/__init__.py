"""chemmap: hyperspectral images to chemical maps.

The public API is imported lazily so ``import chemmap`` loads NumPy and nothing heavy::

    import chemmap
    cube = chemmap.read("pixels.csv", image_shape=(30, 30))
    result = chemmap.run({"input": {"path": "pixels.csv", "image_shape": [30, 30]}}, "out/")
"""

from __future__ import annotations

from chemmap._shared.lazy import lazy_attributes

__version__ = "0.1.0"

_LAZY = {
    "Cube": "chemmap.core.cube",
    "SpectralAxis": "chemmap.core.axis",
    "read": "chemmap.io",
    "write": "chemmap.io",
    "run": "chemmap.workflows",
    "run_cube": "chemmap.workflows",
    "compute_settings": "chemmap._shared.compute",
    "progress_bars": "chemmap._shared.progress",
}

__all__ = [
    "Cube",
    "SpectralAxis",
    "__version__",
    "compute_settings",
    "progress_bars",
    "read",
    "run",
    "run_cube",
    "write",
]


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)
