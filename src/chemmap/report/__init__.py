"""Reports of a run: ``metrics.json``, ``report.md`` and the figures."""

from chemmap.report.figures import write_figures
from chemmap.report.flags import red_flags
from chemmap.report.markdown import render_markdown
from chemmap.report.metrics_json import write_metrics_json

__all__ = ["red_flags", "render_markdown", "write_figures", "write_metrics_json"]
