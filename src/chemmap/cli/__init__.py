"""The ``chemmap`` command: a thin shell over :mod:`chemmap.workflows` and the public API."""

from chemmap.cli.main import main

__all__ = ["main"]
