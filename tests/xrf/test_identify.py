"""Element identification on synthetic MA-XRF scans: every element found, no absent element
with high confidence, tube scatter and escape peaks flagged, coincident lines explained away."""

from __future__ import annotations

import pytest

pytest.importorskip("xraydb", reason="element identification needs the 'xrf' extra (xraydb)")

import numpy as np

from chemmap.core.exceptions import AxisError
from chemmap.datasets import make_xrf_cube
from chemmap.maps import find_peaks, summary_spectra
from chemmap.maps.peak_detection import Peak
from chemmap.xrf import calibrate_energy, identify_peaks
from chemmap.xrf.identify import CONFIDENT

TRUE = {"Ca", "Fe", "Cu", "Zn", "Pb"}


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("detect_on", ["max", "mean"])
def test_elements_are_identified_and_absent_ones_are_not(seed, detect_on):
    scan = make_xrf_cube(random_state=seed)
    summary = summary_spectra(scan.cube)
    spectrum = summary.max if detect_on == "max" else summary.mean
    peaks = find_peaks(scan.cube.axis.values, spectrum)
    result = identify_peaks(scan.cube.axis.values, spectrum, peaks, anode="Rh")
    assert set(result["identified"]) == TRUE
    confident = {c["element"] for c in result["elements"] if c["confidence"] >= CONFIDENT}
    assert confident <= TRUE

    def at(energy):
        return min(result["peaks"], key=lambda p: abs(p["position"] - energy))

    assert at(20.2)["assignment"] == "Rh Rayleigh"
    assert at(10.55)["element"] == "Pb"  # not arsenic, whose Ka coincides with Pb La
    compton = [p for p in result["peaks"] if 18.8 < p["position"] < 19.9]  # Rh Ka scattered at 60-150 degrees
    assert all(p["assignment"] == "Rh Compton" for p in compton)
    if detect_on == "mean":
        assert compton
    if detect_on == "mean":  # the Ca Ka escape peak (3.69 - 1.74 keV) is found and flagged
        assert at(1.95)["assignment"].startswith("escape peak of 3.69")


def test_an_unknown_anode_is_inferred_from_its_scatter_and_the_zero_peak_is_never_an_element():
    scan = make_xrf_cube(random_state=3)
    x = scan.cube.axis.values
    spectrum = summary_spectra(scan.cube).mean
    peaks = find_peaks(x, spectrum)
    result = identify_peaks(x, spectrum, peaks, anode=None)
    assert result["anode"] == "Rh" and result["anode_inferred"]
    assert set(result["identified"]) == TRUE  # no Ru from the Compton peaks, no Rh element
    zero = Peak(0, 0.004, 1e6, 1e6, 0.12, -0.1, 0.1, 0, 1)  # the detector's noise peak
    result = identify_peaks(x, spectrum, [zero, *peaks], anode="Rh")
    assert result["peaks"][0]["element"] is None and result["peaks"][0]["flags"]["zero"] == "detector zero peak"


@pytest.mark.parametrize(("gain", "offset"), [(0.02, -0.05), (0.0195, -0.12), (0.01, 0.03)])
@pytest.mark.parametrize("degree", [1, 2])
def test_a_cube_without_energy_axis_is_calibrated_from_its_own_lines(gain, offset, degree):
    scan = make_xrf_cube(random_state=1, calibrated=False, gain=gain, offset=offset, n_channels=int(41 / gain))
    assert scan.cube.axis.unit == "channel"
    cube, calibration = calibrate_energy(scan.cube, degree=degree)
    assert calibration.gain == pytest.approx(gain, rel=2e-3)
    assert calibration.offset == pytest.approx(offset, abs=0.01)
    assert calibration.rms_residual_ev < 25 and len(calibration.lines) >= 5
    labels = {line["label"] for line in calibration.lines}
    assert {"Fe Ka1", "Ca Ka1"} <= labels and any(label.startswith("Rh Ka") for label in labels)
    assert cube.axis.unit == "keV" and cube.attrs["energy_calibration"]["gain_kev_per_channel"] == calibration.gain
    with pytest.raises(AxisError, match="used as is"):
        calibrate_energy(cube)


@pytest.mark.parametrize("seed", [0, 1])
def test_oxygen_is_identified_on_an_eds_map_of_an_oxide_and_vanadium_is_not(seed):
    """O Ka (0.525 keV) lies beside V La (0.511 keV); V Ka (4.95 keV), excited at 15 kV and on
    the axis, is absent, so the peak is oxygen's. Ti Kb (4.93 keV) adds no element."""
    from chemmap.datasets import make_eds_cube
    from chemmap.workflows.peaks import PeakSettings, map_peaks

    scene = make_eds_cube(elements=("O", "Si", "Ti"), random_state=seed)
    result = map_peaks(scene.cube, PeakSettings(speckles=False))
    identified = set(result.identification["identified"])
    assert {"O", "Si", "Ti"} <= identified and "V" not in identified, identified
    oxygen = min(result.identification["peaks"], key=lambda p: abs(p["position"] - 0.525))
    assert oxygen["element"] == "O" and oxygen["confidence"] >= CONFIDENT
    assert result.report["instrument"]["excitation_kev"] == 15.0
    assert result.report["instrument"]["detector_resolution_from"].startswith("file")
    vanadium = [c for c in result.identification["elements"] if c["element"] == "V"]
    assert all(c["confidence"] < CONFIDENT for c in vanadium)


def test_a_peak_narrower_than_the_detector_resolves_is_noise_not_a_line():
    x = np.arange(0.0, 10.0, 0.01)
    rng = np.random.default_rng(0)
    y = 50 + 400 * np.exp(-0.5 * ((x - 6.40) / (0.14 / 2.355)) ** 2)  # Fe Ka at the detector's width
    y += 200 * np.exp(-0.5 * ((x - 6.01) / (0.03 / 2.355)) ** 2)  # 30 eV wide: no line is that narrow
    y = rng.poisson(y).astype(float)
    peaks = find_peaks(x, y)
    result = identify_peaks(x, y, peaks, resolution_mn_ka=0.138, excitation_kev=20.0)
    narrow = min(result["peaks"], key=lambda p: abs(p["position"] - 6.01))
    assert "narrow" in narrow["flags"] and narrow["element"] is None
    iron = min(result["peaks"], key=lambda p: abs(p["position"] - 6.40))
    assert iron["element"] == "Fe"


@pytest.mark.parametrize("seed", [0, 1])
def test_al_not_br_for_the_1_49_kev_peak_when_the_beam_excites_br_k(seed):
    """Al Ka (1.487 keV) and Br La (1.480 keV) fit one peak. At 200 kV Br Ka (11.9 keV, on the
    axis) would show: its absence rejects Br, and Al is named. At 20 kV Br K is barely excited
    (edge x 1.5 above the beam), so nothing rules Br out: Al is reported, with a question mark,
    never Br; the oxide's O Ka is named at both."""
    from chemmap.datasets import make_eds_cube
    from chemmap.workflows.peaks import PeakSettings, map_peaks

    for kv, sure in ((200.0, True), (20.0, False)):
        scene = make_eds_cube(elements=("O", "Al", "Si", "Fe"), beam_kv=kv, random_state=seed)
        result = map_peaks(scene.cube, PeakSettings(speckles=False))
        peak = min(result.identification["peaks"], key=lambda p: abs(p["position"] - 1.487))
        assert peak["element"] == "Al" and (peak["confidence"] >= CONFIDENT) == sure, (kv, peak)
        assert "Br" not in result.identification["identified"] and "O" in result.identification["identified"]
        rejected = {(r["element"], r["family"]) for r in result.report["rejected"]}
        assert (("Br", "L") in rejected) == sure
