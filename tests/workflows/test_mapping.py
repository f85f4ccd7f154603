import json

import numpy as np
import pytest
import tomli_w

from chemmap.core.exceptions import AxisError, ConfigError
from chemmap.io import write
from chemmap.workflows import OUTPUT_FILES, run, run_cube, validate_config


def _config(path, **sections):
    config = {
        "input": {"path": str(path), "image_shape": [30, 30], "label_column": "region"},
        "maps": {"intensity": [1655.0], "ratio": [[1655.0, 1742.0]]},
        "clustering": {"k": 2},
    }
    for key, value in sections.items():
        config.setdefault(key, {}).update(value)
    return config


def test_run_writes_every_output_and_meets_demo_targets(tmp_path, demo_csv):
    result = run(_config(demo_csv), tmp_path / "out")
    for name in OUTPUT_FILES:
        assert (tmp_path / "out" / name).stat().st_size > 0, name
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    cl = metrics["clustering"]
    assert cl["ari"] >= 0.98 and cl["silhouette"] >= 0.60
    assert cl["pixel_accuracy"] >= 0.99 and cl["mean_iou"] >= 0.97
    assert cl["silhouette_sample_size"] == 900
    assert cl["confusion_matrix"]["classes"] == ["left", "right"]
    assert metrics["maps"]["ratio_1655_1742"]["n_low_denominator"] == 450
    assert metrics["grades"]["ari"] == "excellent"
    labels = np.load(tmp_path / "out" / "cluster_labels.npy")
    assert labels.shape == (30, 30) and set(np.unique(labels)) == {0, 1}
    assert len(set(labels[:, :15].ravel())) == 1 and len(set(labels[:, 15:].ravel())) == 1
    maps = np.load(tmp_path / "out" / "maps.npz")
    expected = {"intensity_1655", "ratio_1655_1742", "ratio_1655_1742_bound", "cluster_uncertainty"}
    assert set(maps.files) == expected | {f"cluster_probability_{j}" for j in range(2)}
    assert np.allclose(maps["cluster_probability_0"] + maps["cluster_probability_1"], 1.0)
    report = (tmp_path / "out" / "report.md").read_text()
    for heading in ("## Data", "## Parameters and why", "## Metrics", "## Interpretation", "## Warnings"):
        assert heading in report
    assert "higher intensity at 1450" in report  # the left cluster's own band is named
    assert "k = 2 was set by hand" in report and "Ratio bounds: in 450 pixels" in report
    record = json.loads((tmp_path / "out" / "run_record.json").read_text())
    assert record["versions"]["numpy"] and record["timings"]["seconds"]["cluster"] >= 0
    assert result.metrics["clustering"]["k"] == 2


def test_resolved_config_reproduces_the_run(tmp_path, demo_csv):
    import tomllib

    run(_config(demo_csv, clustering={"k": "auto"}), tmp_path / "a")
    resolved = tomllib.loads((tmp_path / "a" / "config.resolved.toml").read_text())
    assert resolved["clustering"]["k"] == "auto" and resolved["maps"]["window"] > 0
    run(resolved, tmp_path / "b")
    np.testing.assert_array_equal(
        np.load(tmp_path / "a" / "cluster_labels.npy"), np.load(tmp_path / "b" / "cluster_labels.npy")
    )
    auto = json.loads((tmp_path / "a" / "metrics.json").read_text())["clustering"]
    assert auto["k"] == 2 and auto["k_chosen_by"] == "silhouette"


def test_failed_run_leaves_no_partial_files(tmp_path, demo_csv):
    out = tmp_path / "out"
    with pytest.raises(AxisError, match="outside the spectral axis"):
        run(_config(demo_csv, maps={"intensity": [2500.0]}), out)
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == []
    (out).mkdir()
    (out / "keep.txt").write_text("user file")
    with pytest.raises(AxisError):
        run(_config(demo_csv, maps={"intensity": [2500.0]}), out)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_nan_pixels_are_masked_counted_blank_and_run_completes(tmp_path, demo_cube):
    data = np.array(demo_cube.data)
    data[3, 4, 10] = np.nan
    data[20, 25, :] = np.inf
    path = tmp_path / "nan.h5"
    write(demo_cube.replace(data=data), path)
    result = run(_config(path, input={"label_column": None}), tmp_path / "out")
    assert result.metrics["n_invalid_pixels"] == 2
    labels = np.load(tmp_path / "out" / "cluster_labels.npy")
    assert labels[3, 4] == -1 and labels[20, 25] == -1
    maps = np.load(tmp_path / "out" / "maps.npz")
    assert np.isnan(maps["intensity_1655"][3, 4])
    assert result.metrics["clustering"]["ari"] > 0.98  # labels came from the HDF5 file


def test_config_is_validated_field_by_field_before_reading(tmp_path):
    garbage = tmp_path / "data.csv"
    garbage.write_text("not,a,table\n")
    with pytest.raises(
        ConfigError, match=r"\[clustering\] got unknown parameter\(s\) 'clusters'. Valid parameters are: method, k"
    ):
        validate_config({"input": {"path": str(garbage)}, "clustering": {"clusters": 3}})
    with pytest.raises(
        ConfigError,
        match="'method' parameter of \\[clustering\\] must be one of 'gmm', 'hierarchical', 'kmeans', "
        "'spectral-spatial'. Got 'dbscan'",
    ):
        validate_config({"input": {"path": str(garbage)}, "clustering": {"method": "dbscan"}})
    with pytest.raises(ConfigError, match="Unknown config section\\(s\\) 'output'"):
        validate_config({"input": {"path": str(garbage)}, "output": {}})
    with pytest.raises(ConfigError, match="image_shape' parameter of \\[input\\] must be two positive integers"):
        validate_config({"input": {"path": str(garbage), "image_shape": [30]}})


def test_same_chain_through_api_config_and_cli(tmp_path, demo_csv, demo_cube):
    from chemmap.cli import main
    from chemmap.io import read
    from chemmap.preprocessing import Chain

    steps = [
        {"step": "crop", "lower": 1300.0, "upper": 1800.0},
        {"step": "baseline", "method": "asls"},
        {"step": "normalize", "method": "snv"},
    ]
    api = Chain(steps).fit_transform(read(demo_csv, image_shape=(30, 30)))
    config = _config(demo_csv)
    config["preprocessing"] = steps
    (tmp_path / "c.toml").write_text(tomli_w.dumps(config))
    assert main(["run", str(tmp_path / "c.toml"), "--out", str(tmp_path / "cfg"), "--quiet"]) == 0
    assert (
        main(
            [
                "run",
                str(demo_csv),
                "--image-shape",
                "30",
                "30",
                "--crop",
                "1300",
                "1800",
                "--baseline",
                "asls",
                "--normalize",
                "snv",
                "--clusters",
                "2",
                "--intensity",
                "1655",
                "--ratio",
                "1655/1742",
                "--label-column",
                "region",
                "--out",
                str(tmp_path / "cli"),
                "--quiet",
            ]
        )
        == 0
    )
    from_cfg = run_cube(api, {"clustering": {"k": 2}, "maps": config["maps"]})
    np.testing.assert_array_equal(np.load(tmp_path / "cfg" / "cluster_labels.npy"), from_cfg.label_image)
    np.testing.assert_array_equal(np.load(tmp_path / "cli" / "cluster_labels.npy"), from_cfg.label_image)
    for folder in ("cfg", "cli"):
        maps = np.load(tmp_path / folder / "maps.npz")
        np.testing.assert_allclose(maps["intensity_1655"], from_cfg.maps["intensity_1655"], rtol=1e-6)


@pytest.mark.parametrize("n_channels", [4, 40])
def test_automatic_bands_keep_their_window_on_the_axis_and_never_divide_a_band_by_itself(n_channels):
    from chemmap.core.axis import SpectralAxis
    from chemmap.core.cube import Cube

    rng = np.random.default_rng(0)
    x = np.linspace(400.0, 400.0 + 10 * (n_channels - 1), n_channels)
    ramp = np.linspace(0.2, 1.0, n_channels)  # strongest at the last channel, like a reflectance edge
    data = np.broadcast_to(ramp, (12, 12, n_channels)).copy()
    data[:, 6:] *= np.linspace(1.5, 0.5, n_channels)  # the two halves differ most at the axis ends
    cube = Cube((data + rng.normal(scale=0.01, size=data.shape)).astype(np.float32), SpectralAxis(x, "nm"))
    result = run_cube(cube, {"clustering": {"k": 2}})
    assert not any("extends beyond the axis" in w for w in result.warnings), result.warnings
    choices = result.config["maps"]
    window = choices["window"]
    for at in choices["intensity"] + [band for pair in choices["ratio"] for band in pair]:
        assert x[0] <= at - window / 2 and at + window / 2 <= x[-1]
    for numerator, denominator in choices["ratio"]:
        assert abs(numerator - denominator) > window
    if n_channels == 40:
        assert choices["ratio"]


def test_automatic_k_draws_the_criterion_curves(tmp_path, demo_csv):
    from chemmap.cli.main import main

    out = tmp_path / "auto"
    assert main(["run", str(demo_csv), "--image-shape", "30", "30", "--out", str(out), "--quiet"]) == 0
    assert (out / "k_selection.png").stat().st_size > 0 and "k_selection.png" in (out / "report.md").read_text()
    chosen = tmp_path / "fixed"
    assert (
        main(["run", str(demo_csv), "--image-shape", "30", "30", "--clusters", "2", "--out", str(chosen), "--quiet"])
        == 0
    )
    assert not (chosen / "k_selection.png").exists()  # no curves when k was set by hand


def test_one_spectrum_is_refused_with_the_command_that_reads_one(tmp_path):
    from chemmap.core.exceptions import ShapeError

    path = tmp_path / "spot.npz"
    np.savez(path, cube=np.linspace(1, 2, 50, dtype=np.float32).reshape(1, 1, 50), axis=np.arange(50.0))
    with pytest.raises(ShapeError, match=r"spot.npz holds one spectrum, not an image.*chemmap peaks"):
        run({"input": {"path": str(path)}}, tmp_path / "o")
    assert not (tmp_path / "o").exists()


def _tiled_cube(spectra_by_row):
    from chemmap.core.axis import SpectralAxis
    from chemmap.core.cube import Cube

    data = np.repeat(np.asarray(spectra_by_row, dtype=np.float32)[:, None, :], 10, axis=1)
    return Cube(data, SpectralAxis(np.linspace(1000.0, 1500.0, data.shape[-1]), "cm-1"))


@pytest.mark.parametrize("method", ["hierarchical", "kmeans", "spectral-spatial"])
def test_identical_spectra_are_refused_not_split(method):
    from chemmap.core.exceptions import ShapeError

    spectrum = np.linspace(1.0, 2.0, 40) + np.sin(np.arange(40.0))
    cube = _tiled_cube([spectrum] * 10)
    with pytest.raises(ShapeError, match="All 100 valid pixels hold the same spectrum, so there is nothing to segment"):
        run_cube(cube, {"clustering": {"method": method, "k": 2}})
    # spectra that differ only in brightness are the same after an L2 normalisation
    scaled = _tiled_cube([spectrum * (1 + row) for row in range(10)])
    with pytest.raises(ShapeError, match="the same spectrum after preprocessing"):
        run_cube(
            scaled, {"clustering": {"method": method, "k": 2}, "preprocessing": [{"step": "normalize", "method": "l2"}]}
        )


def test_pixels_without_any_signal_are_refused_as_zeros():
    from chemmap.core.exceptions import ShapeError

    with pytest.raises(ShapeError, match="All 100 valid pixels hold a spectrum of zeros"):
        run_cube(_tiled_cube([np.zeros(40)] * 10), {"clustering": {"method": "kmeans", "k": 2}})


def test_two_noiseless_materials_are_segmented_not_refused():
    a, b = np.linspace(1.0, 2.0, 40), np.linspace(2.0, 1.0, 40)
    cube = _tiled_cube([a] * 5 + [b] * 5)
    result = run_cube(cube, {"clustering": {"method": "kmeans", "k": 2}})
    labels = result.label_image
    assert len(np.unique(labels[:5])) == 1 and len(np.unique(labels[5:])) == 1 and labels[0, 0] != labels[9, 0]
