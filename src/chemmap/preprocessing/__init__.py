"""Preprocessing: every pixel treated the same way, parameters recorded in the history.

Functions work on Cubes and on ``(..., n_channels)`` arrays; :class:`Chain` runs named
steps from a config and freezes learned values so new cubes are processed identically.
"""

from chemmap.preprocessing._steps import steps
from chemmap.preprocessing.baseline import asls, baseline, modpoly
from chemmap.preprocessing.chain import Chain
from chemmap.preprocessing.crop import crop
from chemmap.preprocessing.normalize import msc, normalize, snv
from chemmap.preprocessing.smooth import savgol, spatial_gaussian

__all__ = [
    "Chain",
    "asls",
    "baseline",
    "crop",
    "modpoly",
    "msc",
    "normalize",
    "savgol",
    "snv",
    "spatial_gaussian",
    "steps",
]
