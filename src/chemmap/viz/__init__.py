"""Figures. The only room (with report/) that imports matplotlib; functions draw on an ``ax``."""

from chemmap.viz.figures import (
    CATEGORICAL_COLORS,
    plot_cluster_spectra,
    plot_label_map,
    plot_map,
    save_figure,
)

__all__ = ["CATEGORICAL_COLORS", "plot_cluster_spectra", "plot_label_map", "plot_map", "save_figure"]
