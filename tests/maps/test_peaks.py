"""Peaks straight from the cube: summary spectra, detection, hot-max spectra, peak-area and
position maps with their noise, on a synthetic MA-XRF scan with known element maps and on a
Raman-like cube with known bands."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest

from chemmap.core.axis import SpectralAxis
from chemmap.core.cube import Cube
from chemmap.datasets import make_demo_cube
from chemmap.maps import find_peaks, hotmax_spectra, map_noise, peak_fit_maps, peak_maps, summary_spectra
from chemmap.maps.peak_detection import without_spikes

pytest.importorskip("xraydb", reason="the synthetic XRF scan needs the 'xrf' extra (xraydb)")

from chemmap.datasets import make_xrf_cube

LINES = {"Ca": 3.69, "Fe": 6.40, "Cu": 8.04, "Zn": 8.63, "Pb": 10.55}


@pytest.fixture(scope="module")
def scan():
    return make_xrf_cube(random_state=0)


@pytest.fixture(scope="module")
def found(scan):
    summary = summary_spectra(scan.cube)
    return summary, find_peaks(scan.cube.axis.values, summary.max)


def test_summary_spectra_are_equal_on_numpy_and_dask_and_point_at_the_pixel(scan, found):
    summary, _ = found
    data = np.asarray(scan.cube.data)
    flat = data.reshape(-1, data.shape[-1])
    spike_free = without_spikes(flat)
    np.testing.assert_array_equal(summary.max, spike_free.max(axis=0))
    np.testing.assert_allclose(summary.mean, data.mean(axis=(0, 1)), rtol=1e-12)
    np.testing.assert_array_equal(summary.argmax, np.argmax(spike_free, axis=0))  # first pixel on ties
    lazy = summary_spectra(scan.cube.replace(data=da.from_array(data, chunks=(7, 96, 2048))))
    np.testing.assert_array_equal(lazy.argmax, summary.argmax)
    np.testing.assert_allclose(lazy.sum, summary.sum)


def test_every_element_line_is_found_and_its_map_matches_the_truth(scan, found):
    _, peaks = found
    positions = np.array([p.position for p in peaks])
    maps = peak_maps(scan.cube, peaks)
    for element, energy in LINES.items():
        j = int(np.argmin(np.abs(positions - energy)))
        assert abs(positions[j] - energy) < 0.05, f"{element} line at {energy} keV not found"
        assert peaks[j].lower < energy < peaks[j].upper
        r = np.corrcoef(maps.areas.data[..., j].ravel(), scan.element_maps[element].ravel())[0, 1]
        assert r >= 0.95, f"{element} map correlates {r:.3f} with its truth"
        # the position map sits on the line wherever the element is strong
        strong = scan.element_maps[element] > 0.8
        assert np.median(np.abs(maps.positions.data[..., j][strong] - energy)) < 0.06
        noise = maps.noise[j]
        assert noise["detection_limit"] == pytest.approx(3 * noise["sigma"])
    fe = int(np.argmin(np.abs(positions - LINES["Fe"])))
    present = scan.element_maps["Fe"] > 0.5
    above = maps.areas.data[..., fe] > maps.noise[fe]["detection_limit"]
    # the limit is one sigma for the whole map: pixels on a high background exceed it more often
    assert np.mean(above[present]) > 0.99 and np.mean(above[scan.element_maps["Fe"] < 0.01]) < 0.05


def test_fitted_peak_maps_match_the_truth_and_share_overlapping_counts(scan, found):
    summary, peaks = found
    fitted = peak_fit_maps(scan.cube, peaks, summary.mean)
    assert fitted.map_names[-2:] == ("continuum", "fit residual")
    positions = np.array([p.position for p in peaks])
    for element, energy in LINES.items():
        j = int(np.argmin(np.abs(positions - energy)))
        r = np.corrcoef(fitted.data[..., j].ravel(), scan.element_maps[element].ravel())[0, 1]
        assert r >= 0.95, f"{element} fitted map correlates {r:.3f} with its truth"
    assert np.nanmin(fitted.data[..., :-1]) >= 0
    # Cu Kb (8.90 keV) overlaps Zn Ka (8.63 keV): slicing counts part of Cu into the Zn map,
    # the fit shares them, so the Zn map follows Zn more closely than the slice does
    zn = int(np.argmin(np.abs(positions - LINES["Zn"])))
    sliced = peak_maps(scan.cube, peaks).areas.data[..., zn]
    truth = scan.element_maps["Zn"].ravel()
    assert np.corrcoef(fitted.data[..., zn].ravel(), truth)[0, 1] > np.corrcoef(sliced.ravel(), truth)[0, 1]


def test_hot_max_spectra_come_from_the_speckles_and_group_shared_pixels(scan, found):
    summary, peaks = found
    hot = hotmax_spectra(scan.cube, peaks, summary)
    assert sorted(i for group in hot.peaks for i in group) == list(range(len(peaks)))
    assert len(hot.pixels) == len({tuple(p) for p in hot.pixels.tolist()})  # one entry per pixel
    positions = np.array([p.position for p in peaks])
    cu = int(np.argmin(np.abs(positions - LINES["Cu"])))
    owner = next(k for k, group in enumerate(hot.peaks) if cu in group)
    row, col = hot.pixels[owner]
    assert scan.speckle_mask[row, col]  # the brightest Cu pixel is in a brass speckle
    np.testing.assert_array_equal(hot.spectra[owner], np.asarray(scan.cube.data)[row, col])


def test_peak_maps_on_a_lazy_cube_equal_the_in_memory_ones(scan, found):
    _, peaks = found
    eager = peak_maps(scan.cube, peaks)
    lazy_cube = scan.cube.replace(data=da.from_array(np.asarray(scan.cube.data), chunks=(9, 50, 2048)))
    lazy = peak_maps(lazy_cube, peaks)
    np.testing.assert_allclose(lazy.areas.data, eager.areas.data, rtol=1e-12)
    np.testing.assert_array_equal(lazy.positions.data, eager.positions.data)


def test_ties_in_the_max_spectrum_keep_the_first_pixel_and_never_crash():
    data = np.zeros((3, 4, 16), np.uint16)
    data[..., 7:10] = 5  # every pixel ties at channels 7-9
    data[2, 3, 3:6] = 9  # three channels wide: a line, not a spike
    cube = Cube(data, SpectralAxis(np.arange(16.0), "channel"))
    summary = summary_spectra(cube)
    assert summary.argmax[8] == 0 and summary.argmax[4] == 11
    peaks = find_peaks(cube.axis.values, summary.max, prominence=1, min_width=0.5, smooth=0)
    hot = hotmax_spectra(cube, peaks, summary)
    assert sorted(map(tuple, hot.pixels.tolist())) == [(0, 0), (2, 3)]


def test_raman_bands_are_found_and_mapped():
    cube = make_demo_cube()
    summary = summary_spectra(cube)
    peaks = find_peaks(cube.axis.values, summary.mean)
    positions = np.array([p.position for p in peaks])
    for band in (1450.0, 1655.0, 1742.0):
        assert np.min(np.abs(positions - band)) < 10, f"band {band} cm-1 not found in {positions}"
    maps = peak_maps(cube, peaks)
    j = int(np.argmin(np.abs(positions - 1742.0)))
    area = maps.areas.data[..., j]
    assert np.min(area[:, 15:]) > np.max(area[:, :15])  # 1742 only in the right half
    assert maps.areas.attrs["maps"][maps.names[j]]["unit"] == "intensity x cm-1"


def test_map_noise_from_the_negative_half():
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.normal(0, 2.0, 20_000), rng.normal(50, 2.0, 5_000)])
    noise = map_noise(values)
    assert noise["robust_sigma"] == pytest.approx(2.0, rel=0.05)
    assert noise["fraction_above"] == pytest.approx(0.2 + 0.8 * 0.00135, abs=0.005)


def test_spikes_of_one_or_two_channels_never_set_the_max_spectrum():
    """Cosmic rays in three pixels (one and two channels, far above every band) leave the max
    spectrum where the bands put it, and its argmax on the pixels that hold the bands."""
    rng = np.random.default_rng(4)
    x = np.arange(300, dtype=np.float64)
    band = 100 * np.exp(-0.5 * ((x - 150) / 4) ** 2)
    data = rng.normal(10, 1, (12, 12, 300))
    data[3, 4] += band
    clean_max = without_spikes(data.reshape(-1, 300)).max(axis=0)
    for (r, c), channels in {(0, 0): [40], (5, 5): [150, 151], (9, 2): [220, 221]}.items():
        data[r, c, channels] += 5000
    summary = summary_spectra(Cube(data, SpectralAxis(x, "cm-1")))
    assert summary.max.max() < 120
    np.testing.assert_allclose(summary.max, clean_max, atol=5)  # a spike pixel may still set a noise channel
    assert summary.argmax[150] == 3 * 12 + 4
