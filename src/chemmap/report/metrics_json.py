"""``metrics.json``: plain JSON (NaN and infinity written as null)."""

from __future__ import annotations

import json
import math

import numpy as np

from chemmap._shared.atomic import write_text_atomic

__all__ = ["to_json_safe", "write_metrics_json"]


def to_json_safe(value):
    """Convert NumPy types to Python and non-finite floats to ``None``."""
    if isinstance(value, dict):
        return {str(k): to_json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_json_safe(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_metrics_json(metrics: dict, path) -> None:
    """Write ``metrics`` (without the bulky cluster spectra) as indented JSON, atomically."""
    slim = {k: v for k, v in metrics.items() if k != "cluster_spectra"}
    write_text_atomic(path, json.dumps(to_json_safe(slim), indent=2, allow_nan=False) + "\n")
