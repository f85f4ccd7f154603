"""The Markdown that chemmap's reports are written in, as HTML: headings, paragraphs, bullet
and numbered lists, pipe tables, ``code`` and **bold**. Every piece of text is escaped, so a
file name or a warning cannot inject markup into the page."""

from __future__ import annotations

import html
import re

from chemmap.metrics.grades import grade

__all__ = ["markdown_to_html"]

_GRADES = {grade("snr", v) for v in (0.0, 10.0, 25.0, 50.0)}
_INLINE = re.compile(r"`([^`]+)`|\*\*([^*]+)\*\*")
_NUMBERED = re.compile(r"^\d+\.\s+")


def _inline(text: str) -> str:
    out, last = [], 0
    for match in _INLINE.finditer(text):
        out.append(html.escape(text[last : match.start()]))
        code, bold = match.groups()
        out.append(f"<code>{html.escape(code)}</code>" if code is not None else f"<strong>{html.escape(bold)}</strong>")
        last = match.end()
    out.append(html.escape(text[last:]))
    return "".join(out)


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _table(lines: list[str]) -> str:
    header, body = _cells(lines[0]), [_cells(line) for line in lines[1:] if not set(line) <= set("|-: ")]
    head = "".join(f"<th scope='col'>{_inline(c)}</th>" for c in header)
    rows = []
    for row in body:
        cells = []
        for i, c in enumerate(row):
            if i == 0:
                cells.append(f"<th scope='row'>{_inline(c)}</th>")
            elif c in _GRADES:
                cells.append(f"<td class='grade grade-{c.replace(' ', '-')}'>{_inline(c)}</td>")
            else:
                cells.append(f"<td>{_inline(c)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<div class='table-wrap'><table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"


def markdown_to_html(text: str) -> str:
    """``text`` (chemmap's report Markdown) as an HTML fragment; headings drop one level so
    the page keeps a single ``<h1>``."""
    blocks: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].rstrip()
        if not line.strip():
            i += 1
        elif line.startswith("#"):
            level = min(len(line) - len(line.lstrip("#")) + 1, 6)
            blocks.append(f"<h{level}>{_inline(line.lstrip('#').strip())}</h{level}>")
            i += 1
        elif line.lstrip().startswith("|"):
            start = i
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                i += 1
            blocks.append(_table(lines[start:i]))
        elif line.startswith("- ") or _NUMBERED.match(line):
            tag = "ul" if line.startswith("- ") else "ol"
            items = []
            while i < len(lines) and (lines[i].startswith("- ") if tag == "ul" else _NUMBERED.match(lines[i])):
                item = _NUMBERED.sub("", lines[i], count=1) if tag == "ol" else lines[i][2:]
                items.append(f"<li>{_inline(item)}</li>")
                i += 1
            blocks.append(f"<{tag}>{''.join(items)}</{tag}>")
        else:
            start = i
            while i < len(lines) and lines[i].strip() and not lines[i].startswith(("#", "- ", "|")):
                i += 1
            blocks.append(f"<p>{_inline(' '.join(s.strip() for s in lines[start:i]))}</p>")
    return "\n".join(blocks)
