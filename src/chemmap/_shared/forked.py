"""Independent jobs shared among forked copies of this process: a run's figures are drawn by
as many processes as it may use cores, since matplotlib draws in one thread and holds the
interpreter's lock while it does.

A forked copy sees the parent's arrays without copying them (the pages are shared until one
side writes), so nothing is pickled on the way in; what the jobs return, or an exception,
comes back pickled. Where the
platform cannot fork safely (Windows, macOS) or one core is all there is, the jobs run here,
one after another.
"""

from __future__ import annotations

import os
import pickle
import signal
import struct
import sys
import traceback
from collections.abc import Callable, Sequence

__all__ = ["MIN_SHARED_WORK", "run_forked", "shared_processes", "usable_cores"]


def usable_cores() -> int:
    """The cores this process may run on (its affinity; the CPU count where that is unknown)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


#: True in a forked copy: it is one of the run's workers, so work that would be shared
#: among threads (:func:`chemmap._shared.blockwise.in_threads`) runs in it alone.
in_forked_copy = False


def _can_fork() -> bool:
    return sys.platform.startswith("linux") and hasattr(os, "fork")


def run_forked(jobs: Sequence[Callable[[], object]], *, processes: int | None = None) -> list:
    """Run every job once: this process the first, then each process, this one and up to
    ``processes - 1`` forked copies, takes the next job not yet taken until none is left.

    Parameters
    ----------
    jobs : sequence of callables without arguments
        Independent work. What a job changes in memory (a warning recorded included) is lost
        when it ran in a copy; what it returns comes back (pickled), so it should be small.
        Shared among processes, each runs its jobs with one BLAS thread and without threads
        of :func:`~chemmap._shared.blockwise.in_threads`: a process is one worker.
        A job that reads a lazy (Dask) array must be the first: a copy has no scheduler
        threads.
    processes : int, optional
        Processes in all, this one included. Default: :func:`usable_cores`.

    Returns
    -------
    list
        What each job returned, in the order of ``jobs``.

    Raises
    ------
    Exception
        This process's exception, or else the first copy's (in the order they were forked);
        a copy's exception that cannot be sent back is raised as a RuntimeError carrying its
        traceback. When this process fails, the copies are stopped.
    """
    n = max(1, min(len(jobs), usable_cores() if processes is None else processes))
    if n == 1 or len(jobs) > MAX_JOBS or not _can_fork():
        return [job() for job in jobs]
    queue, end = os.pipe()  # the numbers of the jobs not yet taken, read by whichever process is free
    os.write(end, b"".join(struct.pack("<I", i) for i in range(1, len(jobs))))
    os.close(end)
    for stream in (sys.stdout, sys.stderr):  # a copy must not print the parent's buffered text again
        stream.flush()
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # each process sharing the jobs is one worker; the copies inherit it
        copies = [_fork(jobs, queue) for _ in range(n - 1)]
        try:
            results = {0: jobs[0]()}
            results.update(_take_jobs(jobs, queue))
        except BaseException:
            for pid, reader in copies:
                os.kill(pid, signal.SIGKILL)
                _collect(pid, reader)
            raise
        finally:
            os.close(queue)
    failures = []
    for pid, reader in copies:
        outcome = _collect(pid, reader)
        if isinstance(outcome, BaseException):
            failures.append(outcome)
        else:
            results.update(outcome)
    if failures:
        raise failures[0]
    return [results[i] for i in range(len(jobs))]


#: Smallest work (feature values times clusters, of a fit repeated with other seeds) shared
#: among threads or processes: below it starting them costs more than they save (the 30 x 30
#: demo's ten mixture restarts took 0.06 s in two processes, 0.03 s here).
MIN_SHARED_WORK = 2**17


def shared_processes(work: int) -> int:
    """Processes (or threads) to share repeated fits among: the cores the run may use, or
    this one alone where the run's scheduler is synchronous or the work (feature values x
    classes) is under :data:`MIN_SHARED_WORK`."""
    from chemmap._shared.compute import active_settings

    settings = active_settings()
    if settings.scheduler == "synchronous" or work < MIN_SHARED_WORK:
        return 1
    return min(settings.n_workers, usable_cores())


#: Most jobs shared among processes: their numbers must fit in the queue's pipe at once.
MAX_JOBS = 4096


def _take_jobs(jobs: Sequence[Callable[[], object]], queue: int) -> dict:
    """Run the jobs whose numbers this process reads from ``queue`` until it is empty (a read
    of four bytes from a pipe is never split between two readers); what each returned, by
    number."""
    results = {}
    while number := os.read(queue, 4):
        i = struct.unpack("<I", number)[0]
        results[i] = jobs[i]()
    return results


def _fork(jobs: Sequence[Callable[[], object]], queue: int) -> tuple[int, int]:
    """Fork a copy that takes jobs from ``queue``, sends back what they returned (or its
    failure) and exits; its pid and the pipe the message comes back on."""
    reader, writer = os.pipe()
    pid = os.fork()
    if pid:
        os.close(writer)
        return pid, reader
    os.close(reader)
    global in_forked_copy
    in_forked_copy = True
    status = 0
    try:
        message = pickle.dumps(_take_jobs(jobs, queue))
    except BaseException as exc:  # everything goes back to the parent
        status = 1
        try:
            message = pickle.dumps(exc)
        except Exception:  # an exception that does not pickle goes back as text
            text = "".join(traceback.format_exception(exc))
            message = pickle.dumps(RuntimeError(f"a forked job failed:\n{text}"))
    try:
        with os.fdopen(writer, "wb") as pipe:
            pipe.write(message)
    finally:
        os._exit(status)


def _collect(pid: int, reader: int) -> dict | BaseException:
    """Wait for a copy; what its jobs returned, by number, or the exception it ended with."""
    with os.fdopen(reader, "rb") as pipe:
        message = pipe.read()
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    try:
        outcome = pickle.loads(message) if message else None
    except Exception as exc:
        return RuntimeError(f"a forked job's result or error could not be read back: {exc}")
    if code != 0 and not isinstance(outcome, BaseException):
        return RuntimeError(f"a forked job ended with status {code} and no error")
    return outcome
