"""`chemmap run` with unmixing and classification: the files each writes, the scores in
metrics.json against known truth, the report sections, and clear errors for bad options."""

from __future__ import annotations

import json

import numpy as np
import pytest

from chemmap.cli.main import main
from chemmap.report.html import read_report_data


@pytest.fixture
def mixture_scene(tmp_path):
    """A 30 x 36 scene of three band spectra mixed in known fractions, with pure corners,
    written as .npz with the truth and a label image of the dominant component."""
    rng = np.random.default_rng(0)
    x = np.linspace(1000, 1800, 80)
    spectra = np.stack([0.05 + np.exp(-0.5 * ((x - m) / 40) ** 2) for m in (1150, 1400, 1650)])
    fractions = rng.dirichlet(np.full(3, 0.6), size=(30, 36))
    fractions[:3, :3], fractions[:3, -3:], fractions[-3:, :3] = [1, 0, 0], [0, 1, 0], [0, 0, 1]
    cube = (fractions @ spectra + rng.normal(scale=0.005, size=(30, 36, 80))).astype(np.float32)
    np.savez(tmp_path / "scene.npz", cube=cube, axis=x, axis_unit="cm-1")
    np.save(tmp_path / "abundances.npy", fractions)
    np.save(tmp_path / "endmembers.npy", spectra)
    labels = np.argmax(fractions, axis=2) + 1
    labels[::4, ::3] = 0
    np.save(tmp_path / "labels.npy", labels)
    return tmp_path


def _run(scene, out, *extra) -> dict:
    code = main(["run", str(scene / "scene.npz"), "--out", str(out), "--clusters", "3", "--quiet", *extra])
    assert code == 0
    return json.loads((out / "metrics.json").read_text())


def test_run_unmixes_with_vca_fcls_and_scores_against_the_truth(mixture_scene):
    out = mixture_scene / "vca"
    metrics = _run(
        mixture_scene,
        out,
        "--unmix",
        "vca+fcls",
        "--components",
        "3",
        "--truth-abundances",
        str(mixture_scene / "abundances.npy"),
        "--truth-endmembers",
        str(mixture_scene / "endmembers.npy"),
    )
    abundances = np.load(out / "abundances.npy")
    assert abundances.shape == (30, 36, 3) and np.load(out / "endmembers.npy").shape == (3, 80)
    np.testing.assert_allclose(abundances.sum(axis=2), 1, atol=1e-5)
    scores = metrics["unmixing"]["scores"]
    assert scores["mean_abundance_rmse"] < 0.03 and scores["mean_spectral_angle"] < 0.05
    assert (out / "abundance_maps.png").stat().st_size > 0 and (out / "endmember_spectra.png").stat().st_size > 0
    report = (out / "report.md").read_text()
    assert "## Unmixing" in report and "abundances.npy" in report
    record = json.loads((out / "run_record.json").read_text())
    assert "abundances.npy" in record["outputs"]
    page = {layer["name"]: layer for layer in read_report_data(out / "report.html")["layers"]}
    for i in range(3):
        assert page[f"abundance_{i}"]["unit"] == "fraction"
        np.testing.assert_allclose(page[f"abundance_{i}"]["values"], abundances[..., i], atol=2e-5)


def test_run_mcr_with_hysime_count(mixture_scene):
    out = mixture_scene / "mcr"
    metrics = _run(
        mixture_scene,
        out,
        "--unmix",
        "mcr",
        "--components",
        "auto",
        "--truth-endmembers",
        str(mixture_scene / "endmembers.npy"),
    )
    unmix = metrics["unmixing"]
    assert unmix["k"] == 3 and unmix["k_chosen_by"] == unmix["component_count"]["chosen_by"]
    assert unmix["mcr"]["explained_variance_percent"] > 99
    assert unmix["scores"]["mean_spectral_angle"] < 0.05
    assert np.load(out / "abundances.npy").shape == (30, 36, 3)


def test_run_classifies_from_a_label_image_on_spatial_blocks(mixture_scene):
    out = mixture_scene / "classes"
    metrics = _run(mixture_scene, out, "--classify", str(mixture_scene / "labels.npy"), "--classifier", "lda")
    cls = metrics["classification"]
    assert cls["split"]["n_train_pixels"] > 0 and cls["test"]["n_test_pixels"] > 500
    assert cls["test"]["overall_accuracy"] > 0.8 and "kappa" in cls["test_smoothed"]
    labels = np.load(out / "classification_labels.npy")
    assert labels.shape == (30, 36) and set(np.unique(labels)) <= {1, 2, 3}
    proba = np.load(out / "class_probabilities.npy")
    np.testing.assert_allclose(proba.sum(axis=2), 1, atol=1e-5)
    assert "## Classification" in (out / "report.md").read_text()
    page = {layer["name"]: layer for layer in read_report_data(out / "report.html")["layers"]}
    assert page["classes"]["categories"] == ["class 1", "class 2", "class 3"]
    shown = np.where(page["classes"]["values"] >= 0, page["classes"]["values"] + 1, -1)
    np.testing.assert_array_equal(shown, labels)
    assert page["class_uncertainty"]["kind"] == "continuous"


def test_bad_unmixing_options_fail_clearly_and_write_nothing(mixture_scene, capsys):
    out = mixture_scene / "bad"
    assert main(["run", str(mixture_scene / "scene.npz"), "--out", str(out), "--unmix", "vca+magic", "--quiet"]) != 0
    assert "EXTRACTOR+SOLVER" in capsys.readouterr().err
    code = main(
        [
            "run",
            str(mixture_scene / "scene.npz"),
            "--out",
            str(out),
            "--classify",
            str(mixture_scene / "nope.npy"),
            "--quiet",
        ]
    )
    assert code != 0 and "does not exist" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("brightness", [0.0, 0.4])
def test_unmix_auto_takes_fcls_where_fractions_sum_to_one_and_scaled_where_brightness_varies(mixture_scene, brightness):
    scene = np.load(mixture_scene / "scene.npz")
    gain = 1 + brightness * np.random.default_rng(3).uniform(-1, 1, size=(30, 36, 1))
    np.savez(
        mixture_scene / "scene.npz",
        cube=(scene["cube"] * gain).astype(np.float32),
        axis=scene["axis"],
        axis_unit="cm-1",
    )
    out = mixture_scene / f"auto{brightness}"
    truth = ["--truth-abundances", str(mixture_scene / "abundances.npy")]
    method = ["--unmix", "auto"] if brightness else []  # --components alone means auto
    metrics = _run(mixture_scene, out, *method, "--components", "3", *truth)["unmixing"]
    auto = metrics["auto"]
    assert auto["solver"] == ("scaled" if brightness else "fcls")
    residuals = auto["fit_residual_by_extractor"]  # every extractor tried; the best-fitting kept
    assert len(residuals) == 5 and auto["extractor"] == min(residuals, key=residuals.get)
    assert len(auto["refined_from_pixels"]) == 3 and min(auto["refined_from_pixels"]) >= 3  # the pure corners
    assert ("brightness varies" in auto["why"]) == bool(brightness)
    report = (out / "report.md").read_text()
    assert f"Extractor `{auto['extractor']}`" in report
    assert "Endmembers refined from the purest pixels: 1: mean of" in report
    assert metrics["scores"]["mean_abundance_rmse"] < 0.02
    assert auto["extractor_decided_by_data"] and auto["extractor_disagreement"] < 0.01  # pure pixels: all agree
    assert "do not decide" not in report and not any("do not decide" in w for w in metrics_warnings(out))
    if brightness:  # what the README's first example gives on the same scene
        fcls = _run(mixture_scene, mixture_scene / "fcls", "--unmix", "vca+fcls", "--components", "3", *truth)
        assert fcls["unmixing"]["scores"]["mean_abundance_rmse"] > 5 * metrics["scores"]["mean_abundance_rmse"]


def metrics_warnings(out) -> list[str]:
    return json.loads((out / "metrics.json").read_text())["warnings"]


def test_unmix_auto_says_when_equally_good_extractors_give_different_maps(tmp_path):
    """No pixel is pure (smooth abundance fields): ATGP's and VCA's refined endmembers fit the
    pixels within 1.4 % of each other, but their abundances differ by about 0.1 (against the
    truth: 0.097 and 0.064). The run says the data do not decide instead of presenting one."""
    from chemmap.datasets import make_smooth_mixture
    from chemmap.metrics.unmixing import unmixing_scores

    cube, fractions = make_smooth_mixture(random_state=5, noise=0.03, brightness=0.3)
    np.savez(tmp_path / "scene.npz", cube=np.asarray(cube.data), axis=cube.axis.values, axis_unit="nm")
    out = tmp_path / "out"
    metrics = _run(tmp_path, out, "--components", "4")
    auto = metrics["unmixing"]["auto"]
    assert not auto["extractor_decided_by_data"] and auto["extractor_disagreement"] > 0.05
    rival = max(
        auto["equally_good_extractors"], key=lambda n: auto["equally_good_extractors"][n]["abundance_rmse_to_chosen"]
    )
    assert 0 <= auto["equally_good_extractors"][rival]["residual_above_chosen"] <= 0.05
    assert any("do not decide the endmember extractor" in w and rival in w for w in metrics_warnings(out))
    report = (out / "report.md").read_text()
    assert f"`{rival}` (residual +" in report and "do not decide the endmember extractor" in report
    # one of the two maps is at least half the disagreement from the truth; here the chosen one
    found = np.load(out / "abundances.npy")
    error = unmixing_scores(np.load(out / "endmembers.npy"), found, true_abundances=fractions)["mean_abundance_rmse"]
    assert error > auto["extractor_disagreement"] / 2


@pytest.mark.parametrize("method", ["ppi+fcls", "auto"])
def test_unmixing_pixels_that_span_fewer_directions_than_asked_gives_the_maps_they_hold(tmp_path, method):
    """A 2 x 3 x 4 ripple file holds spectra on one line (0..23): PPI finds two distinct
    endmembers where three were asked (an IndexError before)."""
    cube = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    np.savez(tmp_path / "scene.npz", cube=cube, axis=np.array([1.5, 301.5, 601.5, 901.5]), axis_unit="eV")
    metrics = _run(tmp_path, tmp_path / "out", "--unmix", method, "--components", "3")
    unmixing = metrics["unmixing"]
    assert unmixing["k"] == 2 and unmixing["k_asked"] == 3  # auto: PPI's two fit exactly
    assert np.load(tmp_path / "out" / "abundances.npy").shape == (2, 3, 2)
    assert any("found only 2 distinct endmembers" in w for w in metrics_warnings(tmp_path / "out"))


def test_unmix_auto_leaves_out_extractors_that_choose_pixels_without_signal(mixture_scene):
    """EDS maps hold pixels without a single count; extractors that take one as an endmember
    broke the scaled model ("a component spectrum is all zeros") and made every fit residual
    infinite. They are left out, said so, and the residual is taken over pixels with signal."""
    scene = np.load(mixture_scene / "scene.npz")
    cube = scene["cube"].copy()
    cube[10:14, 10:14] = 0
    np.savez(mixture_scene / "scene.npz", cube=cube, axis=scene["axis"], axis_unit="cm-1")
    out = mixture_scene / "empty"
    auto = _run(mixture_scene, out, "--components", "4")["unmixing"]["auto"]
    assert set(auto["skipped_extractors"]) and "without signal" in next(iter(auto["skipped_extractors"].values()))
    assert set(auto["fit_residual_by_extractor"]).isdisjoint(auto["skipped_extractors"])
    assert all(np.isfinite(v) for v in auto["fit_residual_by_extractor"].values())
    assert np.all(np.abs(np.load(out / "endmembers.npy")).sum(axis=1) > 0)
    assert f"Extractor `{next(iter(auto['skipped_extractors']))}` left out" in (out / "report.md").read_text()


@pytest.mark.data
def test_unmix_auto_on_samson_chooses_the_scaled_model_and_meets_the_abundance_truth(shared_data, tmp_path):
    from chemmap.datasets import load_samson
    from chemmap.io import write

    samson = load_samson(shared_data / "samson")
    write(samson.cube, tmp_path / "samson.npz")
    np.save(tmp_path / "abundances.npy", np.asarray(samson.abundances.data))
    code = main(
        [
            "run",
            str(tmp_path / "samson.npz"),
            "--out",
            str(tmp_path / "out"),
            "--clusters",
            "3",
            "--quiet",
            "--unmix",
            "auto",
            "--components",
            "3",
            "--truth-abundances",
            str(tmp_path / "abundances.npy"),
        ]
    )
    assert code == 0
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())["unmixing"]
    assert metrics["auto"]["solver"] == "scaled" and metrics["scores"]["mean_abundance_rmse"] <= 0.06
    # within 10 % of the best fixed recipe (smacc+scaled: 0.0426, benchmarks/models_vs_baselines.py)
    assert metrics["scores"]["mean_abundance_rmse"] <= 1.1 * 0.0426
