"""Map, label-map and spectrum figures with colour bars, titles, units and legends."""

from __future__ import annotations

import numpy as np

from chemmap.core.axis import UNIT_LABELS

__all__ = [
    "CATEGORICAL_COLORS",
    "SAVE_DPI",
    "draw_in_forks",
    "for_display",
    "new_figure",
    "panel_pixels",
    "plot_cluster_spectra",
    "plot_label_map",
    "plot_map",
    "reduce_image",
    "save_figure",
]

#: Okabe–Ito colour-blind-safe palette (black dropped: it is the masked colour).
CATEGORICAL_COLORS = ["#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#999999"]


def categorical_colors(n: int) -> list[str]:
    """``n`` distinct colours: Okabe–Ito first, then tab20."""
    if n <= len(CATEGORICAL_COLORS):
        return CATEGORICAL_COLORS[:n]
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    extra = [to_hex(colormaps["tab20"](i % 20)) for i in range(n - len(CATEGORICAL_COLORS))]
    return CATEGORICAL_COLORS + extra


#: Resolution of the PNG figures chemmap writes, in dots per inch.
SAVE_DPI = 120


def panel_pixels(ax) -> tuple[int, int]:
    """Width and height of ``ax`` in a figure saved at :data:`SAVE_DPI`, in pixels: its place
    in the figure before the layout makes room for titles and colour bars, so never less than
    what it shows."""
    box = ax.get_position()
    width, height = ax.figure.get_size_inches()
    return max(1, int(np.ceil(box.width * width * SAVE_DPI))), max(1, int(np.ceil(box.height * height * SAVE_DPI)))


def for_display(image: np.ndarray, ax, *, categorical: bool = False) -> tuple[np.ndarray, int]:
    """``image`` reduced by the largest integer factor that leaves it at least as many pixels
    as ``ax`` shows it with (square pixels, fitted into :func:`panel_pixels`): drawing more
    costs time and shows nothing more (a 1024 x 1024 map in a 5.5-inch panel: 0.3 s against
    0.2). Returns the image and the factor (1 when unchanged); see :func:`reduce_image` for
    how pixels are combined."""
    (height, width), (shown_width, shown_height) = image.shape, panel_pixels(ax)
    factor = max(1, int(max(width / shown_width, height / shown_height)))
    return reduce_image(image, factor, categorical=categorical), factor


def reduce_image(image: np.ndarray, factor: int, *, categorical: bool = False) -> np.ndarray:
    """``image`` (H x W) reduced ``factor`` times along each side.

    Continuous maps are averaged over ``factor x factor`` blocks (NaN ignored; the last block
    of a side may be partial); label images keep every ``factor``-th pixel, so classes are never
    blended.
    """
    if factor <= 1:
        return image
    if categorical:
        return np.asarray(image[::factor, ::factor])
    h, w = image.shape
    hh, ww = -(-h // factor) * factor, -(-w // factor) * factor
    padded = np.full((hh, ww), np.nan, dtype=np.float32)
    padded[:h, :w] = image
    blocks = padded.reshape(hh // factor, factor, ww // factor, factor)
    counts = np.isfinite(blocks).sum(axis=(1, 3))
    sums = np.nansum(blocks, axis=(1, 3), dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / counts, np.nan).astype(np.float32)


def _extent(shape: tuple[int, int]) -> tuple[float, float, float, float]:
    """imshow extent that keeps the axes in full-resolution pixel coordinates."""
    return (-0.5, shape[1] - 0.5, shape[0] - 0.5, -0.5)


#: Width of an average character of the figures' 10-point text in a PNG saved at SAVE_DPI, in pixels.
CHARACTER_PIXELS = 9


def _wrapped(text: str, ax) -> str:
    """``text`` with each line wrapped to the width of ``ax`` (a long note under a narrow
    panel had run off both sides of the figure)."""
    import textwrap

    chars = max(20, panel_pixels(ax)[0] // CHARACTER_PIXELS)
    return "\n".join(textwrap.fill(line, chars) for line in text.split("\n"))


def _reduced_note(factor: int) -> str:
    return f" (drawn at 1/{factor} resolution)" if factor > 1 else ""


def draw_in_forks(jobs) -> None:
    """Run figure jobs (and any other independent jobs) with
    :func:`chemmap._shared.forked.run_forked`, after importing what drawing and saving a
    figure needs (0.2 s) once, here, so that the forked copies share it."""
    import matplotlib.backends.backend_agg
    import matplotlib.figure  # noqa: F401

    from chemmap._shared.forked import run_forked

    run_forked(jobs)


def new_figure(width: float = 6.0, height: float = 5.0):
    """A matplotlib Figure not tied to pyplot (safe in threads and servers)."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def plot_map(
    ax,
    image: np.ndarray,
    *,
    title: str,
    colorbar_label: str,
    cmap: str = "viridis",
    robust: bool = True,
    note: str | None = None,
    bound: np.ndarray | None = None,
):
    """Draw a continuous map; NaN pixels are left blank (light grey).

    Parameters
    ----------
    ax : matplotlib Axes
    image : ndarray of shape (height, width)
    title, colorbar_label : str
    robust : bool
        Scale colours to the 1st–99th percentile so a few extreme pixels do not flatten
        the rest.
    note : str, optional
        Small text under the map (e.g. how many pixels are blank and why).
    bound : ndarray of bool, shape (height, width), optional
        Pixels whose value is only a lower bound: drawn at the top of the colour scale,
        hatched, and left out of the scale's percentiles.

    Maps with more pixels than the panel shows are averaged down first (:func:`for_display`).
    """
    from matplotlib import colormaps

    full_shape = image.shape
    image, factor = for_display(np.asarray(image), ax)
    shown_bound = None
    if bound is not None and np.any(bound):
        shown_bound = for_display(np.asarray(bound, dtype=np.float64), ax)[0] > 0.5
    finite = np.isfinite(image) & (True if shown_bound is None else ~shown_bound)
    vmin = vmax = None
    if finite.any():
        lo, hi = np.percentile(image[finite], [1, 99]) if robust else (image[finite].min(), image[finite].max())
        vmin, vmax = (float(lo), float(hi)) if hi > lo else (float(lo) - 0.5, float(lo) + 0.5)
    if shown_bound is not None:
        image = np.where(shown_bound, np.inf if vmax is None else vmax, image)
    cm = colormaps[cmap].with_extremes(bad="#dddddd")
    im = ax.imshow(
        np.ma.masked_invalid(image), cmap=cm, vmin=vmin, vmax=vmax, interpolation="nearest", extent=_extent(full_shape)
    )
    if shown_bound is not None:
        # a contour needs two rows and two columns: a map one pixel wide (a list of spectra) is drawn twice
        hatch = np.tile(
            shown_bound.astype(float), (2 if shown_bound.shape[0] < 2 else 1, 2 if shown_bound.shape[1] < 2 else 1)
        )
        ax.contourf(
            hatch,
            levels=[0.5, 1.5],
            colors="none",
            hatches=["///"],
            extent=_extent(full_shape),
            origin="upper",
        )
    cbar = ax.figure.colorbar(im, ax=ax, shrink=0.85, extend="max" if shown_bound is not None else "neither")
    cbar.set_label(colorbar_label)
    ax.set_title(title + _reduced_note(factor))
    ax.set_xlabel("Column (pixel)" + (f"\n{_wrapped(note, ax)}" if note else ""), fontsize=None)
    ax.set_ylabel("Row (pixel)")
    return im


def plot_label_map(ax, labels: np.ndarray, names: list[str], *, title: str):
    """Draw a label image with discrete colours and a legend; ``-1`` pixels are blank."""
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    colors = categorical_colors(len(names))
    cm = ListedColormap(colors).with_extremes(bad="#dddddd")
    full_shape = labels.shape
    labels, factor = for_display(np.asarray(labels), ax, categorical=True)
    shown = np.ma.masked_less(labels, 0)
    ax.imshow(shown, cmap=cm, vmin=-0.5, vmax=len(names) - 0.5, interpolation="nearest", extent=_extent(full_shape))
    handles = [Patch(facecolor=c, edgecolor="black", label=n) for c, n in zip(colors, names, strict=True)]
    if np.any(labels < 0):
        handles.append(Patch(facecolor="#dddddd", edgecolor="black", label="masked"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False, title="Cluster")
    ax.set_title(title + _reduced_note(factor))
    ax.set_xlabel("Column (pixel)")
    ax.set_ylabel("Row (pixel)")


def plot_cluster_spectra(
    ax,
    axis_values: np.ndarray,
    unit: str,
    means: np.ndarray,
    stds: np.ndarray,
    names: list[str],
    *,
    title: str,
    ylabel: str = "Intensity (a.u.)",
):
    """Mean ± one standard deviation spectrum of every cluster on the real axis."""
    for mean, std, name, color in zip(means, stds, names, categorical_colors(len(names)), strict=True):
        ax.plot(axis_values, mean, color=color, label=name, linewidth=1.5)
        ax.fill_between(axis_values, mean - std, mean + std, color=color, alpha=0.25, linewidth=0)
    ax.set_xlabel(UNIT_LABELS.get(unit, unit))
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(frameon=False, title="mean ± 1 s.d.")
    ax.grid(True, alpha=0.3)


def save_figure(fig, path, *, dpi: int = SAVE_DPI) -> None:
    """Save ``fig`` as PNG atomically."""
    from chemmap._shared.atomic import atomic_path

    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
