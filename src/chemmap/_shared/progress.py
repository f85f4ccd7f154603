"""Progress reporting: a callback in the API, a bar on the CLI."""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["ProgressCallback", "notify"]

#: ``callback(stage, done, total)``: ``stage`` names the step, ``done`` of ``total`` units.
ProgressCallback = Callable[[str, int, int], None]


def notify(callback: ProgressCallback | None, stage: str, done: int, total: int) -> None:
    """Call ``callback`` if one was given."""
    if callback is not None:
        callback(stage, done, total)
