"""Energy calibration of XRF cubes whose files carry no energy axis (Bruker M6 ``.rpl``).

Two anchor lines are looked for among the most prominent peaks of the sum spectrum: the
anode's Rayleigh Kα and Fe Kα when the tube anode is known, else every pair of lines common
in X-ray spectra (:data:`COMMON_ANCHORS`), or the pair the user names. Every pair of peaks is
tried against every pair of anchors; the trials that put the most peak prominence on known
lines are ranked by the prominence that identification then explains with confidence
(whole families agree, where a wrong gain puts single peaks near some line). The winner is
refitted on every peak that lands on a known
line: linear, or quadratic with ``degree=2`` and three or more lines. A residual above
:data:`RESIDUAL_TOLERANCE_EV`, or a fit resting on fewer than :data:`MIN_LINES` lines, is warned
about. The detector's zero peak (0 keV) serves as a line wherever the spectrum shows it.
"""

from __future__ import annotations

import functools
import itertools
import warnings
from dataclasses import dataclass

import numpy as np

from chemmap.core.axis import SpectralAxis
from chemmap.core.cube import Cube
from chemmap.core.exceptions import AxisError, DataWarning, InvalidParameterError
from chemmap.maps.peak_detection import find_peaks, summary_spectra
from chemmap.xrf.lines import compton_energy, element_lines, element_symbols, family_lines

__all__ = ["EnergyCalibration", "calibrate_energy"]

#: Distance (keV) within which a calibrated peak counts as on a known line.
MATCH_TOLERANCE = 0.04
#: Anchor peaks are looked for among this many most prominent peaks.
ANCHOR_CANDIDATES = 10
#: Plausible detector gains, keV per channel.
GAIN_RANGE = (0.001, 0.2)
#: Most trial calibrations (best by lines matched) that identification then ranks; the
#: count of lines matched alone favours small gains, which crowd the peaks among L lines.
RERANKED = 100
#: Root-mean-square residual (eV) above which the calibration is warned about.
RESIDUAL_TOLERANCE_EV = 20.0
#: Fewest lines (the zero peak included) a calibration must rest on not to be warned about:
#: two fix a line, the others check it.
MIN_LINES = 4
#: Lines tried as anchors when the tube anode is unknown (strong in most real spectra).
COMMON_ANCHORS = ("zero", "Si Ka", "Ca Ka", "Fe Ka", "Cu Ka", "Zn Ka", "Pb La")
#: Anchor name of the detector's zero (noise) peak, at 0 keV: strong wherever the
#: offset is negative, and it pins the offset.
ZERO_PEAK = "zero"


@dataclass
class EnergyCalibration:
    """``energy = offset + gain * channel (+ quadratic * channel**2)``, keV.

    Attributes
    ----------
    gain, offset, quadratic : float
    lines : list of dict
        The lines fitted: ``label``, ``energy`` (keV), ``channel``, ``residual_ev``.
    rms_residual_ev : float
    """

    gain: float
    offset: float
    quadratic: float
    lines: list[dict]
    rms_residual_ev: float

    def energies(self, channels) -> np.ndarray:
        c = np.asarray(channels, dtype=np.float64)
        return self.offset + self.gain * c + self.quadratic * c**2

    def to_dict(self) -> dict:
        return {
            "gain_kev_per_channel": self.gain,
            "offset_kev": self.offset,
            "quadratic_kev_per_channel2": self.quadratic,
            "rms_residual_ev": self.rms_residual_ev,
            "lines": self.lines,
        }


@functools.cache
def _known_energies(anode: str | None) -> np.ndarray:
    """Energies (keV) of lines a spectrum commonly shows: every element's strongest K and
    L lines, and the anode's K lines' Compton peaks at 90 degrees when it is known."""
    out = []
    for element in element_symbols():
        for family, lines in element_lines(element, low=1.0, high=60.0).items():
            if family in ("K", "L"):
                out += [line.energy for line in lines if line.intensity >= 0.3]
    if anode is not None:
        out += [float(compton_energy(line.energy)) for line in family_lines(anode, "K") if line.intensity >= 0.1]
    return np.sort(np.array([0.0, *out]))  # 0: the detector's zero peak


def _anchor_energy(label: str) -> float:
    if label == ZERO_PEAK:
        return 0.0
    element, name = label.split()
    family = name[0].upper()
    lines = [line for line in family_lines(element, family) if line.name.startswith(name)]
    if not lines:
        raise InvalidParameterError(f"Unknown anchor line {label!r}; expected e.g. 'Rh Ka' or 'Fe Ka'.")
    weights = np.array([line.intensity for line in lines])
    return float(np.average([line.energy for line in lines], weights=weights))


def calibrate_energy(
    cube: Cube, *, anode: str | None = None, anchors=None, degree: int = 1, summary=None, progress=None
) -> tuple[Cube, EnergyCalibration]:
    """Give a channel-axis XRF cube a keV axis from its own peaks.

    Parameters
    ----------
    cube : Cube
        Axis in channels (a calibrated axis is refused: it is used as is).
    anode : str, optional
        Tube anode; its Rayleigh Kα is then the high-energy anchor. Unknown (None): pairs
        of :data:`COMMON_ANCHORS` are tried.
    anchors : (str, str), optional
        The two anchor lines, default ``(f"{anode} Ka", "Fe Ka")`` with a known anode.
    degree : {1, 2}
        Linear, or quadratic when three or more lines are found.
    summary : SummarySpectra, optional
        The cube's summary spectra when already computed (saves a pass over the cube).

    Returns
    -------
    cube : Cube
        The same data with an axis in keV (and the calibration in ``attrs``).
    calibration : EnergyCalibration
    """
    if cube.axis.unit != "channel":
        raise AxisError(
            f"The cube already has an axis in {cube.axis.unit}; an axis in the file or given by the user is "
            "used as is. Calibrate only cubes whose axis is in channels."
        )
    if degree not in (1, 2):
        raise InvalidParameterError(f"degree must be 1 (linear) or 2 (quadratic); got {degree}.")
    if anchors is not None:
        anchor_sets = [tuple(anchors)]
    elif anode is not None:
        anchor_sets = [(f"{anode} Ka", "Fe Ka"), (ZERO_PEAK, f"{anode} Ka"), (ZERO_PEAK, "Fe Ka")]
    else:
        anchor_sets = list(itertools.combinations(COMMON_ANCHORS, 2))
    targets_sets = [sorted(_anchor_energy(a) for a in pair) for pair in anchor_sets]
    summary = summary_spectra(cube, progress=progress) if summary is None else summary
    channels = np.arange(cube.n_channels, dtype=np.float64)
    peaks = find_peaks(channels, summary.sum)
    if len(peaks) < 2:
        raise AxisError("Fewer than two peaks in the sum spectrum: the energy axis cannot be calibrated from it.")
    position = np.array([p.position for p in peaks])
    prominence = np.array([p.prominence for p in peaks])
    known = _known_energies(anode)
    top = np.argsort(-prominence)[:ANCHOR_CANDIDATES]
    trials: dict[tuple, tuple] = {}
    for targets, (i, j) in itertools.product(
        targets_sets, itertools.combinations(sorted(top, key=lambda k: position[k]), 2)
    ):
        gain = (targets[1] - targets[0]) / (position[j] - position[i])
        offset = targets[0] - gain * position[i]
        if not (GAIN_RANGE[0] <= gain <= GAIN_RANGE[1]) or abs(offset) > 1.0:
            continue
        energies = offset + gain * position
        distance = np.min(np.abs(energies[:, None] - known[None, :]), axis=1)
        score = float(np.sum(prominence[distance <= MATCH_TOLERANCE]))
        key = (round(float(np.log(gain)), 3), round(float(offset), 2))
        trials[key] = max(trials.get(key, (score, gain, offset)), (score, gain, offset))
    named = " or ".join(" and ".join(pair) for pair in anchor_sets[:3]) + (" or ..." if len(anchor_sets) > 3 else "")
    if not trials:
        raise AxisError(
            f"No pair of prominent peaks fits {named} with a plausible gain. Give the axis yourself (axis=), the "
            "tube anode (anode=) or other anchors (anchors=)."
        )
    shortlist = sorted(trials.values(), reverse=True)[:RERANKED]
    _, gain, offset = max(shortlist, key=lambda t: (_explained(peaks, summary.sum, t[1], t[2], anode), t[0]))
    x, y, names = _identified_lines(channels, summary.sum, offset + gain * channels, anode)
    if x.size < 2:
        x, y, names = position[[0, -1]], offset + gain * position[[0, -1]], ["anchor", "anchor"]
    x, y, names, coef = _robust_fit(x, y, names, degree)
    quadratic, gain, offset = (coef[0], coef[1], coef[2]) if coef.size == 3 else (0.0, coef[0], coef[1])
    fitted = offset + gain * x + quadratic * x**2
    lines = [
        {"label": n, "energy": float(e), "channel": float(c), "residual_ev": float(1000 * (f - e))}
        for n, e, c, f in zip(names, y, x, fitted, strict=True)
    ]
    rms = float(1000 * np.sqrt(np.mean((fitted - y) ** 2)))
    calibration = EnergyCalibration(float(gain), float(offset), float(quadratic), lines, rms)
    if len(lines) < 3:
        raise AxisError(
            f"The spectrum's own peaks do not calibrate its energy axis: the best trial ({gain * 1000:.4g} "
            f"eV/channel, offset {offset * 1000:.4g} eV, anchors {named}) rests on {len(lines)} identified lines, "
            "which nothing checks. Give the energy axis when reading (axis=) or the tube anode (--anode)."
        )
    if rms > RESIDUAL_TOLERANCE_EV or len(lines) < MIN_LINES:
        why = (
            f"its residual is {rms:.0f} eV (tolerance {RESIDUAL_TOLERANCE_EV:.0f} eV)"
            if rms > RESIDUAL_TOLERANCE_EV
            else f"it rests on {len(lines)} lines only (fewer than {MIN_LINES}), so little checks it"
        )
        warnings.warn(
            f"The energy calibration from the spectrum's own peaks ({gain * 1000:.4g} eV/channel, offset "
            f"{offset * 1000:.4g} eV, anchors {named}) may be wrong: {why}. Give the energy axis when reading "
            "(axis=) or the tube anode (--anode).",
            DataWarning,
            stacklevel=2,
        )
    axis = SpectralAxis(calibration.energies(channels), "keV")
    attrs = {**cube.attrs, "energy_calibration": calibration.to_dict()}
    return cube.replace(axis=axis, attrs=attrs), calibration


def _robust_fit(x, y, names, degree: int):
    """Polynomial fit of energies on channels that drops the worst line, one at a time,
    while the residual is above :data:`RESIDUAL_TOLERANCE_EV` and the worst line is off by
    over twice it (a line wrongly assigned on the first calibration, such as a Compton
    peak taken for a neighbouring element's Kα when the anode is unknown)."""
    x, y, names = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64), list(names)
    while True:
        order = 2 if degree == 2 and x.size >= 3 else 1
        coef = np.polyfit(x, y, order)
        residual = 1000 * np.abs(np.polyval(coef, x) - y)
        worst = int(np.argmax(residual))
        rms = float(np.sqrt(np.mean(residual**2)))
        if x.size <= 3 or rms <= RESIDUAL_TOLERANCE_EV or residual[worst] <= 2 * RESIDUAL_TOLERANCE_EV:
            return x, y, names, coef
        keep = np.arange(x.size) != worst
        x, y, names = x[keep], y[keep], [n for n, k in zip(names, keep, strict=True) if k]


def _explained(peaks, spectrum, gain: float, offset: float, anode: str | None) -> float:
    """Prominence of the peaks that a trial calibration lets identification explain with
    confidence (element lines whose other lines agree, the anode's scatter): a wrong gain
    puts single peaks near some line, rarely whole families."""

    from chemmap.xrf.identify import identify_peaks

    energies = offset + gain * np.arange(spectrum.size, dtype=np.float64)
    scaled = [p.on_axis(gain, offset) for p in peaks]
    report = identify_peaks(energies, spectrum, scaled, anode=anode)["peaks"]
    return float(sum(p.prominence for p, entry in zip(scaled, report, strict=True) if _is_known_line(p, entry)))


def _is_known_line(peak, entry: dict) -> bool:
    """Whether identification's ``entry`` for ``peak`` (on a keV axis) puts it on a known
    energy: the detector's zero peak at 0 keV, the anode's Rayleigh scatter, or a line of a
    confidently identified element whose family's other lines agree (a lone line fits some
    element's line at almost any trial gain)."""
    from chemmap.xrf.identify import CONFIDENT

    flags = entry["flags"]
    if flags.get("zero"):
        return abs(peak.position) <= MATCH_TOLERANCE
    confident = entry["element"] and (entry["confidence"] or 0) >= CONFIDENT and not entry["lone_line"]
    return bool(flags.get("rayleigh")) or bool(confident)


def _identified_lines(channels, spectrum, energies, anode: str | None):
    """Channel centroids and table energies of the peaks identified with confidence on a
    first calibration (element lines and the anode's Rayleigh lines)."""
    from chemmap.xrf.identify import identify_peaks

    peaks = find_peaks(energies, spectrum)
    report = identify_peaks(energies, spectrum, peaks, anode=anode)["peaks"]
    x, y, names = [], [], []
    for peak, entry in zip(peaks, report, strict=True):
        if not _is_known_line(peak, entry):
            continue
        if entry["flags"].get("zero"):
            x.append(channels[peak.index])
            y.append(0.0)
            names.append("zero peak")
            continue
        element, name = (entry["flags"].get("rayleigh") or entry["assignment"]).split()
        family = family_lines(element, name[0])
        line = next(line for line in family if line.name == name)
        # lines closer than half a FWHM make one peak: its centre is their weighted mean
        merged = [m for m in family if abs(m.energy - line.energy) < peak.fwhm / 2]
        energy = float(np.average([m.energy for m in merged], weights=[m.intensity for m in merged]))
        top = slice(peak.lower_index, peak.upper_index)
        weights = np.clip(spectrum[top] - spectrum[top].min(), 0, None)
        if weights.sum() <= 0:
            continue
        x.append(float(np.average(channels[top], weights=weights)))
        y.append(energy)
        names.append(line.label)
    return np.array(x), np.array(y), names
