"""Pixel clustering: k-means, Gaussian mixture, hierarchical; k selection; spatial clean-up;
region and speckle atlases of maps. The names below are imported when first used."""

from chemmap._shared.lazy import lazy_attributes

_WHERE = {
    "merge_small_regions": "chemmap.cluster.cleanup",
    "mode_filter": "chemmap.cluster.cleanup",
    "salt_and_pepper_fraction": "chemmap.cluster.cleanup",
    "PixelClusterer": "chemmap.cluster.estimator",
    "PixelFeatures": "chemmap.cluster.features",
    "cluster_methods": "chemmap.cluster.methods",
    "RegionAtlas": "chemmap.cluster.regions",
    "largest_region_curve": "chemmap.cluster.regions",
    "speckle_atlas": "chemmap.cluster.regions",
    "choose_k": "chemmap.cluster.selection",
    "kneedle": "chemmap.cluster.selection",
}
__all__ = sorted(_WHERE)
__getattr__, __dir__ = lazy_attributes(__name__, _WHERE)
