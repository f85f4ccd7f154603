"""Late imports of optional dependencies with an error that names the extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType

from chemmap.core.exceptions import MissingDependencyError

__all__ = ["optional_import"]


def optional_import(module: str, *, extra: str, purpose: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` naming the extra.

    Parameters
    ----------
    module : str
        Module to import, e.g. ``"torch"``.
    extra : str
        The chemmap extra that installs it, e.g. ``"deep"``.
    purpose : str
        What needs it, e.g. ``"the spectral autoencoder"``.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{purpose} needs the package {module.split('.')[0]!r}, which is not installed. "
            f"To fix this, run: pip install 'chemmap[{extra}]'"
        ) from exc
