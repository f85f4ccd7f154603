"""``chemmap peaks`` on spectra that are not an image: one spectrum (EMSA, Bruker ``.spx``) or a
spectral library (ENVI ``.sli``). Each spectrum's peaks are found on it (baseline removed on
molecular axes, element lines identified on energy axes) and written to ``peaks.json`` with
a figure of the spectra and their peaks; there are no maps to make."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from chemmap.core.cube import Cube
from chemmap.core.exceptions import InvalidParameterError

__all__ = [
    "MAX_PANELS",
    "SpectraPeaksResult",
    "SpectrumPeaks",
    "find_spectra_peaks",
    "is_image",
    "peak_labels",
    "spectra_summary",
]

#: Library spectra drawn at most in ``peak_spectrum.png`` (the first ones; all are in peaks.json).
MAX_PANELS = 24


def is_image(cube: Cube) -> bool:
    """Whether ``cube`` is an image to map (not one spectrum, not a spectral library)."""
    return cube.n_pixels > 1 and not cube.attrs.get("spectral_library")


@dataclass
class SpectrumPeaks:
    """The peaks of one spectrum.

    Attributes
    ----------
    name : str
    peaks : list of Peak
    spectrum : ndarray of shape (n_channels,)
        The spectrum the peaks were found and measured on (its baseline removed where one was).
    identification : dict or None
        :func:`chemmap.xrf.identify_peaks`' answer on energy axes.
    bands, labels : list
        Each peak's name in the user's band table (or None) and its label (see
        :func:`peak_labels`).
    """

    name: str
    peaks: list
    spectrum: np.ndarray
    identification: dict | None = None
    bands: list = field(default_factory=list)
    labels: list = field(default_factory=list)


def peak_labels(peaks, identification: dict | None, table) -> tuple[list, list[str]]:
    """Each peak's band in the user's ``table`` (None: no match, or no table) and its label:
    that band, else its element line (:func:`chemmap.xrf.identify.assignment_labels`), else
    an empty string."""
    from chemmap.maps.band_table import label_peaks
    from chemmap.xrf.identify import assignment_labels

    bands = label_peaks(peaks, table) if table else [None] * len(peaks)
    lines = assignment_labels(identification, len(peaks))
    return bands, [band or line for band, line in zip(bands, lines, strict=True)]


@dataclass
class SpectraPeaksResult:
    """The peaks of every spectrum of a cube that is not an image (``peaks.json`` holds the same)."""

    cube: Cube
    spectra: list[SpectrumPeaks]
    baseline: str | None
    report: dict
    warnings: list[str] = field(default_factory=list)
    out_dir: Path | None = None
    settings: object = None


def _names(cube: Cube) -> list[str]:
    """Each spectrum's name: the library's own names where it has them."""
    import ast

    names = cube.attrs.get("spectrum_names")
    if isinstance(names, str):
        try:
            names = ast.literal_eval(names)
        except (ValueError, SyntaxError):
            names = None
    if isinstance(names, list | tuple) and len(names) == cube.n_pixels:
        return [str(n) for n in names]
    return (
        [f"spectrum {i + 1}" for i in range(cube.n_pixels)]
        if cube.n_pixels > 1
        else [str(cube.attrs.get("source", "spectrum"))]
    )


def find_spectra_peaks(cube: Cube, settings, identify) -> SpectraPeaksResult:
    """Peaks of each spectrum of ``cube`` (one spectrum or a library), with ``settings``
    (:class:`~chemmap.workflows.peaks.PeakSettings`); ``identify(cube, spectrum, peaks)``
    names element lines (None where it does not apply). A spectrum without a peak gets an
    empty list; no peak in any spectrum is refused."""
    from chemmap.maps import find_peaks
    from chemmap.maps.detection_spectrum import MOLECULAR_UNITS, detection_baseline

    spectra, names = np.asarray(cube.pixels(), dtype=np.float64), _names(cube)
    if cube.mask is not None:
        keep = cube.valid_pixels()
        spectra, names = spectra[keep], [n for n, kept in zip(names, keep, strict=True) if kept]
    how = None
    if settings.baseline == "on" or (settings.baseline == "auto" and cube.axis.unit in MOLECULAR_UNITS):
        baselines, how = detection_baseline(spectra)
        spectra = spectra - baselines
    options, table = settings.finder_options(), settings.band_table()
    found = []
    for name, spectrum in zip(names, spectra, strict=True):
        peaks = find_peaks(cube.axis.values, spectrum, counts=None if how is None else False, **options)
        identification = identify(cube, spectrum, peaks) if peaks else None
        bands, labels = peak_labels(peaks, identification, table)
        found.append(SpectrumPeaks(name, peaks, spectrum, identification, bands, labels))
    if not any(s.peaks for s in found):
        which = "the spectrum" if len(found) == 1 else f"any of the {len(found)} spectra"
        raise InvalidParameterError(
            f"No peak stands out of the noise of {which}. To fix this, lower the prominence (--prominence, in "
            "the spectrum's units) or the least width (--min-width)."
        )
    return SpectraPeaksResult(cube, found, how, {})


def spectra_report(result: SpectraPeaksResult, settings) -> dict:
    """The content of ``peaks.json`` for spectra that are not an image."""
    cube = result.cube
    what = "a spectral library" if cube.attrs.get("spectral_library") else "one spectrum"
    entries = []
    for item in result.spectra:
        peaks = []
        for i, peak in enumerate(item.peaks):
            entry = peak.to_dict()
            entry["area"] = _area(cube.axis.values, item.spectrum, peak)
            entry["band"] = item.bands[i]
            if item.identification is not None:
                ident = item.identification["peaks"][i]
                entry.update({k: ident[k] for k in ("assignment", "element", "family", "confidence", "flags")})
            peaks.append(entry)
        entries.append(
            {
                "name": item.name,
                "peaks": peaks,
                "identified": None if item.identification is None else item.identification["identified"],
                "elements": None if item.identification is None else item.identification["elements"],
            }
        )
    return {
        "axis": cube.axis.to_dict(),
        "n_spectra": len(result.spectra),
        "detected_on": "each spectrum",
        "detection": {
            "spectrum": "each spectrum",
            "reason": f"{what}, not an image: each spectrum's peaks are found on it.",
            "baseline_removed": result.baseline,
        },
        "maps": f"skipped: {what} is not an image, there is nothing to map.",
        "spectra": entries,
        "settings": settings.to_dict(),
    }


def spectra_summary(result: SpectraPeaksResult) -> str:
    """What ``chemmap peaks`` prints for spectra that are not an image."""
    counts = [len(s.peaks) for s in result.spectra]
    if len(counts) == 1:
        (only,) = result.spectra
        unit = result.cube.axis.unit
        named = [f"{label or 'peak'} {p.position:.4g} {unit}" for label, p in zip(only.labels, only.peaks, strict=True)]
        lines = [f"{counts[0]} peaks in the spectrum ({', '.join(named)}); no maps: not an image"]
    else:
        lines = [f"{sum(counts)} peaks in {len(counts)} spectra; no maps: not an image"]
    identified = sorted({e for s in result.spectra for e in (s.identification or {}).get("identified", [])})
    if result.spectra[0].identification is not None:
        lines.append(f"elements identified: {', '.join(identified) or 'none'}")
    lines.append(f"wrote peaks.json and peak_spectrum.png to {result.out_dir}")
    return "\n".join(lines)


def _area(x, spectrum, peak) -> float:
    """Net area of the peak's slice above the straight line through its ends (axis units x
    spectrum units)."""
    xs = x[peak.lower_index : peak.upper_index]
    ys = spectrum[peak.lower_index : peak.upper_index]
    if xs.size < 2:
        return 0.0
    line = np.interp(xs, [xs[0], xs[-1]], [ys[0], ys[-1]])
    return float(np.trapezoid(ys - line, xs))


def write_spectra(result: SpectraPeaksResult, stage: Path, session) -> None:
    """``peaks.json``, ``spectra_peaks.npz`` (axis, the spectra peaks were found on, names),
    ``peak_spectrum.png`` and ``report.html`` into ``stage``."""
    import json

    from chemmap._shared.atomic import write_text_atomic
    from chemmap.report.html import write_html
    from chemmap.report.metrics_json import to_json_safe
    from chemmap.report.pages import spectra_peaks_report
    from chemmap.workflows.session import versions

    with open(stage / "spectra_peaks.npz", "wb") as fh:
        np.savez(
            fh,
            axis=result.cube.axis.values,
            spectra=np.stack([s.spectrum for s in result.spectra]),
            names=np.array([s.name for s in result.spectra]),
        )
    with session.timer.stage("figures"):
        _draw(result, stage / "peak_spectrum.png")
        write_html(spectra_peaks_report(result, command=session.command, versions=versions()), stage / "report.html")
    write_text_atomic(stage / "peaks.json", json.dumps(to_json_safe(result.report), indent=2, allow_nan=False) + "\n")


def _draw(result: SpectraPeaksResult, path: Path) -> None:
    from chemmap.viz.figures import new_figure, save_figure
    from chemmap.viz.peaks import plot_peak_spectrum

    shown = result.spectra[:MAX_PANELS]
    columns = 1 if len(shown) == 1 else min(3, len(shown))
    rows = -(-len(shown) // columns)
    fig = new_figure(11 if columns == 1 else 5 * columns, 5 if rows == 1 else 3.2 * rows)
    axes = np.atleast_1d(fig.subplots(rows, columns, squeeze=False).ravel())
    unit = result.cube.axis.unit
    for ax, item in zip(axes, shown, strict=False):
        plot_peak_spectrum(
            ax,
            result.cube.axis.values,
            unit,
            item.spectrum,
            item.peaks,
            [label or f"{p.position:.4g}" for label, p in zip(item.labels, item.peaks, strict=True)],
            title=f"{item.name}: {len(item.peaks)} peaks" + (" (baseline removed)" if result.baseline else ""),
            ylabel="Intensity",
            log=False,
        )
    for ax in axes[len(shown) :]:
        ax.set_axis_off()
    if len(result.spectra) > len(shown):
        fig.suptitle(f"The first {len(shown)} of {len(result.spectra)} spectra (all are in peaks.json)")
    save_figure(fig, path)
