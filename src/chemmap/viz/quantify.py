"""Figures of quantitative maps: the maps of every model side by side for test samples, on
one colour scale spanning the physical range."""

from __future__ import annotations

import numpy as np

__all__ = ["plot_model_maps"]


def plot_model_maps(fig, samples, maps: dict[str, list[np.ndarray]], *, low: float, high: float, unit: str) -> None:
    """One row per sample (truth first when it exists), one column per model.

    Parameters
    ----------
    fig : matplotlib Figure
    samples : list of Sample
        Names, references and truths of the rows.
    maps : dict
        Model name to its list of maps (one per sample, NaN outside the mask).
    low, high : float
        Colour scale: values outside it saturate, and their share is printed under the map.
    unit : str
        Of the colour bar.
    """
    from matplotlib import colormaps

    has_truth = any(s.truth is not None for s in samples)
    columns = (["truth"] if has_truth else []) + list(maps)
    axes = fig.subplots(len(samples), len(columns), squeeze=False)
    cmap = colormaps["viridis"].with_extremes(bad="#dddddd")
    cmap.set_over("#ff00ff")
    cmap.set_under("#000000")
    image = None
    for row, sample in enumerate(samples):
        for col, name in enumerate(columns):
            ax = axes[row, col]
            ax.set_xticks([])
            ax.set_yticks([])
            z = sample.truth if name == "truth" else maps[name][row]
            if z is None:
                ax.set_axis_off()
                continue
            z = np.where(sample.mask, z, np.nan)
            image = ax.imshow(np.ma.masked_invalid(z), cmap=cmap, vmin=low, vmax=high, interpolation="nearest")
            inside = z[sample.mask]
            outside = float(np.mean((inside < low) | (inside > high))) if inside.size else 0.0
            ax.set_xlabel(f"mean {np.nanmean(inside):.1f}" + (f", {outside:.0%} out of range" if outside else ""))
            if row == 0:
                ax.set_title(name)
            if col == 0:
                known = np.isfinite(sample.reference)
                ax.set_ylabel(sample.name + (f"\nref {sample.reference:.1f}" if known else ""))
    if image is not None:
        bar = fig.colorbar(image, ax=axes, shrink=0.6, extend="both")
        bar.set_label(f"{unit} (magenta above {high:g}, black below {low:g})")
