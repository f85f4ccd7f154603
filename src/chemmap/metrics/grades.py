"""The mapping workflow's quality table: minimum / good / excellent thresholds."""

from __future__ import annotations

__all__ = ["QUALITY_TABLE", "grade"]

#: metric -> (minimum, good, excellent); higher is better for all of them.
QUALITY_TABLE: dict[str, tuple[float, float, float]] = {
    "pixel_accuracy": (0.75, 0.88, 0.95),
    "mean_iou": (0.60, 0.80, 0.90),
    "ari": (0.50, 0.75, 0.90),
    "silhouette": (0.25, 0.45, 0.65),
    "snr": (10.0, 25.0, 50.0),
}


def grade(metric: str, value: float | None) -> str | None:
    """``"excellent"``, ``"good"``, ``"minimum"`` or ``"below minimum"`` (None if ungraded)."""
    if metric not in QUALITY_TABLE or value is None or value != value:
        return None
    minimum, good, excellent = QUALITY_TABLE[metric]
    if value >= excellent:
        return "excellent"
    if value >= good:
        return "good"
    if value >= minimum:
        return "minimum"
    return "below minimum"
