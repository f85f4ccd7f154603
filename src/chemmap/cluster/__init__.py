"""Pixel clustering: k-means, Gaussian mixture, hierarchical; k selection; spatial clean-up;
region and speckle atlases of maps."""

from chemmap.cluster.cleanup import merge_small_regions, mode_filter, salt_and_pepper_fraction
from chemmap.cluster.estimator import PixelClusterer
from chemmap.cluster.features import PixelFeatures
from chemmap.cluster.methods import cluster_methods
from chemmap.cluster.regions import RegionAtlas, largest_region_curve, speckle_atlas
from chemmap.cluster.selection import choose_k, kneedle

__all__ = [
    "PixelClusterer",
    "PixelFeatures",
    "RegionAtlas",
    "choose_k",
    "cluster_methods",
    "kneedle",
    "largest_region_curve",
    "merge_small_regions",
    "mode_filter",
    "salt_and_pepper_fraction",
    "speckle_atlas",
]
