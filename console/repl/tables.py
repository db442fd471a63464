"""Aligned text tables whose cells may carry a style; widths count what a terminal shows."""

from __future__ import annotations

from collections.abc import Sequence

from prompt_toolkit.utils import get_cwidth

# A cell is its text, or (style, text) to colour it.
Cell = str | tuple[str, str]
_GAP = "  "
_MIN_FOLDED = 16  # narrower, a folded payload would take more lines than it is worth


def _parts(cell: Cell) -> tuple[str, str]:
    return cell if isinstance(cell, tuple) else ("", cell)


def fold(text: str, width: int) -> list[str]:
    """``text`` in pieces at most ``width`` columns wide, broken after a space where one is near
    (a payload folds between its fields), else anywhere."""
    pieces: list[str] = []
    while get_cwidth(text) > width:
        cut, used = 0, 0
        for i, char in enumerate(text):
            used += get_cwidth(char)
            if used > width:
                break
            cut = i + 1
        space = text.rfind(" ", 0, cut)
        if space >= cut // 2:
            cut = space + 1
        pieces.append(text[: max(cut, 1)].rstrip())
        text = text[max(cut, 1) :]
    return [*pieces, text]


def render_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[Cell]],
    *,
    width: int | None = None,
    folded: int | None = None,
) -> list[list[tuple[str, str]]]:
    """The table as lines of styled fragments: header, a rule, then the rows.

    With ``width``, a table wider than that folds column ``folded`` onto more lines (never
    narrower than ``_MIN_FOLDED``), so a terminal does not wrap its lines by itself.
    """
    widths = [get_cwidth(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], get_cwidth(_parts(cell)[1]))
    total = sum(widths) + len(_GAP) * (len(widths) - 1)
    if width is not None and folded is not None and total > width:
        widths[folded] = max(
            _MIN_FOLDED, widths[folded] - (total - width), get_cwidth(headers[folded])
        )
    lines: list[list[tuple[str, str]]] = []
    header = _GAP.join(h + " " * (w - get_cwidth(h)) for h, w in zip(headers, widths, strict=True))
    lines.append([("class:header", header.rstrip())])
    lines.append([("class:hint", _GAP.join("─" * w for w in widths))])
    for row in rows:
        more: list[str] = []
        fragments: list[tuple[str, str]] = []
        for i, cell in enumerate(row):
            style, text = _parts(cell)
            if i == folded and get_cwidth(text) > widths[i]:
                text, *more = fold(text, widths[i])
            last = i == len(row) - 1
            pad = "" if last else " " * (widths[i] - get_cwidth(text)) + _GAP
            fragments.append((style, text))
            if pad:
                fragments.append(("", pad))
        lines.append(fragments)
        if more and folded is not None:
            indent = sum(widths[:folded]) + len(_GAP) * folded
            lines += [[(_parts(row[folded])[0], " " * indent + piece)] for piece in more]
    return lines
