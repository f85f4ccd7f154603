"""The session options every workflow command takes the same way."""

from __future__ import annotations

import sys

__all__ = ["session_options"]


def session_options(args, run: dict | None = None):
    """The session every workflow command runs in: its scale flags (or, from a config, the
    resolved ``[run]`` table ``run``), progress bar and command."""
    from chemmap.cli.progress import make_progress
    from chemmap.workflows.session import SessionOptions

    if run is None:
        run = {"memory_limit": args.memory_limit, "scheduler": args.scheduler, "cluster": args.cluster}
    return SessionOptions(
        memory_limit=run["memory_limit"],
        scheduler=run["scheduler"],
        cluster=run["cluster"],
        progress=make_progress(args.quiet),
        command=["chemmap", *sys.argv[1:]],
    )
