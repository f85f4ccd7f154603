"""The interactive ``report.html`` of a mapping run: its maps, clusters, component and class
maps, the processed spectra, the written report and the provenance."""

from __future__ import annotations

import numpy as np

from chemmap.report.figures import map_title
from chemmap.report.html import ClusterSummary, InteractiveReport, MapLayer, SpectraSource

__all__ = ["autoencoder_report", "peaks_report", "prediction_report", "run_report"]


def _axis_label(unit: str) -> str:
    from chemmap.core.axis import UNIT_LABELS

    return UNIT_LABELS.get(unit, unit).replace("$^{-1}$", "⁻¹")


def _label_layer(name: str, title: str, labels: np.ndarray, classes, class_names) -> MapLayer:
    """A label image with arbitrary class values as a layer of indices into ``class_names``."""
    classes = np.asarray(classes)
    index = np.full(labels.shape, -1, dtype=np.int32)
    valid = np.isin(labels, classes)
    index[valid] = np.searchsorted(classes, labels[valid])
    return MapLayer(name, title, index, categories=list(class_names))


def _run_layers(result) -> list[MapLayer]:
    unit = result.processed.axis.unit
    info = result.maps.attrs["maps"]
    layers = []
    k = result.metrics["clustering"]["k"]
    layers.append(
        MapLayer(
            "clusters",
            f"{result.metrics['clustering']['method']} clusters (k = {k})",
            np.asarray(result.label_image),
            categories=[f"cluster {j}" for j in range(k)],
        )
    )
    for name in result.maps.map_names:
        layers.append(
            MapLayer(
                name,
                map_title(info[name], unit).replace("\n", " "),
                np.asarray(result.maps[name]),
                unit="" if info[name]["kind"] in ("ratio", "ratio bound", "uncertainty", "probability") else "a.u.",
            )
        )
    unmix = result.unmixing
    if unmix is not None:
        for i, component in enumerate(unmix.names):
            layers.append(
                MapLayer(
                    f"abundance_{i}",
                    f"Abundance of {component} ({unmix.metrics['method']})",
                    unmix.abundances[..., i],
                    unit="fraction",
                )
            )
    cls = result.classification
    if cls is not None:
        shown = cls.smoothed if cls.smoothed is not None else cls.labels
        layers.append(
            _label_layer(
                "classes", f"{cls.report['method']} classes", shown, cls.classes, [f"class {c}" for c in cls.classes]
            )
        )
        layers.append(MapLayer("class_uncertainty", "Class uncertainty (normalised entropy)", cls.entropy))
    cube = result.cube
    if cube.labels is not None:
        classes = np.unique(cube.labels[cube.labels >= 0])
        names = [str((cube.label_names or {}).get(int(c), c)) for c in classes]
        layers.append(_label_layer("ground_truth", "Ground truth labels", np.asarray(cube.labels), classes, names))
    return layers


def run_report(result, *, command: list[str] | None = None, versions: dict | None = None) -> InteractiveReport:
    """The interactive report of a mapping run (:class:`chemmap.workflows.RunResult`); ``command``
    and the package ``versions`` go into its provenance table."""
    from chemmap.report.markdown import render_markdown

    spectra = result.metrics["cluster_spectra"]
    intensity = "Intensity after preprocessing (a.u.)" if result.config["preprocessing"] else "Intensity (a.u.)"
    provenance = {
        "input": str(result.config["input"]["path"]),
        "random seed": str(result.config["run"]["random_state"]),
        **_provenance(str(result.metrics.get("source")), command, versions),
    }
    return InteractiveReport(
        title=f"chemmap report: {result.metrics.get('source') or result.config['input']['path']}",
        shape=tuple(int(n) for n in result.label_image.shape),
        layers=_run_layers(result),
        spectra=_spectra(result.processed, intensity),
        clusters=ClusterSummary(
            "clusters", np.asarray(spectra["means"]), np.asarray(spectra["stds"]), spectra["counts"]
        ),
        markdown=render_markdown(result),
        provenance=provenance,
    )


def _provenance(source: str, command, versions) -> dict[str, str]:
    out = {"source": source, "command": " ".join(command) if command else "Python API"}
    out.update({f"version of {k}": v for k, v in (versions or {}).items()})
    return out


def _source(cube) -> str:
    return str(cube.attrs.get("source") or cube.attrs.get("path", "<in memory>"))


def _spectra(cube, intensity: str | None = None) -> SpectraSource:
    unit = cube.axis.unit
    if intensity is None:
        intensity = "Counts" if np.issubdtype(cube.dtype, np.integer) else "Intensity (a.u.)"
    return SpectraSource(cube.data, cube.axis.values, unit, _axis_label(unit), intensity)


def _summary_report(
    command_name: str, heading: str, cube, layers: list[MapLayer], summary: dict, warnings, command, versions, **extra
) -> InteractiveReport:
    """The report of a workflow whose text is its summary as tables: ``chemmap
    {command_name}: {source}``, ``layers``, the cube's spectra and provenance; ``extra`` goes
    to :class:`InteractiveReport` (``clusters``)."""
    from chemmap.report.markdown import summary_markdown

    source = _source(cube)
    return InteractiveReport(
        title=f"chemmap {command_name}: {source}",
        shape=tuple(cube.image_shape),
        layers=layers,
        spectra=_spectra(cube),
        markdown=summary_markdown(heading, summary, warnings),
        provenance=_provenance(source, command, versions),
        **extra,
    )


def peaks_report(result, *, command: list[str] | None = None, versions: dict | None = None) -> InteractiveReport:
    """The interactive report of a peak run (:class:`chemmap.workflows.peaks.PeaksResult`): one
    area and one position map per peak (and fitted areas when the fit ran), the spectra, and
    ``peaks.json`` as tables."""
    unit = result.cube.axis.unit
    area_unit = result.report.get("area_unit", "")
    layers = []
    for i, name in enumerate(result.names):
        layers.append(
            MapLayer(f"area_{i}", f"Peak area: {name}", np.asarray(result.maps.areas.data[..., i]), area_unit)
        )
        layers.append(
            MapLayer(f"position_{i}", f"Peak position: {name}", np.asarray(result.maps.positions.data[..., i]), unit)
        )
        if result.fitted is not None:
            layers.append(
                MapLayer(f"fitted_{i}", f"Fitted area: {name}", np.asarray(result.fitted.data[..., i]), area_unit)
            )
    return _summary_report("peaks", "Peak maps", result.cube, layers, result.report, result.warnings, command, versions)


def spectra_peaks_report(result, *, command: list[str] | None = None, versions: dict | None = None):
    """The interactive report of a peak run on spectra that are not an image
    (:class:`chemmap.workflows.peaks_spectra.SpectraPeaksResult`): no maps, the spectra, and
    ``peaks.json`` as tables."""
    return _summary_report(
        "peaks", "Peaks of each spectrum", result.cube, [], result.report, result.warnings, command, versions
    )


def autoencoder_report(
    result, cube, spectra: tuple, *, command: list[str] | None = None, versions: dict | None = None
) -> InteractiveReport:
    """The interactive report of an autoencoder run: the latent clusters and each latent
    feature as maps, the input spectra, and each cluster's mean ± std input spectrum
    (``spectra`` = ``(means, stds, counts)``)."""
    k = result.segmentation.k
    layers = [
        MapLayer(
            "clusters",
            f"Clusters of the latent features (k = {k})",
            result.labels,
            categories=[f"cluster {c}" for c in range(k)],
        )
    ]
    layers += [
        MapLayer(f"latent_{j}", f"Latent feature {j + 1}", result.latent[..., j])
        for j in range(result.latent.shape[-1])
    ]
    means, stds, counts = spectra
    clusters = ClusterSummary("clusters", np.asarray(means), np.asarray(stds), list(counts))
    return _summary_report(
        "autoencoder",
        "Spectral autoencoder",
        cube,
        layers,
        result.metrics,
        result.warnings,
        command,
        versions,
        clusters=clusters,
    )


def denoise_report(
    result, layers: list[MapLayer], *, command: list[str] | None = None, versions: dict | None = None
) -> InteractiveReport:
    """The interactive report of a denoising run: ``layers`` (what was removed, a band of the
    denoised cube), the input spectra, and the scores of every method compared."""
    return _summary_report(
        "denoise", "Denoising", result.cube, layers, result.metrics, result.warnings, command, versions
    )


def prediction_report(
    sample,
    maps: dict[str, np.ndarray],
    summary: dict,
    *,
    low: float,
    high: float,
    unit: str,
    command: list[str] | None = None,
    versions: dict | None = None,
) -> InteractiveReport:
    """The interactive page of one sample mapped by quantitative models: each model's map
    (``maps``: model name → map) and where it leaves the physical range ``[low, high]``, the
    per-pixel truth when the sample has one, and the sample's spectra; ``summary`` (the sample's
    predictions and scores) is shown as tables."""
    from chemmap.report.markdown import summary_markdown

    layers = []
    for i, (model, image) in enumerate(maps.items()):
        image = np.asarray(image, dtype=np.float32)
        side = np.where(np.isnan(image), -1, np.where(image < low, 0, np.where(image > high, 2, 1)))
        layers.append(MapLayer(f"prediction_{i}", f"{model}: predicted map ({unit})", image, unit))
        layers.append(
            MapLayer(
                f"range_{i}",
                f"{model}: physical range {low:g}-{high:g} {unit}",
                side,
                categories=[f"below {low:g} {unit}", "inside the range", f"above {high:g} {unit}"],
                colors=["#0072B2", "#BBBBBB", "#D55E00"],
            )
        )
    if sample.truth is not None:
        layers.append(MapLayer("truth", f"Per-pixel truth ({unit})", np.asarray(sample.truth, dtype=np.float32), unit))
    return InteractiveReport(
        title=f"chemmap quantitative maps: {sample.name}",
        shape=tuple(sample.cube.image_shape),
        layers=layers,
        spectra=_spectra(sample.cube),
        markdown=summary_markdown(f"Quantitative maps of {sample.name}", summary, []),
        provenance=_provenance(str(sample.cube.attrs.get("path", sample.name)), command, versions),
    )
