"""``report.html``: one self-contained page with the maps of a run, a pixel picker and the
spectrum of the picked pixel beside its cluster's mean ± std.

The page needs no server and makes no request: the script and styles are inlined, a
Content-Security-Policy forbids every fetch, and the data travel inside the file as
zlib-compressed, base64-encoded typed arrays:

- every map at the finest integer reduction whose raw arrays fit :data:`MAP_BYTES_BUDGET`
  (continuous maps as 16-bit steps between their minimum and maximum, label maps as 8- or 16-bit
  indices);
- the spectra of a regular grid of pixels (every pixel when they fit
  :data:`SPECTRA_BYTES_BUDGET`), 16-bit steps over their common range;
- each cluster's mean and standard deviation spectrum, in full.

Together these keep a report under :data:`HTML_SIZE_BUDGET` whatever the image size (a
1000 x 1000 x 200 run is the case the budget was stated for).
"""

from __future__ import annotations

import base64
import html
import json
import re
import warnings
import zlib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from string import Template

import numpy as np

from chemmap.core.exceptions import ChemmapError, DataWarning

__all__ = [
    "HTML_SIZE_BUDGET",
    "MAP_BYTES_BUDGET",
    "SPECTRA_BYTES_BUDGET",
    "ClusterSummary",
    "InteractiveReport",
    "MapLayer",
    "SpectraSource",
    "display_factor",
    "read_report_data",
    "render_html",
    "spectra_stride",
    "write_html",
]

#: Largest ``report.html`` the encoding is planned for, bytes.
HTML_SIZE_BUDGET = 20 * 2**20
#: Raw bytes of all embedded maps together, before compression and base64.
MAP_BYTES_BUDGET = 7 * 2**20
#: Raw bytes of the embedded pixel spectra, before compression and base64.
SPECTRA_BYTES_BUDGET = 6 * 2**20

_U16_MISSING = 65535
_U16_STEPS = 65534


@dataclass
class MapLayer:
    """One map of the page.

    ``values`` is ``(height, width)``: a continuous map (NaN where blank), or, when
    ``categories`` is given, indices into ``categories`` (−1 where blank).
    """

    name: str
    title: str
    values: np.ndarray
    unit: str = ""
    categories: list[str] | None = None
    colors: list[str] | None = None


@dataclass
class SpectraSource:
    """Where the picked pixels' spectra come from: a ``(height, width, n_channels)`` NumPy or
    Dask array on the axis ``axis_values`` (in ``unit``)."""

    data: object
    axis_values: np.ndarray
    unit: str
    axis_label: str
    intensity_label: str


@dataclass
class ClusterSummary:
    """The clusters that the legend highlights: the name of their label layer and each
    cluster's mean and standard-deviation spectrum ``(k, n_channels)`` and pixel count."""

    layer: str
    means: np.ndarray
    stds: np.ndarray
    counts: list[int]


@dataclass
class InteractiveReport:
    """Everything one ``report.html`` shows.

    ``markdown`` is the readable report (sections, tables, lists) rendered below the panels;
    ``provenance`` are label → value lines (source, command, versions).
    """

    title: str
    shape: tuple[int, int]
    layers: list[MapLayer]
    spectra: SpectraSource | None = None
    clusters: ClusterSummary | None = None
    markdown: str = ""
    provenance: dict[str, str] = field(default_factory=dict)


_DTYPES = {"u8": "u1", "u16": "<u2"}


def _label_code(n_categories: int) -> tuple[str, int]:
    """Storage of a label map's indices: ``("u8", 255)`` (dtype name, blank code) while the
    categories leave 255 free, else ``("u16", 65535)``."""
    return ("u8", 255) if n_categories < 255 else ("u16", _U16_MISSING)


def _layer_bytes(layer: MapLayer) -> int:
    name = "u16" if layer.categories is None else _label_code(len(layer.categories))[0]
    return np.dtype(_DTYPES[name]).itemsize


def display_factor(shape: tuple[int, int], layers: list[MapLayer], budget: int = MAP_BYTES_BUDGET) -> int:
    """Smallest integer reduction of the ``shape`` image whose maps fit ``budget`` raw bytes."""
    per_pixel = sum(_layer_bytes(layer) for layer in layers) or 1
    h, w = shape
    factor = 1
    while -(-h // factor) * -(-w // factor) * per_pixel > budget:
        factor += 1
    return factor


def spectra_stride(shape: tuple[int, int], n_channels: int, budget: int = SPECTRA_BYTES_BUDGET) -> int:
    """Smallest grid step (pixels) whose grid of 16-bit spectra fits ``budget`` bytes."""
    h, w = shape
    stride = 1
    while -(-h // stride) * -(-w // stride) * n_channels * 2 > budget:
        stride += 1
    return stride


def _pack(array: np.ndarray) -> str:
    return base64.b64encode(zlib.compress(np.ascontiguousarray(array).tobytes(), 6)).decode("ascii")


def _quantise(values: np.ndarray) -> tuple[np.ndarray, float, float]:
    """16-bit steps between the finite minimum and maximum; NaN → 65535."""
    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    if not finite.any():
        return np.full(values.shape, _U16_MISSING, dtype="<u2"), 0.0, 0.0
    lo, hi = float(values[finite].min()), float(values[finite].max())
    span = hi - lo if hi > lo else 1.0
    steps = np.rint((np.where(finite, values, lo) - lo) / span * _U16_STEPS)
    return np.where(finite, steps, _U16_MISSING).astype("<u2"), lo, hi


def _encode_layer(layer: MapLayer, factor: int) -> dict:
    from chemmap.viz.figures import categorical_colors, reduce_image

    values = np.asarray(layer.values)
    out = {"name": layer.name, "title": layer.title, "unit": layer.unit}
    if layer.categories is None:
        steps, lo, hi = _quantise(reduce_image(values.astype(np.float32), factor))
        return {**out, "kind": "continuous", "dtype": "u16", "min": lo, "max": hi, "data": _pack(steps)}
    n = len(layer.categories)
    dtype, missing = _label_code(n)
    shown = reduce_image(values, factor, categorical=True)
    indices = np.where((shown >= 0) & (shown < n), shown, missing).astype(_DTYPES[dtype])
    return {
        **out,
        "kind": "categorical",
        "dtype": dtype,
        "missing": missing,
        "categories": list(layer.categories),
        "colors": list(layer.colors or categorical_colors(n)),
        "data": _pack(indices),
    }


def _encode_spectra(source: SpectraSource, shape: tuple[int, int]) -> dict:
    n_channels = len(source.axis_values)
    stride = spectra_stride(shape, n_channels)
    grid = source.data[::stride, ::stride]
    if hasattr(grid, "compute"):
        grid = grid.compute()
    steps, lo, hi = _quantise(np.asarray(grid, dtype=np.float32))
    return {
        "stride": stride,
        "rows": int(grid.shape[0]),
        "cols": int(grid.shape[1]),
        "min": lo,
        "max": hi,
        "dtype": "u16",
        "data": _pack(steps),
    }


def _colormap_hex(name: str = "viridis") -> str:
    from matplotlib import colormaps

    rgb = (colormaps[name](np.linspace(0.0, 1.0, 256))[:, :3] * 255).round().astype(np.uint8)
    return rgb.tobytes().hex()


def _payload(report: InteractiveReport) -> dict:
    factor = display_factor(report.shape, report.layers)
    h, w = report.shape
    payload = {
        "title": report.title,
        "shape": [int(h), int(w)],
        "factor": factor,
        "displayShape": [-(-h // factor), -(-w // factor)],
        "colormap": _colormap_hex(),
        "layers": [_encode_layer(layer, factor) for layer in report.layers],
        "spectra": None,
        "clusters": None,
    }
    if report.spectra is not None:
        s = report.spectra
        payload["axis"] = {
            "values": np.asarray(s.axis_values, dtype=np.float64).round(6).tolist(),
            "unit": s.unit,
            "label": s.axis_label,
            "intensity": s.intensity_label,
        }
        payload["spectra"] = _encode_spectra(s, report.shape)
    if report.clusters is not None:
        c = report.clusters
        payload["clusters"] = {
            "layer": c.layer,
            "means": np.asarray(c.means, dtype=np.float32).round(6).tolist(),
            "stds": np.asarray(c.stds, dtype=np.float32).round(6).tolist(),
            "counts": [int(n) for n in c.counts],
        }
    return payload


def _asset(name: str) -> str:
    return resources.files("chemmap.report").joinpath("assets", name).read_text(encoding="utf-8")


#: Characters that end or change a ``<script>`` block, or a JavaScript line, and their JSON escapes.
_SCRIPT_ESCAPES = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


def embedded_json(value) -> str:
    """``value`` as JSON that is safe inside a ``<script>`` block of a page: ``<``, ``>``, ``&``,
    U+2028 and U+2029 are written as ``\\uXXXX`` escapes (inside JSON strings, the only place
    they can occur), so no text a user gives (a class name ``<!--<script>``) can end the block
    or stop the page from loading; ``json.loads`` reads the same value back."""
    return json.dumps(value, separators=(",", ":"), allow_nan=False).translate(_SCRIPT_ESCAPES)


def render_html(report: InteractiveReport) -> str:
    """The page as one string (UTF-8), with its data, script and styles inside."""
    from chemmap.report.markdown_html import markdown_to_html

    names = [layer.name for layer in report.layers]
    if len(set(names)) != len(names):
        raise ChemmapError(f"map names on an interactive report must be unique; got {names}")
    data = embedded_json(_payload(report))
    provenance = "\n".join(
        f"<tr><th scope='row'>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
        for k, v in report.provenance.items()
    )
    page = Template(_asset("report.html.in")).substitute(
        title=html.escape(report.title),
        css=_asset("report.css"),
        script=_asset("report.js"),
        data=data,
        markdown=markdown_to_html(report.markdown),
        provenance=provenance,
    )
    if len(page) > HTML_SIZE_BUDGET:
        warnings.warn(
            f"report.html is {len(page) / 2**20:.1f} MiB, above its {HTML_SIZE_BUDGET / 2**20:.0f} MiB budget: "
            f"{len(report.layers)} maps and {report.clusters.means.shape[0] if report.clusters else 0} cluster "
            "spectra; it still opens, but slowly. Fewer maps or clusters keep it small.",
            DataWarning,
            stacklevel=2,
        )
    return page


def write_html(report: InteractiveReport, path) -> Path:
    """Write ``report.html`` atomically; returns its path."""
    from chemmap._shared.atomic import write_text_atomic

    path = Path(path)
    write_text_atomic(path, render_html(report))
    return path


_DATA_BLOCK = re.compile(r'<script id="chemmap-data" type="application/json">(.*?)</script>', re.S)


def _unpack(text: str, dtype: str) -> np.ndarray:
    raw = zlib.decompress(base64.b64decode(text))
    return np.frombuffer(raw, dtype=_DTYPES[dtype])


def read_report_data(path) -> dict:
    """The data embedded in a ``report.html``, decoded: each layer's ``values`` (continuous maps
    as float with NaN, label maps as indices with −1), the spectra grid as
    ``(rows, cols, n_channels)`` floats, and the rest of the payload as written."""
    match = _DATA_BLOCK.search(Path(path).read_text(encoding="utf-8"))
    if match is None:
        raise ChemmapError(f"{path} holds no chemmap report data; is it a report.html written by chemmap?")
    payload = json.loads(match.group(1))
    h, w = payload["displayShape"]
    for layer in payload["layers"]:
        raw = _unpack(layer.pop("data"), layer["dtype"]).reshape(h, w)
        if layer["kind"] == "continuous":
            span = (layer["max"] - layer["min"]) / _U16_STEPS
            layer["values"] = np.where(raw == _U16_MISSING, np.nan, layer["min"] + raw * span)
        else:
            layer["values"] = np.where(raw == layer["missing"], -1, raw.astype(np.int64))
    spectra = payload.get("spectra")
    if spectra is not None:
        raw = _unpack(spectra.pop("data"), spectra["dtype"]).reshape(spectra["rows"], spectra["cols"], -1)
        span = (spectra["max"] - spectra["min"]) / _U16_STEPS
        spectra["values"] = np.where(raw == _U16_MISSING, np.nan, spectra["min"] + raw * span)
    return payload
