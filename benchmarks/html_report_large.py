"""report.html of a 1000 x 1000 x 200 run: its size against the budget and against embedding
the maps and spectra as they are (float32, base64), the seconds spent writing it against the
whole run, peak memory, and, when headless Chromium and Playwright are installed, the seconds
from opening the file to a drawn page and from a click to the updated spectrum.

Usage: python benchmarks/html_report_large.py [--size 1000] [--chromium /usr/bin/chromium]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from chemmap.datasets import make_demo_cube
from chemmap.report.html import HTML_SIZE_BUDGET, read_report_data, write_html
from chemmap.report.pages import run_report
from chemmap.workflows import run_cube

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def browser_timings(path: Path, chromium: str, size: int) -> dict:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        t0 = time.perf_counter()
        page.goto(path.resolve().as_uri())
        page.wait_for_selector("body[data-ready=true]", timeout=60_000)
        opened = time.perf_counter() - t0
        box = page.get_by_test_id("map").bounding_box()
        t0 = time.perf_counter()
        page.mouse.click(box["x"] + box["width"] * 0.75, box["y"] + box["height"] * 0.25)
        page.wait_for_selector("[data-testid=spectrum] polyline.pixel")
        clicked = time.perf_counter() - t0
        t0 = time.perf_counter()
        page.locator("#legend button").first.click()
        highlighted = time.perf_counter() - t0
        browser.close()
    return {"open_s": opened, "click_s": clicked, "highlight_s": highlighted}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    cube = make_demo_cube(image_shape=(args.size, args.size))
    config = {"maps": {"intensity": [1655.0], "ratio": [[1655.0, 1742.0]]}, "clustering": {"k": 2}}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        t0 = time.perf_counter()
        result = run_cube(cube, config, out)
        total = time.perf_counter() - t0
        path = out / "report.html"
        t0 = time.perf_counter()
        write_html(run_report(result), Path(tmp) / "again.html")
        writing = time.perf_counter() - t0
        size = path.stat().st_size
        naive = (len(result.maps.map_names) + 1) * cube.data[..., 0].size * 4 + cube.data.nbytes
        data = read_report_data(path)
        print(
            f"image {args.size} x {args.size} x {cube.n_channels}: whole run {total:.1f} s; "
            f"writing report.html alone {writing:.1f} s"
        )
        print(
            f"report.html {size / 2**20:.2f} MiB (budget {HTML_SIZE_BUDGET / 2**20:.0f} MiB; "
            f"maps at 1/{data['factor']}, spectra of every {data['spectra']['stride']}th pixel); "
            f"embedding everything as float32 base64 would take {naive * 4 / 3 / 2**20:.0f} MiB "
            f"(x{naive * 4 / 3 / size:.0f})"
        )
        print(f"peak memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB")
        if Path(args.chromium).exists():
            try:
                timings = browser_timings(path, args.chromium, args.size)
            except ImportError:
                print("Playwright not installed: no browser timings (pip install playwright)")
            else:
                print(
                    f"Chromium: open to drawn page {timings['open_s']:.2f} s, click to spectrum "
                    f"{timings['click_s']:.2f} s, legend highlight {timings['highlight_s']:.2f} s"
                )
        else:
            print(f"no Chromium at {args.chromium}: no browser timings")


if __name__ == "__main__":
    main()
