import numpy as np
import pytest
from scipy.linalg import solve_banded

from chemmap.core.axis import SpectralAxis
from chemmap.core.cube import Cube
from chemmap.core.exceptions import ConfigError, InvalidParameterError
from chemmap.preprocessing import Chain, asls, baseline, crop, msc, normalize, savgol, snv, spatial_gaussian
from chemmap.preprocessing.baseline import pentadiagonal_solve
from chemmap.testing import assert_cube_equal, make_cube


def test_pentadiagonal_solver_matches_scipy_banded():
    rng = np.random.default_rng(0)
    n, m = 12, 4
    main = rng.uniform(5, 6, size=(n, m))
    off1, off2 = rng.uniform(-1, 1, n - 1), rng.uniform(-0.5, 0.5, n - 2)
    rhs = rng.normal(size=(n, m))
    x = pentadiagonal_solve(main, off1, off2, rhs)
    for j in range(m):
        ab = np.zeros((5, n))
        ab[0, 2:], ab[1, 1:], ab[2], ab[3, :-1], ab[4, :-2] = off2, off1, main[:, j], off1, off2
        np.testing.assert_allclose(x[:, j], solve_banded((2, 2), ab, rhs[:, j]), rtol=1e-10)


@pytest.mark.parametrize("method", ["asls", "poly"])
def test_baseline_recovers_peak_areas_on_curved_baseline(method):
    x = np.linspace(600, 1800, 600)
    rng = np.random.default_rng(1)
    peaks = 1.0 * np.exp(-0.5 * ((x - 1000) / 8) ** 2) + 0.6 * np.exp(-0.5 * ((x - 1450) / 10) ** 2)
    t = (x - 600) / 1200
    curves = np.stack([a + b * t + c * t**2 for a, b, c in rng.uniform([0.5, -1, -1], [1.5, 1, 1], (20, 3))])
    spectra = peaks + curves
    params = {"method": method, "lam": 1e6} if method == "asls" else {"method": method, "order": 3}
    corrected = baseline(spectra, axis=x, **params)
    for centre in (1000, 1450):
        win = np.abs(x - centre) < 40
        true_area = np.trapezoid(peaks[win], x[win])
        areas = np.trapezoid(corrected[:, win], x[win], axis=1)
        np.testing.assert_allclose(areas, true_area, rtol=0.02)


def test_asls_is_vectorised_not_per_pixel_identical_results():
    rng = np.random.default_rng(2)
    spectra = rng.normal(size=(50, 80)).cumsum(axis=1)
    together = asls(spectra)
    one_by_one = np.concatenate([asls(s[None]) for s in spectra[:5]])
    np.testing.assert_allclose(together[:5], one_by_one, rtol=1e-10)


def test_snv_and_msc_match_textbook_definitions():
    x = np.array([[1.0, 2.0, 4.0, 3.0], [2.0, 4.0, 8.0, 6.0]])
    expected = (x[0] - 2.5) / np.std(x[0], ddof=1)
    np.testing.assert_allclose(snv(x)[0], expected)
    np.testing.assert_allclose(snv(x)[1], expected)  # scale-invariant
    ref = np.array([1.0, 2.0, 4.0, 3.0])
    scattered = np.stack([0.5 + 2.0 * ref, -0.2 + 0.7 * ref])
    np.testing.assert_allclose(msc(scattered, ref), np.stack([ref, ref]), atol=1e-12)


def test_other_normalisations():
    x = np.array([[3.0, 4.0, 0.0]])
    axis = np.array([0.0, 1.0, 2.0])
    np.testing.assert_allclose(normalize(x, method="l2"), [[0.6, 0.8, 0.0]], rtol=1e-6)
    np.testing.assert_allclose(normalize(x, method="max"), [[0.75, 1.0, 0.0]], rtol=1e-6)
    np.testing.assert_allclose(np.trapezoid(normalize(x, axis=axis, method="area")[0], axis), 1.0, rtol=1e-6)


def test_zero_variance_pixel_leaves_the_mask():
    data = np.ones((2, 2, 5), np.float32)
    data[0, 0] = np.arange(5)
    cube = normalize(Cube(data, SpectralAxis(np.arange(5.0))), method="snv")
    assert cube.mask.tolist() == [[True, False], [False, False]]


def test_savgol_window_in_axis_units_and_derivative():
    x = np.linspace(0, 10, 101)  # spacing 0.1
    y = (2 * x + 1)[None, :]
    np.testing.assert_allclose(savgol(y, axis=x, window=0.7), y, rtol=1e-5)
    np.testing.assert_allclose(savgol(y, axis=x, window=0.7, deriv=1), 2.0, rtol=1e-4)
    with pytest.raises(InvalidParameterError, match="exactly one of window"):
        savgol(y, axis=x)


def test_savgol_leaves_masked_nan_pixels_nan_and_smooths_the_others():
    # a masked pixel left NaN by an earlier step (destripe after mask_bad_pixels on a Velox EDS map) had
    # crashed the step: "array must not contain infs or NaNs"
    x = np.linspace(0, 10, 60)
    data = np.tile((2 * x + 1).astype(np.float32), (3, 4, 1))
    data[1, 2] = np.nan
    mask = np.ones((3, 4), bool)
    mask[1, 2] = False
    out = savgol(Cube(data, SpectralAxis(x), mask=mask), window_channels=7, deriv=1)
    assert np.isnan(out.data[1, 2]).all() and not out.mask[1, 2] and out.mask.sum() == 11
    np.testing.assert_allclose(out.data[out.mask], 2.0, rtol=1e-4)
    everything = savgol(Cube(np.full((2, 2, 60), np.nan, np.float32), SpectralAxis(x)), window_channels=7)
    assert not everything.mask.any()  # a piece of masked pixels only


def test_a_savgol_window_out_of_range_is_refused_with_the_range_in_axis_units():
    cube = Cube(np.ones((2, 2, 40), np.float32), SpectralAxis(np.linspace(361.3, 364.6, 40), "nm"))
    with pytest.raises(InvalidParameterError, match=r"9 nm covers 107 channels .* from 0.2538 to 3.3 nm.*narrow"):
        savgol(cube, window=9)
    with pytest.raises(InvalidParameterError, match=r"covers 1 channels .* from 0.2538 .*widen the window"):
        savgol(cube, window=0.05)
    np.testing.assert_allclose(savgol(cube, window=0.5).data, 1.0, rtol=1e-6)
    with pytest.raises(InvalidParameterError, match="window_channels=41; .* from 3 to 39 channels"):
        savgol(cube, window_channels=41)
    short = Cube(np.ones((2, 2, 2), np.float32), SpectralAxis(np.arange(2.0)))
    with pytest.raises(InvalidParameterError, match="has 2 channels, too few .* lower polyorder to at most 0"):
        savgol(short, window_channels=3)


def test_a_spatial_gaussian_wider_than_half_the_image_is_refused():
    cube = Cube(np.random.default_rng(0).random((5, 5, 8), dtype=np.float32), SpectralAxis(np.arange(8.0)))
    assert spatial_gaussian(cube, sigma=2.5).data.shape == (5, 5, 8)
    with pytest.raises(InvalidParameterError, match=r"sigma 50 pixels is wider than half the 5 x 5 image.*at most 2.5"):
        spatial_gaussian(cube, sigma=50)


def test_spatial_gaussian_ignores_masked_pixels():
    data = np.zeros((5, 5, 2), np.float32)
    data[:, :3] = 1.0
    data[:, 3:] = 1000.0
    mask = np.ones((5, 5), bool)
    mask[:, 3:] = False
    out = spatial_gaussian(Cube(data, SpectralAxis([1.0, 2.0]), mask=mask), sigma=1.5)
    np.testing.assert_allclose(out.data[:, :3], 1.0, rtol=1e-5)
    assert np.all(np.isnan(out.data[:, 3:]))


def test_inputs_are_not_mutated():
    cube = make_cube()
    cube.data.setflags(write=False)
    before = cube.data.copy()
    Chain([{"step": "baseline"}, {"step": "normalize"}, {"step": "savgol", "window_channels": 5}]).fit_transform(cube)
    np.testing.assert_array_equal(cube.data, before)


def test_chain_freezes_msc_reference_and_round_trips_through_toml(tmp_path):
    fit_cube = make_cube(random_state=0)
    new_cube = make_cube(random_state=1)
    chain = Chain([{"step": "crop", "lower": 700, "upper": 1700}, {"step": "normalize", "method": "msc"}])
    chain.fit(fit_cube)
    frozen_ref = chain.steps_[1]["reference"]
    assert len(frozen_ref) == crop(fit_cube, lower=700, upper=1700).n_channels
    chain.save(tmp_path / "chain.toml")
    loaded = Chain.load(tmp_path / "chain.toml")
    assert_cube_equal(loaded.transform(new_cube), chain.transform(new_cube))
    assert new_cube.history == [] and loaded.transform(new_cube).history[-1]["step"] == "normalize"


def test_chain_validates_before_running():
    with pytest.raises(
        ConfigError, match=r"item 1 \('smooth'\).*Valid preprocessing steps are: 'absorbance', 'baseline', 'crop'"
    ):
        Chain([{"step": "smooth"}])
    with pytest.raises(ConfigError, match=r"'lam' parameter of the 'baseline' step must be a float > 0. Got -1"):
        Chain([{"step": "baseline", "lam": -1}])


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("empty.json", "", "Cannot read the chain file"),
        ("bad.toml", "preprocessing = [", "Cannot read the chain file"),
        ("list.json", "[1, 2]", "has no 'preprocessing' list"),
        ("other.toml", 'step = "crop"\n', "has no 'preprocessing' list"),
    ],
)
def test_a_chain_file_that_is_not_one_is_refused_with_what_was_expected(tmp_path, name, text, expected):
    (tmp_path / name).write_text(text)
    with pytest.raises(ConfigError, match=expected):
        Chain.load(tmp_path / name)
    with pytest.raises(ConfigError, match="--save-chain"):
        Chain.load(tmp_path / "missing.json")


def test_spatial_filters_of_an_image_in_memory_by_blocks_of_channels_equal_the_whole_image(monkeypatch):
    """An in-memory cube larger than a block is filtered a block of channels at a time (its
    temporaries stay small); the result is the whole-image one."""
    from chemmap._shared import blockwise

    cube = make_cube((12, 10), n_channels=9)
    mask = np.ones((12, 10), bool)
    mask[3, 4] = mask[0, 0] = False
    cube = cube.replace(mask=mask)
    whole = [
        spatial_gaussian(cube, sigma=1.5).data,
        Chain([{"step": "spatial_median", "size": 3}]).fit_transform(cube).data,
    ]
    monkeypatch.setattr(blockwise, "IMAGE_BLOCK_BYTES", 12 * 10 * 4 * 2)  # two channels per block
    blocks = [
        spatial_gaussian(cube, sigma=1.5).data,
        Chain([{"step": "spatial_median", "size": 3}]).fit_transform(cube).data,
    ]
    for a, b in zip(whole, blocks, strict=True):
        np.testing.assert_array_equal(a, b)
        assert np.isnan(b[3, 4]).all() and np.isfinite(b[5, 5]).all()


def test_a_crop_keeps_at_least_three_channels_and_says_where_an_empty_range_lies():
    from chemmap.core.exceptions import AxisError

    cube = Cube(np.ones((2, 2, 11), np.float32), SpectralAxis(np.arange(100.0, 111.0), "cm-1"))
    assert crop(cube, lower=104, upper=106).n_channels == 3
    with pytest.raises(InvalidParameterError, match=r"keeps 1 channel .* at least 3.*--intensity 104 --window 3"):
        crop(cube, lower=103.5, upper=104.5)
    with pytest.raises(InvalidParameterError, match=r"keeps 2 channels"):
        crop(cube, lower=108.5, upper=None)
    with pytest.raises(AxisError, match="lies between the channels at 104 and 105 cm-1"):
        crop(cube, lower=104.2, upper=104.8)
    with pytest.raises(AxisError, match=r"no channel of the axis \(100..110 cm-1\)"):
        crop(cube, lower=0, upper=10)


def test_masking_most_pixels_as_dead_warns_that_empty_counts_are_measurements():
    import warnings

    from chemmap.core.exceptions import DataWarning
    from chemmap.preprocessing import mask_bad_pixels

    counts = np.zeros((10, 10, 64), np.uint16)  # a sparse X-ray map: most pixels caught no photon
    counts[::3, ::3, 20] = 1
    with pytest.warns(DataWarning, match=r"masked 84 of 100 pixels as dead.*no photon reached"):
        out = mask_bad_pixels(Cube(counts, SpectralAxis(np.arange(64.0))))
    assert out.mask.sum() == 16
    spectra = np.random.default_rng(0).poisson(5, (10, 10, 64)).astype(np.uint16)
    spectra[0, 0] = 0  # one dead pixel: masked without a warning
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        assert mask_bad_pixels(Cube(spectra, SpectralAxis(np.arange(64.0)))).mask.sum() == 99


def test_band_snr_of_one_spectrum_is_refused_with_the_step_to_leave_out():
    one = Cube(np.random.default_rng(0).random((1, 1, 30), dtype=np.float32), SpectralAxis(np.arange(30.0)))
    with pytest.raises(InvalidParameterError, match="no pair of neighbouring valid pixels.*out mask_low_snr_bands"):
        Chain([{"step": "mask_low_snr_bands"}]).fit_transform(one)


def test_a_refused_parameter_says_what_it_is_and_how_to_get_its_default():
    with pytest.raises(
        InvalidParameterError, match=r"Got -1 instead\. \(polynomial order; leave it out for its default, 2\)"
    ):
        savgol(np.ones((2, 20)), window_channels=7, polyorder=-1)
