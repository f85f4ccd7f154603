"""The peak-slicing workflow behind ``chemmap peaks``: summary spectra, energy calibration
(XRF cubes in channels), peak detection, element identification (keV axes), peak-area and
peak-position maps with their noise, optional fitted maps, hot-max spectra and speckle
atlases, written into one output folder atomically.

Passes over the cube: one for the summary spectra (which also calibrate the energy), one
for the sliced maps, one more for fitted maps when asked; hot-max spectra and speckle
spectra read only their pixels.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import ClassVar

import numpy as np

from chemmap._shared.params import Param, Settings
from chemmap._shared.progress import ProgressCallback, notify
from chemmap.core.cube import Cube
from chemmap.core.exceptions import AxisError, DataWarning, InvalidParameterError
from chemmap.core.optional import optional_import
from chemmap.workflows.session import Session, Timer, versions
from chemmap.workflows.shape import Workflow

__all__ = [
    "PEAKS",
    "PEAK_OUTPUT_FILES",
    "PeakSettings",
    "PeaksResult",
    "execute",
    "map_peaks",
    "run_peaks",
    "summary",
    "write",
]

#: Files every ``chemmap peaks`` run writes (``peak_fit.npy``, ``speckles.png``,
#: ``speckles.npz`` and ``smoothed.zarr`` only when asked or found).
PEAK_OUTPUT_FILES = (
    "peaks.json",
    "peak_areas.npy",
    "peak_positions.npy",
    "total_counts.npy",
    "total_counts.png",
    "summary_spectra.npz",
    "hotmax_spectra.npz",
    "peak_maps.png",
    "peak_spectrum.png",
    "hotmax_spectra.png",
    "report.html",
    "config.resolved.toml",
    "run_record.json",
)
#: Fewest channels a spectrum needs for peaks to be found in it.
MIN_CHANNELS = 5
#: Speckle panels drawn at most (the maps with the most speckles).
MAX_SPECKLE_PANELS = 6


class PeakSettings(Settings):
    """Options of the peak workflow, the ``[peaks]`` table of a config (axis units wherever a
    width is given); each is declared once in :data:`PeakSettings.PARAMS`.

    ``bands``: a CSV or TOML table of known bands (see
    :func:`chemmap.maps.band_table.read_band_table`) whose names label the peaks they match;
    chemmap names no material by itself. ``detect_on``: the max spectrum finds peaks of a few
    pixels (speckles), the mean spectrum (the summed counts for counts) weak lines of many
    pixels (Kβ and Lγ lines, about a tenth of their Kα); ``auto`` chooses from the data (see
    :func:`find_cube_peaks`): the mean for sparse counts, else both merged, every peak
    measured on the max spectrum and recorded with the spectrum that found it. ``baseline``:
    the summary spectra of molecular axes lose their baseline before detection (``auto``).
    ``detector_resolution`` and ``excitation``: the instrument's numbers for identification
    (default: the file's). ``prominence``, ``min_width``, ``max_width`` and
    ``slice_width``: see :func:`chemmap.maps.find_peaks`; ``baseline_channels``: see
    :func:`chemmap.maps.peak_slicing`. ``anode``: without it (and without one named by the file,
    ``attrs["anode"]``) scatter peaks are not flagged and calibration anchors on common element
    lines only. ``normalize`` is maxrf4u's ``norm=True``. ``smooth`` writes a smoothed copy as
    a separate layer; the maps always use the raw counts.
    """

    SECTION = "peaks"
    PARAMS: ClassVar[dict[str, Param]] = {
        "detect_on": Param(
            "choice",
            "auto",
            choices=("auto", "max", "mean"),
            doc="spectrum the peaks are found on (auto: from the data)",
        ),
        "prominence": Param(
            "float", None, low=0, allow_none=True, doc="least peak prominence, spectrum units (default 5 noise sigmas)"
        ),
        "min_width": Param("float", None, low=0, allow_none=True, doc="least FWHM, axis units (default 3 channels)"),
        "max_width": Param("float", None, low=0, allow_none=True, doc="largest FWHM, axis units"),
        "slice_width": Param("float", 1.5, low=0, low_inclusive=False, doc="slice width in FWHMs"),
        "baseline": Param(
            "choice",
            "auto",
            choices=("auto", "on", "off"),
            doc="take the baseline off the summary spectra before detection (auto: molecular axes)",
        ),
        "baseline_channels": Param(
            "int", None, low=1, allow_none=True, doc="channels averaged at each slice end for the baseline"
        ),
        "anode": Param("str", None, allow_none=True, doc="X-ray tube anode element (default: the one the file names)"),
        "detector_resolution": Param(
            "float",
            None,
            low=20,
            high=1000,
            allow_none=True,
            doc="detector FWHM at Mn Ka, eV (default: the file's, else from the peak widths)",
        ),
        "excitation": Param(
            "float",
            None,
            low=0,
            low_inclusive=False,
            allow_none=True,
            doc="beam energy (EDS) or tube voltage (XRF), keV (default: the file's, else unknown)",
        ),
        "calibrate": Param(
            "choice", "auto", choices=("auto", "off"), doc="auto: calibrate a channel axis from its own lines"
        ),
        "calibration_degree": Param("int", 1, low=1, high=2, doc="1: linear energy calibration, 2: quadratic"),
        "identify": Param("choice", "auto", choices=("auto", "on", "off"), doc="element identification (auto: keV)"),
        "bands": Param(
            "str",
            None,
            allow_none=True,
            doc="CSV or TOML table of known bands (name, position, tolerance) that labels the peaks",
        ),
        "fit": Param("bool", False, doc="also map peaks by a non-negative fit (Gaussians + continuum)"),
        "speckles": Param("bool", True, doc="a speckle atlas of every peak-area map"),
        "max_area": Param("int", 25, low=1, doc="largest speckle, pixels"),
        "equalize": Param("bool", False, doc="histogram-equalised peak-map grid"),
        "normalize": Param("bool", False, doc="peak-map grid with each map divided by its max"),
        "smooth": Param(
            "float",
            None,
            low=0,
            low_inclusive=False,
            allow_none=True,
            doc="also write a smoothed layer smoothed.zarr (Gaussian sigma, channels)",
        ),
    }

    def check(self) -> None:
        if self.equalize and self.normalize:
            raise InvalidParameterError("equalize and normalize are two ways to show the grid; choose one.")
        self.band_table()  # a bad table fails before the cube is read

    def band_table(self) -> list | None:
        """The user's band table (:class:`~chemmap.maps.band_table.Band` list), read from
        ``bands``; None without one."""
        if self.bands is None:
            return None
        from chemmap.maps.band_table import read_band_table

        return read_band_table(self.bands)

    def finder_options(self) -> dict:
        """The options of :func:`chemmap.maps.find_peaks` these settings set."""
        return {
            "prominence": self.prominence,
            "min_width": self.min_width,
            "max_width": self.max_width,
            "slice_width": self.slice_width,
        }


@dataclass
class PeaksResult:
    """Everything a peak run found (the output folder holds the same)."""

    cube: Cube
    summary: object
    peaks: list
    names: list[str]
    labels: list[str]
    identification: dict | None
    calibration: object | None
    maps: object
    fitted: Cube | None
    hot: object
    speckles: dict
    report: dict
    warnings: list[str] = field(default_factory=list)
    out_dir: Path | None = None
    detect_on: str = "auto"
    found_on: list[str] = field(default_factory=list)
    settings: PeakSettings | None = None
    detection: Detection | None = None
    bands: list = field(default_factory=list)


def map_peaks(
    cube: Cube,
    settings: PeakSettings | None = None,
    *,
    progress: ProgressCallback | None = None,
    timer: Timer | None = None,
):
    """Run the peak workflow on a Cube (no files written); see :func:`run_peaks`.

    ``timer`` receives the seconds of each stage.
    """
    from chemmap.maps import hotmax_spectra, peak_fit_maps, peak_maps, summary_spectra

    settings = settings or PeakSettings()
    timer = timer or Timer()
    with timer.stage("summary spectra"):
        summary = summary_spectra(cube, progress=progress)
    with timer.stage("calibration, detection, identification"):
        cube, calibration = _calibrated(cube, settings, summary, progress)
        detection = find_cube_peaks(cube, summary, settings)
        peaks = detection.peaks
        # the max spectrum supports identification only where it was searched (sparse counts: noise)
        support = None if detection.on == "mean" else detection.support
        identification = _identify(cube, detection.spectrum, support, peaks, settings)
        from chemmap.workflows.peaks_spectra import peak_labels

        bands, labels = peak_labels(peaks, identification, settings.band_table())
        names = _map_names(peaks, labels, cube.axis.unit)
    with timer.stage("peak maps"):
        sliced = peak_maps(cube, peaks, baseline_channels=settings.baseline_channels, names=names, progress=progress)
    with timer.stage("fitted maps"):
        fitted = peak_fit_maps(cube, peaks, summary.mean, names=names, progress=progress) if settings.fit else None
    with timer.stage("hot-max spectra"):
        hot = hotmax_spectra(cube, peaks, summary)
    with timer.stage("speckle atlases"):
        speckles = _speckles(cube, sliced, identification, settings, progress) if settings.speckles else {}
    result = PeaksResult(
        cube, summary, peaks, names, labels, identification, calibration, sliced, fitted, hot, speckles, {}
    )
    result.detection, result.bands = detection, bands
    result.found_on = detection.found_on
    result.detect_on = detection.on
    result.report = _report(result, settings)
    return result


@dataclass
class Detection:
    """How a cube's peaks were found.

    Attributes
    ----------
    peaks : list of Peak
    found_on : list of str
        For each peak, the spectrum that found it (``max``, ``mean``, ``max and mean`` or
        ``spectrum``).
    on : str
        The spectrum searched: ``spectrum`` (one pixel), ``max``, ``mean`` or ``max and mean``.
    reason : str
        Why that spectrum (the data's own reason under ``detect_on="auto"``).
    spectrum, support : ndarray of shape (n_channels,)
        The spectrum the peaks are measured on (the max where it was searched, else the
        mean), baseline removed where one was; the other summary spectrum.
    baseline : str or None
        How the baseline taken off before detection was fitted; None: none taken off.
    """

    peaks: list
    found_on: list[str]
    on: str
    reason: str
    spectrum: np.ndarray
    support: np.ndarray
    baseline: str | None = None


def find_cube_peaks(cube: Cube, summary, settings: PeakSettings) -> Detection:
    """Find the peaks of ``cube`` on the summary spectrum its data calls for (or the one
    ``settings.detect_on`` names); see :func:`chemmap.maps.detection_spectrum.choose_detection`.

    A molecular axis (cm-1, nm, µm) has the baseline of each summary spectrum taken off
    first (``settings.baseline``). A max spectrum that shows no peak falls back to the mean
    (warned when the max was asked for); a spectrum without any peak is refused with the
    settings that would find weaker ones.
    """
    from chemmap.maps.detection_spectrum import MOLECULAR_UNITS, choose_detection, detection_baseline
    from chemmap.maps.peak_detection import merge_peaks

    if cube.n_channels < MIN_CHANNELS:
        raise InvalidParameterError(
            f"The cube has {cube.n_channels} channels; finding peaks needs at least {MIN_CHANNELS}. Map bands by "
            "hand instead (chemmap run --intensity)."
        )
    molecular = cube.axis.unit in MOLECULAR_UNITS
    on, reason = (
        choose_detection(summary)
        if settings.detect_on == "auto"
        else (settings.detect_on, f"detect_on = {settings.detect_on!r} was asked for.")
    )
    # molecular spectra (CCD detectors) carry cosmic rays in the mean too; X-ray counts keep
    # their plain sum, whose Poisson noise the count detection relies on
    spectra = {"max": summary.max, "mean": summary.spike_free_mean if molecular else summary.mean}
    how = None
    if settings.baseline == "on" or (settings.baseline == "auto" and molecular):
        fitted = {name: detection_baseline(values) for name, values in spectra.items()}
        spectra = {name: spectra[name] - fitted[name][0] for name in spectra}
        how = fitted["mean"][1]
    counts = how is None and not molecular

    def detect(name: str) -> list:
        return _detect(cube, spectra[name], summary, settings, name, counts=counts)

    if on in ("spectrum", "mean"):
        peaks = detect("mean")
        found_on = [on] * len(peaks)
    elif on == "max":
        peaks = detect("max")
        if not peaks and summary.n_pixels > 1 and (peaks := detect("mean")):
            warnings.warn(
                "No peak stands out of the noise of the max spectrum (a few bright or spiky pixels rule "
                f"it); {len(peaks)} peaks were found on the mean spectrum and are mapped instead.",
                DataWarning,
                stacklevel=3,
            )
            on, reason = "mean", reason + " The max spectrum showed no peak; the mean spectrum was searched instead."
        found_on = [on] * len(peaks)
    else:
        on_max, on_mean = detect("max"), detect("mean")
        if on_max and on_mean:
            peaks, origins = merge_peaks(cube.axis.values, spectra["max"], on_max, on_mean)
            words = {"primary": "max", "secondary": "mean", "both": "max and mean"}
            found_on = [words[o] for o in origins]
        elif peaks := on_max or on_mean:
            on = "max" if on_max else "mean"
            found_on = [on] * len(peaks)
            reason += f" Only the {on} spectrum showed peaks."
    if not peaks:
        searched = {"max and mean": "max spectrum nor of the mean spectrum", "spectrum": "spectrum"}.get(on, on)
        searched = searched if " " in searched else f"{searched} spectrum"
        raise InvalidParameterError(
            f"No peak stands out of the noise of the {searched}. To fix this, lower the "
            "prominence (--prominence, in the spectrum's units) or the least width (--min-width)."
        )
    measured = "max" if on in ("max", "max and mean") else "mean"
    support = "mean" if measured == "max" else "max"
    return Detection(peaks, found_on, on, reason, spectra[measured], spectra[support], how)


def _detect(cube: Cube, spectrum, summary, settings: PeakSettings, name: str, *, counts: bool) -> list:
    """Peaks of the ``name`` (max or mean) summary spectrum ``spectrum``. A mean of counts is
    searched as the summed counts (their Poisson noise is known; a mean of sparse counts
    looks smooth to a noise estimate and its noise bumps pass as peaks), heights then scaled
    back to the mean. The max spectrum's threshold clears the noise of the raw max (spikes
    included), which the spike removal smooths away."""
    from chemmap.maps import find_peaks
    from chemmap.maps.peak_detection import is_counts

    options = settings.finder_options()
    if name == "mean" and counts and settings.prominence is None and is_counts(summary.sum):
        n = summary.n_pixels
        found = find_peaks(cube.axis.values, summary.sum, counts=True, **options)
        return [replace(p, height=p.height / n, prominence=p.prominence / n) for p in found]
    noise = {"max": summary.raw_max, "mean": summary.mean}[name] if summary.n_pixels > 1 else None
    return find_peaks(cube.axis.values, spectrum, counts=None if counts else False, noise_spectrum=noise, **options)


def _map_names(peaks, labels, unit: str) -> list[str]:
    """``"Fe Ka1 6.404 keV"`` or ``"peak 1655 cm-1"``, with more digits until all differ."""
    for digits in range(4, 10):
        names = [f"{label or 'peak'} {p.position:.{digits}g} {unit}" for p, label in zip(peaks, labels, strict=True)]
        if len(set(names)) == len(names):
            return names
    return [f"{name} #{i + 1}" for i, name in enumerate(names)]


def _calibrated(cube: Cube, settings: PeakSettings, summary, progress):
    if cube.axis.unit != "channel" or settings.calibrate == "off":
        return cube, None
    optional_import("xraydb", extra="xrf", purpose="energy calibration")
    from chemmap.xrf import calibrate_energy

    try:
        return calibrate_energy(
            cube, anode=anode_of(cube, settings), degree=settings.calibration_degree, summary=summary, progress=progress
        )
    except AxisError as exc:
        raise AxisError(
            f"{exc} A cube that is not an X-ray spectrum keeps its channel axis with calibrate='off' "
            "(--calibrate off); give its axis when reading it, or the tube anode (--anode)."
        ) from exc


def anode_of(cube: Cube, settings: PeakSettings) -> str | None:
    """The tube anode: the setting, else the one the file names, else None (unknown)."""
    return settings.anode or cube.attrs.get("anode") or None


#: Energy axis units identification reads, with their factor to keV.
ENERGY_UNITS_TO_KEV = {"keV": 1.0, "eV": 1e-3}


def _identify(cube: Cube, spectrum, support, peaks, settings: PeakSettings) -> dict | None:
    """Element lines of the peaks on an energy axis (None elsewhere or when turned off);
    ``support`` (the other summary spectrum, or None) is searched for lines too."""
    unit = cube.axis.unit
    # an energy-loss (EELS) axis is in eV too, but holds edges, not emission lines
    x_rays = unit in ENERGY_UNITS_TO_KEV and not str(cube.attrs.get("signal_type", "")).upper().startswith("EELS")
    wanted = settings.identify == "on" or (settings.identify == "auto" and x_rays)
    if not wanted:
        return None
    if unit not in ENERGY_UNITS_TO_KEV:
        raise InvalidParameterError(
            f"Element identification needs an energy axis (keV or eV); this cube's axis is in {unit}. "
            "To fix this, turn identification off (--identify off), or for an axis of channels leave the "
            "energy calibration on (--calibrate auto)."
        )
    if not x_rays:
        raise InvalidParameterError(
            "Element identification names X-ray emission lines; this cube is an EELS spectrum image, whose "
            "energy-loss axis holds absorption edges, not emission lines. To fix this, turn identification "
            "off (--identify off)."
        )
    optional_import("xraydb", extra="xrf", purpose="element identification")
    from chemmap.xrf import identify_peaks

    factor = ENERGY_UNITS_TO_KEV[unit]
    in_kev = [p.on_axis(factor) for p in peaks]
    resolution, resolution_source = _instrument_number(cube, settings, "detector_resolution", "detector_resolution_ev")
    excitation, excitation_source = _instrument_number(cube, settings, "excitation", "beam_energy_kev")
    found = identify_peaks(
        cube.axis.values * factor,
        spectrum,
        in_kev,
        anode=anode_of(cube, settings),
        support=[] if support is None else [support],
        resolution_mn_ka=None if resolution is None else resolution / 1000.0,
        excitation_kev=excitation,
    )
    found["resolution_from"] = resolution_source or found["resolution_from"]
    found["excitation_from"] = excitation_source or found["excitation_from"]
    return found


def _instrument_number(cube: Cube, settings: PeakSettings, name: str, attr: str) -> tuple[float | None, str | None]:
    """A setting, else the number the file gives (``cube.attrs[attr]``), and where it came
    from; (None, None) when neither gives it."""
    if getattr(settings, name) is not None:
        return float(getattr(settings, name)), "setting"
    value = cube.attrs.get(attr)
    if value is not None:
        return float(value), f"file ({attr})"
    return None, None


def _speckles(cube, sliced, identification, settings, progress) -> dict:
    """Speckle atlas of every peak-area map but the tube's scatter, maps on parallel threads."""
    from chemmap._shared.blockwise import in_threads
    from chemmap.cluster.regions import speckle_atlas

    scatter = set()
    if identification is not None:
        scatter = {
            i for i, e in enumerate(identification["peaks"]) if e["flags"].get("rayleigh") or e["flags"].get("compton")
        }
    valid = cube.valid_pixels().reshape(cube.image_shape)
    chosen = [i for i in range(len(sliced.names)) if i not in scatter]

    def atlas(i: int):
        sigma = None if sliced.sigma is None else sliced.sigma[..., i]
        image = np.asarray(sliced.areas.data[..., i])
        return speckle_atlas(image, max_area=settings.max_area, valid=valid, cube=cube, sigma=sigma)

    notify(progress, "speckle atlases", 0, 1)
    atlases = in_threads(atlas, chosen)
    notify(progress, "speckle atlases", 1, 1)
    return {sliced.names[i]: a for i, a in zip(chosen, atlases, strict=True) if len(a.areas)}


def _report(result: PeaksResult, settings: PeakSettings) -> dict:
    """The content of ``peaks.json``."""
    cube, hot, sliced, identification, names = result.cube, result.hot, result.maps, result.identification, result.names
    owner = {}
    for g, group in enumerate(hot.peaks):
        for i in group:
            owner[i] = [int(v) for v in hot.pixels[g]]
    entries = []
    for i, peak in enumerate(result.peaks):
        entry = {"name": names[i], "label": result.labels[i] or None, **peak.to_dict(), "found_on": result.found_on[i]}
        entry["band"] = result.bands[i]
        if identification is not None:
            ident = identification["peaks"][i]
            entry.update(
                {
                    k: ident[k]
                    for k in ("assignment", "element", "family", "confidence", "alternatives", "lone_line", "flags")
                }
            )
        entry["noise"] = sliced.noise[i]
        entry["detection_limit"] = sliced.noise[i]["detection_limit"]
        entry["fraction_above_detection_limit"] = sliced.noise[i]["fraction_above"]
        entry["hot_pixel"] = owner.get(i)
        entries.append(entry)
    return {
        "axis": cube.axis.to_dict(),
        "image_shape": list(cube.image_shape),
        "n_pixels": result.summary.n_pixels,
        "detected_on": {"max and mean": "max and mean spectra", "spectrum": "the spectrum"}.get(
            result.detect_on, f"{result.detect_on} spectrum"
        ),
        "detection": {
            "spectrum": result.detect_on,
            "reason": result.detection.reason,
            "baseline_removed": result.detection.baseline,
            "spikes_removed": "one- and two-channel spikes of each pixel (3-channel opening) before the max was taken",
        },
        "area_unit": sliced.areas.attrs["maps"][names[0]]["unit"],
        "calibration": None if result.calibration is None else result.calibration.to_dict(),
        "tube_anode": anode_of(cube, settings) if identification is None else identification["anode"],
        "tube_anode_inferred": bool(identification and identification.get("anode_inferred")),
        "instrument": None
        if identification is None
        else {
            "detector_fwhm_mn_ka_ev": round(1000 * identification["detector_fwhm_mn_kev"], 1),
            "detector_resolution_from": identification["resolution_from"],
            "excitation_kev": identification["excitation_kev"],
            "excitation_from": identification["excitation_from"]
            or "unknown: absent higher lines only lower confidence",
        },
        "peaks": entries,
        "elements": None if identification is None else identification["elements"],
        "identified": None if identification is None else identification["identified"],
        "rejected": None if identification is None else identification["rejected"],
        "speckles": {name: atlas.to_dict() for name, atlas in result.speckles.items()},
        "arrays": {
            "peak_areas.npy": "net area of each slice above its baseline, (height, width, n_peaks), float32",
            "peak_positions.npy": f"axis value ({cube.axis.unit}) of each pixel's maximum in each slice",
            **(
                {"peak_fit.npy": "fitted area of each peak, then the continuum and the relative residual"}
                if result.fitted is not None
                else {}
            ),
        },
        "settings": settings.to_dict(),
    }


def execute(cube: Cube, settings: PeakSettings, session: Session):
    """Map the peaks of ``cube`` (see :func:`map_peaks`); no files written. One spectrum or a
    spectral library is not an image: each spectrum's peaks are found and nothing is mapped
    (:class:`~chemmap.workflows.peaks_spectra.SpectraPeaksResult`, warned)."""
    from chemmap.workflows.peaks_spectra import find_spectra_peaks, is_image, spectra_report

    if not is_image(cube):
        with session.timer.stage("detection, identification"):
            result = find_spectra_peaks(cube, settings, _spectrum_identifier(settings))
        what = "a spectral library" if cube.attrs.get("spectral_library") else "one spectrum"
        warnings.warn(
            f"{cube.attrs.get('source', 'The input')} is {what}, not an image: the peaks of each spectrum are "
            "written to peaks.json and peak_spectrum.png; no maps are made.",
            DataWarning,
            stacklevel=2,
        )
        result.settings = settings
        result.report = spectra_report(result, settings)
        result.warnings = session.warnings()
        result.report["warnings"] = result.warnings
        return result
    result = map_peaks(cube, settings, progress=session.progress, timer=session.timer)
    result.warnings = session.warnings()
    result.report["warnings"] = result.warnings
    result.settings = settings
    return result


def _spectrum_identifier(settings: PeakSettings):
    """``identify(cube, spectrum, peaks)`` for one spectrum: element lines on energy axes."""

    def identify(cube: Cube, spectrum, peaks):
        return _identify(cube, spectrum, None, peaks, settings)

    return identify


def write(result, stage: Path, session: Session) -> None:
    """``peaks.json``, the maps, summary and hot-max spectra, figures and report into ``stage``:

    ``peaks.json`` (peaks with position, slice bounds, element line, confidence, noise and
    detection limit), ``peak_areas.npy`` and ``peak_positions.npy`` (height x width x peaks,
    float32), ``summary_spectra.npz``, ``hotmax_spectra.npz``, ``total_counts.npy``, the
    figures and ``report.html``; ``peak_fit.npy``, ``speckles.npz`` and ``smoothed.zarr``
    when asked or found.
    """
    from chemmap._shared.atomic import write_text_atomic
    from chemmap.report.html import write_html
    from chemmap.report.metrics_json import to_json_safe
    from chemmap.report.pages import peaks_report
    from chemmap.viz.figures import draw_in_forks
    from chemmap.workflows.peaks_spectra import SpectraPeaksResult, write_spectra

    if isinstance(result, SpectraPeaksResult):
        write_spectra(result, stage, session)
        return
    settings = result.settings
    np.save(stage / "peak_areas.npy", np.asarray(result.maps.areas.data, dtype=np.float32))
    np.save(stage / "peak_positions.npy", np.asarray(result.maps.positions.data, dtype=np.float32))
    if result.fitted is not None:
        np.save(stage / "peak_fit.npy", np.asarray(result.fitted.data, dtype=np.float32))
    summary = result.summary
    with open(stage / "summary_spectra.npz", "wb") as fh:
        np.savez(
            fh,
            axis=result.cube.axis.values,
            max=summary.max,
            mean=summary.mean,
            sum=summary.sum,
            argmax=summary.argmax,
        )
    with open(stage / "hotmax_spectra.npz", "wb") as fh:
        np.savez(fh, axis=result.cube.axis.values, pixels=result.hot.pixels, spectra=result.hot.spectra)
    np.save(stage / "total_counts.npy", _total_image(result).astype(np.float32))
    if result.speckles:
        _write_speckles(result, stage / "speckles.npz")
    if settings.smooth is not None:
        _write_smoothed(result.cube, settings.smooth, stage / "smoothed.zarr", session.progress)

    def html() -> None:
        write_html(peaks_report(result, command=session.command, versions=versions()), stage / "report.html")

    with session.timer.stage("figures and report"):
        # report.html first, in this process: it reads pixel spectra from a cube that may be lazy
        draw_in_forks([html, *_figure_jobs(result, stage, settings)])
    write_text_atomic(stage / "peaks.json", json.dumps(to_json_safe(result.report), indent=2, allow_nan=False) + "\n")


def summary(result: PeaksResult) -> str:
    """What ``chemmap peaks`` prints: the peaks, the elements named and where the files are."""
    from chemmap.workflows.peaks_spectra import SpectraPeaksResult, spectra_summary

    if isinstance(result, SpectraPeaksResult):
        return spectra_summary(result)
    lines = [f"{len(result.peaks)} peaks ({', '.join(result.names)})"]
    elements = result.report.get("identified")
    if elements is not None:
        lines.append(f"elements identified: {', '.join(elements) or 'none'}")
    lines.append(f"wrote peaks.json, maps and figures to {result.out_dir}")
    return "\n".join(lines)


PEAKS = Workflow(
    command="peaks",
    help="find the peaks of a cube, identify XRF element lines and map every peak (areas, positions)",
    settings=PeakSettings,
    execute=execute,
    write=write,
    summary=summary,
)

#: ``run_peaks(source, out_dir, settings=None, *, format=None, read_options=None,
#: session=None)``: read ``source`` (a file, read lazily where large, or a Cube), map its
#: peaks and write everything into ``out_dir`` (see :func:`write`); returns a
#: :class:`PeaksResult`.
run_peaks = PEAKS.run


def _total_image(result: PeaksResult) -> np.ndarray:
    """Each pixel's total over the channels (counts for count data), NaN where invalid."""
    return result.summary.pixel_totals.reshape(result.cube.image_shape)


def _write_speckles(result: PeaksResult, path: Path) -> None:
    """``speckles.npz``: per mapped peak with speckles, its label image (0 = none, 1.. by
    decreasing area), areas, centroids (row, col) and mean spectra; ``names`` lists the maps."""
    names = list(result.speckles)
    arrays = {"names": np.array(names), "axis": result.cube.axis.values}
    for i, name in enumerate(names):
        atlas = result.speckles[name]
        arrays[f"labels_{i}"] = atlas.labels.astype(np.int32)
        arrays[f"areas_{i}"] = np.asarray(atlas.areas)
        arrays[f"centroids_{i}"] = np.asarray(atlas.centroids)
        if atlas.mean_spectra is not None:
            arrays[f"mean_spectra_{i}"] = np.asarray(atlas.mean_spectra, dtype=np.float64)
    with open(path, "wb") as fh:
        np.savez_compressed(fh, **arrays)


def _write_smoothed(cube: Cube, sigma: float, target: Path, progress) -> None:
    """The cube smoothed along the spectrum (float32), written block by block as Zarr."""
    from scipy.ndimage import gaussian_filter1d

    from chemmap._shared.blockwise import map_spectra
    from chemmap.io import write
    from chemmap.io._build import lazy_view

    def smooth(spectra: np.ndarray) -> np.ndarray:
        return gaussian_filter1d(spectra.astype(np.float32), sigma, axis=1, mode="nearest")

    lazy = cube.data if cube.is_lazy else lazy_view(cube.data)
    layer = cube.replace(
        data=map_spectra(smooth, lazy, dtype=np.float32), attrs={**cube.attrs, "smoothing_sigma_channels": sigma}
    )
    write(layer, target)


def _figure_jobs(result: PeaksResult, stage: Path, settings: PeakSettings) -> list[Callable[[], None]]:
    """One job for each figure (see :func:`chemmap._shared.forked.run_forked`)."""
    from chemmap.viz.figures import new_figure, plot_map, save_figure
    from chemmap.viz.peaks import plot_hotmax_spectra, plot_peak_grid, plot_peak_spectrum, plot_speckles

    unit = result.cube.axis.unit
    titles = [
        f"{label or 'peak'} · {p.position:.4g} {unit}" for p, label in zip(result.peaks, result.labels, strict=True)
    ]
    short = [label or f"{p.position:.4g}" for p, label in zip(result.peaks, result.labels, strict=True)]
    area_unit = result.report["area_unit"]
    n = len(result.peaks)

    def peak_grid() -> None:
        columns = min(4, n)
        fig = new_figure(3.4 * columns, 2.9 * -(-n // columns))
        plot_peak_grid(
            fig,
            np.asarray(result.maps.areas.data),
            titles,
            unit=area_unit,
            equalize=settings.equalize,
            normalize=settings.normalize,
            columns=columns,
        )
        save_figure(fig, stage / "peak_maps.png")

    def total_counts() -> None:
        fig = new_figure(6, 5)
        plot_map(
            fig.subplots(),
            _total_image(result),
            title="Total over all channels (sum image)",
            colorbar_label="counts" if area_unit == "counts" else "intensity x channels",
            cmap="gray",
        )
        save_figure(fig, stage / "total_counts.png")

    def peak_spectrum() -> None:
        fig = new_figure(11, 5)
        detection = result.detection
        measured = "Max" if detection.on in ("max", "max and mean") else "The" if detection.on == "spectrum" else "Mean"
        found_on_mean = f" ({result.found_on.count('mean')} found on the mean spectrum)"
        plot_peak_spectrum(
            fig.subplots(),
            result.cube.axis.values,
            unit,
            detection.spectrum,
            result.peaks,
            short,
            title=f"{measured} spectrum{' less its baseline' if detection.baseline else ''} with the {n} peak slices"
            + (found_on_mean if detection.on == "max and mean" else ""),
            ylabel="Counts" if area_unit == "counts" else "Intensity",
            log=detection.baseline is None,
        )
        save_figure(fig, stage / "peak_spectrum.png")

    def hotmax_spectra() -> None:
        fig = new_figure(11, 5)
        hot = result.hot
        plot_hotmax_spectra(fig.subplots(), result.cube.axis.values, unit, hot.spectra, hot.pixels, hot.peaks, short)
        save_figure(fig, stage / "hotmax_spectra.png")

    def speckles() -> None:
        chosen = sorted(result.speckles, key=lambda name: -len(result.speckles[name].areas))[:MAX_SPECKLE_PANELS]
        columns = min(3, len(chosen))
        fig = new_figure(4.6 * columns, 3.8 * -(-len(chosen) // columns))
        axes = np.atleast_1d(fig.subplots(-(-len(chosen) // columns), columns, squeeze=False).ravel())
        index = {name: i for i, name in enumerate(result.names)}
        threshold_unit = "local σ (top-hat)" if result.maps.sigma is not None else f"{area_unit} (top-hat)"
        for ax, name in zip(axes, chosen, strict=False):
            image = np.asarray(result.maps.areas.data[..., index[name]])
            plot_speckles(ax, image, result.speckles[name], title=name, unit=area_unit, threshold_unit=threshold_unit)
        for ax in axes[len(chosen) :]:
            ax.set_axis_off()
        save_figure(fig, stage / "speckles.png")

    return [peak_grid, total_counts, peak_spectrum, hotmax_spectra] + ([speckles] if result.speckles else [])
