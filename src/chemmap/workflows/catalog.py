"""Every workflow by its command: the CLI is made from this list and the declarations of the
workflows it names."""

from __future__ import annotations

import importlib

from chemmap.workflows.shape import Workflow

__all__ = ["GROUPS", "WORKFLOWS", "workflows"]

#: ``command: "module:attribute"`` of each :class:`~chemmap.workflows.shape.Workflow`.
WORKFLOWS = {
    "run": "chemmap.workflows.mapping:MAPPING",
    "preprocess": "chemmap.workflows.preprocess:PREPROCESS",
    "peaks": "chemmap.workflows.peaks:PEAKS",
    "autoencoder": "chemmap.workflows.autoencoder:AUTOENCODER",
    "quantify compare": "chemmap.workflows.quantify:COMPARE",
    "quantify train": "chemmap.workflows.quantify:TRAIN",
    "quantify predict": "chemmap.workflows.quantify:PREDICT",
    "convert": "chemmap.workflows.preprocess:CONVERT",
    "denoise": "chemmap.workflows.denoise:DENOISE",
}
#: One line on each command that groups workflows (``chemmap quantify ACTION``).
GROUPS = {"quantify": "maps of a quantity (e.g. fat %) learned from one reference value per sample"}


def workflows() -> dict[str, Workflow]:
    """The workflows of :data:`WORKFLOWS`, by command."""
    found = {}
    for command, where in WORKFLOWS.items():
        module, _, name = where.partition(":")
        found[command] = getattr(importlib.import_module(module), name)
    return found
