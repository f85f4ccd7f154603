"""X-ray emission lines from the Elam tables (through xraydb), detector resolution, and the
scatter, escape and sum peaks an energy-dispersive spectrum shows besides element lines."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from chemmap.core.optional import optional_import

__all__ = [
    "ELECTRON_REST_KEV",
    "MN_KA_KEV",
    "SI_ESCAPE_KEV",
    "Line",
    "compton_energy",
    "detector_fwhm",
    "edge_energy",
    "element_lines",
    "family_lines",
    "is_excited",
    "noise_fwhm_of",
]

#: Energy of the Si Kα photon a silicon detector may lose (escape peaks lie this far below).
SI_ESCAPE_KEV = 1.740
#: Electron rest energy (keV), for Compton scattering.
ELECTRON_REST_KEV = 510.999
#: Lines weaker than this share of their family's strongest line are ignored.
MIN_RELATIVE_INTENSITY = 0.01
#: Elements no sample holds: neon, and those without a stable or long-lived isotope (Tc,
#: Pm, Po to Ac, Pa).
ABSENT_Z = (10, 43, 61, 84, 85, 86, 87, 88, 89, 91)
#: Elements searched by default: B (5) to U (92) but :data:`ABSENT_Z`.
ELEMENTS_Z = tuple(z for z in range(5, 93) if z not in ABSENT_Z)


@dataclass(frozen=True)
class Line:
    """One emission line.

    Attributes
    ----------
    element : str
        Symbol, e.g. ``"Fe"``.
    name : str
        Siegbahn name, e.g. ``"Ka1"``.
    family : {"K", "L", "M"}
    energy : float
        keV.
    intensity : float
        Relative to the family's strongest line (1.0).
    """

    element: str
    name: str
    family: str
    energy: float
    intensity: float

    @property
    def label(self) -> str:
        return f"{self.element} {self.name}"


def _xraydb():
    return optional_import("xraydb", extra="xrf", purpose="X-ray line energies (element identification)")


#: Relative vacancy creation of the sub-shells under tube excitation (approximate: the
#: tables give intensities within each sub-shell only).
SUBSHELL_WEIGHTS = {"K": 1.0, "L1": 0.25, "L2": 0.5, "L3": 1.0, "M1": 0.1, "M2": 0.1, "M3": 0.2, "M4": 0.6, "M5": 1.0}


@functools.cache
def family_lines(element: str, family: str) -> tuple[Line, ...]:
    """Lines of one element's K, L or M family above :data:`MIN_RELATIVE_INTENSITY`,
    intensities relative to the family's strongest line, strongest first.

    Within a sub-shell the Elam tables' relative intensities are used; sub-shells are
    weighted by :data:`SUBSHELL_WEIGHTS`.
    """
    xraydb = _xraydb()
    try:
        raw = xraydb.xray_lines(element)
    except (ValueError, KeyError):
        return ()
    weighted = {
        name: (line.energy / 1000.0, line.intensity * SUBSHELL_WEIGHTS.get(line.initial_level, 0.1))
        for name, line in raw.items()
        if name.upper().startswith(family) and line.initial_level.startswith(family)
    }
    if not weighted:
        return ()
    top = max(weight for _, weight in weighted.values())
    lines = [
        Line(element, name, family, energy, weight / top)
        for name, (energy, weight) in weighted.items()
        if weight / top >= MIN_RELATIVE_INTENSITY
    ]
    return tuple(sorted(lines, key=lambda line: -line.intensity))


def element_lines(element: str, *, low: float = 0.0, high: float = np.inf) -> dict[str, tuple[Line, ...]]:
    """``{family: lines}`` of ``element`` with energies in ``[low, high]`` keV (families
    whose strongest line lies outside are left out)."""
    out = {}
    for family in ("K", "L", "M"):
        lines = family_lines(element, family)
        if lines and low <= lines[0].energy <= high:
            out[family] = tuple(line for line in lines if low <= line.energy <= high)
    return out


#: The absorption edge that a family's vacancies are made in (the L3 and M5 sub-shells hold
#: the principal Lα and Mα lines).
FAMILY_EDGES = {"K": "K", "L": "L3", "M": "M5"}


@functools.cache
def edge_energy(element: str, family: str) -> float:
    """Energy (keV) of the absorption edge whose vacancies give the family's principal line;
    inf where the tables have none."""
    try:
        return float(_xraydb().xray_edge(element, FAMILY_EDGES[family]).energy) / 1000.0
    except (ValueError, KeyError, AttributeError, TypeError):
        return float("inf")


def is_excited(element: str, family: str, excitation_kev: float, *, overvoltage: float = 1.0) -> bool:
    """Whether a beam (or tube) of ``excitation_kev`` excites the family: its edge times
    ``overvoltage`` lies below the excitation energy (lines are weak below an overvoltage of
    about 1.5)."""
    return edge_energy(element, family) * overvoltage < excitation_kev


@functools.cache
def element_symbols() -> tuple[str, ...]:
    xraydb = _xraydb()
    return tuple(xraydb.atomic_symbol(z) for z in ELEMENTS_Z)


def detector_fwhm(energy, *, noise_fwhm: float = 0.09, fano: float = 0.115, pair_energy: float = 0.00385):
    """FWHM (keV) of a silicon drift detector's peak at ``energy`` keV:
    ``sqrt(noise^2 + 2.355^2 * fano * pair_energy * E)`` (about 0.13 keV at Mn Kα)."""
    energy = np.asarray(energy, dtype=np.float64)
    return np.sqrt(noise_fwhm**2 + 2.3548**2 * fano * pair_energy * np.maximum(energy, 0))


#: Mn Kα (keV), where detector resolutions are quoted.
MN_KA_KEV = 5.895


def noise_fwhm_of(resolution_mn_ka: float) -> float:
    """The electronic-noise term (keV) of :func:`detector_fwhm` for a detector whose FWHM at
    Mn Kα is ``resolution_mn_ka`` keV (what files and data sheets quote)."""
    fano = float(detector_fwhm(MN_KA_KEV, noise_fwhm=0.0))
    return float(np.sqrt(max(resolution_mn_ka**2 - fano**2, 1e-6)))


def compton_energy(energy, angle_deg: float = 90.0):
    """Energy (keV) of a photon of ``energy`` keV after Compton scattering by ``angle_deg``."""
    energy = np.asarray(energy, dtype=np.float64)
    return energy / (1 + energy / ELECTRON_REST_KEV * (1 - np.cos(np.radians(angle_deg))))
