"""The run record: versions, timings, command and environment, written next to outputs."""

from __future__ import annotations

import contextlib
import importlib.metadata
import platform
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime

__all__ = ["Timer", "versions"]

_PACKAGES = ("chemmap", "numpy", "scipy", "scikit-learn", "pandas", "h5py", "matplotlib")


def versions() -> dict[str, str]:
    """Versions of Python and of the packages a run depends on."""
    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in _PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


class Timer:
    """Wall-clock seconds per named stage."""

    def __init__(self) -> None:
        self.started = datetime.now(UTC).isoformat(timespec="seconds")
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(self.seconds.get(name, 0.0) + time.perf_counter() - t0, 4)

    def to_dict(self) -> dict:
        return {
            "started_utc": self.started,
            "finished_utc": datetime.now(UTC).isoformat(timespec="seconds"),
            "seconds": self.seconds,
            "total_seconds": round(sum(self.seconds.values()), 4),
        }
