"""report.html in a real headless Chromium, driven by Playwright: the demo's report opened from
disk, pixels picked with the mouse and the keyboard, the legend toggled, screenshots kept in
``test_artifacts/``."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from chemmap.cli import main

pytestmark = pytest.mark.browser

CHROMIUM = Path(os.environ.get("CHEMMAP_CHROMIUM", "/usr/bin/chromium"))
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
HOW_TO_INSTALL = (
    "install it with `apt-get install chromium chromium-driver` (Debian/Ubuntu; .ci/run does this) "
    "and `pip install playwright`, or point CHEMMAP_CHROMIUM at a Chromium binary"
)
ARTIFACTS = Path(__file__).resolve().parents[2] / "test_artifacts"
DEMO = {"height": 30, "width": 30, "left_col": 7, "right_col": 22, "row": 15}


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"headless Chromium not found at {CHROMIUM}: {HOW_TO_INSTALL}")
    sync_api = pytest.importorskip("playwright.sync_api", reason=f"Playwright is not installed: {HOW_TO_INSTALL}")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "out"
    assert main(["demo", "--out", str(out), "--quiet"]) == 0
    return out / "report.html"


class OpenedReport:
    """A page with the report loaded, the console errors and every request it made."""

    def __init__(self, browser, path: Path, **context):
        self.page = browser.new_page(viewport={"width": 1280, "height": 900}, **context)
        self.page.set_default_timeout(10_000)
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.url = path.resolve().as_uri()
        self.page.goto(self.url)
        self.page.wait_for_selector("body[data-ready=true]", timeout=15_000)

    def click_pixel(self, row: int, col: int, height: int, width: int) -> None:
        box = self.page.get_by_test_id("map").bounding_box()
        x = box["x"] + (col + 0.5) / width * box["width"]
        self.page.mouse.click(x, box["y"] + (row + 0.5) / height * box["height"])

    def readout(self) -> str:
        return self.page.get_by_test_id("pixel-readout").text_content()

    def picked(self) -> tuple[int, int]:
        row, col = self.readout().removeprefix("row ").split(", col ")
        return int(row), int(col)

    def peak_labels(self) -> list[float]:
        return [float(t) for t in self.page.locator("[data-testid=spectrum] text.peak-label").all_text_contents()]

    def canvas_rgb(self, row: int, col: int) -> list[int]:
        return self.page.evaluate(
            """([r, c]) => Array.from(document.getElementById('map').getContext('2d')
                   .getImageData(c, r, 1, 1).data.slice(0, 3))""",
            [row, col],
        )


@pytest.fixture
def opened(browser, demo_report):
    report = OpenedReport(browser, demo_report)
    yield report
    report.page.close()


def _near(values, target, tolerance) -> bool:
    return any(abs(v - target) <= tolerance for v in values)


def test_demo_report_opens_from_disk_with_every_panel_and_no_errors_or_requests(opened):
    page = opened.page
    assert opened.errors == []
    assert opened.requests == [opened.url]
    assert page.get_by_test_id("map").is_visible() and page.get_by_test_id("spectrum").is_visible()
    assert page.locator("#map-select option").all_text_contents() == [
        "spectral-spatial clusters (k = 2)",
        "Band intensity at 1655 cm-1 (window 30.2 cm-1, 5 channels)",
        "Ratio 1655 / 1742 cm-1 (window 30.2 cm-1)",
        "Where ratio_1655_1742 is a lower bound (denominator below 10 noise sigmas)",
        "Probability of cluster 0 (mixture likelihood and spatial prior)",
        "Probability of cluster 1 (mixture likelihood and spatial prior)",
        "Cluster uncertainty (1 - the largest cluster probability)",
        "Ground truth labels",
    ]
    assert page.locator("#legend button").count() == 2
    assert page.get_by_role("heading", name="Metrics").is_visible()
    assert page.locator("td.grade-excellent").count() >= 3
    assert page.get_by_role("heading", name="Warnings").is_visible()
    assert page.get_by_text("Ratio bounds: in 450 pixels").is_visible()
    assert page.get_by_role("heading", name="Provenance").is_visible()
    assert opened.readout() == "none yet"


def test_picked_pixels_show_each_regions_band(opened):
    row, h, w = DEMO["row"], DEMO["height"], DEMO["width"]
    opened.click_pixel(row, DEMO["left_col"], h, w)
    assert opened.readout() == f"row {row}, col {DEMO['left_col']}"
    left_peaks = opened.peak_labels()
    assert _near(left_peaks, 1450, 7) and not _near(left_peaks, 1742, 40)
    picked = opened.page.evaluate("window.chemmap.picked()")
    x, y = np.asarray(picked["spectrum"]["x"]), np.asarray(picked["spectrum"]["y"])
    assert (picked["spectrum"]["row"], picked["spectrum"]["col"]) == (row, DEMO["left_col"])
    assert y[np.abs(x - 1450).argmin()] > 0.9 and y[np.abs(x - 1742).argmin()] < 0.3
    values = opened.page.locator("#pixel-values").inner_text()
    assert "left" in values and "cluster" in values

    opened.click_pixel(row, DEMO["right_col"], h, w)
    assert opened.readout() == f"row {row}, col {DEMO['right_col']}"
    right_peaks = opened.peak_labels()
    assert _near(right_peaks, 1742, 7) and not _near(right_peaks, 1450, 40)
    assert "right" in opened.page.locator("#pixel-values").inner_text()
    label = opened.page.get_by_test_id("spectrum").get_attribute("aria-label")
    assert f"row {row}, col {DEMO['right_col']}" in label and "cm-1" in label
    ARTIFACTS.mkdir(exist_ok=True)
    opened.page.screenshot(path=str(ARTIFACTS / "report_demo.png"), full_page=True)


def test_legend_highlights_a_cluster_and_toggles_back(opened):
    row, left, right = DEMO["row"], DEMO["left_col"], DEMO["right_col"]
    opened.click_pixel(row, right, DEMO["height"], DEMO["width"])
    cluster = opened.page.evaluate("window.chemmap.picked().cluster")
    button = opened.page.locator(f"#legend button[data-cluster='{cluster}']")
    before_left, before_right = opened.canvas_rgb(row, left), opened.canvas_rgb(row, right)
    means_before = opened.page.locator("[data-testid=spectrum] polyline.cluster-mean").count()

    button.click()
    assert button.get_attribute("aria-pressed") == "true"
    assert opened.canvas_rgb(row, right) == before_right
    assert opened.canvas_rgb(row, left) != before_left
    other = opened.page.locator(f"#legend button[data-cluster='{1 - cluster}']")
    other.click()
    assert opened.page.locator("[data-testid=spectrum] polyline.cluster-mean").count() == means_before + 1

    other.click()
    button.click()
    assert button.get_attribute("aria-pressed") == "false"
    assert opened.canvas_rgb(row, left) == before_left


def test_keyboard_moves_the_picked_pixel_and_the_selector_switches_maps(opened):
    page = opened.page
    page.get_by_test_id("map").focus()
    page.keyboard.press("Enter")
    assert opened.readout() == f"row {DEMO['height'] // 2}, col {DEMO['width'] // 2}"
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("Shift+ArrowUp")
    assert opened.readout() == f"row {DEMO['height'] // 2 - 10}, col {DEMO['width'] // 2 - 1}"
    page.select_option("#map-select", label="Ratio 1655 / 1742 cm-1 (window 30.2 cm-1)")
    assert page.get_by_test_id("map").get_attribute("aria-label").startswith("Ratio 1655 / 1742")
    assert page.locator("#colorbar canvas").count() == 1
    assert opened.canvas_rgb(DEMO["row"], DEMO["left_col"]) != [0, 0, 0]  # a lower bound is drawn, not blank
    assert opened.errors == []


def test_dark_scheme_is_readable(browser, demo_report):
    report = OpenedReport(browser, demo_report, color_scheme="dark")
    try:
        colors = report.page.evaluate(
            "[getComputedStyle(document.body).backgroundColor, getComputedStyle(document.body).color]"
        )
        assert colors == ["rgb(18, 20, 23)", "rgb(232, 232, 232)"]
        report.click_pixel(DEMO["row"], DEMO["left_col"], DEMO["height"], DEMO["width"])
        ARTIFACTS.mkdir(exist_ok=True)
        report.page.screenshot(path=str(ARTIFACTS / "report_demo_dark.png"))
        assert report.errors == []
    finally:
        report.page.close()


@pytest.mark.slow
def test_megapixel_run_report_is_small_and_responsive(browser, tmp_path):
    """A 1000 x 1000 x 200 run: the report stays under the size budget, opens and answers clicks."""
    from chemmap.datasets import make_demo_cube
    from chemmap.report.html import HTML_SIZE_BUDGET
    from chemmap.workflows import run_cube

    h = w = 1000
    cube = make_demo_cube(image_shape=(h, w))
    config = {"maps": {"intensity": [1655.0], "ratio": [[1655.0, 1742.0]]}, "clustering": {"k": 2}}
    run_cube(cube, config, tmp_path / "out")
    del cube
    path = tmp_path / "out" / "report.html"
    assert path.stat().st_size < HTML_SIZE_BUDGET

    report = OpenedReport(browser, path)
    try:
        # a screen pixel spans about two image pixels here; the arrow keys step one at a time
        report.click_pixel(500, 250, h, w)
        row, col = report.picked()
        assert abs(row - 500) <= 2 and abs(col - 250) <= 2
        assert _near(report.peak_labels(), 1450, 7)
        report.page.keyboard.press("ArrowDown")
        assert report.readout() == f"row {row + 1}, col {col}"
        report.click_pixel(123, 877, h, w)
        row, col = report.picked()
        assert abs(row - 123) <= 2 and abs(col - 877) <= 2
        assert _near(report.peak_labels(), 1742, 7)
        assert "nearest stored pixel" in report.page.locator("#spectrum-note").inner_text()
        assert report.errors == []
    finally:
        report.page.close()


def test_a_browser_without_decompression_streams_gets_a_clear_message(browser, demo_report):
    page = browser.new_page()
    try:
        page.add_init_script("delete window.DecompressionStream")
        page.goto(demo_report.resolve().as_uri())
        note = page.locator("#map-note")
        page.wait_for_function("document.getElementById('map-note').textContent.length > 0")
        assert "DecompressionStream" in note.text_content() and "written report below" in note.text_content()
        assert page.get_by_role("heading", name="Metrics").is_visible()
    finally:
        page.close()


def test_class_names_that_look_like_markup_cannot_stop_the_page(browser, tmp_path):
    from chemmap.datasets import make_demo_cube
    from chemmap.report.html import read_report_data
    from chemmap.workflows import run_cube

    hostile = {0: "<!--<script>", 1: "</script><script>document.title='owned'</script>\u2028&amp;"}
    cube = make_demo_cube().replace(label_names=hostile)
    run_cube(cube, {"clustering": {"k": 2}}, tmp_path / "out")
    path = tmp_path / "out" / "report.html"
    block = path.read_text(encoding="utf-8").split('type="application/json">', 1)[1].split("</script>", 1)[0]
    assert "<" not in block and "\u2028" not in block  # nothing in the data can end the block
    truth = next(layer for layer in read_report_data(path)["layers"] if layer["name"] == "ground_truth")
    assert truth["categories"] == list(hostile.values())  # read back as given
    report = OpenedReport(browser, path)  # waits for the page to say it is ready
    try:
        assert report.errors == [] and report.page.title() != "owned"
    finally:
        report.page.close()


def test_the_denoise_report_opens_with_its_maps_and_scores(browser, tmp_path):
    from chemmap.cli import main
    from chemmap.datasets.denoising import make_denoising_scene
    from chemmap.io import write
    from chemmap.report.html import read_report_data

    write(make_denoising_scene(image_shape=(24, 24), n_channels=40).cube, tmp_path / "noisy.npz")
    out = tmp_path / "out"
    assert main(["denoise", str(tmp_path / "noisy.npz"), "--out", str(out), "--candidates", "pca,mnf", "--quiet"]) == 0
    assert [layer["name"] for layer in read_report_data(out / "report.html")["layers"]] == [
        "removed_rms",
        "denoised_band",
    ]
    report = OpenedReport(browser, out / "report.html")  # waits for the page to say it is ready
    try:
        assert report.errors == []
        assert "lowest hold-out score" in report.page.content()
    finally:
        report.page.close()
