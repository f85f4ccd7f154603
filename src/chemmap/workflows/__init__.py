"""The workflows, one module per user task: mapping (``run``: ``mapping``, its analysis and its
component maps), ``peaks``, ``autoencoder``, ``quantify``; each declares its parameters once,
runs in one :mod:`~chemmap.workflows.session` and writes atomically (``staging``); ``config``
holds the sections shared by all."""

from chemmap.workflows.config import SECTIONS, load_config, validate_config
from chemmap.workflows.mapping import OUTPUT_FILES, run, run_cube
from chemmap.workflows.mapping_analysis import RunResult

__all__ = ["OUTPUT_FILES", "SECTIONS", "RunResult", "load_config", "run", "run_cube", "validate_config"]
