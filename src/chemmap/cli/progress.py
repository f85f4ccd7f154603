"""A progress bar per stage on a terminal; silent otherwise or with ``--quiet``."""

from __future__ import annotations

import sys

__all__ = ["make_progress"]


def make_progress(quiet: bool):
    """Return a ``progress(stage, done, total)`` callback, or None when silenced. Notes
    (``total == 0``) are printed as lines above the bars."""
    if quiet or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    bars: dict[str, tqdm] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if total == 0:
            tqdm.write(f"chemmap: {stage}", file=sys.stderr)
            return
        bar = bars.get(stage)
        if bar is None:
            bar = bars[stage] = tqdm(total=total, desc=stage, unit="step", leave=False, file=sys.stderr)
        bar.n = done
        bar.refresh()
        if done >= total:
            bar.close()

    return progress
