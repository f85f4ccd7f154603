"""Preprocessing against ground truth and against independent implementations (pybaselines,
textbook formulas), plus the same chain through the API, a config file and the CLI."""

import inspect

import numpy as np
import pytest
from pybaselines import Baseline
from sklearn.pipeline import make_pipeline

from chemmap.cli import main
from chemmap.core.axis import SpectralAxis
from chemmap.core.cube import Cube
from chemmap.core.exceptions import AxisError, InvalidParameterError
from chemmap.io import read, write
from chemmap.preprocessing import (
    Chain,
    SpectralTransformer,
    absorbance,
    bad_pixel_masks,
    band_snr,
    baseline,
    despike,
    destripe,
    drop_bad_bands,
    emsc,
    flat_field,
    mask_bands,
    mask_low_snr_bands,
    msc,
    normalize,
    resample,
    snv,
    whittaker,
)
from chemmap.preprocessing.baseline import BATCHED, METHODS

X = np.linspace(400, 1800, 500)  # cm-1, spacing 2.8


def _peaks(centres, heights, sigma=12.0):
    return sum(h * np.exp(-((X - c) ** 2) / (2 * sigma**2)) for c, h in zip(centres, heights, strict=True))


def _spectra(n=40, seed=0, noise=0.3):
    rng = np.random.default_rng(seed)
    curve = 20 + 15 * ((X - 400) / 1400) ** 2 - 8 * (X - 400) / 1400  # curved baseline
    peaks = np.array([_peaks([800, 1200, 1600], rng.uniform(20, 60, 3)) for _ in range(n)])
    return peaks + curve * rng.uniform(0.5, 1.5, (n, 1)) + rng.normal(0, noise, (n, X.size)), peaks


@pytest.mark.parametrize("method", BATCHED)
def test_batched_baselines_equal_pybaselines(method):
    y, _ = _spectra(12)
    fitter = Baseline(x_data=X)
    ours = baseline(y, axis=X, method=method, lam=1e6, order=2, n_iter=50, return_baseline=True)
    kwargs = {"asls": {"lam": 1e6, "p": 0.01}, "arpls": {"lam": 1e6}, "modpoly": {"poly_order": 2}}[method]
    ref = np.array([getattr(fitter, method)(row, max_iter=50, tol=1e-3, **kwargs)[0] for row in y])
    np.testing.assert_allclose(ours, ref, atol=1e-3 * np.abs(ref).max())


@pytest.mark.parametrize("method", sorted(set(METHODS) - set(BATCHED) - {"poly"}))
def test_every_other_method_runs_through_pybaselines(method):
    y, _ = _spectra(3)
    ours = baseline(y, axis=X, method=method, return_baseline=True)
    fitter = Baseline(x_data=X)
    kwargs = {"lam": 1e5, "p": 0.01, "poly_order": 3, "tol": 1e-3}
    accepted = inspect.signature(getattr(fitter, method)).parameters
    ref = np.array([getattr(fitter, method)(r, **{k: v for k, v in kwargs.items() if k in accepted})[0] for r in y])
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-3)


def test_baseline_removal_recovers_peak_areas_within_2_percent():
    y, peaks = _spectra(40, noise=0.2)
    for method, params in (("arpls", {"lam": 1e6}), ("arpls", {})):  # tuned, then the chemmap defaults
        corrected = baseline(y, axis=X, method=method, **params)
        for centre in (800, 1200, 1600):
            band = np.abs(X - centre) < 40
            true = np.trapezoid(peaks[:, band], X[band], axis=1)
            got = np.trapezoid(corrected[:, band], X[band], axis=1)
            assert np.max(np.abs(got - true) / true) < 0.02, (method, centre)


def test_snv_msc_emsc_textbook_cases():
    x = np.array([[1.0, 2.0, 3.0, 6.0]])
    np.testing.assert_allclose(snv(x), [[-2, -1, 0, 3]] / np.sqrt(14 / 3))  # mean 3, std with n - 1
    ref = np.array([1.0, 3.0, 2.0, 5.0])
    scattered = 0.5 + 2.0 * ref  # additive 0.5, multiplicative 2
    np.testing.assert_allclose(msc(scattered[None], ref), ref[None], atol=1e-12)
    t = np.linspace(-1, 1, 4)
    with_slope = 0.5 + 0.3 * t + 2.0 * ref
    np.testing.assert_allclose(emsc(with_slope[None], ref, np.arange(4.0), poly_order=1), ref[None], atol=1e-12)
    np.testing.assert_allclose(emsc(scattered[None], ref, np.arange(4.0), poly_order=0), msc(scattered[None], ref))
    np.testing.assert_allclose(normalize(x, method="l1"), x / 12)
    np.testing.assert_allclose(normalize(x, method="band", axis=[10, 20, 30, 40], band=40, window=1), x / 6)


def test_despike_removes_spikes_and_keeps_bands():
    rng = np.random.default_rng(3)
    clean = np.array([_peaks([700, 1000, 1500], [60, 40, 80], sigma=9) for _ in range(60)])
    noisy = clean + rng.normal(0, 1, clean.shape)
    spiked = noisy.copy()
    where = rng.integers(5, X.size - 5, 60)
    spiked[np.arange(60), where] += rng.uniform(40, 400, 60)
    out = despike(spiked)
    assert np.max(np.abs(out[np.arange(60), where] - clean[np.arange(60), where])) < 15  # spikes gone
    untouched = np.ones(out.shape, bool)
    for i, w in enumerate(where):
        untouched[i, w - 3 : w + 4] = False
    np.testing.assert_allclose(out[untouched], noisy[untouched], atol=1e-4)  # bands and noise untouched
    np.testing.assert_allclose(despike(noisy), noisy, atol=1e-4)  # nothing to remove: nothing changes


def _scene(h=300, w=50, c=6, seed=0):
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[:h, :w]
    disk = ((rows - 30) ** 2 + (cols - 20) ** 2 < 12**2).astype(float) + ((rows - 200) ** 2 + (cols - 25) ** 2 < 40**2)
    bar = ((cols > 35) & (cols < 45)).astype(float)
    truth = 10 + 5 * disk[..., None] * np.linspace(1, 2, c) + 3 * bar[..., None] + rng.normal(0, 0.05, (h, w, c))
    return truth.astype(np.float32)


def test_destripe_flattens_row_stripes_and_keeps_structure():
    truth = _scene()
    stripes = np.random.default_rng(1).normal(0, 1.0, (truth.shape[0], 1, truth.shape[2]))
    striped = truth + stripes.astype(np.float32)
    cube = Cube(striped, SpectralAxis(np.arange(6.0)))
    fixed = np.asarray(destripe(cube, direction="rows").data)
    before = np.var((striped - truth).mean(axis=1), axis=0)
    after = np.var((fixed - truth).mean(axis=1), axis=0)
    assert np.all(after * 10 <= before)
    disk_contrast = lambda a: a[30, 20] - a[30, 5]  # noqa: E731
    np.testing.assert_allclose(disk_contrast(fixed), disk_contrast(truth), atol=0.3)
    assert np.abs(fixed - truth).mean() < 0.25  # what is left is the slow drift no method can tell from scene


@pytest.mark.parametrize(
    ("direction", "mode"), [("rows", "additive"), ("columns", "multiplicative"), ("both", "additive")]
)
def test_destripe_by_bands_of_lines_equals_one_block_without_a_float64_copy(direction, mode):
    import tracemalloc

    from chemmap._shared.compute import compute_settings

    truth = _scene(h=400, w=300, c=24)
    line = (truth.shape[0], 1, truth.shape[2]) if direction != "columns" else (1, truth.shape[1], truth.shape[2])
    stripes = np.random.default_rng(1).normal(0, 0.5, line).astype(np.float32)
    striped = truth * np.exp(stripes) if mode == "multiplicative" else truth + stripes
    mask = np.ones(truth.shape[:2], bool)
    mask[50:60, 10:200] = False  # a hole across lines
    cube = Cube(striped.astype(np.float32), SpectralAxis(np.arange(24.0)), mask=mask)
    whole = np.asarray(destripe(cube, direction=direction, mode=mode).data)
    tracemalloc.start()
    with compute_settings(memory_limit="24MiB"):  # blocks of a few lines
        banded = np.asarray(destripe(cube, direction=direction, mode=mode).data)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    np.testing.assert_allclose(banded, whole, rtol=1e-6, atol=1e-6)
    assert np.isnan(banded[55, 100]).all() and np.isfinite(banded[mask]).all()
    # the float32 result and a few bands of lines (a float64 copy alone is twice the cube, its line
    # differences twice again)
    assert peak < 3.5 * cube.data.nbytes, peak / cube.data.nbytes  # 11-13x before
    if direction != "both":  # the scene's vertical bar is a step between columns, which both would remove
        error = np.abs((np.log(banded) - np.log(truth)) if mode == "multiplicative" else (banded - truth))[mask]
        assert error.mean() < 0.25 * np.abs(stripes).mean()


def test_resample_never_extrapolates():
    spectra = 3.0 * X[None] + 1.0
    new = np.linspace(500, 1700, 37)
    np.testing.assert_allclose(resample(spectra, axis=X, to=new), 3.0 * new[None] + 1.0, rtol=1e-6)
    np.testing.assert_allclose(resample(spectra, axis=X, to=new, kind="cubic"), 3.0 * new[None] + 1.0, rtol=1e-6)
    with pytest.raises(AxisError, match="outside the axis.*never extrapolates.*outside='crop'"):
        resample(spectra, axis=X, to=[300, 500, 900])
    cube = Cube(np.tile(spectra, (2, 1, 1)).astype(np.float32), SpectralAxis(X, "cm-1"))
    cropped = resample(cube, to=[300, 500, 900], outside="crop")
    assert list(cropped.axis.values) == [500, 900] and cropped.attrs["history"][-1]["params"]["to"] == [500, 900]


def test_flat_field_and_absorbance():
    raw = np.full((2, 3, 4), 60.0, dtype=np.float32)
    white, dark = np.full((3, 4), 110.0), np.full(4, 10.0)  # per-column white, one dark spectrum
    cube = flat_field(Cube(raw, SpectralAxis(np.arange(4.0))), white=white.tolist(), dark=dark.tolist())
    np.testing.assert_allclose(cube.data, 0.5)
    np.testing.assert_allclose(absorbance(cube).data, -np.log10(0.5), rtol=1e-6)
    with pytest.raises(InvalidParameterError, match="white reference is not above the dark"):
        flat_field(Cube(raw, SpectralAxis(np.arange(4.0))), white=5.0, dark=10.0)
    dark_pixel = Cube(np.zeros((1, 2, 4), np.float32), SpectralAxis(np.arange(4.0)))
    assert not absorbance(dark_pixel).valid_pixels().any()  # log of 0 is no absorbance: masked


def test_band_snr_low_snr_masking_and_bad_bands():
    rng = np.random.default_rng(2)
    data = 100 + rng.normal(0, 1, (30, 30, 8))
    data[..., 2] = 1 + rng.normal(0, 1, (30, 30))  # a band with SNR ~ 1 (water absorption)
    cube = Cube(data.astype(np.float32), SpectralAxis(np.arange(8.0) * 10 + 400, "nm"))
    snr = band_snr(cube)
    assert 80 < snr[0] < 120 and snr[2] < 3
    flagged = mask_low_snr_bands(cube, threshold=5)
    assert list(np.flatnonzero(flagged.axis.bad_bands)) == [2]
    both = mask_bands(flagged, ranges=[[465, 475]])
    kept = drop_bad_bands(both)
    assert list(kept.axis.values) == [400, 410, 430, 440, 450, 460]
    assert kept.attrs["history"][-1]["params"]["dropped"] == [420.0, 470.0]


def test_saturated_and_dead_pixels():
    data = np.random.default_rng(0).integers(100, 1000, (5, 5, 6)).astype(np.uint16)
    data[1, 1, :4] = 65535
    data[2, 3] = 0
    found = bad_pixel_masks(Cube(data, SpectralAxis(np.arange(6.0))), max_saturated_fraction=0.5)
    assert list(zip(*np.nonzero(found["saturated"]), strict=True)) == [(1, 1)]
    assert list(zip(*np.nonzero(found["dead"]), strict=True)) == [(2, 3)]


def test_whittaker_smooths_noise_and_keeps_broad_bands():
    rng = np.random.default_rng(4)
    clean = _peaks([900, 1400], [50, 30], sigma=25)[None].repeat(20, axis=0)
    smooth = whittaker(clean + rng.normal(0, 2, clean.shape), lam=20)
    assert np.sqrt(np.mean((smooth - clean) ** 2)) < 0.8


def test_sklearn_pipeline_equals_chain():
    y, _ = _spectra(25)
    steps = [
        ("baseline", {"method": "arpls", "lam": 1e6}),
        ("normalize", {"method": "msc"}),
        ("savgol", {"window": 15}),
    ]
    pipe = make_pipeline(*(SpectralTransformer(name, params, axis=X, axis_unit="cm-1") for name, params in steps))
    cube = Cube(y.reshape(5, 5, -1).astype(np.float32), SpectralAxis(X, "cm-1"))
    chain_out = Chain([{"step": n, **p} for n, p in steps]).fit_transform(cube)
    np.testing.assert_allclose(pipe.fit_transform(y), np.asarray(chain_out.pixels()), rtol=1e-5, atol=1e-5)
    with pytest.raises(InvalidParameterError, match="works across neighbouring pixels"):
        SpectralTransformer("destripe").fit(y)


def test_same_chain_through_api_config_file_and_cli(tmp_path):
    y, _ = _spectra(36, seed=5)
    y[4, 100] += 300  # a spike
    cube = Cube(y.reshape(6, 6, -1).astype(np.float32), SpectralAxis(X, "cm-1"))
    write(cube, tmp_path / "in.npz")
    spec = [
        {"step": "despike"},
        {"step": "crop", "lower": 500, "upper": 1750},
        {"step": "baseline", "method": "asls", "lam": 1e6, "p": 0.01},
        {"step": "normalize", "method": "emsc", "poly_order": 2},
        {"step": "savgol", "window": 12.0, "deriv": 1},
    ]
    api = Chain(spec).fit_transform(read(tmp_path / "in.npz"))
    Chain(spec).save(tmp_path / "chain.toml")
    (tmp_path / "run.toml").write_text(
        (tmp_path / "chain.toml").read_text() + '\n[input]\npath = "in.npz"\n', encoding="utf-8"
    )
    cli = ["preprocess", str(tmp_path / "in.npz"), str(tmp_path / "cli.npz"), "--chain", str(tmp_path / "chain.toml")]
    assert main([*cli, "--save-chain", str(tmp_path / "frozen.json"), "--quiet"]) == 0
    assert main(["preprocess", str(tmp_path / "run.toml"), str(tmp_path / "cfg.npz"), "--quiet"]) == 0
    frozen = Chain.load(tmp_path / "frozen.json").transform(read(tmp_path / "in.npz"))
    for other in (read(tmp_path / "cli.npz"), read(tmp_path / "cfg.npz"), frozen):
        assert other.axis == api.axis
        np.testing.assert_array_equal(np.asarray(other.data), np.asarray(api.data))
