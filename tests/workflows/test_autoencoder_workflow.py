"""``chemmap autoencoder`` end to end: a cube on disk read lazily is denoised, encoded and
segmented into its true regions; every output is written; the saved model applied by a second
run gives the same latent image; bad requests fail clearly and leave nothing behind."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("torch", reason="the autoencoder needs the 'deep' extra (PyTorch)")

from chemmap.cli.main import main
from chemmap.datasets import make_regions_cube
from chemmap.io import write
from chemmap.workflows.autoencoder import AUTOENCODER_OUTPUT_FILES


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ae")
    cube = make_regions_cube(image_shape=(40, 40), n_channels=80, snr=6, n_regions=3, random_state=4)
    write(cube, folder / "scene.zarr")
    code = main(
        ["autoencoder", str(folder / "scene.zarr"), "--out", str(folder / "out"), "--epochs", "25",
         "--clusters", "auto", "--device", "cpu", "--read-option", "lazy=true", "--pixels", "2,3", "--quiet"]
    )  # fmt: skip
    assert code == 0
    return cube, folder


def test_every_output_is_written_with_its_shape(run):
    cube, folder = run
    out = folder / "out"
    assert {p.name for p in out.iterdir()} == set(AUTOENCODER_OUTPUT_FILES)
    denoised = np.load(out / "denoised.npy")
    assert denoised.shape == cube.shape and denoised.dtype == np.float32
    assert np.load(out / "latent.npy").shape == (40, 40, 8)
    labels = np.load(out / "cluster_map.npy")
    assert labels.shape == (40, 40) and labels.dtype == np.int32
    assert sorted(p.name for p in (out / "model").iterdir()) == ["model.json", "weights.pt"]
    spectra = np.load(out / "cluster_spectra.npz")
    assert spectra["mean"].shape == spectra["decoded"].shape == (labels.max() + 1, 80)
    record = json.loads((out / "run_record.json").read_text())
    assert {"training", "baseline", "inference", "segmentation", "figures"} <= set(record["timings"]["seconds"])


def test_the_run_finds_the_regions_and_reports_its_metrics(run):
    cube, folder = run
    metrics = json.loads((folder / "out" / "metrics.json").read_text())
    seg = metrics["segmentation"]
    assert seg["k"] == 3 and seg["k_selection"]["bic"]["best_k"] == 3
    assert seg["against_labels"]["ari"] > 0.9
    recon = metrics["reconstruction"]
    assert recon["n_pixels"] == 1600 and len(recon["rmse_per_band"]) == 80
    clean = make_regions_cube(image_shape=(40, 40), n_channels=80, snr=1e9, n_regions=3, random_state=4)
    noise = np.sqrt(np.mean((np.asarray(cube.data) - np.asarray(clean.data)) ** 2))
    assert 0.7 * noise < recon["rmse"] < 1.3 * noise  # the reconstruction leaves out about the noise
    training = metrics["training"]
    assert training["epochs_run"] <= 25 and 1 <= training["best_epoch"] <= training["epochs_run"]
    spectra = np.load(folder / "out" / "cluster_spectra.npz")
    gap = np.abs(spectra["decoded"] - spectra["mean"]).max(axis=1)
    assert np.all(gap < 0.5 * np.abs(spectra["mean"]).max(axis=1))  # decoded means look like the cluster means


def test_the_run_compares_its_denoising_with_mnf_and_recommends_the_one_nearer_the_clean_cube(run):
    from chemmap.decomposition.denoise import fit_low_rank, split_samples

    cube, folder = run
    against = json.loads((folder / "out" / "metrics.json").read_text())["denoising_against_mnf"]
    assert against["autoencoder_holdout_mse"] > 0 and against["mnf_holdout_mse"] > 0 and against["mnf_rank"] >= 1
    mnf_wins = against["mnf_holdout_mse"] < against["autoencoder_holdout_mse"]
    assert against["recommendation"].startswith("MNF" if mnf_wins else "the autoencoder")
    clean = np.asarray(
        make_regions_cube(image_shape=(40, 40), n_channels=80, snr=1e9, n_regions=3, random_state=4).data
    )
    fit, scored = split_samples(cube, 0)
    mnf = np.asarray(fit_low_rank(fit, scored, cube.axis.values, "mnf").denoise(cube).data)
    errors = {
        name: np.sqrt(np.mean((d - clean) ** 2))
        for name, d in (("mnf", mnf), ("ae", np.load(folder / "out" / "denoised.npy")))
    }
    assert (errors["mnf"] < errors["ae"]) == mnf_wins, errors


def test_a_saved_model_applied_again_gives_the_same_latent_image(run):
    _, folder = run
    code = main(
        ["autoencoder", str(folder / "scene.zarr"), "--out", str(folder / "again"), "--model",
         str(folder / "out" / "model"), "--clusters", "3", "--device", "cpu", "--quiet"]
    )  # fmt: skip
    assert code == 0
    np.testing.assert_allclose(
        np.load(folder / "again" / "latent.npy"), np.load(folder / "out" / "latent.npy"), rtol=1e-5, atol=1e-5
    )
    metrics = json.loads((folder / "again" / "metrics.json").read_text())
    assert metrics["training"]["loaded_from"].endswith("model")


def test_spectra_are_resampled_onto_the_model_axis_or_a_channel_count_when_asked(run, tmp_path):
    _, folder = run
    coarse = make_regions_cube(image_shape=(24, 24), n_channels=50, n_regions=3, random_state=4)
    write(coarse, tmp_path / "coarse.zarr")
    model = str(folder / "out" / "model")
    command = ["autoencoder", str(tmp_path / "coarse.zarr"), "--clusters", "3", "--device", "cpu", "--quiet"]
    assert main([*command, "--out", str(tmp_path / "m"), "--model", model, "--resample", "model"]) == 0
    assert np.load(tmp_path / "m" / "denoised.npy").shape == (24, 24, 80)
    assert main([*command, "--out", str(tmp_path / "n"), "--resample", "40", "--epochs", "2"]) == 0
    assert np.load(tmp_path / "n" / "denoised.npy").shape == (24, 24, 40)
    config = json.loads((tmp_path / "n" / "model" / "model.json").read_text())
    assert len(config["axis"]["values"]) == 40 and config["axis"]["values"][-1] == pytest.approx(1800.0)


def test_bad_requests_fail_clearly_and_leave_nothing(run, tmp_path, capsys):
    _, folder = run
    scene = str(folder / "scene.zarr")
    assert main(["autoencoder", scene, "--out", str(tmp_path / "a"), "--pixels", "99,0", "--quiet"]) == 2
    assert "outside the 40 x 40 image" in capsys.readouterr().err
    other = make_regions_cube(image_shape=(20, 20), n_channels=50, random_state=0)
    write(other, tmp_path / "other.zarr")
    model = str(folder / "out" / "model")
    assert main(["autoencoder", str(tmp_path / "other.zarr"), "--out", str(tmp_path / "b"), "--model", model]) == 2
    assert "trained on 80 channels" in capsys.readouterr().err
    assert main(["autoencoder", scene, "--out", str(tmp_path / "c"), "--clusters", "two", "--quiet"]) == 2
    assert "'clusters'" in capsys.readouterr().err
    assert not any((tmp_path / name).exists() for name in "abc")


def test_the_interactive_report_shows_latent_clusters_and_features(run):
    from chemmap.report.html import read_report_data

    cube, folder = run
    out = folder / "out"
    data = read_report_data(out / "report.html")
    labels, latent = np.load(out / "cluster_map.npy"), np.load(out / "latent.npy")
    layers = {layer["name"]: layer for layer in data["layers"]}
    assert list(layers) == ["clusters"] + [f"latent_{j}" for j in range(8)]
    np.testing.assert_array_equal(layers["clusters"]["values"], labels)
    step = (latent[..., 0].max() - latent[..., 0].min()) / 65534
    assert np.abs(layers["latent_0"]["values"] - latent[..., 0]).max() <= 0.51 * step + 1e-6
    spectra = np.load(out / "cluster_spectra.npz")
    np.testing.assert_allclose(data["clusters"]["means"], spectra["mean"], rtol=1e-5, atol=1e-5)
    assert data["spectra"]["values"].shape == cube.shape
    assert "<h3>Reconstruction</h3>" in (out / "report.html").read_text()


def test_every_training_setting_is_reachable_from_the_cli_and_round_trips_through_the_config(run, tmp_path):
    _, folder = run
    scene, first, second = str(folder / "scene.zarr"), tmp_path / "first", tmp_path / "second"
    flags = ["--epochs", "2", "--widths", "8,16", "--output", "tanh", "--validation", "0.3", "--split", "random",
             "--loss", "mse=1,sam=0.5,gradient=0", "--batch-size", "64", "--learning-rate", "0.001",
             "--patience", "3", "--latent-dim", "4", "--clusters", "3", "--device", "cpu", "--quiet"]  # fmt: skip
    assert main(["autoencoder", scene, "--out", str(first), *flags]) == 0
    resolved = (first / "config.resolved.toml").read_text()
    for line in ('output = "tanh"', 'split = "random"', "validation = 0.3", "widths = [", "sam = 0.5", "gradient = 0"):
        assert line in resolved, line
    model = json.loads((first / "model" / "model.json").read_text())
    assert model["architecture"]["output"] == "tanh" and model["architecture"]["widths"] == [8, 16]
    assert main(["autoencoder", str(first / "config.resolved.toml"), "--out", str(second), "--quiet"]) == 0
    assert (second / "config.resolved.toml").read_text() == resolved
    np.testing.assert_array_equal(np.load(first / "latent.npy"), np.load(second / "latent.npy"))


def test_epochs_count_from_one_in_the_metrics_and_the_figure(run):
    _, folder = run
    training = json.loads((folder / "out" / "metrics.json").read_text())["training"]
    model = json.loads((folder / "out" / "model" / "model.json").read_text())
    assert training["epochs_counted_from"] == 1 and 1 <= training["best_epoch"] <= training["epochs_run"]
    assert model["best_epoch"] == training["best_epoch"]  # one convention in every output


def test_one_spectrum_is_refused_with_the_commands_that_read_one(tmp_path, capsys):
    path = tmp_path / "spot.npz"
    np.savez(path, cube=np.linspace(1, 2, 64, dtype=np.float32).reshape(1, 1, 64), axis=np.arange(64.0))
    # it had been told to use a smaller block or a random split, then that a random split needs 2 pixels
    assert main(["autoencoder", str(path), "--out", str(tmp_path / "o"), "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert "holds 1 valid spectrum" in err and "chemmap preprocess --savgol" in err and "chemmap peaks" in err
    assert not (tmp_path / "o").exists()
