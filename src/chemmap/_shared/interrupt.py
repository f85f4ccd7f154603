"""Interrupts that always end a run in one line: Ctrl-C (SIGINT) and SIGTERM unwind the run as
:class:`KeyboardInterrupt`, are remembered where library code or a finaliser swallowed them
(a finaliser's is not printed as "Exception ignored"), and wait while the finished outputs are
moved into place (so a folder is never half moved)."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator

__all__ = ["Terminated", "check_interrupted", "interrupts_deferred", "interrupts_end_the_run"]


class Terminated(KeyboardInterrupt):
    """SIGTERM (a job scheduler's or ``kill``'s stop), unwound as an interrupt is."""


_seen: list[int] = []  # the signals received while the handlers were installed
_deferred = [0]  # > 0 while an interrupt must wait (see interrupts_deferred)


def _interrupt(signum: int) -> KeyboardInterrupt:
    return Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


def _stop(signum, frame) -> None:
    _seen.append(signum)
    if not _deferred[0]:
        raise _interrupt(signum)


@contextlib.contextmanager
def interrupts_end_the_run(*, then_ignore: bool = False) -> Iterator[None]:
    """While the block runs, SIGINT and SIGTERM raise :class:`KeyboardInterrupt` (SIGTERM as
    :class:`Terminated`) and are remembered for :func:`check_interrupted`. Only the main
    thread can set handlers; elsewhere the signals keep their actions.

    Parameters
    ----------
    then_ignore : bool
        After the block, ignore the two signals instead of restoring their handlers: for the
        program itself, whose interpreter takes a moment to shut down after the run has
        ended, when an interrupt could only kill a finished run without a word.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _seen.clear()
    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    unraisable = sys.unraisablehook

    def quiet(info) -> None:  # an interrupt raised in a finaliser: remembered, raised later, not printed
        if not isinstance(info.exc_value, KeyboardInterrupt):
            unraisable(info)

    sys.unraisablehook = quiet
    try:
        yield
    finally:
        sys.unraisablehook = unraisable
        for sig, handler in previous.items():
            signal.signal(sig, signal.SIG_IGN if then_ignore else handler)
        _seen.clear()  # what the block did not raise ends with it


def check_interrupted() -> None:
    """Raise the interrupt received earlier if it did not end the run (it came while
    :func:`interrupts_deferred` held it, or code that catches everything swallowed it)."""
    if _seen:
        raise _interrupt(_seen[-1])


@contextlib.contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Hold interrupts until the block has finished (they are raised by the next
    :func:`check_interrupted`): for steps that must not stop half done."""
    _deferred[0] += 1
    try:
        yield
    finally:
        _deferred[0] -= 1
