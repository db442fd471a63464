"""Aligned text tables whose cells may carry a style; widths count what a terminal shows."""

from __future__ import annotations

from collections.abc import Sequence

from prompt_toolkit.utils import get_cwidth

# A cell is its text, or (style, text) to colour it.
Cell = str | tuple[str, str]
_GAP = "  "


def _parts(cell: Cell) -> tuple[str, str]:
    return cell if isinstance(cell, tuple) else ("", cell)


def render_table(
    headers: Sequence[str], rows: Sequence[Sequence[Cell]]
) -> list[list[tuple[str, str]]]:
    """The table as lines of styled fragments: header, a rule, then the rows."""
    widths = [get_cwidth(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], get_cwidth(_parts(cell)[1]))
    lines: list[list[tuple[str, str]]] = []
    header = _GAP.join(h + " " * (w - get_cwidth(h)) for h, w in zip(headers, widths, strict=True))
    lines.append([("class:header", header.rstrip())])
    lines.append([("class:hint", _GAP.join("─" * w for w in widths))])
    for row in rows:
        fragments: list[tuple[str, str]] = []
        for i, cell in enumerate(row):
            style, text = _parts(cell)
            last = i == len(row) - 1
            pad = "" if last else " " * (widths[i] - get_cwidth(text)) + _GAP
            fragments.append((style, text))
            if pad:
                fragments.append(("", pad))
        lines.append(fragments)
    return lines
