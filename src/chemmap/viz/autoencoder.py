"""Figures of the spectral autoencoder: loss curves, input against reconstruction at chosen
pixels, and each cluster's mean input spectrum beside its decoded latent mean."""

from __future__ import annotations

import numpy as np

from chemmap.core.axis import UNIT_LABELS
from chemmap.viz.figures import categorical_colors

__all__ = ["plot_cluster_representatives", "plot_loss_curves", "plot_reconstructions"]


def plot_loss_curves(fig, history: list[dict], best_epoch: int) -> None:
    """Training and validation loss per epoch on a linear and a log scale, the best epoch
    (whose weights are kept) marked."""
    from matplotlib.ticker import MaxNLocator

    epochs = [h["epoch"] for h in history]  # counted from 1, as best_epoch
    axes = fig.subplots(1, 2)
    for ax, scale in zip(axes, ("linear", "log"), strict=True):
        ax.plot(epochs, [h["train_loss"] for h in history], label="training", color="#0072B2")
        ax.plot(epochs, [h["val_loss"] for h in history], label="validation (spatial blocks)", color="#D55E00")
        ax.axvline(best_epoch, color="#555555", linestyle=":", label=f"best epoch ({best_epoch})")
        ax.set_yscale(scale)
        ax.set_xlabel("Epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("Loss (MSE + SAM + gradient terms)")
        ax.set_title(f"Loss curves ({scale} scale)")
        ax.grid(True, alpha=0.3, which="both")
    axes[0].legend(frameon=False)


def plot_reconstructions(
    fig,
    axis_values: np.ndarray,
    unit: str,
    inputs: np.ndarray,
    reconstructions: np.ndarray,
    pixels: list[tuple[int, int]],
    *,
    ylabel: str = "Intensity (a.u.)",
) -> None:
    """One panel per pixel: its input spectrum and the autoencoder's reconstruction."""
    n = len(pixels)
    columns = min(3, n)
    axes = np.atleast_1d(fig.subplots(-(-n // columns), columns, squeeze=False)).reshape(-1)
    for ax, x, y, (row, col) in zip(axes, inputs, reconstructions, pixels, strict=False):
        ax.plot(axis_values, x, color="#999999", linewidth=0.8, label="input")
        ax.plot(axis_values, y, color="#0072B2", linewidth=1.4, label="reconstruction")
        ax.set_title(f"row {row}, col {col}")
        ax.set_xlabel(UNIT_LABELS.get(unit, unit))
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
    for ax in axes[n:]:
        ax.set_visible(False)
    axes[0].legend(frameon=False)


def plot_cluster_representatives(
    ax,
    axis_values: np.ndarray,
    unit: str,
    mean_inputs: np.ndarray,
    std_inputs: np.ndarray,
    decoded: np.ndarray,
    names: list[str],
    *,
    title: str,
    ylabel: str = "Intensity (a.u.)",
) -> None:
    """Per cluster: the mean input spectrum ± 1 s.d. (solid, shaded) and the decoded mean
    of its latent vectors (dashed), in the same colour."""
    for mean, std, dec, name, color in zip(
        mean_inputs, std_inputs, decoded, names, categorical_colors(len(names)), strict=True
    ):
        ax.plot(axis_values, mean, color=color, linewidth=1.5, label=f"{name}: mean input ± 1 s.d.")
        ax.fill_between(axis_values, mean - std, mean + std, color=color, alpha=0.2, linewidth=0)
        ax.plot(axis_values, dec, color=color, linewidth=1.2, linestyle="--", label=f"{name}: decoded latent mean")
    ax.set_xlabel(UNIT_LABELS.get(unit, unit))
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(frameon=False, fontsize=7, ncol=2)
    ax.grid(True, alpha=0.3)


def plot_band_reconstructions(fig, inputs: np.ndarray, outputs: np.ndarray, positions, unit: str) -> None:
    """Input (top row) and reconstructed (bottom row) images at a few bands, each band on one
    colour scale, so what the autoencoder smooths away or invents shows side by side.

    Parameters
    ----------
    fig : matplotlib Figure
    inputs, outputs : ndarray of shape (height, width, n_bands)
    positions : sequence of float
        The bands' axis values.
    unit : str
    """
    from chemmap.viz.figures import plot_map

    n = inputs.shape[-1]
    axes = fig.subplots(2, n, squeeze=False)
    for j in range(n):
        both = np.concatenate([inputs[..., j].ravel(), outputs[..., j].ravel()])
        both = both[np.isfinite(both)]
        low, high = np.percentile(both, [1, 99]) if both.size else (0.0, 1.0)
        for row, (image, what) in enumerate(((inputs, "input"), (outputs, "reconstruction"))):
            shown = np.clip(image[..., j], low, high) if high > low else image[..., j]
            plot_map(axes[row, j], shown, title=f"{what} at {positions[j]:.4g} {unit}", colorbar_label="", robust=False)
