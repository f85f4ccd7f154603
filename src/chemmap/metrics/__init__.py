"""Metrics: clustering quality (internal and against ground truth), data quality, grades.

NumPy/SciPy/scikit-learn only; no plotting.
"""

from chemmap.metrics.clustering import external_scores, internal_scores, match_clusters
from chemmap.metrics.grades import QUALITY_TABLE, grade
from chemmap.metrics.quality import band_snr, snr_summary

__all__ = [
    "QUALITY_TABLE",
    "band_snr",
    "external_scores",
    "grade",
    "internal_scores",
    "match_clusters",
    "snr_summary",
]
