"""The workflows, one module per user task: mapping (``run``: ``mapping``, its analysis and its
component maps), ``peaks``, ``autoencoder``, ``quantify``; each declares its parameters once,
runs in one :mod:`~chemmap.workflows.session` and writes atomically (``staging``); ``config``
holds the sections shared by all."""

from chemmap._shared.lazy import lazy_attributes

_WHERE = {
    "SECTIONS": "chemmap.workflows.config",
    "load_config": "chemmap.workflows.config",
    "validate_config": "chemmap.workflows.config",
    "OUTPUT_FILES": "chemmap.workflows.mapping",
    "run": "chemmap.workflows.mapping",
    "run_cube": "chemmap.workflows.mapping",
    "RunResult": "chemmap.workflows.mapping_result",
}
__all__ = sorted(_WHERE)
__getattr__, __dir__ = lazy_attributes(__name__, _WHERE)
