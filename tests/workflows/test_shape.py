"""Every workflow has one shape: settings declared once, ``execute``/``write``/``summary``, run
the same way from Python, a config file and the command line."""

import os
import time
import tomllib
from pathlib import Path

import numpy as np
import pytest

from chemmap.cli import main
from chemmap.core.exceptions import ConfigError
from chemmap.datasets import make_demo_cube
from chemmap.io import read, write
from chemmap.workflows.catalog import WORKFLOWS, workflows
from chemmap.workflows.session import Timer

#: Settings that need a value given (the saved model of ``quantify predict``).
REQUIRED = {"quantify predict": {"model": "model_dir"}, "quantify train": {"model": "pls"}}


@pytest.mark.parametrize("command", list(WORKFLOWS))
def test_every_workflow_declares_its_settings_once_and_they_round_trip(command):
    workflow = workflows()[command]
    assert workflow.command == command and callable(workflow.execute) and callable(workflow.write)
    settings = workflow.settings.from_config({**{key: {} for key in workflow.settings.tables()}, **_given(command)})
    config = {"input": {"path": "x.npz"}, **settings.config_tables()}
    resolved, again = workflow.validate(config, check_input_exists=False)
    assert again == settings and again.config_tables() == settings.config_tables()
    assert set(resolved) >= {"input", "run"}


def _given(command: str) -> dict:
    workflow = workflows()[command]
    given = REQUIRED.get(command)
    return {workflow.settings.SECTION: given} if given else {}


@pytest.mark.parametrize("command", list(WORKFLOWS))
def test_an_unknown_parameter_is_refused_naming_the_table_before_anything_is_read(command, tmp_path):
    workflow = workflows()[command]
    table = next(iter(workflow.settings.tables()))
    config = {"input": {"path": str(tmp_path / "missing.npz")}, table: {"no_such_parameter": 1}}
    with pytest.raises(ConfigError, match="no_such_parameter"):
        workflow.validate(config, check_input_exists=False)


def test_preprocess_and_convert_run_from_a_config_like_the_other_workflows(tmp_path):
    cube = make_demo_cube()
    write(cube, tmp_path / "demo.npz")
    (tmp_path / "c.toml").write_text(
        '[input]\npath = "demo.npz"\n\n[[preprocessing]]\nstep = "crop"\nlower = 1000.0\nupper = 1700.0\n\n'
        '[[preprocessing]]\nstep = "normalize"\nmethod = "snv"\n\n[preprocess]\nsave_chain = "frozen.toml"\n'
    )
    assert main(["preprocess", str(tmp_path / "c.toml"), str(tmp_path / "from_config.npz"), "--quiet"]) == 0
    flags = ["--crop", "1000", "1700", "--normalize", "snv", "--quiet"]
    assert main(["preprocess", str(tmp_path / "demo.npz"), str(tmp_path / "from_flags.npz"), *flags]) == 0
    from_config, from_flags = read(tmp_path / "from_config.npz"), read(tmp_path / "from_flags.npz")
    np.testing.assert_array_equal(from_config.data, from_flags.data)
    assert from_config.axis.values.min() >= 1000 and from_config.n_channels < cube.n_channels
    steps = tomllib.loads((tmp_path / "frozen.toml").read_text())["preprocessing"]  # beside the config
    assert [s["step"] for s in steps] == ["crop", "normalize"]
    (tmp_path / "convert.toml").write_text('[input]\npath = "demo.npz"\n\n[convert]\nto = "hdf5-cube"\n')
    assert main(["convert", str(tmp_path / "convert.toml"), str(tmp_path / "demo.data"), "--quiet"]) == 0
    np.testing.assert_array_equal(read(tmp_path / "demo.data", format="hdf5-cube").data, cube.data)


def test_read_options_given_as_flags_join_those_of_the_config(tmp_path):
    from chemmap.cli.flags import workflow_config
    from chemmap.cli.main import _build_parser
    from chemmap.workflows.peaks import PEAKS

    (tmp_path / "c.toml").write_text('[input]\npath = "x.h5"\n\n[input.options]\ndataset = "cube"\n')
    args = _build_parser().parse_args(["peaks", str(tmp_path / "c.toml"), "--out", "o", "--read-option", "lazy=true"])
    config, _ = workflow_config(args, PEAKS)
    assert config["input"]["options"] == {"dataset": "cube", "lazy": True}


def test_a_stage_inside_another_counts_once():
    timer = Timer()
    with timer.stage("write"):
        time.sleep(0.02)
        with timer.stage("figures"):
            time.sleep(0.05)
    assert timer.seconds["figures"] >= 0.05 and 0.02 <= timer.seconds["write"] < 0.05
    assert timer.to_dict()["total_seconds"] == pytest.approx(sum(timer.seconds.values()))


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads the resident memory from Linux's /proc")
def test_each_stage_records_the_peak_resident_memory_so_far():
    timer = Timer()
    with timer.stage("read"):
        pass
    with timer.stage("cluster"):
        held = np.ones(2**24)  # 128 MiB, touched
        resident = int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    peaks = timer.to_dict()["peak_rss_bytes_after"]
    assert list(peaks) == ["read", "cluster"] and held.sum() == 2**24
    # the kernel updates its peak counter in batches of pages: within 1 % of the resident size
    assert peaks["cluster"] >= peaks["read"] and peaks["cluster"] >= 0.99 * resident


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="VmHWM is Linux's")
def test_the_peak_memory_recorded_is_the_programs_own_not_that_of_the_process_that_started_it():
    import subprocess
    import sys

    held = np.ones(2**26)  # 512 MiB in this process, touched: a large session starting chemmap
    code = "from chemmap.workflows.session import peak_rss; print(peak_rss())"
    child = int(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert held.sum() == 2**26 and child < 256 * 2**20  # ru_maxrss alone would say >= 512 MiB


def test_the_versions_are_looked_up_once_and_each_caller_gets_its_own_copy():
    from chemmap.workflows.session import SessionOptions, versions

    first = versions()
    first["numpy"] = "changed by a caller"
    assert versions()["numpy"] != "changed by a caller" and versions() == versions()
    options = SessionOptions.from_run_table(
        {"memory_limit": "1GiB", "scheduler": "threads", "cluster": None, "random_state": 3}
    )
    assert options.run_table() == {"memory_limit": "1GiB", "scheduler": "threads", "cluster": None}
