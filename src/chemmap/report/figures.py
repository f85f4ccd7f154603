"""The figures of a run: intensity map, ratio map, cluster map, cluster spectra and, when they
apply, the k-selection curves and the cluster uncertainty map."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

from chemmap.viz.figures import new_figure, plot_cluster_spectra, plot_label_map, plot_map, save_figure

__all__ = ["figure_jobs", "map_title", "plot_k_selection"]


def map_title(info: dict, unit: str) -> str:
    """A band-intensity or ratio map's title (two lines) from its entry in the maps' info."""
    if info["kind"] == "uncertainty":
        return "Cluster uncertainty\n(1 - the largest cluster probability)"
    if info["kind"] == "probability":
        return f"Probability of cluster {info['cluster']}\n(mixture likelihood and spatial prior)"
    if info["kind"] == "ratio bound":
        return f"Where {info['of']} is a lower bound\n(denominator below {info['noise_threshold']:g} noise sigmas)"
    if info["kind"] == "ratio":
        a, b = info["numerator"]["at"], info["denominator"]["at"]
        window = f"(window {info['numerator']['window']:.3g} {unit})"
        if info.get("contrast") == "difference":
            return f"Normalised difference ({a:g} - {b:g}) / ({a:g} + {b:g}) {unit}\n{window}"
        return f"Ratio {a:g} / {b:g} {unit}\n{window}"
    window = f"window {info['window']:.3g} {unit}, {info['n_channels']} channels"
    return f"Band intensity at {info['at']:g} {unit}\n({window})"


def _grid(result, kind: str, path: Path, label, note=lambda name: None, bound=lambda name: None) -> None:
    """The maps of one kind side by side, each titled by :func:`map_title`; ``label``,
    ``note`` and ``bound`` give a map's colour-bar label, note and lower-bound pixels."""
    info, unit = result.maps.attrs["maps"], result.processed.axis.unit
    names = [name for name in result.maps.map_names if info[name]["kind"] == kind]
    n = max(len(names), 1)
    fig = new_figure(5.5 * n, 4.8)
    axes = fig.subplots(1, n, squeeze=False)[0]
    if not names:
        axes[0].text(0.5, 0.5, "no map of this kind in this run", ha="center", va="center")
        axes[0].set_axis_off()
    for ax, name in zip(axes, names, strict=False):
        plot_map(
            ax,
            result.maps[name],
            title=map_title(info[name], unit),
            colorbar_label=label(name),
            note=note(name),
            bound=bound(name),
        )
    save_figure(fig, path)


def figure_jobs(result, out_dir: Path) -> list[Callable[[], None]]:
    """One job for each figure of a run, to be run in any order and in any process (see
    :func:`chemmap._shared.forked.run_forked`): ``intensity_map.png``, ``ratio_map.png``,
    ``cluster_map.png``, ``pixel_spectra.png``, when k was chosen automatically
    ``k_selection.png`` (the criterion curves) and, when the clustering gives probabilities,
    ``cluster_uncertainty.png``, each written into ``out_dir``."""
    unit = result.processed.axis.unit
    info = result.maps.attrs["maps"]
    names = list(result.maps.map_names)
    ylabel = "Intensity after preprocessing (a.u.)" if result.config["preprocessing"] else "Intensity (a.u.)"

    def ratio_note(n):
        i, lines = info[n], []
        if i.get("n_bound"):
            bounds = np.asarray(result.maps[n])[ratio_bound(n)]
            lines.append(
                f"hatched: {i['n_bound']} pixels where only the {i['numerator']['at']:g} band stands "
                f"{i['noise_threshold']:g} noise sigmas up:\nratio above the scale, at least "
                f"{np.nanmedian(bounds):.3g} (median lower bound)"
            )
        if i.get("n_undefined"):
            lines.append(
                f"blank: {i['n_undefined']} pixels where neither band stands {i['noise_threshold']:g} sigmas up"
            )
        return "\n".join(lines) or None

    def ratio_bound(n):
        return None if f"{n}_bound" not in names else np.asarray(result.maps[f"{n}_bound"]) == 1

    def intensity_label(n):
        if info[n]["mode"] == "mean":
            return ylabel.replace("Intensity", "Mean intensity")
        return f"Band area (a.u. x {unit})"

    def ratio_label(n):
        return "Normalised difference" if info[n].get("contrast") == "difference" else "Intensity ratio"

    def uncertainty_note(n):
        values = np.asarray(result.maps[n], dtype=np.float64)
        values = values[np.isfinite(values)]
        return f"{100 * np.mean(values > 0.25):.1f} % of pixels above 0.25; median {np.median(values):.2g}"

    jobs = [
        partial(_grid, result, "intensity", out_dir / "intensity_map.png", intensity_label),
        partial(_grid, result, "ratio", out_dir / "ratio_map.png", ratio_label, ratio_note, ratio_bound),
    ]
    if any(info[n]["kind"] == "uncertainty" for n in names):
        jobs.append(
            partial(
                _grid,
                result,
                "uncertainty",
                out_dir / "cluster_uncertainty.png",
                lambda n: "Probability that another cluster is right",
                uncertainty_note,
            )
        )

    clustering = result.metrics["clustering"]
    k = clustering["k"]

    def cluster_map() -> None:
        cluster_names = [f"cluster {s['cluster']} ({100 * s['fraction']:.1f} %)" for s in clustering["clusters"]]
        fig = new_figure(6.8, 4.8)
        how = clustering["k_chosen_by"]
        plot_label_map(
            fig.subplots(),
            result.label_image,
            cluster_names,
            title=f"{clustering['method']} clusters, k = {k} "
            f"({'chosen by ' + how if how != 'user' else 'set by the user'})",
        )
        save_figure(fig, out_dir / "cluster_map.png")

    def cluster_spectra() -> None:
        spectra = result.metrics["cluster_spectra"]
        fig = new_figure(7.5, 4.8)
        plot_cluster_spectra(
            fig.subplots(),
            result.processed.axis.values,
            unit,
            np.asarray(spectra["means"]),
            np.asarray(spectra["stds"]),
            [f"cluster {j}" for j in range(k)],
            title="Mean spectrum of each cluster",
            ylabel=ylabel,
        )
        save_figure(fig, out_dir / "pixel_spectra.png")

    def k_selection() -> None:
        fig = new_figure(13, 3.4)
        plot_k_selection(fig, clustering["k_selection"], k)
        save_figure(fig, out_dir / "k_selection.png")

    jobs += [cluster_map, cluster_spectra]
    if clustering.get("k_selection"):
        jobs.append(k_selection)
    return jobs


def plot_k_selection(fig, selection: dict, chosen: int) -> None:
    """The four criterion curves against k, each criterion's best k and the chosen k marked."""
    ks = selection["k_values"]
    curves = [
        ("silhouette", "silhouette (higher is better)", selection["silhouette"]["scores"]),
        ("elbow", "inertia (elbow)", selection["elbow"]["inertia"]),
        ("gap", "gap statistic", selection["gap"]["gap"]),
        ("bic", "BIC (lower is better)", selection["bic"]["scores"]),
    ]
    for ax, (key, label, scores) in zip(fig.subplots(1, 4), curves, strict=True):
        values = [scores[str(k)] if str(k) in scores else scores[k] for k in ks]
        ax.plot(ks, values, marker="o", color="#0072B2")
        ax.axvline(
            selection[key]["best_k"], color="#D55E00", linestyle=":", label=f"best k = {selection[key]['best_k']}"
        )
        ax.axvline(chosen, color="#555555", linewidth=3, alpha=0.3, label=f"chosen k = {chosen}")
        ax.set_xlabel("k")
        ax.set_title(label, fontsize=10)
        ax.legend(fontsize=8)
