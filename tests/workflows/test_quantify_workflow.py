"""``chemmap quantify compare | train | predict`` end to end on a small written sample set:
the comparison holds every score per model, saved models map new cubes as they did in
memory, and bad inputs fail with one clear line."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from chemmap.cli.main import main
from chemmap.datasets import make_tissue_samples, write_tissue_benchmark
from chemmap.report.html import read_report_data
from chemmap.supervised import load_sample, read_manifest
from chemmap.workflows.quantify import COMPARISON_KEYS, load_model

#: The keys the issue names for every model in comparison.json.
ISSUE_KEYS = (
    "rmse_mean",
    "bias",
    "slope",
    "out_of_range_fraction",
    "spatial_variance_fraction",
    "pixel_rmse",
    "pixel_corr",
)
TINY_UNET = ["--epochs", "3", "--widths", "4,8", "--n-folds", "2", "--device", "cpu", "--quiet"]


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tissue")
    return write_tissue_benchmark(folder, make_tissue_samples(10, image_shape=(16, 20), n_channels=24, random_state=1))


def test_compare_scores_every_model_on_the_same_test_samples(manifest, tmp_path):
    """Without --models on a CPU, every model but the paper-size U-Net (hours there), and the
    report says why it is missing."""
    pytest.importorskip("torch", reason="the U-Nets need the 'deep' extra")
    out = tmp_path / "compare"
    assert main(["quantify", "compare", str(manifest), "--out", str(out), *TINY_UNET]) == 0
    comparison = json.loads((out / "comparison.json").read_text())
    assert list(comparison) == ["pls-mean", "pls-pixels", "unet"]
    assert COMPARISON_KEYS == ISSUE_KEYS
    for scores in comparison.values():
        assert set(ISSUE_KEYS) <= set(scores)
        assert scores["n_samples"] == 2  # 25 % of 10, rounded
        assert scores["pixel_rmse"] > 0 and -1 <= scores["pixel_corr"] <= 1
    assert comparison["unet"]["out_of_range_fraction"] == 0.0  # the bounded output
    record = json.loads((out / "run_record.json").read_text())
    assert not set(record["splits"]["train"]) & set(record["splits"]["test"])
    with np.load(out / "test_maps.npz") as maps:
        assert len(maps.files) == 3 * 2
        key = f"pls-mean/{record['splits']['test'][0]}"
        assert np.nanmean(maps[key]) == pytest.approx(comparison["pls-mean"]["per_sample"][0]["predicted_mean"])
    assert record["settings"]["models"] == ["pls-mean", "pls-pixels", "unet"]
    assert "17 hours" in record["models_left_out"]["unet-paper"]
    report = (out / "report.md").read_text()
    assert "| unet |" in report and "maps.png" in report and "Left out: `unet-paper`" in report
    assert (out / "maps.png").stat().st_size > 10_000
    name = record["splits"]["test"][0]
    page = read_report_data(out / "samples" / f"{name}.html")
    assert [layer["title"] for layer in page["layers"]][::2] == [
        "pls-mean: predicted map (%)",
        "pls-pixels: predicted map (%)",
        "unet: predicted map (%)",
        "Per-pixel truth (%)",
    ]
    with np.load(out / "test_maps.npz") as maps:
        unet = maps[f"unet/{name}"]
    got = page["layers"][4]["values"]
    assert np.nanmax(np.abs(got - unet)) <= 0.51 * (np.nanmax(unet) - np.nanmin(unet)) / 65534 + 1e-5


def test_a_trained_pls_model_maps_a_manifest_as_it_did_in_memory(manifest, tmp_path):
    model_dir = tmp_path / "pls"
    scale = ["--memory-limit", "512MiB", "--scheduler", "synchronous"]  # as every workflow command takes them
    assert main(["quantify", "train", str(manifest), "--model", "pls", "--out", str(model_dir), *scale, "--quiet"]) == 0
    record = json.loads((model_dir / "run_record.json").read_text())
    assert record["compute"]["memory_limit"] == 512 * 2**20 and record["compute"]["scheduler"] == "synchronous"
    training = json.loads((model_dir / "training.json").read_text())
    assert training["training_samples"] == 8 and training["training_fit"]["rmse_mean"] < 10  # 2 of 10 held out
    out = tmp_path / "predicted"
    assert main(["quantify", "predict", str(model_dir), str(manifest), "--out", str(out), "--quiet"]) == 0
    with open(out / "predictions.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 10
    model = load_model(model_dir)
    first = load_sample(read_manifest(manifest)[0])
    expected = model.predict_map(first)
    np.testing.assert_array_equal(np.load(out / "maps" / f"{first.name}.npy"), expected)
    assert float(rows[0]["predicted_mean"]) == pytest.approx(np.nanmean(expected))
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n_samples"] == 10 and metrics["pixel_rmse"] is not None
    page = read_report_data(out / "maps" / f"{first.name}.html")
    layers = {layer["name"]: layer for layer in page["layers"]}
    assert list(layers) == ["prediction_0", "range_0", "truth"]
    step = (np.nanmax(expected) - np.nanmin(expected)) / 65534
    assert np.nanmax(np.abs(layers["prediction_0"]["values"] - expected)) <= 0.51 * step + 1e-5
    side = layers["range_0"]["values"]
    np.testing.assert_array_equal(side == 2, expected > 100)
    np.testing.assert_array_equal(side == -1, np.isnan(expected))
    assert page["spectra"]["values"].shape[-1] == first.cube.n_channels
    again = tmp_path / "predicted_again"  # its config.resolved.toml runs it again (the model folder in [predict])
    resolved = out / "config.resolved.toml"
    assert main(["quantify", "predict", str(model_dir), str(resolved), "--out", str(again), "--quiet"]) == 0
    assert (again / "predictions.csv").read_text() == (out / "predictions.csv").read_text()


def test_a_trained_unet_maps_one_cube_file_identically_after_reloading(manifest, tmp_path):
    pytest.importorskip("torch", reason="the U-Nets need the 'deep' extra")
    model_dir = tmp_path / "unet"
    assert main(["quantify", "train", str(manifest), "--model", "unet", "--out", str(model_dir), *TINY_UNET]) == 0
    assert {p.name for p in model_dir.iterdir()} >= {"model.json", "weights.pt", "training.json"}
    cube_file = read_manifest(manifest)[3].cube
    out = tmp_path / "one"
    assert main(["quantify", "predict", str(model_dir), str(cube_file), "--out", str(out), "--quiet"]) == 0
    sample = load_sample(read_manifest(manifest)[3])
    expected = load_model(model_dir).predict_map(sample.cube)
    np.testing.assert_array_equal(np.load(out / "maps" / f"{cube_file.stem}.npy"), expected)
    assert not (out / "metrics.json").exists()  # one cube, no reference to score against


def test_bad_inputs_fail_with_one_line_and_leave_nothing(manifest, tmp_path, capsys):
    lines = manifest.read_text().splitlines()
    with_split = manifest.parent / "all_train.csv"  # beside the cubes it names
    with_split.write_text("\n".join([lines[0] + ",split"] + [f"{row},train" for row in lines[1:]]) + "\n")
    out = tmp_path / "never"
    assert main(["quantify", "compare", str(with_split), "--out", str(out), "--models", "pls-mean", "--quiet"]) == 2
    assert "marks no sample split=test" in capsys.readouterr().err
    assert not out.exists()
    assert main(["quantify", "predict", str(tmp_path), str(manifest), "--out", str(out), "--quiet"]) == 2
    assert "quantify train" in capsys.readouterr().err
    model_dir = tmp_path / "pls"
    assert main(["quantify", "train", str(manifest), "--model", "pls", "--out", str(model_dir), "--quiet"]) == 0
    narrow = make_tissue_samples(2, image_shape=(8, 8), n_channels=20, random_state=0)
    other = write_tissue_benchmark(tmp_path / "narrow", narrow)
    assert main(["quantify", "predict", str(model_dir), str(other), "--out", str(out), "--quiet"]) == 2
    assert "Resample the cube" in capsys.readouterr().err
    assert not out.exists()


def test_train_holds_out_the_test_fraction_and_names_the_held_out_samples(tmp_path):
    """A 12-sample manifest without a split column: --test-fraction 0.25 keeps 3 samples out."""
    twelve = write_tissue_benchmark(tmp_path / "twelve", make_tissue_samples(12, image_shape=(8, 10), n_channels=16))
    model_dir = tmp_path / "pls"
    argv = ["quantify", "train", str(twelve), "--model", "pls", "--test-fraction", "0.25", "--out", str(model_dir)]
    assert main([*argv, "--quiet"]) == 0
    training = json.loads((model_dir / "training.json").read_text())
    splits = training["splits"]
    assert training["training_samples"] == 9 and training["held_out_samples"] == 3
    assert len(splits["test"]) == 3 and not set(splits["test"]) & set(splits["train"])
    assert sorted(splits["train"] + splits["test"]) == sorted(e.name for e in read_manifest(twelve))
    record = json.loads((model_dir / "run_record.json").read_text())
    assert record["splits"]["test"] == splits["test"]


def test_the_resolved_configs_of_compare_and_train_run_them_again(tmp_path):
    import tomllib

    twelve = write_tissue_benchmark(tmp_path / "twelve", make_tissue_samples(12, image_shape=(8, 10), n_channels=16))
    first, again = tmp_path / "first", tmp_path / "again"
    argv = ["--models", "pls-mean", "--pls-preprocess", "snv", "--high", "80", "--quiet"]
    assert main(["quantify", "compare", str(twelve), "--out", str(first), *argv]) == 0
    resolved = first / "config.resolved.toml"
    config = tomllib.loads(resolved.read_text())
    assert config["quantify"]["pls_preprocess"] == "snv" and config["quantify"]["models"] == ["pls-mean"]
    assert config["input"]["path"] == str(twelve)
    assert main(["quantify", "compare", str(resolved), "--out", str(again), "--quiet"]) == 0
    scores = [json.loads((folder / "comparison.json").read_text())["pls-mean"] for folder in (first, again)]
    for score in scores:
        score.pop("fit_seconds")
    assert scores[0] == scores[1]
    assert (again / "config.resolved.toml").read_text() == resolved.read_text()
    model, model_again = tmp_path / "model", tmp_path / "model_again"
    assert main(["quantify", "train", str(twelve), "--model", "pls", "--out", str(model), "--quiet"]) == 0
    trained = model / "config.resolved.toml"
    assert tomllib.loads(trained.read_text())["quantify"]["models"] == ["pls-mean"]  # the model is in the config
    assert main(["quantify", "train", str(trained), "--out", str(model_again), "--quiet"]) == 0
    assert (model_again / "model.json").read_text() == (model / "model.json").read_text()
