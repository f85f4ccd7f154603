"""The spectrum ``chemmap peaks`` finds peaks on, chosen from the data: the summed counts of a
sparse EDS map, the max and the mean of an MA-XRF scan (speckles only the max shows), a Raman
map whose cosmic rays do not rule its max spectrum, and the real files in ../shared/data."""

from __future__ import annotations

import numpy as np
import pytest

from chemmap.core.axis import SpectralAxis
from chemmap.core.cube import Cube
from chemmap.io import read
from chemmap.workflows.peaks import PeakSettings, map_peaks

pytest.importorskip("xraydb", reason="the synthetic X-ray scenes need the 'xrf' extra (xraydb)")

from chemmap.datasets import make_eds_cube, make_xrf_cube


def test_a_sparse_count_map_is_searched_on_its_summed_counts():
    scene = make_eds_cube(random_state=1)
    assert np.asarray(scene.cube.data).max() < 25  # a few counts per channel at most
    result = map_peaks(scene.cube, PeakSettings(speckles=False, identify="off"))
    assert result.detect_on == "mean" and set(result.found_on) == {"mean"}
    assert "sparse counts" in result.report["detection"]["reason"]
    found = np.array([p.position for p in result.peaks])
    for line in (0.525, 1.740, 4.511):  # O Ka, Si Ka, Ti Ka
        assert np.min(np.abs(found - line)) < 0.03, (line, found)


def test_speckles_that_only_the_max_spectrum_shows_are_found_on_an_xrf_scan():
    """Brass speckles (Cu + Zn) in 4 x ~8 pixels of 6144, with no Zn elsewhere: the mean
    dilutes their Zn Kb out of sight, the max keeps it."""
    scene = make_xrf_cube(elements=("Ca", "Fe", "Cu", "Zn"), random_state=5, n_speckles=4)
    scene.element_maps["Zn"][~scene.speckle_mask] = 0
    result = map_peaks(scene.cube, PeakSettings(speckles=False))
    assert result.detect_on == "max and mean"
    assert {"max", "mean"} <= {word for origin in result.found_on for word in origin.split(" and ")}
    zn = [i for i, p in enumerate(result.peaks) if abs(p.position - 8.64) < 0.05]  # Zn Ka
    assert zn and "max" in result.found_on[zn[0]]


def _raman_map_with_cosmic_rays(seed: int) -> tuple[Cube, dict]:
    rng = np.random.default_rng(seed)
    x = np.linspace(600.0, 1800.0, 600)
    bands = {1001.0: 8.0, 1450.0: 12.0, 1602.0: 10.0}
    rows, cols = np.mgrid[0:40, 0:40]
    region = ((rows - 20) ** 2 + (cols - 14) ** 2 < 100).astype(float)
    spectra = sum(
        amplitude * np.exp(-0.5 * ((x - centre) / width) ** 2)
        for (centre, width), amplitude in zip(
            [(1001.0, 5.0), (1450.0, 9.0), (1602.0, 6.0)], bands.values(), strict=True
        )
    )
    fluorescence = 200 + 0.15 * (x - 600)
    data = region[..., None] * spectra + fluorescence + rng.normal(0, 2.0, (40, 40, 600))
    spikes = {}
    for _ in range(12):  # cosmic rays: one pixel, one or two channels, far above every band
        r, c, ch = int(rng.integers(40)), int(rng.integers(40)), int(rng.integers(20, 580))
        width = int(rng.integers(1, 3))
        data[r, c, ch : ch + width] += rng.uniform(300, 3000)
        spikes[float(x[ch])] = (r, c)
    return Cube(data.astype(np.float32), SpectralAxis(x, "cm-1")), spikes


@pytest.mark.parametrize("seed", [1, 2])
def test_a_raman_map_with_cosmic_rays_gives_its_bands_and_no_spike(seed):
    """Seeds 1 and 2: with seed 0 one spike sits beside the top of its pixel's noise, which
    the spike removal spreads over three channels into a max-only peak (known limit of a
    max spectrum); the mean spectrum never shows spikes."""
    cube, spikes = _raman_map_with_cosmic_rays(seed)
    result = map_peaks(cube, PeakSettings(speckles=False))
    found = np.array([p.position for p in result.peaks])
    for band in (1001.0, 1450.0, 1602.0):
        assert np.min(np.abs(found - band)) < 4, (band, found)
    assert len(found) == 3, found  # no spike, no fluorescence slope
    assert set(result.found_on) == {"max and mean"}
    assert result.report["detection"]["baseline_removed"].startswith("arpls")
    # the spikes (300-3000 above a signal of at most 400) did not set the max spectrum
    assert result.summary.max.max() < 400 < result.summary.raw_max.max()
    assert result.summary.spike_free_mean.max() < result.summary.mean.max()
    hot_pixels = {tuple(p) for p in result.hot.pixels.tolist()}
    assert not hot_pixels & set(spikes.values())


@pytest.mark.data
@pytest.mark.parametrize(
    ("name", "spectrum"),
    [
        ("jeol/View000_0000006.pts", "mean"),
        ("renishaw/renishaw_test_streamline.wdf", "mean"),
        ("bruker/P45_the_default_job.bcf", "mean"),
        ("bruker/bruker_m6_jetstream_file_example.spx", "spectrum"),
    ],
)
def test_real_files_are_searched_on_the_spectrum_their_data_calls_for(real_file, name, spectrum):
    result = map_peaks(read(real_file(name), lazy=True), PeakSettings(speckles=False, identify="off"))
    assert result.detect_on == spectrum, result.report["detection"]
    assert result.peaks


def test_one_spectrum_gives_its_peaks_and_no_maps(tmp_path):
    """A single X-ray spectrum: its lines found and named, written to peaks.json with a figure;
    no maps, said in peaks.json and as a warning."""
    import json

    from chemmap.cli.main import main
    from chemmap.io import write

    scene = make_eds_cube(image_shape=(16, 16), random_state=3)
    total = np.asarray(scene.cube.data).sum(axis=(0, 1), keepdims=True)
    write(scene.cube.replace(data=total.astype(np.uint32), mask=None), tmp_path / "one.h5")
    assert main(["peaks", str(tmp_path / "one.h5"), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    written = {p.name for p in (tmp_path / "out").iterdir()}
    assert {"peaks.json", "peak_spectrum.png", "report.html", "spectra_peaks.npz"} <= written
    assert "peak_areas.npy" not in written
    report = json.loads((tmp_path / "out" / "peaks.json").read_text())
    assert report["maps"].startswith("skipped") and report["n_spectra"] == 1
    (spectrum,) = report["spectra"]
    assert {"O", "Si", "Ti"} <= set(spectrum["identified"])
    assert any("not an image" in w for w in report["warnings"])


@pytest.mark.data
def test_a_spectral_library_gives_the_peaks_of_each_spectrum(real_file, tmp_path):
    from chemmap.workflows.peaks import run_peaks
    from chemmap.workflows.peaks_spectra import SpectraPeaksResult

    result = run_peaks(real_file("envi/library_berlin.sli"), tmp_path / "out")
    assert any("spectral library, not an image" in w for w in result.warnings)
    assert isinstance(result, SpectraPeaksResult) and len(result.spectra) == 75
    assert result.spectra[0].name == "red clay tile 1"
    assert sum(bool(s.peaks) for s in result.spectra) >= 70
    assert result.report["detection"]["baseline_removed"].startswith("arpls")  # an nm axis


@pytest.mark.data
@pytest.mark.parametrize("name", ["msa/example2.msa", "bruker/bruker_nano.spx", "envi/library_berlin.sli"])
def test_spectra_that_are_not_images_never_end_in_an_internal_error(real_file, tmp_path, name, capsys):
    from chemmap.cli.main import main

    assert main(["peaks", str(real_file(name)), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    assert (tmp_path / "out" / "peak_spectrum.png").stat().st_size > 10_000


@pytest.mark.parametrize("suffix", [".csv", ".toml"])
def test_a_users_band_table_labels_the_peaks_it_matches_and_nothing_else(tmp_path, suffix):
    cube, _ = _raman_map_with_cosmic_rays(1)
    table = tmp_path / f"bands{suffix}"
    if suffix == ".csv":
        table.write_text("name,position,tolerance\nring breathing,1002,5\nCH2 bend,1440,5\n")
    else:
        table.write_text('[[band]]\nname = "ring breathing"\nposition = 1002\ntolerance = 5\n')
    result = map_peaks(cube, PeakSettings(speckles=False, bands=str(table)))
    bands = {round(p.position): entry["band"] for p, entry in zip(result.peaks, result.report["peaks"], strict=True)}
    assert bands[1001] == "ring breathing" and result.names[0].startswith("ring breathing")
    assert all(band is None for position, band in bands.items() if position != 1001)  # 1450 is 10 cm-1 off


def test_a_bad_band_table_is_refused_before_the_cube_is_read(tmp_path):
    from chemmap.core.exceptions import FileFormatError

    table = tmp_path / "bands.csv"
    table.write_text("name,wavenumber\nring,1002\n")
    with pytest.raises(FileFormatError, match="name and position"):
        PeakSettings(bands=str(table))


@pytest.mark.data
@pytest.mark.filterwarnings("ignore::chemmap.core.exceptions.DataWarning")  # its axes marked the other way round
def test_an_eels_spectrum_image_keeps_its_edges_unnamed(real_file):
    """An energy-loss axis is in eV, but its peaks are edges and plasmons, not X-ray lines."""
    result = map_peaks(read(real_file("digitalmicrograph/EELS_SI.dm4")), PeakSettings(speckles=False))
    assert result.peaks and result.identification is None


def test_a_cube_of_four_channels_is_refused_with_what_to_do_instead():
    from chemmap.core.exceptions import InvalidParameterError

    cube = Cube(np.ones((3, 3, 4)), SpectralAxis(np.arange(4.0) + 1, "keV"))
    with pytest.raises(InvalidParameterError, match="4 channels; finding peaks needs at least 5"):
        map_peaks(cube)
