"""report.html without a browser: what it embeds, what it may load, and how big it gets."""

from __future__ import annotations

import re

import numpy as np
import pytest

from chemmap.core.exceptions import ChemmapError
from chemmap.report.html import (
    HTML_SIZE_BUDGET,
    MAP_BYTES_BUDGET,
    SPECTRA_BYTES_BUDGET,
    ClusterSummary,
    InteractiveReport,
    MapLayer,
    SpectraSource,
    display_factor,
    read_report_data,
    render_html,
    spectra_stride,
    write_html,
)
from chemmap.report.markdown_html import markdown_to_html
from chemmap.workflows import run_cube

DEMO_CONFIG = {
    "maps": {"intensity": [1655.0], "ratio": [[1655.0, 1742.0]]},
    "clustering": {"k": 2, "method": "kmeans"},
}


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory, demo_cube):
    out = tmp_path_factory.mktemp("html") / "run"
    return run_cube(demo_cube, DEMO_CONFIG, out)


def test_embedded_maps_and_spectra_equal_the_run(demo_run):
    data = read_report_data(demo_run.out_dir / "report.html")
    assert data["factor"] == 1 and data["shape"] == [30, 30]
    layers = {layer["name"]: layer for layer in data["layers"]}
    assert list(layers) == ["clusters", "intensity_1655", "ratio_1655_1742", "ratio_1655_1742_bound", "ground_truth"]
    np.testing.assert_array_equal(layers["clusters"]["values"], demo_run.label_image)
    np.testing.assert_array_equal(layers["ground_truth"]["values"], demo_run.cube.labels)
    assert layers["ground_truth"]["categories"] == ["left", "right"]
    for name in ("intensity_1655", "ratio_1655_1742"):
        truth = np.asarray(demo_run.maps[name], dtype=np.float64)
        got = layers[name]["values"]
        np.testing.assert_array_equal(np.isnan(got), np.isnan(truth))
        step = (np.nanmax(truth) - np.nanmin(truth)) / 65534
        assert np.nanmax(np.abs(got - truth)) <= 0.51 * step + 1e-7
    spectra = data["spectra"]
    assert spectra["stride"] == 1
    truth = np.asarray(demo_run.processed.data, dtype=np.float64)
    step = (truth.max() - truth.min()) / 65534
    assert np.abs(spectra["values"] - truth).max() <= 0.51 * step + 1e-6
    np.testing.assert_allclose(data["axis"]["values"], demo_run.processed.axis.values, atol=1e-6)
    assert data["axis"]["unit"] == "cm-1" and "cm⁻¹" in data["axis"]["label"]
    np.testing.assert_allclose(
        data["clusters"]["means"], demo_run.metrics["cluster_spectra"]["means"], rtol=1e-5, atol=1e-6
    )


def test_page_is_self_contained_and_shows_the_written_report(demo_run):
    page = (demo_run.out_dir / "report.html").read_text(encoding="utf-8")
    assert "default-src 'none'" in page
    links = re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)["']""", page)
    assert links and all(link.startswith(("data:", "#")) for link in links), links
    assert "@import" not in page and "url(http" not in page
    for hook in ('data-testid="map"', 'data-testid="spectrum"', 'data-testid="pixel-readout"'):
        assert hook in page
    # the warnings and the graded metrics of report.md are on the page
    assert "<h3>Warnings</h3>" in page and "Ratio bounds: in 450 pixels" in page
    assert "class='grade grade-excellent'" in page
    assert "version of numpy" in page


def test_markdown_is_escaped_and_tables_keep_their_grades():
    text = (
        "# T\n\n- a `<script>alert(1)</script>` file\n\n"
        "| metric | value | grade |\n|---|---|---|\n| ARI | 0.4 | below minimum |"
    )
    out = markdown_to_html(text)
    assert "<script>" not in out and "&lt;script&gt;" in out
    assert "<h2>T</h2>" in out
    assert "<td class='grade grade-below-minimum'>below minimum</td>" in out


def test_budget_picks_a_reduction_only_when_needed():
    small = [MapLayer("a", "a", np.zeros((30, 30)))]
    assert display_factor((30, 30), small) == 1
    layers = [MapLayer(str(i), str(i), np.zeros((4000, 4000))) for i in range(3)]
    f = display_factor((4000, 4000), layers)

    def pixels(side, factor):
        return (-(-side // factor)) ** 2

    assert pixels(4000, f) * 6 <= MAP_BYTES_BUDGET < pixels(4000, f - 1) * 6
    s = spectra_stride((1000, 1000), 200)
    assert pixels(1000, s) * 400 <= SPECTRA_BYTES_BUDGET < pixels(1000, s - 1) * 400


def test_worst_case_megapixel_report_stays_under_the_size_budget(tmp_path):
    """Incompressible maps and spectra of a 1000 x 1000 x 200 image, eight maps."""
    rng = np.random.default_rng(0)
    shape = (1000, 1000)
    layers = [MapLayer(f"m{i}", f"map {i}", rng.random(shape, dtype=np.float32)) for i in range(6)]
    layers += [
        MapLayer(f"c{i}", f"labels {i}", rng.integers(0, 7, shape), categories=list("abcdefg")) for i in range(2)
    ]
    spectra = rng.random((*shape, 200), dtype=np.float32)
    report = InteractiveReport(
        "worst case",
        shape,
        layers,
        spectra=SpectraSource(spectra, np.arange(200.0), "nm", "Wavelength (nm)", "Reflectance"),
        clusters=ClusterSummary("c0", np.zeros((7, 200)), np.ones((7, 200)), [1] * 7),
    )
    path = write_html(report, tmp_path / "report.html")
    assert path.stat().st_size < HTML_SIZE_BUDGET
    data = read_report_data(path)
    assert data["factor"] > 1 and data["spectra"]["stride"] > 1
    assert data["displayShape"] == [-(-1000 // data["factor"])] * 2


def test_duplicate_map_names_are_refused():
    layer = MapLayer("a", "a", np.zeros((2, 2)))
    with pytest.raises(ChemmapError, match="unique"):
        render_html(InteractiveReport("x", (2, 2), [layer, layer]))


def test_a_page_over_the_budget_warns(monkeypatch):
    import chemmap.report.html as html_module
    from chemmap.core.exceptions import DataWarning

    monkeypatch.setattr(html_module, "HTML_SIZE_BUDGET", 10_000)
    report = InteractiveReport("x", (4, 4), [MapLayer("a", "a", np.zeros((4, 4)))])
    with pytest.warns(DataWarning, match="above its 0 MiB budget: 1 maps"):
        render_html(report)
