"""The check every trained model makes before it maps a cube: same unit, same channels."""

from __future__ import annotations

import numpy as np

from chemmap.core.axis import SpectralAxis
from chemmap.core.exceptions import AxisError

__all__ = ["check_model_axis"]


def check_model_axis(values, unit: str, axis: SpectralAxis) -> None:
    """Raise :class:`AxisError` unless ``axis`` is the axis a model was trained on
    (``values`` in ``unit``).

    Positions must agree to 1 % of the channel spacing, so a model is never applied to
    spectra whose channel ``i`` means something else.
    """
    values = np.asarray(values, dtype=np.float64)
    if axis.unit != unit or len(axis) != values.size:
        raise AxisError(
            f"The model was trained on {values.size} channels in {unit} "
            f"({values[0]:g}..{values[-1]:g}); this cube has {len(axis)} channels in {axis.unit} "
            f"({axis.start:g}..{axis.stop:g}). Resample the cube onto the model's axis "
            "(chemmap.preprocessing.resample, or --resample model on the command line) or train a model on it."
        )
    spacing = float(np.median(np.diff(values))) if values.size > 1 else 1.0
    worst = float(np.max(np.abs(np.asarray(axis.values) - values)))
    if worst > 0.01 * spacing:
        raise AxisError(
            f"The cube's channel positions differ from the model's by up to {worst:g} {axis.unit} "
            f"(the channel spacing is {spacing:g}). Resample the cube onto the model's axis "
            "(chemmap.preprocessing.resample, or --resample model on the command line) or train a model on it."
        )
