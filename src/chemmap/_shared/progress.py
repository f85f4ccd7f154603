"""Progress reporting: a callback in the API, a bar on the CLI."""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["ProgressCallback", "format_duration", "note", "notify", "progress_bars", "with_time_estimate"]

#: ``callback(stage, done, total)``: ``stage`` names the step, ``done`` of ``total`` units;
#: ``total == 0`` carries a one-line note in ``stage`` (an estimate, a choice made).
ProgressCallback = Callable[[str, int, int], None]


def notify(callback: ProgressCallback | None, stage: str, done: int, total: int) -> None:
    """Call ``callback`` if one was given."""
    if callback is not None:
        callback(stage, done, total)


def note(callback: ProgressCallback | None, text: str) -> None:
    """Pass a one-line note to ``callback`` (``total == 0``)."""
    notify(callback, text, 0, 0)


def format_duration(seconds: float) -> str:
    """``"40 s"``, ``"12 min"``, ``"17.3 h"``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def with_time_estimate(
    callback: ProgressCallback | None, what: str, epochs: int, runs: int = 1
) -> ProgressCallback | None:
    """``callback``, which also gets a note after the first epoch: how long that epoch took
    here and the longest the whole training (``runs`` x ``epochs``) can take."""
    if callback is None:
        return None
    started = time.perf_counter()
    told = False

    def progress(stage: str, done: int, total: int) -> None:
        nonlocal told
        if not told and total and done == 1:
            told = True
            first = time.perf_counter() - started
            runs_text = f"{runs} x " if runs > 1 else ""
            note(
                callback,
                f"{what}: the first epoch took {format_duration(first)} here, so {runs_text}{epochs} epochs take up "
                f"to {format_duration(first * epochs * runs)} (early stopping may end it sooner)",
            )
        callback(stage, done, total)

    return progress


def in_notebook() -> bool:
    """True inside a Jupyter kernel (IPython's kernel app is running)."""
    import sys

    shell = sys.modules.get("IPython")
    get = getattr(shell, "get_ipython", None)
    return get is not None and get() is not None and hasattr(get(), "kernel")


def progress_bars(quiet: bool = False) -> ProgressCallback | None:
    """A progress bar per stage (tqdm): in a Jupyter notebook (widgets where ipywidgets is
    installed, text otherwise), or on standard error when it is a terminal; None when
    ``quiet`` or neither, so that no progress hook costs anything there. Notes
    (``total == 0``) are printed as lines above the bars.

    Examples
    --------
    >>> result = chemmap.run(config, "out", progress=chemmap.progress_bars())  # doctest: +SKIP
    """
    import sys

    notebook = in_notebook()
    if quiet or not (notebook or sys.stderr.isatty()):
        return None
    if notebook:
        from tqdm.auto import tqdm
    else:
        from tqdm import tqdm

    bars: dict[str, tqdm] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if total == 0:
            tqdm.write(f"chemmap: {stage}", file=sys.stderr)
            return
        bar = bars.get(stage)
        if bar is None:
            bar = bars[stage] = tqdm(total=total, desc=stage, unit="step", leave=notebook, file=sys.stderr)
        bar.n = done
        bar.refresh()
        if done >= total:
            bar.close()

    return progress
