"""Running a benchmark case in a fresh process, so its peak memory is its own."""

from __future__ import annotations

import resource
import subprocess
import time


def timed_child(command: list[str]) -> dict:
    """Run ``command``; its wall time and peak RSS (this process's children only)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    return {"seconds": seconds, "peak_rss_gib": max(peak, before) * 1024 / 2**30, "stdout": done.stdout}
