"""`chemmap denoise`: the files it writes, the method auto picks, the scores it reports."""

from __future__ import annotations

import json

import numpy as np
import pytest

from chemmap.cli import main
from chemmap.datasets.denoising import make_denoising_scene
from chemmap.decomposition.denoise import fit_low_rank, split_samples
from chemmap.io import write


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    scene = make_denoising_scene(image_shape=(32, 32), n_channels=60, random_state=4)
    path = tmp_path_factory.mktemp("denoise") / "noisy.npz"
    write(scene.cube, path)
    return scene, path


def test_auto_applies_the_method_with_the_lowest_holdout_score_and_writes_its_cube(scene, tmp_path, capsys):
    scene, path = scene
    out = tmp_path / "out"
    assert main(["denoise", str(path), "--out", str(out), "--candidates", "pca,mnf", "--quiet"]) == 0
    assert {"denoised.npy", "denoise_scores.png", "metrics.json", "report.html", "run_record.json"} <= {
        p.name for p in out.iterdir()
    }
    metrics = json.loads((out / "metrics.json").read_text())
    scores = {name: m["holdout_mse"] for name, m in metrics["methods"].items()}
    assert set(scores) == {"pca", "mnf"} and metrics["method"] == min(scores, key=scores.get)
    assert metrics["rank"] == 3 and "lowest hold-out score" in metrics["why"]
    denoised = np.load(out / "denoised.npy")
    assert denoised.shape == scene.clean.shape and denoised.dtype == np.float32
    assert scene.rmse(denoised) < 0.3 * scene.rmse(scene.cube.data)
    assert f"{metrics['method']} (rank 3)" in capsys.readouterr().out


def test_a_method_asked_for_is_applied_and_the_autoencoder_is_scored_like_the_others(scene, tmp_path):
    pytest.importorskip("torch")
    scene, path = scene
    out = tmp_path / "ae"
    assert main(["denoise", str(path), "--out", str(out), "--method", "autoencoder", "--device", "cpu", "--quiet"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["method"] == "autoencoder" and metrics["rank"] is None and "asked for" in metrics["why"]
    assert metrics["methods"]["autoencoder"]["holdout_mse"] > 0 and "checkerboard" in metrics["holdout"]["pixels"]
    assert scene.rmse(np.load(out / "denoised.npy")) < 0.25 * scene.rmse(scene.cube.data)


def test_auto_compares_the_autoencoder_on_the_same_pixels_and_applies_it_where_it_scores_lowest(scene, tmp_path):
    pytest.importorskip("torch")
    scene, path = scene
    out = tmp_path / "auto"
    assert main(["denoise", str(path), "--out", str(out), "--device", "cpu", "--quiet"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    scores = {name: m["holdout_mse"] for name, m in metrics["methods"].items()}
    assert set(scores) == {"pca", "mnf", "autoencoder"} and metrics["method"] == "autoencoder" == min(
        scores, key=scores.get
    )
    fit, scored = split_samples(scene.cube, 0)
    mnf = fit_low_rank(fit, scored, scene.cube.axis.values, "mnf").denoise(scene.cube)
    assert scene.rmse(np.load(out / "denoised.npy")) < 0.9 * scene.rmse(mnf)  # a third of 32 x 32 is edge


def test_a_rank_beyond_what_the_cube_holds_is_refused_in_one_line(scene, tmp_path, capsys):
    _, path = scene
    assert main(["denoise", str(path), "--out", str(tmp_path / "o"), "--method", "pca", "--rank", "500"]) == 2
    err = capsys.readouterr().err
    assert "rank=500 is more components than this cube allows: at most" in err and "--rank" in err


def test_a_single_spectrum_is_refused_with_what_smooths_it(scene, tmp_path, capsys):
    scene, _ = scene
    one = tmp_path / "one.npz"
    write(scene.cube.replace(data=np.asarray(scene.cube.data)[:1, :1]), one)
    assert main(["denoise", str(one), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "this input has 1" in err and "chemmap preprocess --savgol" in err and not (tmp_path / "o").exists()


@pytest.mark.parametrize("method", ["mnf", "autoencoder"])
def test_a_denoised_cube_beyond_the_memory_limit_is_computed_by_bands_and_equals_the_whole_one(method):
    from chemmap._shared.compute import compute, compute_settings
    from chemmap.workflows.denoise import DenoiseSettings, _in_bands, autoencoder_denoiser

    cube = make_denoising_scene(n_channels=60, random_state=2).cube  # 64 x 64 x 60: 960 KiB of float32
    if method == "autoencoder":
        pytest.importorskip("torch")
        model = autoencoder_denoiser(cube, DenoiseSettings(device="cpu"))
    else:
        model = fit_low_rank(*split_samples(cube, 0), cube.axis.values, "mnf")
    with compute_settings(memory_limit="512KiB"):
        banded = _in_bands(cube)
        assert banded.is_lazy and len(banded.data.chunks[0]) > 1
        (streamed,) = compute(model.denoise(banded).data)
    np.testing.assert_allclose(streamed, np.asarray(model.denoise(cube).data), atol=1e-5)


def test_the_samples_shrink_under_a_small_memory_limit_but_keep_twice_the_channels_for_the_noise_estimate():
    from chemmap._shared.compute import compute_settings

    scene = make_denoising_scene(image_shape=(64, 64), n_channels=400, random_state=1)
    with compute_settings(memory_limit="8GiB"):
        assert split_samples(scene.cube, 0)[0].shape[0] == 2048  # every pixel, halved
    with compute_settings(memory_limit="512KiB"):
        fit, scored = split_samples(scene.cube, 0)
    assert fit.shape[0] == scored.shape[0] == 2 * 400
