"""Running a benchmark case in a fresh process, so its wall time and peak memory are its own."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time

#: Started by the benchmark, it starts the case and writes the case's peak RSS (KiB) to the
#: file named first. Linux keeps a process's ``ru_maxrss`` across ``exec``, and a process
#: forked from the benchmark starts at the benchmark's resident size; a process forked from
#: this small launcher starts near zero, so the case's figure is its own.
LAUNCHER = (
    "import os, subprocess, sys\n"
    "process = subprocess.Popen(sys.argv[2:])\n"
    "_, status, usage = os.wait4(process.pid, 0)\n"
    "open(sys.argv[1], 'w').write(str(usage.ru_maxrss))\n"
    "code = os.waitstatus_to_exitcode(status)\n"
    "os.kill(os.getpid(), -code) if code < 0 else sys.exit(code)\n"
)


def timed_child(command: list[str], *, check: bool = True) -> dict:
    """Run ``command``: its wall ``seconds``, its own peak RSS (``peak_rss`` in bytes and
    ``peak_rss_gib``, from ``wait4`` on that process through :data:`LAUNCHER`, not the largest
    of all children so far nor the benchmark's own size), its ``stdout``, ``stderr`` and
    ``exit_code``; exits with its output when it fails and ``check`` is on."""
    with (
        tempfile.TemporaryFile("w+") as out,
        tempfile.TemporaryFile("w+") as err,
        tempfile.NamedTemporaryFile("r") as rss,
    ):
        started = time.perf_counter()
        launched = [sys.executable, "-c", LAUNCHER, rss.name, *command]
        process = subprocess.Popen(launched, stdout=out, stderr=err, text=True)
        code = process.wait()
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
        peak_kib = int(rss.read() or 0)
    if check and code != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{stdout[-2000:]}\n{stderr[-3000:]}")
    peak = peak_kib * 1024
    return {
        "seconds": seconds,
        "peak_rss": peak,
        "peak_rss_gib": peak / 2**30,
        "stdout": stdout,
        "stderr": stderr,
        "exit_code": code,
    }
