"""Imports started early, in a background thread, so that their time hides behind reading."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterable

__all__ = ["import_in_background"]


def import_in_background(modules: Iterable[str]) -> threading.Thread | None:
    """Start importing ``modules`` (dotted names) in a daemon thread; ``None`` when there are none.

    SciPy, scikit-learn and Matplotlib take about a second to import on a small machine;
    reading a cube mostly waits on the disk, on decompression and on checksums, which release
    the GIL. A workflow names the modules its computation and figures will need
    (:attr:`~chemmap.workflows.shape.Workflow.imports`) and they are imported while it reads.
    Python's per-module import locks make the main thread wait for a module the thread is
    still importing, never import it twice. A module that fails here is left alone: the code
    that needs it imports it again and reports the error where it is used.
    """
    names = list(modules)
    if not names:
        return None

    def run() -> None:
        for name in names:
            try:
                importlib.import_module(name)
            except Exception:  # reported by the import that needs it
                continue

    thread = threading.Thread(target=run, name="chemmap-imports", daemon=True)
    thread.start()
    return thread
