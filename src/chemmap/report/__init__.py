"""Reports of a run: ``metrics.json``, ``report.md`` and the figures."""

from chemmap.report.figures import figure_jobs
from chemmap.report.flags import red_flags
from chemmap.report.markdown import render_markdown
from chemmap.report.metrics_json import write_metrics_json

__all__ = ["figure_jobs", "red_flags", "render_markdown", "write_metrics_json"]
