"""``report.md``: data, parameters with their justification, metrics with grades, an
interpretation generated from the results, and the red flags that apply."""

from __future__ import annotations

from chemmap.report.component_maps import chemical_map_files, markdown_sections
from chemmap.report.flags import red_flags
from chemmap.report.tables import format_value, markdown_table

__all__ = ["SUMMARY_TABLE_ROWS", "render_markdown", "summary_markdown"]


#: Why each clustering method is what it is, for the report (``benchmarks/segmentation_real.py``).
METHOD_REASONS = {
    "spectral-spatial": "the default: noise-whitened features, edge-preserving smoothing, mixed pixels given to "
    "their majority class and a Potts prior; in the segmentation benchmark it beats PCA + k-means and PCA + "
    "Gaussian mixture on the real scenes (Indian Pines, Samson), and keeps one-pixel lines, textures and "
    "mixed borders as k-means does",
    "kmeans": "chosen by the user: the fastest, on PCA scores, spectra or band ratios; weaker than the default on "
    "the real scenes of the segmentation benchmark",
    "gmm": "chosen by the user: full-covariance clusters, better on real scenes than k-means in the benchmark",
    "hierarchical": "chosen by the user: Ward linkage (on a seeded sample of a large image)",
}


def render_markdown(result) -> str:
    m, cfg = result.metrics, result.config
    cl = m["clustering"]
    unit = m["axis"]["unit"]
    ax = m["input_axis"]
    out = ["# chemmap report", ""]

    out += ["## Data", ""]
    out += [
        f"- Source: `{m.get('source')}` (read from `{cfg['input']['path']}`)",
        f"- Image: {m['image_shape'][0]} x {m['image_shape'][1]} pixels ({m['n_pixels']} pixels); "
        f"image shape from {m['image_shape_source']}",
        f"- Spectral axis: {ax['n_channels']} channels, {ax['start']:g}-{ax['stop']:g} {ax['unit']}"
        + (
            f"; after preprocessing {m['n_channels']} channels, {m['axis']['start']:g}-{m['axis']['stop']:g} {unit}"
            if m["axis"] != ax
            else ""
        ),
        f"- Invalid pixels: {m['n_invalid_pixels']} (missing rows {m['n_missing_pixels']}, "
        f"NaN/Inf {m['n_nonfinite_pixels']}, masked by the preprocessing {m.get('n_masked_by_preprocessing', 0)})",
        f"- SNR per band (median / p90 / max): {format_value(m['snr'].get('median'), 1)} / "
        f"{format_value(m['snr'].get('p90'), 1)} / {format_value(m['snr'].get('max'), 1)}; {m['snr'].get('method')}",
        "",
    ]

    out += ["## Parameters and why", ""]
    steps = cfg["preprocessing"]
    if steps:
        out += ["Preprocessing, in order (frozen values are in `config.resolved.toml`):", ""]
        for i, s in enumerate(steps, 1):
            params = ", ".join(f"{k}={_short(v)}" for k, v in s.items() if k != "step")
            out.append(f"{i}. `{s['step']}` ({params})")
        out.append("")
    else:
        out += ["- Preprocessing: none (spectra used as read; no smoothing).", ""]
    just = m.get("parameter_justification", {})
    out += [
        f"- Band window: {cfg['maps']['window']:g} {unit} full width - {just.get('window')}",
        f"- Intensity map at {', '.join(f'{v:g}' for v in cfg['maps']['intensity'])} {unit} - {just.get('intensity')}",
    ]
    level = cfg["maps"]["noise_threshold"]
    for num, den in cfg["maps"]["ratio"]:
        if cfg["maps"].get("ratio_mode") == "difference":
            out.append(
                f"- Normalised difference ({num:g} - {den:g}) / ({num:g} + {den:g}) {unit} - {just.get('ratio')}; "
                f"blank where neither band stands {level:g} noise sigmas up"
            )
        else:
            out.append(
                f"- Ratio {num:g} / {den:g} {unit} - {just.get('ratio')}; a lower bound where only the numerator "
                f"stands {level:g} noise sigmas up, blank where neither does"
            )
    reason = cl.get("method_reason") or METHOD_REASONS.get(cl["method"], "chosen by the user")
    out.append(f"- Method: {cl['method']} - {reason}")
    k_line = f"- Clustering: {cl['method']} on {cl['features']['kind']} features ({cl['features']['n_features']}"
    k_line += " dimensions"
    if "explained_variance" in cl["features"]:
        k_line += f", {100 * cl['features']['explained_variance']:.1f} % of the variance"
    k_line += f"), k = {cl['k']}, "
    if cl["k_chosen_by"] == "user":
        k_line += "set by the user."
    else:
        sel = cl["k_selection"]
        k_line += (
            f"chosen by {cl['k_chosen_by']} among k = {sel['k_values'][0]}-{sel['k_values'][-1]} on a "
            f"seeded sample of {sel['sample_size']} pixels; agreeing criteria: "
            f"{', '.join(sel['agreement'])}."
        )
    out += [k_line, f"- Random seed: {cfg['run']['random_state']}", ""]
    if cl.get("k_selection"):
        sel = cl["k_selection"]
        rows = [
            [
                k,
                sel["silhouette"]["scores"][str(k)],
                sel["elbow"]["inertia"][str(k)],
                sel["gap"]["gap"][str(k)],
                sel["bic"]["scores"][str(k)],
            ]
            for k in sel["k_values"]
        ]
        out += ["k selection (every criterion, best k marked in the last row; curves in `k_selection.png`):", ""]
        out += markdown_table(["k", "silhouette", "inertia", "gap", "BIC"], rows)
        out.append(
            "| best | " + " | ".join(str(sel[c]["best_k"]) for c in ("silhouette", "elbow", "gap", "bic")) + " |"
        )
        out.append("")

    out += ["## Metrics", ""]
    out += markdown_table(["metric", "value", "grade"], graded_metrics(m))
    out += [
        "",
        "Grades follow the mapping workflow's quality table (minimum / good / excellent): accuracy "
        "75/88/95 %, IoU 0.60/0.80/0.90, ARI 0.50/0.75/0.90, silhouette 0.25/0.45/0.65, SNR 10/25/50.",
        "",
    ]
    if "per_class" in cl:
        out += [
            "Per class, after Hungarian matching of clusters to classes "
            f"({', '.join(f'cluster {c} -> {n}' for c, n in cl['cluster_to_class'].items())}):",
            "",
        ]
        out += markdown_table(
            ["class", "IoU", "precision", "recall", "F1", "pixels"],
            [[n, v["iou"], v["precision"], v["recall"], v["f1"], v["support"]] for n, v in cl["per_class"].items()],
        )
        cm = cl["confusion_matrix"]
        out += ["", "Confusion matrix (rows: true class, columns: cluster):", ""]
        out += markdown_table(
            ["class"] + [f"cluster {c}" for c in cm["clusters"]],
            [[n, *row] for n, row in zip(cm["classes"], cm["matrix"], strict=True)],
        )
        out.append("")

    out += markdown_sections(result)
    out += ["## Interpretation", ""]
    out += _interpretation(m, unit)
    out += ["", "## Warnings", ""]
    flags = red_flags(m, cfg) + [f"Note from the run: {w}" for w in result.warnings]
    out += [f"- {f}" for f in flags] if flags else ["- None of the red flags apply."]
    out += [
        "",
        "## Files",
        "",
        "`report.html` (this report with the maps: pick a pixel to see its spectrum; opens from disk, "
        "no network), `intensity_map.png`, `ratio_map.png`, `cluster_map.png`, `pixel_spectra.png`, "
        + ("`cluster_uncertainty.png`, " if "cluster_uncertainty" in result.maps.map_names else "")
        + "`metrics.json`, "
        + (
            "`cluster_labels.zarr` (array `labels`, H x W, -1 = masked) and `maps.zarr` (one array per map), "
            if result.cube.is_lazy
            else "`cluster_labels.npy` (H x W, -1 = masked), `maps.npz`, "
        )
        + "`config.resolved.toml` (re-run with `chemmap run config.resolved.toml --out DIR`), "
        "`run_record.json` (versions, timings, scheduler)"
        + "".join(f", `{name}`" for name in chemical_map_files(result))
        + ".",
        "",
    ]
    return "\n".join(out)


def graded_metrics(m: dict) -> list[list]:
    """The metrics table of a mapping run: ``[name, value, grade]`` rows (grade ``""`` where
    the quality table has none)."""
    cl, snr = m["clustering"], m["snr"]
    why_not = cl.get("silhouette_not_graded")
    rows = [
        [
            f"silhouette (sample of {cl['silhouette_sample_size']})",
            cl.get("silhouette"),
            f"not graded: {why_not}" if why_not else cl.get("silhouette_grade"),
        ],
        ["Calinski-Harabasz", cl.get("calinski_harabasz"), ""],
        ["Davies-Bouldin", cl.get("davies_bouldin"), ""],
        ["salt-and-pepper fraction", cl.get("salt_and_pepper_fraction"), ""],
        ["SNR (p90 of bands)", snr.get("p90"), snr.get("grade")],
    ]
    if "ari" in cl:
        rows += [
            ["ARI", cl["ari"], cl["ari_grade"]],
            ["NMI", cl["nmi"], ""],
            ["pixel accuracy", cl["pixel_accuracy"], cl["pixel_accuracy_grade"]],
            ["mean IoU", cl["mean_iou"], cl["mean_iou_grade"]],
        ]
    return rows


def _short(value) -> str:
    if isinstance(value, list) and len(value) > 6:
        return f"[{len(value)} values]"
    return repr(value)


def _interpretation(m: dict, unit: str) -> list[str]:
    cl = m["clustering"]
    lines = []
    for c in cl["clusters"]:
        text = (
            f"- Cluster {c['cluster']}: {c['n_pixels']} pixels ({100 * c['fraction']:.1f} % of the valid "
            f"pixels) in {c['n_regions']} connected region{'s' if c['n_regions'] != 1 else ''}"
        )
        found = [b for b in cl["distinguishing_bands"] if b["cluster"] == c["cluster"]]
        if found:
            text += "; distinguished by " + " and ".join(
                f"{b['direction']} intensity at {b['position']:g} {unit} ({b['difference']:+.3g} vs the other "
                f"clusters, effect size {abs(b['effect_size']):.1f})"
                for b in found
            )
        lines.append(text + ".")
    b = cl["boundary"]
    if b.get("sharpness") is not None:
        s = b["sharpness"]
        kind = (
            "sharp: boundary pixels are almost as distinct as interior ones"
            if s >= 0.7
            else "moderately sharp"
            if s >= 0.4
            else "gradual: boundary pixels hold mixed spectra"
        )
        lines.append(
            f"- Boundaries are {kind} (sharpness {s:.2f}; {100 * b['boundary_fraction']:.1f} % of pixels "
            "lie on a boundary)."
        )
    for name, info in m["maps"].items():
        if info.get("kind") == "ratio" and "median" in info:
            lines.append(
                f"- {name}: median {info['median']:.3g}, range {info['min']:.3g}-{info['max']:.3g}"
                f"{'; ' + str(info['n_nan']) + ' pixels blank' if info['n_nan'] else ''}."
            )
    if "ari" in cl:
        lines.append(
            f"- Against the ground truth: ARI {cl['ari']:.3f}, pixel accuracy {100 * cl['pixel_accuracy']:.1f} %, "
            f"mean IoU {cl['mean_iou']:.3f}."
        )
    return lines


#: Rows of a list-of-records table drawn at most in :func:`summary_markdown`.
SUMMARY_TABLE_ROWS = 60


def _cell(value) -> str:
    if isinstance(value, list | tuple):
        shown = ", ".join(format_value(v) for v in value[:8])
        return f"[{shown}{', ...' if len(value) > 8 else ''}]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {format_value(v)}" for k, v in list(value.items())[:6]) + "}"
    return format_value(value)


def _flatten(values: dict, prefix: str = "") -> list[list[str]]:
    rows = []
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            rows += _flatten(value, f"{name} / ")
        elif value is not None:
            rows.append([name, _cell(value)])
    return rows


def summary_markdown(title: str, summary: dict, warnings: list[str]) -> str:
    """A readable Markdown page from a workflow's JSON summary (``peaks.json``, an autoencoder
    run's metrics): scalars as a list, each section as a table, lists of records as tables
    (first :data:`SUMMARY_TABLE_ROWS` rows), then the warnings."""
    out = [f"# {title}", ""]
    scalars = [[k, _cell(v)] for k, v in summary.items() if not isinstance(v, dict | list) and v is not None]
    out += [f"- {k}: {v}" for k, v in scalars] + ([""] if scalars else [])
    for key, value in summary.items():
        if key == "warnings" or value is None or not isinstance(value, dict | list) or not value:
            continue
        heading = key.replace("_", " ")
        out += [f"## {heading[:1].upper()}{heading[1:]}", ""]
        if isinstance(value, dict):
            out += markdown_table(["item", "value"], _flatten(value))
        elif all(isinstance(v, dict) for v in value):
            columns = [  # nested records stay in the JSON file
                c
                for c in dict.fromkeys(k for v in value for k in v)
                if not all(isinstance(v.get(c), dict) for v in value)
            ]
            rows = [[_cell(v.get(c)) for c in columns] for v in value[:SUMMARY_TABLE_ROWS]]
            out += markdown_table(columns, rows)
            if len(value) > SUMMARY_TABLE_ROWS:
                out.append(f"\n({len(value) - SUMMARY_TABLE_ROWS} more rows in the JSON file)")
        else:
            out.append(f"- {_cell(value)}")
        out.append("")
    out += ["## Warnings", ""]
    out += [f"- {w}" for w in warnings] if warnings else ["- None."]
    return "\n".join(out) + "\n"
