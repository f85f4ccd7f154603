"""``chemmap peaks`` end to end: a Bruker-like ripple scan without an energy axis is
calibrated, its elements identified and mapped against the true element maps, its speckles
found at their true centroids; a lazy (streamed) run equals the in-memory one; a Raman cube
gives its known bands; bad requests fail clearly and leave nothing behind."""

from __future__ import annotations

import json

import numpy as np
import pytest

from chemmap.cli.main import main
from chemmap.core.axis import SpectralAxis
from chemmap.core.cube import Cube
from chemmap.core.exceptions import DataWarning, InvalidParameterError
from chemmap.datasets import make_demo_cube
from chemmap.io import read, write
from chemmap.workflows.peaks import PEAK_OUTPUT_FILES, PeakSettings, map_peaks

pytest.importorskip("xraydb", reason="the synthetic XRF scan needs the 'xrf' extra (xraydb)")

from chemmap.datasets import make_xrf_cube
from chemmap.xrf.identify import CONFIDENT

TRUE = {"Ca", "Fe", "Cu", "Zn", "Pb"}


@pytest.fixture(scope="module")
def scan_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("xrf")
    scan = make_xrf_cube(random_state=2, calibrated=False)  # a Bruker M6 file has no energy axis
    write(scan.cube, folder / "scan.rpl")
    command = ["peaks", str(folder / "scan.rpl"), "--out", str(folder / "out"), "--fit", "--smooth", "1.5", "--quiet"]
    code = main(command)
    assert code == 0
    report = json.loads((folder / "out" / "peaks.json").read_text())
    return scan, folder, report


def _strongest_line(report, element):
    lines = [i for i, p in enumerate(report["peaks"]) if p["element"] == element]
    return max(lines, key=lambda i: report["peaks"][i]["height"])


def test_the_scan_is_calibrated_identified_and_every_element_mapped(scan_run):
    scan, folder, report = scan_run
    out = folder / "out"
    assert {p.name for p in out.iterdir()} >= set(PEAK_OUTPUT_FILES) | {"peak_fit.npy", "speckles.png"}
    assert report["calibration"]["gain_kev_per_channel"] == pytest.approx(scan.gain, rel=2e-3)
    assert report["axis"]["unit"] == "keV"
    assert set(report["identified"]) == TRUE
    assert {e["element"] for e in report["elements"] if e["confidence"] >= CONFIDENT} <= TRUE
    # a ripple export names no anode: rhodium is inferred from its Rayleigh and Compton peaks
    assert report["tube_anode"] == "Rh" and report["tube_anode_inferred"]
    areas = np.load(out / "peak_areas.npy")
    fitted = np.load(out / "peak_fit.npy")
    assert areas.shape == (*scan.cube.image_shape, len(report["peaks"])) and areas.dtype == np.float32
    assert fitted.shape[-1] == len(report["peaks"]) + 2  # + continuum and fit residual
    for element in TRUE:
        j = _strongest_line(report, element)
        truth = scan.element_maps[element].ravel()
        assert np.corrcoef(areas[..., j].ravel(), truth)[0, 1] >= 0.95, element
        assert np.corrcoef(fitted[..., j].ravel(), truth)[0, 1] >= 0.95, element
        peak = report["peaks"][j]
        assert peak["lower"] < peak["position"] < peak["upper"] and peak["confidence"] >= CONFIDENT
        assert peak["detection_limit"] == pytest.approx(3 * peak["noise"]["sigma"])
    scatter = [p for p in report["peaks"] if p["flags"].get("rayleigh") or p["flags"].get("compton")]
    assert scatter and all(p["assignment"].startswith("Rh ") for p in scatter)


def test_smoothing_makes_a_separate_layer_and_the_counts_stay_integers(scan_run):
    from scipy.ndimage import gaussian_filter1d

    scan, folder, _ = scan_run
    smoothed = read(folder / "out" / "smoothed.zarr")
    assert smoothed.dtype == np.float32 and read(folder / "scan.rpl").dtype == np.uint16
    counts = np.asarray(scan.cube.data[:4, :4], dtype=np.float32)
    expected = gaussian_filter1d(counts, 1.5, axis=-1, mode="nearest")
    np.testing.assert_allclose(np.asarray(smoothed.data[:4, :4]), expected, rtol=1e-5, atol=1e-4)


def test_every_speckle_is_found_at_its_centroid_and_layers_give_none(scan_run):
    scan, _, report = scan_run
    for element in ("Cu", "Zn"):
        regions = report["speckles"][report["peaks"][_strongest_line(report, element)]["name"]]["regions"]
        centroids = np.array([r["centroid"] for r in regions])
        for truth in scan.speckle_centroids:
            assert np.min(np.hypot(*(centroids - truth).T)) <= 1.0, f"{element} speckle at {truth} missed"
    for element in ("Ca", "Fe"):  # extended layers: corners and noise are not speckles
        assert report["peaks"][_strongest_line(report, element)]["name"] not in report["speckles"]
    cu = report["peaks"][_strongest_line(report, "Cu")]
    assert scan.speckle_mask[tuple(cu["hot_pixel"])]  # the brightest Cu pixel is a brass speckle


def test_a_streamed_run_equals_the_in_memory_one(scan_run, tmp_path):
    _, folder, report = scan_run
    # the 24 MiB file is over a quarter of a 64 MiB limit: read lazily, in blocks
    code = main(["peaks", str(folder / "scan.rpl"), "--out", str(tmp_path), "--memory-limit", "64MiB", "--quiet"])
    assert code == 0
    streamed = json.loads((tmp_path / "peaks.json").read_text())
    assert [p["name"] for p in streamed["peaks"]] == [p["name"] for p in report["peaks"]]
    np.testing.assert_allclose(
        np.load(tmp_path / "peak_areas.npy"), np.load(folder / "out" / "peak_areas.npy"), rtol=1e-6
    )
    record = json.loads((tmp_path / "run_record.json").read_text())
    assert record["compute"]["memory_limit"] == 64 * 2**20


def test_raman_bands_are_found_and_mapped_on_a_wavenumber_axis(tmp_path):
    cube = make_demo_cube()
    write(cube, tmp_path / "demo.h5")
    assert main(["peaks", str(tmp_path / "demo.h5"), "--out", str(tmp_path / "out"), "--fit", "--quiet"]) == 0
    report = json.loads((tmp_path / "out" / "peaks.json").read_text())
    assert report["axis"]["unit"] == "cm-1" and report["identified"] is None
    positions = np.array([p["position"] for p in report["peaks"]])
    sliced = np.load(tmp_path / "out" / "peak_areas.npy")
    fitted = np.load(tmp_path / "out" / "peak_fit.npy")
    left = cube.labels == 0
    for band, side in ((1450, left), (1655, left), (1742, ~left)):
        j = int(np.argmin(np.abs(positions - band)))
        assert abs(positions[j] - band) <= 7, f"band {band} cm-1 not found"  # one channel is 6 cm-1
        # a straight baseline under the 1742 slice cuts into the broad 1655 band's tail on
        # the left (negative areas there); the fit shares the overlap out
        assert sliced[..., j][side].mean() > sliced[..., j][~side].mean() + 50, band
        assert fitted[..., j][side].mean() > fitted[..., j][~side].mean() + 20, band
    j = int(np.argmin(np.abs(positions - 1655)))  # 1.8 on the left, 1.0 on the right

    def ratio(maps):
        return maps[..., j][left].mean() / maps[..., j][~left].mean()

    assert abs(ratio(fitted) - 1.8) < abs(ratio(sliced) - 1.8)
    np.testing.assert_allclose(np.load(tmp_path / "out" / "summary_spectra.npz")["axis"], cube.axis.values)


def test_bad_requests_fail_with_the_reason_and_leave_no_files(tmp_path, capsys):
    write(make_demo_cube(), tmp_path / "demo.h5")
    out = tmp_path / "out"
    assert main(["peaks", str(tmp_path / "demo.h5"), "--out", str(out), "--identify", "on", "--quiet"]) == 2
    assert "needs an energy axis (keV or eV)" in capsys.readouterr().err and not out.exists()
    cube = make_xrf_cube((16, 16), random_state=0).cube
    eels = cube.replace(axis=SpectralAxis(cube.axis.values * 1000, "eV"), attrs={**cube.attrs, "signal_type": "EELS"})
    with pytest.raises(InvalidParameterError, match="EELS spectrum image.* edges, not emission lines"):
        map_peaks(eels, PeakSettings(identify="on", speckles=False))
    code = main(["peaks", str(tmp_path / "demo.h5"), "--out", str(out), "--prominence", "100", "--quiet"])
    assert code == 2 and "No peak stands out" in capsys.readouterr().err
    assert not out.exists()


def test_a_channel_axis_that_is_not_xrf_is_kept_when_asked(tmp_path, capsys):
    demo = make_demo_cube()
    cube = demo.replace(axis=SpectralAxis(np.arange(demo.n_channels, dtype=float), "channel"))
    write(cube, tmp_path / "channels.h5")
    assert main(["peaks", str(tmp_path / "channels.h5"), "--out", str(tmp_path / "a"), "--quiet"]) == 2
    assert "--calibrate off" in capsys.readouterr().err
    code = main(["peaks", str(tmp_path / "channels.h5"), "--out", str(tmp_path / "b"), "--calibrate", "off", "--quiet"])
    assert code == 0
    report = json.loads((tmp_path / "b" / "peaks.json").read_text())
    assert report["axis"]["unit"] == "channel" and report["calibration"] is None
    assert len(report["peaks"]) == 3


def test_the_interactive_report_holds_every_peak_map_and_the_calibrated_spectra(scan_run):
    from chemmap.report.html import read_report_data, spectra_stride

    scan, folder, report = scan_run
    out = folder / "out"
    data = read_report_data(out / "report.html")
    areas, positions = np.load(out / "peak_areas.npy"), np.load(out / "peak_positions.npy")
    layers = {layer["name"]: layer for layer in data["layers"]}
    assert len(layers) == 3 * len(report["peaks"])  # area, position and fitted area of each peak
    for i, peak in enumerate(report["peaks"]):
        assert layers[f"area_{i}"]["title"] == f"Peak area: {peak['name']}"
        step = (np.nanmax(areas[..., i]) - np.nanmin(areas[..., i])) / 65534
        assert np.nanmax(np.abs(layers[f"area_{i}"]["values"] - areas[..., i])) <= 0.51 * step + 1e-6
        assert layers[f"position_{i}"]["unit"] == "keV"
        np.testing.assert_allclose(layers[f"position_{i}"]["values"], positions[..., i], atol=1e-3, equal_nan=True)
    assert data["axis"]["unit"] == "keV" and data["axis"]["intensity"] == "Counts"
    (h, w), n, stride = scan.cube.image_shape, scan.cube.n_channels, data["spectra"]["stride"]
    assert stride == spectra_stride((h, w), n) > 1  # 2048 channels: a grid of pixels keeps the budget
    assert data["spectra"]["values"].shape == (-(-h // stride), -(-w // stride), n)
    page = (out / "report.html").read_text()
    assert "<h3>Peaks</h3>" in page and "Fe Ka1" in page


@pytest.mark.parametrize("rows", [slice(0, 1), slice(None)])
def test_one_row_and_one_column_images_run_through_every_figure(tmp_path, rows):
    cube = make_demo_cube()
    data = np.asarray(cube.data)[rows, : (1 if rows == slice(None) else None)]
    write(cube.replace(data=np.ascontiguousarray(data), labels=None, mask=None), tmp_path / "line.h5")
    out = tmp_path / "out"
    assert main(["peaks", str(tmp_path / "line.h5"), "--out", str(out), "--quiet"]) == 0
    assert {p.name for p in out.iterdir()} >= set(PEAK_OUTPUT_FILES)


def test_peaks_fall_back_to_the_mean_spectrum_when_the_max_spectrum_is_all_noise():
    """A weak band in every pixel: lost in the max spectrum's noise, clear in the mean's."""
    rng = np.random.default_rng(0)
    x = np.linspace(400.0, 1800.0, 400)
    band = np.exp(-0.5 * ((x - 1001.0) / 6.0) ** 2)
    cube = Cube((rng.normal(0.0, 1.0, (20, 20, 400)) + 1.0 * band).astype(np.float32), SpectralAxis(x, "cm-1"))
    with pytest.warns(DataWarning, match="found on the mean spectrum"):
        result = map_peaks(cube, PeakSettings(detect_on="max"))
    assert result.detect_on == "mean" and result.report["detected_on"] == "mean spectrum"
    assert [round(p.position) for p in result.peaks] == [1000]
    merged = map_peaks(cube)  # the default looks at both spectra, and says which found the band
    assert [round(p.position) for p in merged.peaks] == [1000] and merged.found_on == ["mean"]
    assert merged.report["peaks"][0]["found_on"] == "mean"


def test_peaks_on_pure_noise_are_refused_not_invented():
    rng = np.random.default_rng(1)
    cube = Cube(
        rng.normal(0.0, 1.0, (20, 20, 400)).astype(np.float32), SpectralAxis(np.linspace(400, 1800, 400), "cm-1")
    )
    with pytest.raises(InvalidParameterError, match="No peak stands out"):
        map_peaks(cube)


@pytest.mark.data
def test_polystyrene_bands_found_in_the_real_renishaw_streamline_map(real_file):
    """The streamline map's max spectrum is ruled by a few pixels; its mean shows polystyrene,
    and the default detection looks at both."""
    result = map_peaks(read(real_file("renishaw/renishaw_test_streamline.wdf")))
    found = np.array([p.position for p in result.peaks])
    for band in (1001.4, 1031.8, 1155.3, 1602.3):  # polystyrene Raman bands, cm-1
        assert np.min(np.abs(found - band)) < 4, (band, found)


def test_sum_image_and_speckle_labels_and_spectra_are_written(scan_run):
    scan, folder, report = scan_run
    out = folder / "out"
    total = np.load(out / "total_counts.npy")
    np.testing.assert_allclose(total, np.asarray(scan.cube.data).sum(axis=-1), rtol=1e-6)
    speckles = np.load(out / "speckles.npz")
    names = list(speckles["names"])
    assert set(names) == set(report["speckles"])
    cu = names.index(report["peaks"][_strongest_line(report, "Cu")]["name"])
    labels = speckles[f"labels_{cu}"]
    assert labels.shape == scan.cube.image_shape and labels.max() == len(speckles[f"areas_{cu}"])
    for row, col in np.round(scan.speckle_centroids).astype(int):  # every brass speckle is labelled
        assert labels[row, col] > 0
    spectra = speckles[f"mean_spectra_{cu}"]
    assert spectra.shape == (labels.max(), scan.cube.n_channels)
    first = labels == 1
    np.testing.assert_allclose(spectra[0], np.asarray(scan.cube.data)[first].mean(axis=0), rtol=1e-6)


def test_normalised_grid_from_the_command_line(tmp_path):
    scan = make_xrf_cube((24, 32), n_channels=1024, random_state=4)
    write(scan.cube, tmp_path / "scan.npz")
    out = tmp_path / "out"
    assert (
        main(["peaks", str(tmp_path / "scan.npz"), "--out", str(out), "--normalize", "--no-speckles", "--quiet"]) == 0
    )
    assert (out / "peak_maps.png").stat().st_size > 0 and not (out / "speckles.npz").exists()
    assert main(["peaks", str(tmp_path / "scan.npz"), "--out", str(tmp_path / "x"), "--normalize", "--equalize"]) == 2


@pytest.mark.parametrize("seed", [0, 7])
def test_the_default_finds_kbeta_and_lgamma_lines_at_a_tenth_of_their_alpha(seed):
    """MA-XRF: the max spectrum alone misses Ca, Cu Kb (13 % of Ka, on Ka's shoulder); merged
    with the summed counts, every Kb and Pb Lg is found, and no element is added."""
    scene = make_xrf_cube((64, 96), random_state=seed)
    result = map_peaks(scene.cube, PeakSettings(speckles=False))
    labels = set(result.labels)
    assert {"Ca Kb1", "Fe Kb1", "Cu Kb1", "Pb Lg1"} <= labels
    assert set(result.identification["identified"]) == TRUE
    max_only = map_peaks(scene.cube, PeakSettings(detect_on="max", speckles=False))
    assert "Cu Kb1" not in set(max_only.labels)  # what the merge adds


def test_the_resolved_config_runs_the_same_peaks_again(scan_run, tmp_path):
    import tomllib

    _, folder, report = scan_run
    resolved = folder / "out" / "config.resolved.toml"
    config = tomllib.loads(resolved.read_text())
    assert config["peaks"]["fit"] is True and config["peaks"]["smooth"] == 1.5  # the flags of the first run
    assert config["input"]["path"] == str(folder / "scan.rpl")
    assert main(["peaks", str(resolved), "--out", str(tmp_path / "again"), "--no-speckles", "--quiet"]) == 0
    again = json.loads((tmp_path / "again" / "peaks.json").read_text())
    assert again["peaks"] == report["peaks"] and again["identified"] == report["identified"]
    rerun = tomllib.loads((tmp_path / "again" / "config.resolved.toml").read_text())
    assert rerun == {**config, "peaks": {**config["peaks"], "speckles": False}}  # a flag wins over the config


def test_a_peaks_config_is_checked_before_anything_is_read(tmp_path, capsys):
    (tmp_path / "c.toml").write_text('[input]\npath = "missing.rpl"\n[peaks]\ndetect_on = "median"\n')
    assert main(["peaks", str(tmp_path / "c.toml"), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    assert "[peaks]" in capsys.readouterr().err and not (tmp_path / "o").exists()
