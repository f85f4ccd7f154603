"""Jobs shared among forked processes (a run's figures): every job runs once, failures come
back to the caller, and a run's figures are the same drawn in one process or several."""

from __future__ import annotations

import os
import sys
import time
from functools import partial

import numpy as np
import pytest

from chemmap._shared.forked import run_forked

forks = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="jobs are shared by forking only on Linux")


def _note_pid(path, *, after: float = 0.0) -> None:
    time.sleep(after)
    path.write_text(str(os.getpid()))


def _fail(exc: BaseException) -> None:
    raise exc


class _Unpicklable(Exception):
    def __reduce__(self):
        raise TypeError("not picklable")


@forks
def test_every_job_runs_once_and_the_work_is_shared(tmp_path):
    paths = [tmp_path / f"job{i}.txt" for i in range(9)]
    run_forked([partial(_note_pid, p, after=0.1) for p in paths], processes=3)
    pids = {int(p.read_text()) for p in paths}
    assert os.getpid() in pids and len(pids) > 1
    assert int(paths[0].read_text()) == os.getpid()  # the first job runs in the caller


def _pid_and_block(i: int, size: int):
    time.sleep(0.02)
    return os.getpid(), np.full(size, i, dtype=np.float64)


@forks
def test_what_the_jobs_return_comes_back_in_their_order():
    """Results come back from the copies (here each larger than a pipe's buffer), in the
    order of the jobs, whichever process ran them."""
    results = run_forked([partial(_pid_and_block, i, 20_000 * (i % 3)) for i in range(8)], processes=2)
    assert len({pid for pid, _ in results}) == 2
    for i, (_, block) in enumerate(results):
        assert block.shape == (20_000 * (i % 3),) and np.all(block == i)


def _threads_used(_) -> tuple[int, int]:
    """This process and the threads its share of eight blocks ran on."""
    import threading

    from chemmap._shared.blockwise import in_threads

    def block(rows):
        time.sleep(0.02)
        return threading.get_ident()

    return os.getpid(), len(set(in_threads(block, [slice(i, i + 1) for i in range(8)])))


@forks
def test_a_forked_copy_is_one_worker_and_shares_no_work_among_threads():
    """The copies run on a core each: work that the run shares among threads runs in a
    copy's own thread (threads there only competed for the same cores)."""
    from chemmap._shared.compute import compute_settings
    from chemmap._shared.forked import usable_cores

    with compute_settings("threads"):
        results = run_forked([partial(_threads_used, i) for i in range(4)], processes=2)
    here = [threads for pid, threads in results if pid == os.getpid()]
    copies = [threads for pid, threads in results if pid != os.getpid()]
    assert copies and all(threads == 1 for threads in copies)
    if usable_cores() > 1:
        assert max(here) > 1  # the run's own process still shares it


def test_one_process_runs_the_jobs_here_in_order(tmp_path):
    done = []
    run_forked([partial(done.append, i) for i in range(5)], processes=1)
    assert done == [0, 1, 2, 3, 4]


@forks
def test_a_forked_jobs_error_is_raised_in_the_caller(tmp_path):
    paths = [tmp_path / f"job{i}.txt" for i in range(3)]
    # this process's own first job takes long, so the copy reaches the failing job first
    jobs = [partial(time.sleep, 0.5), partial(_fail, ValueError("the second figure could not be drawn"))]
    jobs += [partial(_note_pid, p) for p in paths]
    with pytest.raises(ValueError, match="the second figure could not be drawn"):
        run_forked(jobs, processes=2)
    assert all(p.exists() for p in paths)  # this process took the rest


@forks
def test_an_error_that_does_not_pickle_comes_back_as_text():
    jobs = [partial(time.sleep, 0.5), partial(_fail, _Unpicklable("odd"))]
    with pytest.raises(RuntimeError, match="(?s)a forked job failed:.*_Unpicklable: odd"):
        run_forked(jobs, processes=2)


@forks
def test_the_callers_error_stops_the_copies(tmp_path):
    late = tmp_path / "late.txt"

    def slow_then_write() -> None:
        time.sleep(2.0)
        late.write_text("written")

    with pytest.raises(KeyError, match="broken"):
        run_forked([partial(_fail, KeyError("broken")), slow_then_write], processes=2)
    assert not late.exists()  # stopped, not waited for
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)  # and reaped


@forks
def test_a_runs_figures_are_the_same_drawn_by_one_process_or_several(tmp_path, monkeypatch):
    import chemmap._shared.forked as forked
    from chemmap.datasets import make_demo_cube
    from chemmap.workflows.mapping import run_cube

    cube = make_demo_cube(random_state=1)
    outputs = {}
    for processes in (1, 3):
        monkeypatch.setattr(forked, "usable_cores", lambda processes=processes: processes)
        out = tmp_path / f"p{processes}"
        run_cube(cube, {"clustering": {"k": 2}, "maps": {"intensity": [1655], "ratio": ["1655/1742"]}}, out)
        outputs[processes] = out
    pngs = sorted(p.name for p in outputs[1].glob("*.png"))
    assert pngs == sorted(p.name for p in outputs[3].glob("*.png")) and len(pngs) >= 4
    for name in pngs:
        assert (outputs[1] / name).read_bytes() == (outputs[3] / name).read_bytes(), name
    np.testing.assert_array_equal(
        np.load(outputs[1] / "cluster_labels.npy"), np.load(outputs[3] / "cluster_labels.npy")
    )
