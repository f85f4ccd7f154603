"""X-ray fluorescence: emission lines, energy calibration and element identification.

Needs the ``xrf`` extra (xraydb) for the line tables.
"""

from chemmap.xrf.calibration import EnergyCalibration, calibrate_energy
from chemmap.xrf.identify import identify_peaks
from chemmap.xrf.lines import Line, compton_energy, detector_fwhm, element_lines, family_lines

__all__ = [
    "EnergyCalibration",
    "Line",
    "calibrate_energy",
    "compton_energy",
    "detector_fwhm",
    "element_lines",
    "family_lines",
    "identify_peaks",
]
