"""The workflow's red flags appear when they should and not otherwise: no ground truth,
unstable clusters, spatially random clusters (demo data with and without labels, with
shuffled pixels, and with a preprocessing that leaves only noise to cluster)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from chemmap.cli.main import main
from chemmap.metrics.stability import clustering_stability, spatial_coherence

NO_TRUTH = "No ground truth"
UNSTABLE = "Unstable clusters"
RANDOM = "Spatially random clusters"
NOISE = "No spectral component stands above the noise"


def _run(source, out, *extra) -> tuple[str, dict]:
    argv = ["run", str(source), "--image-shape", "30", "30", "--clusters", "2", "--out", str(out), "--quiet", *extra]
    assert main(argv) == 0
    return (out / "report.md").read_text(), json.loads((out / "metrics.json").read_text())["clustering"]


def test_the_demo_with_labels_raises_none_of_the_three(tmp_path, demo_csv):
    report, clustering = _run(demo_csv, tmp_path / "a", "--label-column", "region")
    assert NO_TRUTH not in report and UNSTABLE not in report and RANDOM not in report
    assert clustering["stability"]["min_ari"] > 0.95 and clustering["spatial_coherence"]["kappa"] > 0.9


def test_without_labels_the_scores_are_called_internal(tmp_path, demo_csv):
    report, _ = _run(demo_csv, tmp_path / "b")
    assert NO_TRUTH in report and UNSTABLE not in report and RANDOM not in report


def test_shuffled_pixels_give_spatially_random_clusters(tmp_path, demo_csv):
    table = pd.read_csv(demo_csv)
    order = np.random.default_rng(0).permutation(len(table))
    spectra = [c for c in table.columns if c not in ("pixel_id", "pixel_x", "pixel_y", "region")]
    table[spectra] = table[spectra].to_numpy()[order]  # every spectrum moved to another pixel
    table.to_csv(tmp_path / "shuffled.csv", index=False)
    report, clustering = _run(tmp_path / "shuffled.csv", tmp_path / "c")
    assert RANDOM in report and sorted(clustering["spatial_coherence"]["random_clusters"]) == [0, 1]


@pytest.mark.parametrize("method", ["spectral-spatial", "kmeans"])
def test_a_preprocessing_that_leaves_only_noise_gives_unstable_clusters_of_noise(tmp_path, demo_csv, method):
    """k-means splits the noise at random; the spectral-spatial method smooths it into blobs,
    but finds no component above the noise and says so."""
    crop = ["--crop", "1000", "1300", "--method", method]  # no band of the demo there
    report, clustering = _run(demo_csv, tmp_path / "d", *crop)
    assert UNSTABLE in report and clustering["stability"]["stable"] is False
    assert (NOISE in report) == (method == "spectral-spatial")
    assert (RANDOM in report) == (method == "kmeans")


def test_the_checks_can_be_switched_off(tmp_path, demo_csv):
    _, clustering = _run(demo_csv, tmp_path / "e", "--stability-runs", "0")
    assert "stability" not in clustering


def test_spatial_coherence_of_regions_and_of_noise(monkeypatch):
    from chemmap.metrics import stability

    rng = np.random.default_rng(1)
    regions = np.zeros((40, 40), int)
    regions[:, 20:] = 1
    regions[5, 5] = -1  # masked
    assert spatial_coherence(regions)["kappa"] > 0.9 and spatial_coherence(regions)["random_clusters"] == []
    noise = rng.integers(0, 3, (40, 40))
    assert spatial_coherence(noise)["random_clusters"] == [0, 1, 2]
    whole = [spatial_coherence(regions), spatial_coherence(noise)]
    monkeypatch.setattr(stability, "PAIRS_PIECE", 130)  # bands of 3 rows: pairs across the bands still counted
    assert [spatial_coherence(regions), spatial_coherence(noise)] == whole


@pytest.mark.parametrize(("separation", "stable"), [(8.0, True), (0.0, False)])
def test_stability_separates_real_clusters_from_noise(separation, stable):
    rng = np.random.default_rng(2)
    features = rng.normal(size=(2000, 5))
    features[1000:, 0] += separation
    labels = (np.arange(2000) >= 1000).astype(int)
    if not stable:
        labels = (features[:, 1] > 0).astype(int)  # a split of noise along one direction
    result = clustering_stability(features, labels, 2, "kmeans", random_state=0)
    assert result["stable"] is stable


def test_a_spatial_step_that_changed_many_labels_is_flagged(tmp_path, demo_csv):
    from chemmap.report.flags import red_flags
    from chemmap.workflows.config import read_config_file

    _run(demo_csv, tmp_path / "f", "--label-column", "region")
    metrics = json.loads((tmp_path / "f" / "metrics.json").read_text())
    config = read_config_file(tmp_path / "f" / "config.resolved.toml")
    assert not any("spatial step changed" in f for f in red_flags(metrics, config))
    metrics["clustering"]["cleanup"] = {"n_pixels_changed": 200}  # of 900 pixels
    assert any("spatial step changed 200 labels (22 %" in f for f in red_flags(metrics, config))


def test_a_k_chosen_at_the_end_of_the_search_is_read_as_a_lower_bound(tmp_path, demo_csv):
    from chemmap.report.flags import red_flags
    from chemmap.workflows.config import read_config_file

    _run(demo_csv, tmp_path / "k", "--clusters", "auto", "--method", "kmeans")
    metrics = json.loads((tmp_path / "k" / "metrics.json").read_text())
    config = read_config_file(tmp_path / "k" / "config.resolved.toml")
    cl = metrics["clustering"]
    assert cl["k"] == 2 and cl["k_selection"]["k_values"] == list(range(2, 9))
    assert not any("largest k searched" in f for f in red_flags(metrics, config))
    # BIC on a real Raman map chose 8 of 2-8, and 15 of 2-16
    cl["k"] = 8
    (flag,) = [f for f in red_flags(metrics, config) if "largest k searched" in f]
    assert "(2-8)" in flag and "--k-range 2,16" in flag
    # where the pixels cut the range short, a wider range cannot help
    cl["k"], cl["k_selection"]["k_values"] = 4, [2, 3, 4]
    (flag,) = [f for f in red_flags(metrics, config) if "k = 4 is the most clusters" in f]
    assert "at least 4" in flag


def test_pixels_the_preprocessing_masks_are_counted_as_such(tmp_path, demo_csv):
    """Empty pixels (a spectrum of zeros, most of a sparse EDS map) cannot be scaled by SNV:
    the report counts them as masked by the preprocessing, not as missing or NaN."""
    table = pd.read_csv(demo_csv)
    spectra = [c for c in table.columns if c[0].isdigit()]
    table.loc[:99, spectra] = 0.0
    table.to_csv(tmp_path / "empty.csv", index=False)
    report, _ = _run(tmp_path / "empty.csv", tmp_path / "e", "--normalize", "snv")
    assert "Invalid pixels: 100 (missing rows 0, NaN/Inf 0, masked by the preprocessing 100)" in report
    assert "100 of 900 pixels are masked and left blank in every map (11 %); 100 of them by the preprocessing" in report
    report, _ = _run(tmp_path / "empty.csv", tmp_path / "f")
    assert "pixels are masked" not in report  # without SNV, a spectrum of zeros is a pixel like another


def test_a_variance_fraction_that_takes_most_components_is_flagged_as_features_in_noise(tmp_path, demo_csv):
    kmeans = ("--method", "kmeans")
    report, clustering = _run(demo_csv, tmp_path / "g", *kmeans, "--crop", "1000", "1300", "--n-components", "0.99")
    assert "Features in noise: 99 % of the variance took" in report
    assert clustering["features"]["n_features"] > 20
    report, clustering = _run(demo_csv, tmp_path / "h", *kmeans, "--n-components", "0.9")
    assert "Features in noise" not in report and clustering["features"]["n_features"] <= 20
