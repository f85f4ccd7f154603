"""Pixel clustering: k-means, Gaussian mixture, hierarchical; k selection; spatial clean-up."""

from chemmap.cluster.cleanup import merge_small_regions, mode_filter, salt_and_pepper_fraction
from chemmap.cluster.estimator import PixelClusterer
from chemmap.cluster.features import PixelFeatures
from chemmap.cluster.methods import cluster_methods
from chemmap.cluster.selection import choose_k, kneedle

__all__ = [
    "PixelClusterer",
    "PixelFeatures",
    "choose_k",
    "cluster_methods",
    "kneedle",
    "merge_small_regions",
    "mode_filter",
    "salt_and_pepper_fraction",
]
