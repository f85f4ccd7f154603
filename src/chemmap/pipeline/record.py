"""The run record: versions, timings, command and environment, written next to outputs."""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import platform
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["Timer", "versions", "workflow_session", "write_run_record"]

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


@contextlib.contextmanager
def workflow_session(scheduler: str | None, memory_limit, cluster: str | None) -> Iterator[Callable[[], list[str]]]:
    """The compute settings of one workflow run (threads by default), recording chemmap's
    warnings; yields a function that returns their distinct messages so far."""
    from chemmap._shared.compute import compute_settings
    from chemmap.core.exceptions import ChemmapWarning

    with (
        warnings.catch_warnings(record=True) as caught,
        compute_settings(scheduler or "threads", memory_limit=memory_limit, cluster=cluster),
    ):
        warnings.simplefilter("always", ChemmapWarning)
        yield lambda: list(dict.fromkeys(str(w.message) for w in caught if issubclass(w.category, ChemmapWarning)))


def write_run_record(stage: Path, *, command, timer: Timer, source: str, **extra) -> None:
    """``run_record.json`` in ``stage``: command, versions, timings, input, the files beside
    it, the compute settings, and ``extra`` entries."""
    from chemmap._shared.atomic import write_text_atomic
    from chemmap._shared.compute import active_settings
    from chemmap.report.metrics_json import to_json_safe

    record = {
        "command": command if command is not None else sys.argv,
        "versions": versions(),
        "timings": timer.to_dict(),
        "input": source,
        **extra,
        "outputs": [*sorted(p.name for p in stage.iterdir()), "run_record.json"],
        "compute": active_settings().to_dict(),
    }
    write_text_atomic(stage / "run_record.json", json.dumps(to_json_safe(record), indent=2))
