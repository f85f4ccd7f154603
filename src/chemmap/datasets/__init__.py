"""Synthetic generators with ground truth, and loaders for benchmark data."""

from chemmap.datasets.benchmarks import load_indian_pines, load_samson
from chemmap.datasets.mixtures import make_smooth_mixture
from chemmap.datasets.synthetic import gaussian_band, make_demo_cube, make_regions_cube
from chemmap.datasets.tissue import TissueSample, make_tissue_samples, write_tissue_benchmark
from chemmap.datasets.xrf import XRFScene, make_eds_cube, make_xrf_cube

__all__ = [
    "TissueSample",
    "XRFScene",
    "gaussian_band",
    "load_indian_pines",
    "load_samson",
    "make_demo_cube",
    "make_eds_cube",
    "make_regions_cube",
    "make_smooth_mixture",
    "make_tissue_samples",
    "make_xrf_cube",
    "write_tissue_benchmark",
]
