"""How a Cube shows itself in Jupyter: a table of what it holds and its mean spectrum drawn
as inline SVG (no plotting library: the repr must be cheap and work without matplotlib)."""

from __future__ import annotations

import html

import numpy as np

__all__ = ["MEAN_SPECTRUM_PIXELS", "cube_html", "spectrum_svg"]

#: Most pixels the mean spectrum is averaged over (an even stride through the image).
MEAN_SPECTRUM_PIXELS = 10_000
_WIDTH, _HEIGHT, _PAD = 260, 90, 4


def spectrum_svg(x: np.ndarray, y: np.ndarray, *, label: str = "") -> str:
    """An inline SVG polyline of ``y`` against ``x`` (non-finite values skipped), with the
    axis ends written under it."""
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = np.asarray(x, float)[keep], np.asarray(y, float)[keep]
    if x.size < 2:
        return "<em>no finite values to draw</em>"
    sx = (x - x.min()) / (np.ptp(x) or 1.0) * (_WIDTH - 2 * _PAD) + _PAD
    sy = _HEIGHT - _PAD - (y - y.min()) / (np.ptp(y) or 1.0) * (_HEIGHT - 2 * _PAD)
    points = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(sx, sy, strict=True))
    return (
        f'<svg width="{_WIDTH}" height="{_HEIGHT + 14}" role="img" aria-label="{html.escape(label)}">'
        f'<polyline fill="none" stroke="#1f77b4" stroke-width="1.2" points="{points}"/>'
        f'<text x="{_PAD}" y="{_HEIGHT + 12}" font-size="10">{x.min():g}</text>'
        f'<text x="{_WIDTH - _PAD}" y="{_HEIGHT + 12}" font-size="10" text-anchor="end">{x.max():g}</text>'
        "</svg>"
    )


def _mean_spectrum(cube) -> np.ndarray:
    pixels = cube.pixels()[cube.valid_pixels()]
    stride = max(1, pixels.shape[0] // MEAN_SPECTRUM_PIXELS)
    return np.nanmean(np.asarray(pixels[::stride], dtype=np.float64), axis=0) if pixels.shape[0] else None


def cube_html(cube) -> str:
    """The Cube's ``_repr_html_``: shape, axis range and unit, dtype, mask and label counts,
    lazy or not, and the mean spectrum (not computed for a lazy Cube)."""
    h, w = cube.image_shape
    axis = cube.axis
    if axis.names is not None:
        axis_text = f"{len(axis)} named maps: {', '.join(axis.names[:8])}{' ...' if len(axis) > 8 else ''}"
    else:
        axis_text = f"{axis.start:g} – {axis.stop:g} {axis.unit}, {len(axis)} channels"
    rows = [
        ("pixels", f"{h} x {w} ({cube.n_pixels:,})"),
        ("spectral axis", axis_text),
        ("dtype", str(cube.dtype)),
        ("data", "lazy (Dask; computed block by block when a step needs it)" if cube.is_lazy else "in memory"),
        (
            "mask",
            "none (every pixel)"
            if cube.mask is None
            else f"{int(cube.mask.sum()):,} of {cube.n_pixels:,} pixels in the sample",
        ),
    ]
    if cube.labels is not None:
        counts = {
            int(v): int(n) for v, n in zip(*np.unique(cube.labels[cube.labels >= 0], return_counts=True), strict=True)
        }
        names = ", ".join(f"{cube.label_names.get(v, v)}: {n:,}" for v, n in list(counts.items())[:10])
        rows.append(("labels", f"{len(counts)} classes ({names}{' ...' if len(counts) > 10 else ''})"))
    if cube.attrs.get("source"):
        rows.append(("source", str(cube.attrs["source"])))
    if cube.history:
        rows.append(("history", " → ".join(str(step.get("step", "?")) for step in cube.history)))
    table = "".join(
        f'<tr><th style="text-align:left">{html.escape(k)}</th><td style="text-align:left">{html.escape(v)}</td></tr>'
        for k, v in rows
    )
    if cube.is_lazy:
        figure = "<em>mean spectrum not computed for a lazy cube (cube.to_numpy() loads it)</em>"
    elif axis.names is not None:
        figure = ""
    else:
        mean = _mean_spectrum(cube)
        figure = "" if mean is None else spectrum_svg(axis.values, mean, label="mean spectrum")
    return (
        f'<div class="chemmap-cube"><strong>chemmap Cube</strong>'
        f'<div style="display:flex;gap:1em;align-items:flex-start"><table>{table}</table>'
        f"<div>{figure}</div></div></div>"
    )
