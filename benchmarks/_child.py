"""Running a benchmark case in a fresh process, so its wall time and peak memory are its own."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time


def timed_child(command: list[str], *, check: bool = True) -> dict:
    """Run ``command``: its wall ``seconds``, its own peak RSS (``peak_rss`` in bytes and
    ``peak_rss_gib``, from ``wait4`` on that process, not the largest of all children so far),
    its ``stdout``, ``stderr`` and ``exit_code``; exits with its output when it fails and
    ``check`` is on."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    code = os.waitstatus_to_exitcode(status)
    if check and code != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{stdout[-2000:]}\n{stderr[-3000:]}")
    peak = usage.ru_maxrss * 1024
    return {
        "seconds": seconds,
        "peak_rss": peak,
        "peak_rss_gib": peak / 2**30,
        "stdout": stdout,
        "stderr": stderr,
        "exit_code": code,
    }
