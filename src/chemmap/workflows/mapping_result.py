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
