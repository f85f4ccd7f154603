"""The session every workflow runs in (compute settings, warnings, timer) and what it writes
beside the outputs: the run record (versions, timings, command) and the resolved config."""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata
import json
import platform
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

import numpy as np

__all__ = [
    "Session",
    "SessionOptions",
    "Timer",
    "open_session",
    "toml_clean",
    "versions",
    "write_resolved_config",
    "write_run_record",
]

_PACKAGES = ("chemmap", "numpy", "scipy", "scikit-learn", "pandas", "h5py", "matplotlib")


def versions() -> dict[str, str]:
    """Versions of Python and of the packages a run depends on (looked up once per process:
    every report page and run record asks)."""
    return dict(_installed_versions())


@functools.cache
def _installed_versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in _PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def peak_rss() -> int | None:
    """The largest resident memory of this process so far, in bytes (None where the
    platform does not say).

    On Linux, the high-water mark of this program's own memory (``VmHWM``): ``getrusage``'s
    ``ru_maxrss`` keeps, across ``exec``, the resident memory of the process that started
    this one (a large Python session that runs ``chemmap`` as a subprocess would lend it its
    own size).
    """
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024  # kB
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)  # Linux gives KiB


class Timer:
    """Wall-clock seconds per named stage. A stage inside another counts once: the outer
    stage records its own time without the inner one's, so the stages add up to the run.

    ``peak_rss`` holds the process's peak resident memory (bytes) when each stage ended: the
    first stage whose value reaches the run's peak is where the memory went.
    """

    def __init__(self) -> None:
        self.started = datetime.now(UTC).isoformat(timespec="seconds")
        self.seconds: dict[str, float] = {}
        self.peak_rss: dict[str, int] = {}
        self._inner: list[float] = []  # seconds spent in inner stages, per open stage

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        self._inner.append(0.0)
        try:
            yield
        finally:
            elapsed = time.perf_counter() - t0
            inner = self._inner.pop()
            if self._inner:
                self._inner[-1] += elapsed
            self.seconds[name] = round(self.seconds.get(name, 0.0) + elapsed - inner, 4)
            peak = peak_rss()
            if peak is not None:
                self.peak_rss[name] = peak

    def to_dict(self) -> dict:
        return {
            "started_utc": self.started,
            "finished_utc": datetime.now(UTC).isoformat(timespec="seconds"),
            "seconds": self.seconds,
            "total_seconds": round(sum(self.seconds.values()), 4),
            "peak_rss_bytes_after": self.peak_rss,
        }


@dataclass(frozen=True)
class SessionOptions:
    """How a workflow runs, the same for every workflow.

    Attributes
    ----------
    memory_limit : str or int, optional
        Working-set bound, e.g. ``"2GiB"`` (default: half the free memory).
    scheduler : str, optional
        ``threads`` (default), ``processes``, ``synchronous`` or a Dask scheduler address.
    cluster : str, optional
        ``"local:N"``: a Dask LocalCluster of N worker processes.
    progress : callable, optional
        ``progress(stage, done, total)``.
    command : list of str, optional
        The command recorded in ``run_record.json`` (default ``sys.argv``).
    overwrite : bool
        Replace the files of an earlier run in the output folder (or an existing output
        file); without it such an output is refused. Not part of the ``[run]`` table: a
        config says what to compute, not what to replace.
    """

    memory_limit: str | int | None = None
    scheduler: str | None = None
    cluster: str | None = None
    progress: Callable | None = None
    command: list[str] | None = None
    overwrite: bool = False

    #: The options a config gives in its ``[run]`` table.
    IN_RUN_TABLE: ClassVar[tuple[str, ...]] = ("memory_limit", "scheduler", "cluster")

    def run_table(self) -> dict:
        """The ``[run]`` table of a config that runs with these options."""
        return {name: getattr(self, name) for name in self.IN_RUN_TABLE}

    @classmethod
    def from_run_table(cls, run: Mapping, **others) -> SessionOptions:
        """The options of a resolved ``[run]`` table (its other entries, e.g. ``random_state``,
        are not the session's), with ``others`` (progress, command, overwrite)."""
        return cls(**{name: run[name] for name in cls.IN_RUN_TABLE}, **others)


class Session:
    """One workflow run: its options, its timer and the chemmap warnings raised so far."""

    def __init__(self, options: SessionOptions, caught: list) -> None:
        self.options, self.timer, self._caught = options, Timer(), caught
        #: The staging folder of the output, where a workflow streams arrays too large to keep.
        self.workspace: Path | None = None
        #: The ``[input]`` table of the run (``path``, ``format``, reader options).
        self.input: dict = {}

    @property
    def progress(self) -> Callable | None:
        return self.options.progress

    @property
    def command(self) -> list[str] | None:
        return self.options.command

    def warnings(self) -> list[str]:
        """The distinct messages of the chemmap warnings raised in this session so far."""
        from chemmap.core.exceptions import ChemmapWarning

        return list(dict.fromkeys(str(w.message) for w in self._caught if issubclass(w.category, ChemmapWarning)))

    def write_record(self, stage: Path, *, source: str, **extra) -> None:
        """``run_record.json`` in ``stage`` (see :func:`write_run_record`)."""
        write_run_record(stage, command=self.command, timer=self.timer, source=source, **extra)


@contextlib.contextmanager
def open_session(options: SessionOptions | None = None) -> Iterator[Session]:
    """The compute settings of one workflow run (threads by default), recording chemmap's
    warnings, with a timer for its stages."""
    from chemmap._shared.compute import compute_settings
    from chemmap.core.exceptions import ChemmapWarning

    options = options or SessionOptions()
    with (
        warnings.catch_warnings(record=True) as caught,
        compute_settings(options.scheduler or "threads", memory_limit=options.memory_limit, cluster=options.cluster),
    ):
        warnings.simplefilter("always", ChemmapWarning)
        yield Session(options, caught)


def write_run_record(stage: Path, *, command, timer: Timer, source: str, **extra) -> None:
    """``run_record.json`` in ``stage``: command, versions, timings, input, the files beside
    it, the compute settings, and ``extra`` entries."""
    from chemmap._shared.atomic import write_text_atomic
    from chemmap._shared.compute import active_settings
    from chemmap.report.metrics_json import to_json_safe
    from chemmap.workflows.staging import RUN_RECORD

    record = {
        "command": command if command is not None else sys.argv,
        "versions": versions(),
        "timings": timer.to_dict(),
        "input": source,
        **extra,
        "outputs": [*sorted(p.name for p in stage.iterdir()), RUN_RECORD],
        "compute": active_settings().to_dict(),
    }
    write_text_atomic(stage / RUN_RECORD, json.dumps(to_json_safe(record), indent=2))


def write_resolved_config(stage: Path, config: dict) -> None:
    """``config.resolved.toml`` in ``stage``: every setting of the run, so that
    ``chemmap COMMAND config.resolved.toml --out DIR`` runs it again."""
    import tomli_w

    from chemmap._shared.atomic import write_text_atomic

    write_text_atomic(stage / "config.resolved.toml", tomli_w.dumps(toml_clean(config)))


def toml_clean(value):
    """Drop None (TOML has no null), make tuples lists and NumPy scalars Python's."""
    if isinstance(value, dict):
        return {k: toml_clean(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [toml_clean(v) for v in value if v is not None]
    if isinstance(value, np.generic):
        return value.item()
    return value
