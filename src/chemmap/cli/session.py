"""The session options every workflow command takes the same way."""

from __future__ import annotations

import sys

__all__ = ["session_options"]


def session_options(args, run: dict | None = None):
    """The session every workflow command runs in: its scale flags (or, from a config, the
    resolved ``[run]`` table ``run``), progress bar and command."""
    from chemmap.cli.flags import given_params
    from chemmap.cli.progress import make_progress
    from chemmap.workflows.config import SESSION_PARAMS
    from chemmap.workflows.session import SessionOptions

    run = given_params(args, SESSION_PARAMS) if run is None else run
    return SessionOptions(**run, progress=make_progress(args.quiet), command=["chemmap", *sys.argv[1:]])
