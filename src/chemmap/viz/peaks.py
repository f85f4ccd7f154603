"""Figures of peak slicing: the grid of peak maps, the summary spectrum with its slices, the
hot-max spectra and the speckle overlay."""

from __future__ import annotations

import numpy as np

from chemmap.core.axis import UNIT_LABELS
from chemmap.viz.figures import _extent, categorical_colors, for_display, plot_map

__all__ = ["equalized", "plot_hotmax_spectra", "plot_peak_grid", "plot_peak_spectrum", "plot_speckles"]


def equalized(image: np.ndarray) -> np.ndarray:
    """``image`` replaced by the rank of each value among the finite ones, in [0, 1]
    (histogram equalisation: every colour is used by as many pixels; NaN stays NaN)."""
    out = np.full(image.shape, np.nan, dtype=np.float32)
    finite = np.isfinite(image)
    values = image[finite]
    if values.size:
        ranks = np.searchsorted(np.sort(values), values, side="right")
        out[finite] = ranks / values.size
    return out


def plot_peak_grid(
    fig,
    maps: np.ndarray,
    titles: list[str],
    *,
    unit: str,
    equalize: bool = False,
    normalize: bool = False,
    columns: int = 4,
):
    """Draw every peak map in a grid of small panels.

    Parameters
    ----------
    fig : matplotlib Figure
    maps : ndarray of shape (height, width, n_maps)
    titles : list of str
        One per map (e.g. ``"Fe Ka1 · 6.40 keV"``).
    unit : str
        The maps' unit, for the colour bars.
    equalize : bool
        Show histogram-equalised maps (colour bar in rank fractions) instead of values.
    normalize : bool
        Show each map divided by its own maximum, all on one 0–1 scale.
    columns : int
    """
    n = maps.shape[-1]
    rows = -(-n // columns)
    axes = np.atleast_1d(fig.subplots(rows, min(columns, n), squeeze=False).ravel())
    for i, ax in enumerate(axes):
        if i >= n:
            ax.set_axis_off()
            continue
        image = maps[..., i]
        if normalize:
            top = np.nanmax(image) if np.isfinite(image).any() else np.nan
            shown, label = (image / top if top > 0 else image), "fraction of the map's max"
        else:
            shown = equalized(image) if equalize else image
            label = "rank (equalised)" if equalize else unit
        plot_map(
            ax,
            shown,
            title=titles[i],
            colorbar_label=label,
            cmap="magma",
            robust=not normalize,
        )
        ax.title.set_fontsize(9)
        ax.set_xlabel("")
        ax.set_ylabel("")


def plot_peak_spectrum(
    ax,
    axis_values: np.ndarray,
    unit: str,
    spectrum: np.ndarray,
    peaks: list,
    labels: list[str],
    *,
    title: str,
    ylabel: str = "Counts",
    log: bool = True,
):
    """The spectrum peaks were found on, each slice shaded in its colour and labelled."""
    y = np.asarray(spectrum, dtype=np.float64)
    floor = max(float(np.nanmin(y[y > 0])) if np.any(y > 0) else 1.0, 1e-9) * 0.5 if log else None
    ax.plot(axis_values, np.clip(y, floor, None) if log else y, color="black", linewidth=1.0)
    top = float(np.nanmax(y)) if y.size else 1.0
    for peak, label, color in zip(peaks, labels, categorical_colors(len(peaks)), strict=True):
        ax.axvspan(peak.lower, peak.upper, color=color, alpha=0.35, linewidth=0)
        ax.annotate(
            label,
            (peak.position, max(peak.height, floor or 0.0)),
            xytext=(0, 4),
            textcoords="offset points",
            rotation=90,
            ha="center",
            va="bottom",
            fontsize=7,
        )
    if log:
        ax.set_yscale("log")
        ax.set_ylim(floor, top * 8)
    else:
        ax.set_ylim(min(0.0, float(np.nanmin(y))), top * 1.3)
    ax.set_xlabel(UNIT_LABELS.get(unit, unit))
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)


def plot_hotmax_spectra(
    ax,
    axis_values: np.ndarray,
    unit: str,
    spectra: np.ndarray,
    pixels: np.ndarray,
    groups: list[list[int]],
    labels: list[str],
    *,
    title: str = "Hot-max spectra (the pixel that sets each peak of the max spectrum)",
    ylabel: str = "Counts",
):
    """Each hot pixel's spectrum (log scale), its legend naming the peaks it sets."""
    colors = categorical_colors(len(spectra))
    for spectrum, (row, col), group, color in zip(spectra, pixels, groups, colors, strict=True):
        y = np.clip(np.asarray(spectrum, dtype=np.float64), 0.5, None)
        names = ", ".join(labels[i] for i in group)
        ax.plot(axis_values, y, color=color, linewidth=0.9, label=f"row {row}, col {col}: {names}")
    ax.set_yscale("log")
    ax.set_xlabel(UNIT_LABELS.get(unit, unit))
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(frameon=False, fontsize=7, loc="upper right")
    ax.grid(True, alpha=0.3)


def plot_speckles(ax, image: np.ndarray, atlas, *, title: str, unit: str, threshold_unit: str = ""):
    """A map in grey with its speckles outlined and numbered by decreasing area;
    ``threshold_unit`` names the unit of the atlas threshold (e.g. local noise sigmas)."""
    plot_map(ax, image, title=title, colorbar_label=unit, cmap="gray")
    labels = np.asarray(atlas.labels)
    shown, _factor = for_display(labels.astype(np.float32), ax, categorical=True)
    if len(atlas.areas) and min(shown.shape) >= 2:  # a contour needs two rows and two columns
        ax.contour(
            shown > 0, levels=[0.5], colors="#E69F00", linewidths=1.0, extent=_extent(labels.shape), origin="upper"
        )
    for number, (row, col) in enumerate(atlas.centroids, start=1):
        ax.annotate(str(number), (col, row), xytext=(4, 4), textcoords="offset points", color="#E69F00", fontsize=8)
    above = f"{atlas.threshold:.3g} {threshold_unit}".strip()
    ax.set_xlabel(f"Column (pixel) · {len(atlas.areas)} speckles above {above}")
