"""chemmap: hyperspectral images to chemical maps.

The public API is imported lazily so ``import chemmap`` loads NumPy and nothing heavy::

    import chemmap
    cube = chemmap.read("pixels.csv", image_shape=(30, 30))
    result = chemmap.run({"input": {"path": "pixels.csv", "image_shape": [30, 30]}}, "out/")
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "Cube": "chemmap.core.cube",
    "SpectralAxis": "chemmap.core.axis",
    "read": "chemmap.io",
    "write": "chemmap.io",
    "run": "chemmap.workflows",
    "run_cube": "chemmap.workflows",
    "compute_settings": "chemmap._shared.compute",
}

__all__ = ["Cube", "SpectralAxis", "__version__", "compute_settings", "read", "run", "run_cube", "write"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'chemmap' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
