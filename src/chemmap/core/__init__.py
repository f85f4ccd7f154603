"""The data model: :class:`Cube`, :class:`SpectralAxis`, exceptions and registries.

Depends on NumPy and the standard library only.
"""

from chemmap.core.axis import SpectralAxis
from chemmap.core.cube import Cube
from chemmap.core.registry import Registry

__all__ = ["Cube", "Registry", "SpectralAxis"]
