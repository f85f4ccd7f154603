"""Cells and tables of the Markdown report."""

from __future__ import annotations

__all__ = ["format_value", "markdown_table"]


#: Cells from this size up are written with significant digits, not decimals.
LARGE_CELL = 1e6


def format_value(value, digits: int = 3) -> str:
    """A table cell: ``n/a`` for None, floats to ``digits`` decimals; those of a million or
    more to six significant digits (k-means inertia of 1.5e14 had filled a cell with 18), and
    those too small for ``digits`` decimals to ``digits`` significant ones."""
    if value is None:
        return "n/a"
    if isinstance(value, float):
        if abs(value) >= LARGE_CELL:
            return f"{value:.6g}"
        if 0 < abs(value) < 0.5 * 10**-digits:
            return f"{value:.{digits}g}"
        return f"{value:.{digits}f}"
    return str(value)


def markdown_table(header: list[str], rows: list[list]) -> list[str]:
    """Lines of a Markdown table; cells by :func:`format_value`."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(format_value(c) for c in row) + " |" for row in rows]
    return lines
