"""The exceptions and warnings chemmap raises.

Every error is a :class:`ChemmapError` and also the builtin a user would catch
(``ValueError``, ``FileNotFoundError``, ``ImportError`` ...), so ``except ValueError``
keeps working. Messages say what was wrong, what was expected and how to fix it.
"""

from __future__ import annotations

__all__ = [
    "AxisError",
    "AxisOrderWarning",
    "ChemmapError",
    "ChemmapWarning",
    "ConfigError",
    "DataWarning",
    "FileFormatError",
    "InputFileNotFoundError",
    "InvalidParameterError",
    "MemoryLimitError",
    "MissingDependencyError",
    "NarrowWindowWarning",
    "NotFittedError",
    "OutputError",
    "ShapeError",
]


class ChemmapError(Exception):
    """Base class of every error chemmap raises on purpose."""


class InvalidParameterError(ChemmapError, ValueError, TypeError):
    """A parameter has the wrong type, range or name."""


class ShapeError(ChemmapError, ValueError):
    """Array shapes do not agree (image shape, channels, masks, labels)."""


class AxisError(ChemmapError, ValueError):
    """The spectral axis is invalid, or a position or window lies outside it."""


class FileFormatError(ChemmapError, ValueError):
    """A file exists but its content cannot be read as the format expects."""


class InputFileNotFoundError(ChemmapError, FileNotFoundError):
    """An input file or folder does not exist."""


class ConfigError(ChemmapError, ValueError):
    """A configuration file or set of CLI options is invalid."""


class NotFittedError(ChemmapError, ValueError, AttributeError):
    """An estimator or preprocessing step was used before ``fit``."""


class MissingDependencyError(ChemmapError, ImportError):
    """An optional dependency is needed but not installed."""


class MemoryLimitError(ChemmapError, MemoryError):
    """A result would not fit in the memory limit of the run."""


class OutputError(ChemmapError, OSError):
    """The output place cannot take the results (a file where a folder goes, or the reverse)."""


class ChemmapWarning(UserWarning):
    """Base class of chemmap's warnings."""


class AxisOrderWarning(ChemmapWarning):
    """The axis was given out of increasing order and the channels have been sorted."""


class NarrowWindowWarning(ChemmapWarning):
    """A window covers fewer channels than a reliable band estimate needs."""


class ConvergenceWarning(ChemmapWarning):
    """An iterative solver stopped at its bound before it converged for every pixel."""


class DataWarning(ChemmapWarning):
    """The data are usable but something about them deserves attention."""
