import warnings

import numpy as np
import pytest

from chemmap.core.axis import SpectralAxis
from chemmap.core.cube import Cube
from chemmap.core.exceptions import AxisError, NarrowWindowWarning
from chemmap.maps import band_weights, intensity_map, ratio_map, spectral_noise_sigma


def test_intensity_map_on_demo_finds_the_two_halves(demo_cube):
    m = intensity_map(demo_cube, 1655, window=30)["intensity_1655"]
    assert abs(np.mean(m[:, :15]) - 1.8) < 0.1 and abs(np.mean(m[:, 15:]) - 1.0) < 0.05


def test_area_mode_and_linear_baseline_on_exact_line():
    axis = SpectralAxis(np.linspace(0, 10, 11), "nm")
    data = (2.0 + 0.5 * axis.values)[None, None, :].astype(np.float32)
    cube = Cube(data, axis)
    assert np.isclose(intensity_map(cube, 5, window=4, mode="area")["intensity_5"][0, 0], (2 + 2.5) * 4)
    assert abs(intensity_map(cube, 5, window=4, baseline="linear")["intensity_5"][0, 0]) < 1e-6


def test_band_weights_noise_is_exact_for_mean():
    axis = SpectralAxis(np.arange(100.0), "channel")
    _, w, info = band_weights(axis, 50, window=8)
    assert info["n_channels"] == 9 and np.isclose(np.linalg.norm(w), 1 / 3)


def test_narrow_window_warns_with_channel_count(demo_cube):
    with pytest.warns(NarrowWindowWarning, match="covers only 1 channel"):
        intensity_map(demo_cube, 1655, window=2)


def test_position_outside_axis_is_an_error(demo_cube):
    with pytest.raises(AxisError, match="at=2500 cm-1 is outside the spectral axis"):
        intensity_map(demo_cube, 2500)


def test_ratio_is_a_lower_bound_where_only_the_numerator_stands_never_inf(demo_cube):
    m = ratio_map(demo_cube, 1655, 1742, window=30)
    r, bound = m["ratio_1655_1742"], m["ratio_1655_1742_bound"]
    info = m.attrs["maps"]["ratio_1655_1742"]
    assert np.all(bound[:, :15] == 1) and np.all(bound[:, 15:] == 0), "left half has 1655 but no 1742 band"
    assert np.all(np.isfinite(r)), "no blank pixel: one band or the other stands everywhere"
    expected = 1.0 * np.exp(-((1655 - 1655) ** 2) / 2000) / 1.8  # ~0.556 at the band centres
    assert abs(np.median(r[:, 15:]) - expected) < 0.05
    assert r[:, :15].min() > r[:, 15:].max()  # the bounds lie above every measured ratio
    assert (info["n_bound"], info["n_undefined"], info["n_low_denominator"]) == (450, 0, 450)


def test_ratio_is_blank_only_where_neither_band_stands(demo_cube):
    m = ratio_map(demo_cube, 1000, 1742, window=30)  # nothing at 1000 cm-1; 1742 only on the right
    r = m["ratio_1000_1742"]
    assert np.all(np.isnan(r[:, :15])) and np.all(np.isfinite(r[:, 15:]))
    assert m.attrs["maps"]["ratio_1000_1742"]["n_undefined"] == 450


def test_normalised_difference_is_defined_wherever_either_band_stands(demo_cube):
    from sklearn.metrics import adjusted_rand_score as adjusted_rand_index

    m = ratio_map(demo_cube, 1655, 1742, window=30, contrast="difference")
    d = m["normdiff_1655_1742"]
    assert list(m.map_names) == ["normdiff_1655_1742"] and np.all(np.isfinite(d))
    assert np.all((d >= -1) & (d <= 1)) and d[:, :15].min() > 0.8  # no 1742 band on the left: near 1
    two_class = (d > (d.min() + d.max()) / 2).astype(int)
    assert adjusted_rand_index(demo_cube.labels.reshape(-1), two_class.reshape(-1)) >= 0.9


def test_a_two_class_threshold_of_the_ratio_map_finds_the_regions(demo_cube):
    from sklearn.metrics import adjusted_rand_score as adjusted_rand_index

    r = ratio_map(demo_cube, 1655, 1742, window=30)["ratio_1655_1742"]
    two_class = (r > np.sqrt(np.nanmin(r) * np.nanmax(r))).astype(int)  # a threshold between the two modes
    assert adjusted_rand_index(demo_cube.labels.reshape(-1), two_class.reshape(-1)) >= 0.9


def test_ratio_with_limit_of_detection_keeps_more_pixels(demo_cube):
    lod = ratio_map(demo_cube, 1655, 1742, window=30, noise_threshold=3)
    loq = ratio_map(demo_cube, 1655, 1742, window=30)
    assert lod.attrs["maps"]["ratio_1655_1742"]["n_low_denominator"] < 450
    assert loq.attrs["maps"]["ratio_1655_1742"]["n_low_denominator"] == 450


def test_spectral_noise_sigma_recovers_white_noise_under_peaks():
    rng = np.random.default_rng(0)
    x = np.linspace(0, 1, 400)
    clean = 5 * np.exp(-0.5 * ((x - 0.5) / 0.02) ** 2)
    noisy = clean + rng.normal(0, 0.1, size=(200, 400))
    assert abs(np.median(spectral_noise_sigma(noisy)) - 0.1) < 0.01


def test_masked_pixels_blank_in_maps(demo_cube):
    mask = np.ones(demo_cube.image_shape, bool)
    mask[0, 0] = False
    m = intensity_map(demo_cube.replace(mask=mask), 1655)
    assert np.isnan(m["intensity_1655"][0, 0]) and np.isfinite(m["intensity_1655"][0, 1])


def test_no_warning_for_normal_window(demo_cube):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        intensity_map(demo_cube, 1655, window=30)


@pytest.mark.parametrize(("dtype", "scale"), [(np.uint8, 1), (np.uint16, 1), (np.uint16, 400)])
def test_ratio_maps_of_counts_are_those_of_the_same_counts_as_float32(dtype, scale):
    """The noise test of ratio maps takes the second differences of counts in 16-bit integers
    (8-bit counts, 16-bit ones below 2^13) or 32-bit ones (exact, half the memory): the maps,
    bounds and blanks are those of the same counts as float32, bit for bit, also where a
    pixel's limit falls on a count."""
    rng = np.random.default_rng(np.dtype(dtype).itemsize + scale)
    axis = SpectralAxis(np.linspace(0, 20, 400), "keV")
    lines = (
        40 * np.exp(-0.5 * ((axis.values - 6.4) / 0.08) ** 2)[None, None] * rng.uniform(-0.5, 1, (20, 24, 1)).clip(0)
    )
    lines += 25 * np.exp(-0.5 * ((axis.values - 1.74) / 0.06) ** 2)[None, None] * (rng.uniform(0, 1, (20, 24, 1)) > 0.5)
    counts = rng.poisson(scale * lines + 1.5).astype(dtype)
    assert (counts.max() >= 2**13) == (scale > 1)  # both 16-bit paths
    maps = [ratio_map(Cube(data, axis), 6.4, 1.74, window=0.4) for data in (counts, counts.astype(np.float32))]
    assert maps[0].map_names == maps[1].map_names
    for name in maps[0].map_names:
        np.testing.assert_array_equal(maps[0][name], maps[1][name])
    info = maps[0].attrs["maps"]["ratio_6.4_1.74"]
    assert info["n_bound"] > 0 and info["n_undefined"] > 0 and info == maps[1].attrs["maps"]["ratio_6.4_1.74"]


@pytest.mark.parametrize(
    ("dtype", "low", "high"),
    [(np.uint8, 0, 255), (np.uint16, 0, 8000), (np.uint16, 0, 60000), (np.int16, -9000, 9000), (np.int8, -128, 127)],
)
def test_spectral_noise_of_counts_is_that_of_the_same_counts_as_float32(dtype, low, high):
    """Second differences of counts are taken in integers where exact: the same noise."""
    counts = np.random.default_rng(high).integers(low, high, (50, 300), endpoint=True).astype(dtype)
    np.testing.assert_array_equal(spectral_noise_sigma(counts), spectral_noise_sigma(counts.astype(np.float32)))
