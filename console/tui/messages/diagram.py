"""One row of the sequence diagram: a lane per node, an arrow from sender to receiver.

Pure text, so rows are drawn once when they arrive and the table only shows them.
"""

from __future__ import annotations

from rich.text import Text

from console.ops.messages import TraceLine

LANE = 8  # columns per node: three nodes and a message's words fit in 80 columns

# Styles by what a line is: votes stand out, replication is calm, failures are red.
_STYLES = {
    "vote": "bold yellow",
    "vote_response": "yellow",
    "append": "cyan",
    "append_response": "cyan",
    "snapshot": "bold magenta",
    "timeout_now": "bold white",
    "removed": "bold red",
}


def style(line: TraceLine, dropped: bool = False) -> str:
    if dropped:
        return "bold red strike"
    if line.kind == "heartbeats":
        return "dim"
    if line.kind == "missed":
        return "bold red"
    if line.ok is False:
        return "red"
    if line.type == "vote_response" and line.ok:
        return "bold green"
    return _STYLES.get(line.type, "")


def header(nodes: list[str]) -> Text:
    """The node names, each centred over its lane."""
    return Text("".join(n[: LANE - 1].center(LANE) for n in nodes), style="bold")


def lanes(line: TraceLine, nodes: list[str], dropped: bool = False) -> Text:
    """The diagram cell of ``line``: every node's lane, and the arrow or mark across them (a
    message ``dropped`` in flight ends in ✗ short of its receiver)."""
    width = LANE * len(nodes)
    cells = [" "] * width
    span: tuple[int, int] | None = None  # the cells drawn in the line's style
    centre = {n: i * LANE + LANE // 2 for i, n in enumerate(nodes)}
    for c in centre.values():
        cells[c] = "│"
    if line.kind in ("message", "summary") and line.frm in centre and line.to in centre:
        a, b = centre[line.frm], centre[line.to]
        bar = "═" if line.kind == "summary" else "─"
        step = 1 if b > a else -1
        for c in range(a + step, b, step):
            cells[c] = bar
        cells[a] = "●"
        cells[b - step] = "✗" if dropped else "▶" if step > 0 else "◀"
        span = (min(a, b - step), max(a, b - step) + 1)
    elif line.kind == "heartbeats":
        marked = sorted(centre[n] for n in line.nodes if n in centre)
        if marked:
            for c in range(marked[0], marked[-1] + 1):
                cells[c] = "┄"
            for c in marked:
                cells[c] = "♥"
            span = (marked[0], marked[-1] + 1)
    elif line.kind == "missed":
        for n in line.nodes:
            if n in centre:
                cells[centre[n]] = "✗"
                span = (centre[n], centre[n] + 1)
    text = Text("".join(cells), style="dim")
    if span is not None:
        text.stylize(style(line, dropped), *span)
    return text
