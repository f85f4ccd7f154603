"""Row-by-row .npy writing: the file equals np.save of the whole array; a short write fails."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from chemmap.workflows.staging import NpyRowWriter


def test_rows_written_in_bands_give_the_same_array(tmp_path):
    data = np.random.default_rng(0).normal(size=(7, 3, 5)).astype(np.float32)
    with NpyRowWriter(tmp_path / "a.npy", data.shape, np.float32) as out:
        for start in range(0, 7, 3):
            out.write(data[start : start + 3])
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), data)
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy", mmap_mode="r")[4], data[4])


def test_a_short_or_misshapen_write_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="2 of 4 rows"), NpyRowWriter(tmp_path / "b.npy", (4, 2), np.int32) as out:
        out.write(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="do not continue"), NpyRowWriter(tmp_path / "c.npy", (4, 2), np.int32) as out:
        out.write(np.zeros((2, 3)))


def test_an_output_folder_holding_a_folder_where_a_file_goes_is_refused_before_anything_moves(tmp_path, demo_csv):
    from chemmap.cli import main

    out = tmp_path / "out"
    (out / "report.html").mkdir(parents=True)
    (out / "notes.txt").write_text("mine")
    assert main(["run", str(demo_csv), "--out", str(out), "--quiet"]) == 2
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt", "report.html"]  # nothing of the run moved in
    assert not list(tmp_path.glob(".out.staging-*"))


def test_an_output_that_is_a_file_is_refused_before_the_run(tmp_path):
    from chemmap.core.exceptions import OutputError
    from chemmap.workflows.staging import staged_output

    (tmp_path / "out").write_text("a file")
    with pytest.raises(OutputError, match="is a file"), staged_output(tmp_path / "out"):
        pytest.fail("the run started")
    assert (tmp_path / "out").read_text() == "a file"


def test_every_output_file_gets_one_mode_that_follows_the_umask(tmp_path, demo_csv):
    import os
    import stat
    import subprocess
    import sys

    out = tmp_path / "out"
    code = (
        "import os, sys; os.umask(0o027); from chemmap.cli import main; "
        f"sys.exit(main(['run', {str(demo_csv)!r}, '--out', {str(out)!r}, '--quiet']))"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
    modes = {p.name: stat.S_IMODE(os.stat(p).st_mode) for p in out.iterdir() if p.is_file()}
    assert {"report.html", "cluster_map.png", "maps.npz", "metrics.json"} <= set(modes)
    assert set(modes.values()) == {0o640}, modes


def test_staging_folders_of_killed_runs_are_removed_and_those_of_live_runs_kept(tmp_path):
    import os
    import socket
    import subprocess
    import sys

    from chemmap.workflows.staging import staged_output

    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = int(finished.stdout)
    host = socket.gethostname()
    killed = tmp_path / f".out.staging-{host}-{dead}-x1"
    alive = tmp_path / f".out.staging-{host}-{os.getppid()}-x2"
    elsewhere = tmp_path / f".out.staging-another-host-{dead}-x3"
    for folder in (killed, alive, elsewhere):
        folder.mkdir()
        (folder / "maps.npz").write_bytes(b"half written")
    with staged_output(tmp_path / "out") as stage:
        (stage / "metrics.json").write_text("{}")
    assert not killed.exists() and alive.exists() and elsewhere.exists()
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["metrics.json"]


def test_sigterm_ends_a_run_in_one_line_and_leaves_no_staging_folder(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    from chemmap.datasets import make_demo_cube
    from chemmap.io import write

    write(make_demo_cube(image_shape=(300, 300)), tmp_path / "big.npz")
    command = [sys.executable, "-m", "chemmap", "run", str(tmp_path / "big.npz"), "--out", str(tmp_path / "out")]
    run = subprocess.Popen([*command, "--baseline", "arpls", "--quiet"], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".out.staging-*")) and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert run.poll() is None, "the run ended before it could be stopped"
    run.send_signal(signal.SIGTERM)
    _, err = run.communicate(timeout=60)
    assert run.returncode == 143
    assert err.strip() == "chemmap: interrupted; no partial outputs were left."
    assert not list(tmp_path.glob(".out.staging-*")) and not (tmp_path / "out").exists()


def test_a_second_run_into_a_folder_counts_only_its_own_files(tmp_path, demo_csv, capsys):
    from chemmap.cli import main

    out = tmp_path / "out"
    out.mkdir()
    (out / "abundances.npy").write_bytes(b"from an earlier run")
    assert main(["run", str(demo_csv), "--out", str(out)]) == 0
    written = len([p for p in out.iterdir() if p.name != "abundances.npy"])
    assert f"wrote {written} files to" in capsys.readouterr().out


def _run(demo_csv, out, *extra) -> int:
    from chemmap.cli import main

    return main(["run", str(demo_csv), "--out", str(out), "--quiet", *extra])


def test_a_second_run_into_a_run_folder_is_refused_and_with_overwrite_replaces_it_as_a_whole(
    tmp_path, demo_csv, capsys
):
    import json

    out = tmp_path / "out"
    assert _run(demo_csv, out, "--unmix", "vca+fcls", "--components", "2") == 0
    first = sorted(p.name for p in out.iterdir())
    assert "abundances.npy" in first
    (out / "my-notes.txt").write_text("mine")
    before = (out / "run_record.json").read_bytes()
    capsys.readouterr()
    assert _run(demo_csv, out) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "holds the results of another chemmap run" in err and "--overwrite" in err
    assert (out / "run_record.json").read_bytes() == before  # refused before the run: nothing touched
    assert _run(demo_csv, out, "--overwrite") == 0
    now = sorted(p.name for p in out.iterdir())
    assert "abundances.npy" not in now and "my-notes.txt" in now  # no file of the first run is left
    outputs = json.loads((out / "run_record.json").read_text())["outputs"]
    assert sorted(outputs) == [n for n in now if n != "my-notes.txt"]
    assert (out / "my-notes.txt").read_text() == "mine"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")]


def test_an_output_named_as_a_file_of_the_users_in_the_folder_is_refused_and_the_file_kept(tmp_path, demo_csv):
    from chemmap.datasets import make_demo_cube
    from chemmap.io import write

    out = tmp_path / "data"
    out.mkdir()
    write(make_demo_cube(), out / "maps.npz")  # the input, named as an output of the run
    kept = (out / "maps.npz").read_bytes()
    assert _run(out / "maps.npz", out, "--overwrite") == 2  # --overwrite never replaces a file no run wrote
    assert (out / "maps.npz").read_bytes() == kept and sorted(p.name for p in out.iterdir()) == ["maps.npz"]


def test_a_run_into_a_folder_another_run_is_writing_to_is_refused(tmp_path, demo_csv, capsys):
    from chemmap.workflows.staging import staged_output

    out = tmp_path / "out"
    with staged_output(out) as stage:  # a run in progress holds the folder's lock
        (stage / "metrics.json").write_text("{}")
        assert _run(demo_csv, out) == 2
        assert "Another chemmap run (process" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["metrics.json"]
    assert _run(demo_csv, out, "--overwrite") == 2  # metrics.json there is no run's: kept, refused
    assert not (tmp_path / ".out.lock").exists()


def test_an_output_folder_on_another_file_system_is_written(tmp_path, demo_csv):
    import os
    import tempfile

    shm = Path("/dev/shm")
    if not shm.is_dir() or os.stat(shm).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("needs /dev/shm on a file system other than the test's temporary folder")
    real = Path(tempfile.mkdtemp(dir=shm))
    try:
        (tmp_path / "out").symlink_to(real)  # a rename from beside the link would fail with EXDEV
        assert _run(demo_csv, tmp_path / "out") == 0
        assert _run(demo_csv, tmp_path / "out", "--overwrite") == 0
        assert {"report.html", "maps.npz", "run_record.json"} <= {p.name for p in real.iterdir()}
        assert not [p for p in real.iterdir() if p.name.startswith(".")]
    finally:
        shutil.rmtree(real, ignore_errors=True)


def test_the_demo_replaces_its_own_earlier_demo(tmp_path):
    from chemmap.workflows.mapping import run_demo

    first = run_demo(tmp_path / "demo").written
    second = run_demo(tmp_path / "demo").written
    assert second == first and sorted(p.name for p in (tmp_path / "demo").iterdir()) == sorted(
        [*first, "demo.csv", "demo.h5"]
    )


def test_a_file_output_is_never_the_input_and_replaces_a_file_only_with_overwrite(tmp_path):
    from chemmap.cli import main
    from chemmap.datasets import make_demo_cube
    from chemmap.io import write

    write(make_demo_cube(), tmp_path / "a.npz")
    kept = (tmp_path / "a.npz").read_bytes()
    assert main(["convert", str(tmp_path / "a.npz"), str(tmp_path / "a.npz"), "--overwrite", "--quiet"]) == 2
    assert (tmp_path / "a.npz").read_bytes() == kept
    (tmp_path / "b.h5").write_text("not mine to replace")
    assert main(["convert", str(tmp_path / "a.npz"), str(tmp_path / "b.h5"), "--quiet"]) == 2
    assert (tmp_path / "b.h5").read_text() == "not mine to replace"
    assert main(["convert", str(tmp_path / "a.npz"), str(tmp_path / "b.h5"), "--overwrite", "--quiet"]) == 0


@pytest.mark.slow
def test_an_interrupt_at_any_moment_of_a_run_ends_it_in_one_line_with_all_or_none_of_its_files(tmp_path, demo_csv):
    import json
    import signal
    import subprocess
    import sys
    import time

    def start(out):
        command = [sys.executable, "-m", "chemmap", "run", str(demo_csv), "--out", str(out), "--quiet"]
        run = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob(f".{out.name}.staging-*")) and run.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.005)
        return run, time.monotonic()

    run, staged = start(tmp_path / "whole")
    assert run.wait(timeout=60) == 0
    span = time.monotonic() - staged  # from the staging folder to the end: computing, then writing
    stopped = 0
    for i, share in enumerate((0.1, 0.3, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 1.0)):
        out = tmp_path / f"out{i}"
        run, staged = start(out)
        time.sleep(max(0.0, staged + share * span - time.monotonic()))
        run.send_signal(signal.SIGINT)
        _, err = run.communicate(timeout=60)
        if run.returncode == 0 and not err:
            continue  # it had finished (the signal came while the interpreter shut down: ignored)
        stopped += 1
        # 130, or ended by the SIGINT itself after the message (a shell shows both as 130): under
        # load, about 1 run in 7 of this test ends so; where that exit comes from is not found yet
        assert run.returncode in (130, -signal.SIGINT), (share, run.returncode, err)
        assert err.strip() == "chemmap: interrupted; no partial outputs were left.", (
            share,
            err,
        )
        assert not list(tmp_path.glob(f".{out.name}.staging-*"))
        if out.exists():  # interrupted while its files were moved in: all of them are there
            assert sorted(p.name for p in out.iterdir()) == sorted(
                json.loads((out / "run_record.json").read_text())["outputs"]
            )
    assert stopped >= 4


def test_an_output_folder_in_a_place_that_cannot_be_written_is_one_clear_line(tmp_path, demo_csv, capsys):
    import os

    if os.geteuid() == 0:
        pytest.skip("root writes anywhere: a read-only folder does not stop it")
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked").chmod(0o555)
    try:
        assert _run(demo_csv, tmp_path / "locked" / "out") == 2
        assert "choose an --out folder in a place you can write to" in capsys.readouterr().err
    finally:
        (tmp_path / "locked").chmod(0o755)


FINALISER = """
import gc, os, signal, sys
from chemmap._shared.interrupt import check_interrupted, interrupts_end_the_run

class Finalised:
    def __del__(self):
        os.kill(os.getpid(), signal.SIGINT)  # the handler raises here, inside the finaliser
        sum(range(1000))

try:
    with interrupts_end_the_run():
        Finalised()
        gc.collect()
        print("went on", flush=True)
        check_interrupted()
except KeyboardInterrupt:
    sys.exit(130)
"""


def test_an_interrupt_raised_in_a_finaliser_is_not_printed_and_still_ends_the_run():
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", FINALISER], capture_output=True, text=True, timeout=60)
    assert done.stdout == "went on\n" and done.returncode == 130
    assert done.stderr == ""  # Python would print "Exception ignored in ..." with a traceback


def test_what_an_interrupt_left_half_built_does_not_print_after_the_one_line(tmp_path):
    import subprocess
    import sys

    script = tmp_path / "interrupted.py"
    script.write_text(
        "import sys\n"
        "import chemmap.cli\n"
        "cli = sys.modules['chemmap.cli.main']\n"
        "class HalfBuilt:\n"
        "    def __del__(self):\n"
        "        raise AttributeError('no attribute expr')\n"
        "kept = []\n"
        "def interrupted(args):\n"
        "    kept.append(HalfBuilt())\n"
        "    raise KeyboardInterrupt\n"
        "cli._run_workflow = interrupted\n"
        "sys.argv = ['chemmap', 'run', 'cube.csv', '--out', 'o']\n"
        "code = cli.main()\n"
        "kept.clear()  # collected after the run, as on the interpreter's exit\n"
        "sys.exit(code)\n"
    )
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 130
    assert run.stderr.strip() == "chemmap: interrupted; no partial outputs were left."
