"""How a run's result shows itself in Jupyter: map thumbnails, the graded metrics, the
warnings and where the files are."""

from __future__ import annotations

import base64
import html

from chemmap.report.markdown import graded_metrics
from chemmap.report.tables import format_value

__all__ = ["MAX_THUMBNAILS", "run_result_html"]

#: Most value maps shown (per-cluster probabilities are left to the files and the report).
MAX_THUMBNAILS = 8


def _figure(png: bytes, caption: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (
        '<figure style="margin:0 .5em .5em 0;display:inline-block;text-align:center">'
        f'<img src="data:image/png;base64,{data}" alt="{html.escape(caption)}" '
        'style="image-rendering:pixelated;width:140px"/>'
        f'<figcaption style="font-size:small">{html.escape(caption)}</figcaption></figure>'
    )


def run_result_html(result) -> str:
    """The ``_repr_html_`` of a mapping run's :class:`~chemmap.workflows.RunResult`."""
    from chemmap.viz.thumbnails import png_thumbnail

    maps = result.maps
    names = [n for n in maps.map_names if not n.startswith("cluster_probability_")][:MAX_THUMBNAILS]
    figures = [_figure(png_thumbnail(result.label_image, categorical=True), "clusters")]
    figures += [_figure(png_thumbnail(maps.data[..., maps.map_names.index(n)]), n) for n in names]
    rows = "".join(
        f"<tr><td>{html.escape(str(name))}</td><td>{html.escape(format_value(value))}</td>"
        f"<td>{html.escape(str(grade or ''))}</td></tr>"
        for name, value, grade in graded_metrics(result.metrics)
    )
    cl = result.metrics["clustering"]
    parts = [
        f"<div class='chemmap-result'><strong>chemmap run</strong>: {html.escape(str(cl['method']))}, k = {cl['k']}",
        f"<div>{''.join(figures)}</div>",
        f"<table><tr><th>metric</th><th>value</th><th>grade</th></tr>{rows}</table>",
    ]
    if result.warnings:
        items = "".join(f"<li>{html.escape(w)}</li>" for w in result.warnings)
        parts.append(f"<details><summary>{len(result.warnings)} warnings</summary><ul>{items}</ul></details>")
    if result.out_dir is not None:
        parts.append(f"<p>Files in <code>{html.escape(str(result.out_dir))}</code> (open report.html).</p>")
    return "".join(parts) + "</div>"
