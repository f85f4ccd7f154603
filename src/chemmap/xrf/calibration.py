"""Energy calibration of XRF cubes whose files carry no energy axis (Bruker M6 ``.rpl``).

Two anchor lines (the anode's Rayleigh Kα and Fe Kα unless configured) are looked for
among the most prominent peaks of the sum spectrum: every pair of peaks is tried as the
anchors, and the pair whose calibration puts the most peak prominence on known lines wins.
The calibration is then refitted on every peak that lands on a known line: linear, or
quadratic with ``degree=2`` and three or more lines.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

import numpy as np

from chemmap.core.axis import SpectralAxis
from chemmap.core.cube import Cube
from chemmap.core.exceptions import AxisError, InvalidParameterError
from chemmap.maps.peaks import find_peaks, summary_spectra
from chemmap.xrf.lines import compton_energy, element_lines, element_symbols, family_lines

__all__ = ["EnergyCalibration", "calibrate_energy"]

#: Distance (keV) within which a calibrated peak counts as on a known line.
MATCH_TOLERANCE = 0.04
#: Anchor peaks are looked for among this many most prominent peaks.
ANCHOR_CANDIDATES = 10
#: Plausible detector gains, keV per channel.
GAIN_RANGE = (0.001, 0.2)


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
def _known_energies(anode: str) -> np.ndarray:
    """Energies (keV) of lines a spectrum commonly shows: every element's strongest K and
    L lines, the anode's K lines and their Compton peaks at 90 degrees."""
    out = []
    for element in element_symbols():
        for family, lines in element_lines(element, low=1.0, high=60.0).items():
            if family in ("K", "L"):
                out += [line.energy for line in lines if line.intensity >= 0.3]
    out += [float(compton_energy(line.energy)) for line in family_lines(anode, "K") if line.intensity >= 0.1]
    return np.sort(np.array(out))


def _anchor_energy(label: str) -> float:
    element, name = label.split()
    family = name[0].upper()
    lines = [line for line in family_lines(element, family) if line.name.startswith(name)]
    if not lines:
        raise InvalidParameterError(f"Unknown anchor line {label!r}; expected e.g. 'Rh Ka' or 'Fe Ka'.")
    weights = np.array([line.intensity for line in lines])
    return float(np.average([line.energy for line in lines], weights=weights))


def calibrate_energy(
    cube: Cube, *, anode: str = "Rh", anchors=None, degree: int = 1, summary=None, progress=None
) -> tuple[Cube, EnergyCalibration]:
    """Give a channel-axis XRF cube a keV axis from its own peaks.

    Parameters
    ----------
    cube : Cube
        Axis in channels (a calibrated axis is refused: it is used as is).
    anode : str
        Tube anode; its Rayleigh Kα is the default high-energy anchor.
    anchors : (str, str), optional
        The two anchor lines, default ``(f"{anode} Ka", "Fe Ka")``.
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
    anchors = (f"{anode} Ka", "Fe Ka") if anchors is None else tuple(anchors)
    targets = sorted(_anchor_energy(a) for a in anchors)
    summary = summary_spectra(cube, progress=progress) if summary is None else summary
    channels = np.arange(cube.n_channels, dtype=np.float64)
    peaks = find_peaks(channels, summary.sum)
    if len(peaks) < 2:
        raise AxisError("Fewer than two peaks in the sum spectrum: the energy axis cannot be calibrated from it.")
    position = np.array([p.position for p in peaks])
    prominence = np.array([p.prominence for p in peaks])
    known = _known_energies(anode)
    top = np.argsort(-prominence)[:ANCHOR_CANDIDATES]
    best = None
    for i, j in itertools.combinations(sorted(top, key=lambda k: position[k]), 2):
        gain = (targets[1] - targets[0]) / (position[j] - position[i])
        offset = targets[0] - gain * position[i]
        if not (GAIN_RANGE[0] <= gain <= GAIN_RANGE[1]) or abs(offset) > 1.0:
            continue
        energies = offset + gain * position
        distance = np.min(np.abs(energies[:, None] - known[None, :]), axis=1)
        score = float(np.sum(prominence[distance <= MATCH_TOLERANCE]))
        if best is None or score > best[0]:
            best = (score, gain, offset)
    if best is None:
        raise AxisError(
            f"No pair of prominent peaks fits {anchors[0]} and {anchors[1]} with a plausible gain. Give the "
            "axis yourself (axis=), or other anchors (anchors=)."
        )
    _, gain, offset = best
    x, y, names = _identified_lines(channels, summary.sum, offset + gain * channels, anode)
    if x.size < 2:
        x, y, names = position[[0, -1]], offset + gain * position[[0, -1]], ["anchor", "anchor"]
    order = 2 if degree == 2 and x.size >= 3 else 1
    coef = np.polyfit(x, y, order)
    quadratic, gain, offset = (coef[0], coef[1], coef[2]) if order == 2 else (0.0, coef[0], coef[1])
    fitted = offset + gain * x + quadratic * x**2
    lines = [
        {"label": n, "energy": float(e), "channel": float(c), "residual_ev": float(1000 * (f - e))}
        for n, e, c, f in zip(names, y, x, fitted, strict=True)
    ]
    rms = float(1000 * np.sqrt(np.mean((fitted - y) ** 2)))
    calibration = EnergyCalibration(float(gain), float(offset), float(quadratic), lines, rms)
    axis = SpectralAxis(calibration.energies(channels), "keV")
    attrs = {**cube.attrs, "energy_calibration": calibration.to_dict()}
    return cube.replace(axis=axis, attrs=attrs), calibration


def _identified_lines(channels, spectrum, energies, anode: str):
    """Channel centroids and table energies of the peaks identified with confidence on a
    first calibration (element lines and the anode's Rayleigh lines)."""
    from chemmap.xrf.identify import CONFIDENT, identify_peaks

    peaks = find_peaks(energies, spectrum)
    report = identify_peaks(energies, spectrum, peaks, anode=anode)["peaks"]
    x, y, names = [], [], []
    for peak, entry in zip(peaks, report, strict=True):
        rayleigh = entry["flags"].get("rayleigh")
        if rayleigh:
            element, name = rayleigh.split()
        elif entry["element"] and entry["confidence"] is not None and entry["confidence"] >= CONFIDENT:
            element, name = entry["assignment"].split()
        else:
            continue
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
