"""What a mapping run produced, in memory."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from chemmap.core.cube import Cube

__all__ = ["RunResult"]


@dataclass
class RunResult:
    """Everything a run produced, in memory (the files hold the same)."""

    cube: Cube
    processed: Cube
    maps: Cube
    label_image: np.ndarray
    metrics: dict[str, Any]
    config: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    out_dir: Path | None = None
    #: Names of the files and folders this run wrote into ``out_dir`` (others there are not its own).
    written: list[str] = field(default_factory=list)
    unmixing: Any = None
    classification: Any = None

    def to_xarray(self):
        """The maps, cluster labels, cluster probabilities and abundances as an
        ``xarray.Dataset`` on dims ``y``, ``x`` (see :func:`run_dataset`); lazy maps stay lazy."""
        from chemmap.workflows.mapping_xarray import run_dataset

        return run_dataset(self)

    def _repr_html_(self) -> str:
        """Jupyter's view: map thumbnails, the graded metrics, warnings, where the files are."""
        from chemmap.report.notebook import run_result_html

        return run_result_html(self)
