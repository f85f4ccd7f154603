"""The workflows, one module per user task, each a :class:`~chemmap.workflows.shape.Workflow`
of one shape (settings declared once, ``execute``, ``write``, ``summary``): mapping (``run``:
``mapping``, its analysis, components and result), ``peaks``, ``autoencoder``, ``quantify``
(compare, train, predict), ``preprocess`` (preprocess, convert). ``catalog`` lists them (the
CLI is made from it); all run in one :mod:`~chemmap.workflows.session`, write atomically
(``staging``) and share the config tables of ``config``."""

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
