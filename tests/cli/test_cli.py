import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from chemmap.cli import main


@pytest.fixture(scope="module")
def rows_csv(tmp_path_factory, demo_cube):
    """The demo as a flat CSV without pixel_x/pixel_y: rows are row-major, image_shape needed."""
    path = tmp_path_factory.mktemp("rows") / "rows.csv"
    frame = pd.DataFrame(np.asarray(demo_cube.pixels()), columns=[repr(float(v)) for v in demo_cube.axis.values])
    frame.insert(0, "region", np.repeat([["left"] * 15 + ["right"] * 15], 30, axis=0).ravel())
    frame.to_csv(path, index=False)
    return path


def _err(capsys, argv):
    code = main(argv)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.err.strip()


def test_demo_command_writes_data_and_outputs(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "demo"), "--quiet"]) == 0
    names = {p.name for p in (tmp_path / "demo").iterdir()}
    assert {"demo.csv", "demo.h5", "report.md", "metrics.json", "cluster_map.png"} <= names
    assert "ARI=1.000" in capsys.readouterr().out


def test_info_describes_a_file(tmp_path, demo_csv, capsys):
    assert main(["info", str(demo_csv), "--image-shape", "30", "30", "--label-column", "region", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["image_shape"] == [30, 30] and info["axis"]["unit"] == "cm-1"
    assert info["labels"]["pixels_per_class"] == {"left": 450, "right": 450}
    assert main(["info", str(demo_csv), "--image-shape", "30", "30"]) == 0
    assert "600 .. 1800 cm-1" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("make", "extra", "message"),
    [
        (lambda p, c: c, ["--image-shape", "31", "30"], "gives 930 pixels but rows.csv has 900 spectra"),
        (
            lambda p, c: ((p / "e.csv").write_text("") and p / "e.csv") or p / "e.csv",
            ["--image-shape", "1", "1"],
            "is empty",
        ),
        (lambda p, c: c, ["--image-shape", "30", "30", "--intensity", "2500"], "outside the spectral axis"),
        (lambda p, c: c, ["--image-shape", "30", "30", "--ratio", "1655/400"], "denominator=400 cm-1 is outside"),
        (lambda p, c: p / "missing.csv", ["--image-shape", "30", "30"], "does not exist"),
        (
            lambda p, c: c,
            ["--image-shape", "30", "30", "--method", "dbscan"],
            "must be one of 'gmm', 'hierarchical', 'kmeans', 'spectral-spatial'. Got 'dbscan'",
        ),
        (
            lambda p, c: c,
            ["--image-shape", "30", "30", "--normalize", "zscore"],
            "must be one of 'snv', 'msc', 'emsc', 'l1', 'l2', 'area', 'max', 'band'. Got 'zscore'",
        ),
        (lambda p, c: c, ["--image-shape", "30", "30", "--format", "spc-galactic"], "Unknown reader 'spc-galactic'"),
    ],
)
def test_bad_inputs_give_one_line_and_exit_2(tmp_path, rows_csv, capsys, make, extra, message):
    path = make(tmp_path, rows_csv)
    code, err = _err(capsys, ["run", str(path), "--out", str(tmp_path / "out"), "--quiet", *extra])
    assert code == 2
    assert err.startswith("chemmap: error:") and message in err and err.count("\n") == 0
    assert not (tmp_path / "out").exists()


def test_non_numeric_and_duplicate_axis_errors(tmp_path, capsys):
    frame = pd.DataFrame({"600": [1.0, 2.0], "700": ["x", 1.0]})
    frame.to_csv(tmp_path / "text.csv", index=False)
    code, err = _err(
        capsys, ["run", str(tmp_path / "text.csv"), "--image-shape", "1", "2", "--out", str(tmp_path / "o")]
    )
    assert code == 2 and "column '700', data row 1 holds 'x', which is not a number" in err
    (tmp_path / "dup.csv").write_text("600,700,600.0\n1,2,3\n4,5,6\n")
    code, err = _err(
        capsys, ["run", str(tmp_path / "dup.csv"), "--image-shape", "1", "2", "--out", str(tmp_path / "o")]
    )
    assert code == 2 and "duplicated values (600)" in err


def test_reversed_axis_is_sorted_with_a_warning(tmp_path, demo_cube, capsys):
    frame = pd.DataFrame(
        np.asarray(demo_cube.pixels())[:, ::-1], columns=[repr(float(v)) for v in demo_cube.axis.values[::-1]]
    )
    frame.to_csv(tmp_path / "rev.csv", index=False)
    assert (
        main(
            [
                "run",
                str(tmp_path / "rev.csv"),
                "--image-shape",
                "30",
                "30",
                "--clusters",
                "2",
                "--out",
                str(tmp_path / "o"),
                "--quiet",
            ]
        )
        == 0
    )
    assert "warning: The spectral axis of rev.csv is in decreasing order" in capsys.readouterr().err


def test_usage_error_exit_code_and_debug_traceback(tmp_path, rows_csv):
    bad = subprocess.run(
        [sys.executable, "-m", "chemmap", "run", str(rows_csv), "--clusters", "many", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert (
        bad.returncode == 2
        and "'k' parameter of [clustering] must be an int >= 1 or 'auto'. Got 'many' instead. (the --clusters flag: "
        in bad.stderr
    )
    plain = subprocess.run(
        [sys.executable, "-m", "chemmap", "run", str(rows_csv), "--out", str(tmp_path / "x")],
        capture_output=True,
        text=True,
    )
    assert plain.returncode == 2 and "Traceback" not in plain.stderr and "Possible (height, width)" in plain.stderr
    debug = subprocess.run(
        [sys.executable, "-m", "chemmap", "run", str(rows_csv), "--out", str(tmp_path / "x"), "--debug"],
        capture_output=True,
        text=True,
    )
    assert debug.returncode != 0 and "Traceback" in debug.stderr and "ShapeError" in debug.stderr


def test_ratio_features_from_the_command_line(tmp_path, demo_csv, capsys):
    """``--features ratios`` takes the pairs of ``--ratio``; the resolved config records them."""
    out = tmp_path / "run"
    argv = ["run", str(demo_csv), "--image-shape", "30", "30", "--label-column", "region", "--out", str(out)]
    ratios = ["--features", "ratios", "--ratio", "1655/1742", "--clusters", "2", "--quiet"]
    assert main([*argv, *ratios]) == 2  # the default method makes its own features
    assert "--method kmeans" in capsys.readouterr().err
    assert main([*argv, *ratios, "--method", "kmeans"]) == 0
    assert "ratios = [" in (out / "config.resolved.toml").read_text()
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["clustering"]["features"]["kind"] == "ratios"
    assert metrics["clustering"]["pixel_accuracy"] > 0.9  # the 1655/1742 ratio separates the demo's two regions
    no_pairs = ["--features", "ratios", "--method", "kmeans", "--out", str(tmp_path / "x")]
    code = main(["run", str(demo_csv), "--image-shape", "30", "30", *no_pairs])
    assert code == 2 and "--ratio A/B" in capsys.readouterr().err


def test_ratio_contrast_and_noise_level_from_the_command_line(tmp_path, demo_csv):
    out = tmp_path / "run"
    argv = ["run", str(demo_csv), "--image-shape", "30", "30", "--ratio", "1655/1742", "--out", str(out), "--quiet"]
    assert main([*argv, "--ratio-mode", "difference", "--ratio-min-snr", "3", "--clusters", "2"]) == 0
    resolved = (out / "config.resolved.toml").read_text()
    assert 'ratio_mode = "difference"' in resolved and "noise_threshold = 3.0" in resolved
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["maps"]["normdiff_1655_1742"]["n_undefined"] == 0
    assert "normdiff_1655_1742" in np.load(out / "maps.npz").files


@pytest.mark.parametrize(
    "command",
    [
        ["run", "x.csv", "--out", "o"],
        ["preprocess", "x.csv", "y.zarr"],
        ["peaks", "x.csv", "--out", "o"],
        ["autoencoder", "x.csv", "--out", "o"],
        ["quantify", "compare", "m.csv", "--out", "o"],
        ["quantify", "train", "m.csv", "--model", "pls", "--out", "o"],
        ["quantify", "predict", "model", "x.csv", "--out", "o"],
        ["convert", "x.csv", "y.zarr"],
    ],
    ids=lambda c: " ".join(c[:2]),
)
def test_every_workflow_command_takes_the_scale_and_input_flags_the_same_way(command):
    from chemmap.cli.flags import workflow_config
    from chemmap.cli.main import _build_parser
    from chemmap.workflows.catalog import workflows

    scale = ["--memory-limit", "1GiB", "--scheduler", "processes", "--image-shape", "3", "4", "--read-option", "a=1"]
    args = _build_parser().parse_args([*command, *scale, "--quiet"])
    config, _ = workflow_config(args, workflows()[args.workflow])
    assert config["run"] == {"memory_limit": "1GiB", "scheduler": "processes"}
    assert config["input"]["image_shape"] == ["3", "4"] and config["input"]["options"] == ["a=1"]


def _subparser(parser, command: str):
    for word in command.split():
        parser = parser._subparsers._group_actions[0].choices[word]
    return parser


def test_every_declared_parameter_of_every_workflow_has_a_flag():
    """Adding a parameter to a workflow's declaration gives its command the flag."""
    from chemmap.cli.main import _build_parser
    from chemmap.workflows.catalog import workflows
    from chemmap.workflows.config import workflow_tables

    parser = _build_parser()
    for command, workflow in workflows().items():
        sub = _subparser(parser, command)
        flags = {s for action in sub._actions for s in action.option_strings}
        for table, params in workflow_tables(workflow.settings).items():
            for name, param in params.items():
                if name in workflow.positionals or (table, name) == ("input", "path"):
                    continue
                flag = "--" + (param.flag or name.replace("_", "-"))
                assert flag in flags or "--no-" + flag[2:] in flags, (command, table, name)


def test_run_flags_win_over_the_config_and_the_rest_of_the_config_stays(tmp_path):
    from chemmap.cli.flags import workflow_config
    from chemmap.cli.main import _build_parser
    from chemmap.workflows.config import validate_config
    from chemmap.workflows.mapping import MAPPING

    (tmp_path / "c.toml").write_text('[input]\npath = "x.npz"\n[clustering]\nk = 3\nn_init = 4\n')
    argv = ["run", str(tmp_path / "c.toml"), "--out", "o", "--clusters", "5", "--band-mode", "area"]
    argv += ["--ratio", "1655/1742", "--ratio", "1450/1300", "--mcr-closure", "--unmix", "mcr", "--seed", "7"]
    argv += ["--crop", "900", "1800", "--normalize", "snv"]
    config, _ = workflow_config(_build_parser().parse_args(argv), MAPPING)
    resolved = validate_config(config, base_dir=tmp_path, check_input_exists=False)
    assert resolved["clustering"]["k"] == 5 and resolved["clustering"]["n_init"] == 4  # the flag wins, the rest stays
    assert resolved["maps"]["mode"] == "area" and resolved["maps"]["ratio"] == [[1655.0, 1742.0], [1450.0, 1300.0]]
    assert resolved["unmixing"]["closure"] is True and resolved["unmixing"]["method"] == "mcr"
    assert resolved["run"]["random_state"] == 7
    assert [step["step"] for step in resolved["preprocessing"]] == ["crop", "normalize"]
    assert resolved["preprocessing"][0]["lower"] == 900.0


def test_the_parser_is_made_without_the_heavy_libraries():
    """``chemmap --help`` builds every flag from the declarations without importing
    scikit-learn, pandas, Dask, matplotlib or torch (it took 1.2 s when it did)."""
    code = (
        "import sys; from chemmap.cli.main import _build_parser; _build_parser(); "
        "print([m for m in ('torch', 'matplotlib', 'dask', 'sklearn', 'pandas') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_mapping_run_of_a_table_imports_neither_scikit_learn_scipy_stats_pandas_nor_dask(tmp_path):
    """chemmap's estimators have scikit-learn's interface without its import (0.5-1 s with
    SciPy's statistics, which it imports): a default run, k chosen by every criterion,
    spectral-spatial clusters, its metrics and figures, needs neither; nor does a plain CSV
    need pandas (0.2 s), nor a cube in memory Dask (0.06 s)."""
    demo = tmp_path / "demo"
    subprocess.run([sys.executable, "-m", "chemmap", "demo", "--out", str(demo), "--quiet"], check=True)
    code = (
        "import sys; from chemmap.cli.main import main; "
        f"main(['run', {str(demo / 'demo.csv')!r}, '--out', {str(tmp_path / 'out')!r}, '--quiet']); "
        "print([m for m in ('sklearn', 'scipy.stats', 'pandas', 'dask') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"
    assert (tmp_path / "out" / "k_selection.png").exists()  # the gap statistic's k-means ran


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["run"],
        ["peaks"],
        ["autoencoder"],
        ["quantify", "compare"],
        ["quantify", "train"],
        ["quantify", "predict"],
        ["info"],
        ["convert"],
        ["preprocess"],
        ["demo"],
    ],
    ids=lambda c: " ".join(c) or "chemmap",
)
def test_every_command_prints_its_help(command, capsys):
    with pytest.raises(SystemExit) as done:
        main([*command, "--help"])
    assert done.value.code == 0 and "--help" in capsys.readouterr().out
