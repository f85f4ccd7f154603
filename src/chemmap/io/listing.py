"""The text forms of what ``chemmap info`` prints: a cube's summary and the installed formats."""

from __future__ import annotations

from chemmap.io._registry import readers, writers

__all__ = ["formats_text", "summary_text"]


def summary_text(summary: dict, name: str) -> str:
    """Lines describing the cube of file ``name`` from its :func:`chemmap.io.describe` summary."""
    ax = summary["axis"]
    h, w = summary["image_shape"]
    lines = [
        f"{name}: {h} x {w} pixels x {summary['n_channels']} channels ({summary['reader']}, {summary['dtype']}"
        f"{', lazy' if summary['lazy'] else ''})"
    ]
    bad = f"; {ax['n_bad_bands']} bad bands flagged" if ax.get("n_bad_bands") else ""
    lines.append(f"  axis: {ax['start']:g} .. {ax['stop']:g} {ax['unit']}{bad}")
    for key, label in (("axis_unit_note", "axis unit"), ("dataset", "read"), ("layout_note", "layout")):
        if key in summary:
            lines.append(f"  {label}: {summary[key]}")
    if summary.get("other_datasets"):
        lines.append(f"  also in the file (not read): {'; '.join(summary['other_datasets'])}")
    nonfinite = summary["n_nonfinite_pixels"]
    lines.append(
        f"  valid pixels: {summary['n_valid_pixels']} (missing {summary['n_missing_pixels']}, "
        f"NaN/Inf/ignored {'not scanned (lazy)' if nonfinite is None else nonfinite})"
    )
    if "value_range" in summary:
        lines.append(f"  values: {summary['value_range'][0]:.4g} .. {summary['value_range'][1]:.4g}")
    if "labels" in summary:
        lab = summary["labels"]
        counts = ", ".join(f"{k}: {v}" for k, v in lab["pixels_per_class"].items())
        lines.append(f"  labels: {lab['n_classes']} classes ({counts}); unlabelled {lab['n_unlabelled']}")
    return "\n".join(lines)


def formats_text() -> str:
    """The installed readers (in the order they are tried), their options, and the writers."""
    lines = ["readers (tried in this order when --format is not given):"]
    for name in readers:
        entry = readers.get(name)
        lines += [
            f"  {name:10s} {' '.join(s for s in entry.suffixes if s)}",
            f"             {entry.description}",
            f"             options: {', '.join(entry.options)}",
        ]
    lines.append("writers:")
    lines += [f"  {n:10s} {' '.join(writers.get(n).suffixes)}  {writers.get(n).description}" for n in writers]
    return "\n".join(lines)
