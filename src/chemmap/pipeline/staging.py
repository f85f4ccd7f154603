"""An output folder that only ever receives complete files: everything is written into a
hidden staging folder beside it and moved into place when the run has succeeded."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["staged_output"]


@contextlib.contextmanager
def staged_output(out_dir: str | os.PathLike) -> Iterator[Path]:
    """Yield a staging folder; on success move its files into ``out_dir``.

    On any exception the staging folder is deleted and ``out_dir`` is left as it was (a
    failed run leaves no partial files there). Files are moved with ``os.replace``, which
    is atomic per file on one file system.
    """
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.staging-", dir=out_dir.parent))
    try:
        yield staging
        out_dir.mkdir(parents=True, exist_ok=True)
        for item in sorted(staging.iterdir()):
            target = out_dir / item.name
            if target.is_dir() and not item.is_dir():
                raise IsADirectoryError(f"{target} is a folder; cannot replace it with a file.")
            if item.is_dir() and target.exists():
                shutil.rmtree(target)
            os.replace(item, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
