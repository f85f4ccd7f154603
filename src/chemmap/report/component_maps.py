"""Files, figures and report sections of a run's unmixing and classification steps."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

from chemmap.report.tables import format_value

__all__ = ["chemical_map_files", "chemical_map_jobs", "markdown_sections"]


def chemical_map_files(result) -> list[str]:
    """The extra files a run with unmixing or classification writes."""
    files = []
    if getattr(result, "unmixing", None) is not None:
        files += ["abundances.npy", "endmembers.npy", "abundance_maps.png", "endmember_spectra.png"]
    if getattr(result, "classification", None) is not None:
        files += ["classification_labels.npy", "class_probabilities.npy", "classification_map.png"]
    return files


def chemical_map_jobs(result, stage: Path) -> list[Callable[[], None]]:
    """One job for each part of the unmixing and classification steps' arrays and figures,
    written into the staging folder in any order and in any process (see
    :func:`chemmap._shared.forked.run_forked`)."""
    jobs = []
    if result.unmixing is not None:
        jobs += [partial(_abundance_maps, result.unmixing, stage), partial(_endmember_spectra, result, stage)]
    if result.classification is not None:
        jobs.append(partial(_classification_map, result.classification, stage))
    return jobs


def _abundance_maps(unmix, stage: Path) -> None:
    from chemmap.viz.figures import new_figure, plot_map, save_figure

    np.save(stage / "abundances.npy", unmix.abundances)
    np.save(stage / "endmembers.npy", unmix.endmembers)
    k = len(unmix.names)
    cols = min(k, 4)
    rows = -(-k // cols)
    fig = new_figure(4.6 * cols, 4.0 * rows)
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).reshape(-1)
    for i, ax in enumerate(axes):
        if i >= k:
            ax.set_axis_off()
            continue
        plot_map(
            ax,
            unmix.abundances[..., i],
            title=unmix.names[i],
            colorbar_label="abundance (fraction)",
            robust=False,
        )
    save_figure(fig, stage / "abundance_maps.png")


def _endmember_spectra(result, stage: Path) -> None:
    from chemmap.viz.figures import new_figure, save_figure

    unmix = result.unmixing
    fig = new_figure(7.5, 4.8)
    ax = fig.subplots()
    axis = result.processed.axis
    for i, spectrum in enumerate(unmix.endmembers):
        ax.plot(axis.values, spectrum / max(np.abs(spectrum).max(), 1e-30), label=unmix.names[i])
    if unmix.reference_spectra is not None:
        for j, spectrum in enumerate(unmix.reference_spectra):
            ax.plot(
                axis.values,
                spectrum / max(np.abs(spectrum).max(), 1e-30),
                "k--",
                lw=0.8,
                label="reference" if j == 0 else None,
            )
    ax.set_xlabel(f"{axis.unit}")
    ax.set_ylabel("Intensity, scaled to its maximum")
    ax.set_title(f"Component spectra ({unmix.metrics['method']})")
    ax.legend(fontsize=8)
    save_figure(fig, stage / "endmember_spectra.png")


def _classification_map(cls, stage: Path) -> None:
    from chemmap.viz.figures import new_figure, plot_label_map, plot_map, save_figure

    shown = cls.smoothed if cls.smoothed is not None else cls.labels
    np.save(stage / "classification_labels.npy", shown.astype(np.int32))
    np.save(stage / "class_probabilities.npy", cls.probabilities.astype(np.float32))
    index = np.where(shown >= 0, np.searchsorted(cls.classes, shown), -1)
    fig = new_figure(12.5, 4.8)
    left, right = fig.subplots(1, 2)
    test = cls.report["test_smoothed" if cls.smoothed is not None else "test"]
    plot_label_map(
        left,
        index,
        [f"class {c}" for c in cls.classes],
        title=f"{cls.report['method']} classes (test accuracy {test['overall_accuracy']:.2f})",
    )
    plot_map(
        right,
        cls.entropy,
        title="Uncertainty (normalised entropy)",
        colorbar_label="0 certain, 1 uniform",
        robust=False,
    )
    save_figure(fig, stage / "classification_map.png")


def _auto_choice_lines(auto: dict) -> list[str]:
    """What ``--unmix auto`` chose from the data, and why."""

    def refinement(n: int, shift: float | None) -> str:
        if n:
            return f"mean of {n} pixels"
        if shift is None:
            return "kept (too few pure pixels)"
        return f"kept (the pure pixels' mean lies {shift:.1f} noise norms away: another mixture, not less noise)"

    moves = zip(auto["refined_from_pixels"], auto["refinement_shift_noise_norms"], strict=True)
    refined = [f"{i + 1}: {refinement(n, shift)}" for i, (n, shift) in enumerate(moves)]
    residuals = ", ".join(f"{name} {value:.4g}" for name, value in auto["fit_residual_by_extractor"].items())
    lines = [
        f"- Extractor `{auto['extractor']}`: {auto['extractor_why']} (every extractor: {residuals})",
        f"- Solver `{auto['solver']}`: {auto['why']}",
        f"- Endmembers refined from the purest pixels: {'; '.join(refined)}",
    ]
    for name, why in (auto.get("skipped_extractors") or {}).items():
        lines.append(f"- Extractor `{name}` left out: {why}")
    rivals = auto.get("equally_good_extractors") or {}
    if rivals:
        each = ", ".join(
            f"`{name}` (residual {100 * r['residual_above_chosen']:+.1f} %, "
            f"fractions {r['abundance_rmse_to_chosen']:.3f} RMSE from the chosen ones)"
            for name, r in rivals.items()
        )
        lines.append(f"- Extractors that explain the pixels as well: {each}")
    return lines


def markdown_sections(result) -> list[str]:
    """Report sections for the unmixing and classification steps (empty when neither ran)."""
    out: list[str] = []
    unmix = result.unmixing
    if unmix is not None:
        m = unmix.metrics
        out += ["## Unmixing", ""]
        chosen = m["k_chosen_by"] if m["k_chosen_by"] != "user" else "set by the user"
        out.append(f"- Method: `{m['method']}`; {m['k']} components ({chosen})")
        if "component_count" in m:
            cc = m["component_count"]
            out.append(
                f"- Component count: noise-whitened {cc['whitened']}, HySime {cc['hysime']}, "
                f"99 % variance {cc['scree']}"
            )
        out.append(f"- Abundances: {m.get('abundance_kind')}")
        if "auto" in m:
            out += _auto_choice_lines(m["auto"])
        if "mcr" in m:
            out.append(
                f"- MCR-ALS: {m['mcr']['n_iter']} iterations, converged {m['mcr']['converged']}, lack of fit "
                f"{format_value(m['mcr']['lack_of_fit_percent'])} %, explained variance "
                f"{format_value(m['mcr']['explained_variance_percent'])} %"
            )
        scores = m.get("scores") or {}
        if scores:
            out += [
                "",
                "| reference | matched component | spectral angle (rad) | abundance RMSE |",
                "|---|---|---|---|",
            ]
            angles, errors = scores.get("spectral_angle", {}), scores.get("abundance_rmse", {})
            for name, j in scores["matched"].items():
                matched = j + 1 if j >= 0 else "-"
                out.append(
                    f"| {name} | {matched} | {format_value(angles.get(name))} | {format_value(errors.get(name))} |"
                )
        out.append("")
    cls = result.classification
    if cls is not None:
        r = cls.report
        out += ["## Classification", ""]
        split = r["split"]
        out.append(
            f"- `{r['method']}` trained on {split['n_train_pixels']} pixels in whole spatial blocks "
            f"({split.get('block_size', '-')} px), scored on {split['n_test_pixels']} pixels of other blocks"
        )
        rows = [("pixel-wise", r["test"])] + ([("Potts-smoothed", r["test_smoothed"])] if "test_smoothed" in r else [])
        out += ["", "| labels | overall accuracy | kappa | average accuracy |", "|---|---|---|---|"]
        for name, s in rows:
            out.append(
                f"| {name} | {format_value(s.get('overall_accuracy'))} | {format_value(s.get('kappa'))} | "
                f"{format_value(s.get('average_accuracy'))} |"
            )
        missing = split.get("classes_without_training") or []
        if missing:
            out.append(f"\n- Classes without any training pixel: {missing}")
        out.append("")
    return out
