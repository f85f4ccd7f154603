"""Every script in ``examples/`` runs as a user would run it, and says what it should."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


def _run(name: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args], capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_every_example_is_tested():
    tested = {"map_a_cube.py", "segment_samson.py", "preprocess_and_reuse.py", "peak_maps_xrf.py",
              "quantify_with_pls.py", "convert_formats.py", "autoencoder_denoise.py"}  # fmt: skip
    assert {p.name for p in EXAMPLES.glob("*.ipynb")} == {"chemmap_in_jupyter.ipynb"}
    assert {p.name for p in EXAMPLES.glob("*.py")} == tested


def test_map_a_cube(tmp_path):
    out = _run("map_a_cube.py", str(tmp_path))
    assert "ARI against the demo's regions = 1.000" in out
    assert (tmp_path / "report.html").is_file() and (tmp_path / "maps.npz").is_file()


def test_segment_samson():
    if not (SHARED_DATA / "samson").is_dir():
        pytest.skip(f"the Samson scene is not in {SHARED_DATA}")
    out = _run("segment_samson.py", str(SHARED_DATA))
    scores = dict(re.findall(r"^(.+?)\s+ARI (-?[0-9.]+)$", out, flags=re.MULTILINE))
    assert float(scores["spectral-spatial (default)"]) > float(scores["PCA + k-means"]) + 0.3


def test_preprocess_and_reuse(tmp_path):
    out = _run("preprocess_and_reuse.py", str(tmp_path))
    assert "reproduces it: True" in out and (tmp_path / "chain.toml").is_file()


def test_peak_maps_xrf(tmp_path):
    out = _run("peak_maps_xrf.py", str(tmp_path))
    named = re.search(r"confidence >= 0.9: (.*)$", out, flags=re.MULTILINE).group(1)
    present = re.search(r"elements in the scene: (.*)$", out, flags=re.MULTILINE).group(1)
    assert named == present
    assert (tmp_path / "peaks.json").is_file()


def test_quantify_with_pls(tmp_path):
    out = _run("quantify_with_pls.py", str(tmp_path))
    assert "pls-mean" in out and "pls-pixels" in out
    assert (tmp_path / "comparison" / "comparison.json").is_file()


def test_convert_formats(tmp_path):
    out = _run("convert_formats.py", str(tmp_path))
    assert out.count("identical") == 3 and "DIFFERENT" not in out


def test_autoencoder_denoise(tmp_path):
    pytest.importorskip("torch", reason="the autoencoder needs the 'deep' extra")
    out = _run("autoencoder_denoise.py", str(tmp_path))
    noisy, auto, pca = map(float, re.search(r"noisy ([0-9.]+), autoencoder ([0-9.]+), PCA .*?([0-9.]+)$", out,
                                            flags=re.MULTILINE).groups())  # fmt: skip
    assert auto < noisy and pca < noisy
    assert (tmp_path / "denoised.npy").is_file()
    mnf_autoencoder = float(re.search(r"MNF autoencoder ([0-9.]+)$", out, flags=re.MULTILINE).group(1))
    assert mnf_autoencoder < pca


def test_the_example_notebook_runs_and_shows_the_cube_and_the_run(tmp_path):
    nbformat = pytest.importorskip("nbformat", reason="nbformat is not installed (the dev extra)")
    nbclient = pytest.importorskip("nbclient", reason="nbclient is not installed (the dev extra)")
    pytest.importorskip("ipykernel", reason="ipykernel is not installed (the jupyter extra)")
    pytest.importorskip("xarray", reason="the notebook needs the xarray extra")
    pytest.importorskip("hyperspy", reason="the notebook needs the hyperspy extra")
    notebook = nbformat.read(EXAMPLES / "chemmap_in_jupyter.ipynb", as_version=4)
    nbclient.NotebookClient(notebook, timeout=300, resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    html = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert any("chemmap Cube" in h and "30 x 30 (900)" in h for h in html)
    assert any("chemmap run" in h and "<img" in h and "silhouette" in h for h in html)
    text = "".join(o.get("text", "") for o in outputs)
    assert "SpectralAxis(600..1800 cm-1, 200 channels) True" in text
    assert (tmp_path / "notebook_output" / "report.html").is_file()
