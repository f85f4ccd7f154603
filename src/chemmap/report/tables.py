"""Cells and tables of the Markdown report."""

from __future__ import annotations

__all__ = ["format_value", "markdown_table"]


def format_value(value, digits: int = 3) -> str:
    """A table cell: ``n/a`` for None, floats to ``digits`` decimals."""
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def markdown_table(header: list[str], rows: list[list]) -> list[str]:
    """Lines of a Markdown table; cells by :func:`format_value`."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(format_value(c) for c in row) + " |" for row in rows]
    return lines
