"""How one feed line looks: the source's name, then the ``SEEN``/``RECEIVED`` line, coloured.

The operations layer hands the dashboard the same lines the menu shell prints (docs/CONSOLE.md), so
the event type is found in the line's text: ``SEEN ["greenhouse-1:temperature_measured:v1 ...``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rich.text import Text

# The event type sits between the stream id and the version: "stream:type (vN)" or "v(N)".
_EVENT_TYPE = re.compile(r'"[^":]*:(?P<type>[a-z_]+:v\d+) (?:\(v\d+\)|v\(\d+\))')
# A colour per kind of greenhouse event, so a glance tells measurements from switching.
_FAMILY_STYLES = (
    ("initialized", "bold white"),
    ("_measured", "cyan"),
    ("desired_", "magenta"),
    ("_deactivated", "yellow"),
    ("_activated", "green"),
)
SOURCE_WIDTH = 14


@dataclass(frozen=True, slots=True)
class FeedLine:
    """One line of the feed and the observer or consumer it came from."""

    source: str
    text: str

    def matches(self, needle: str) -> bool:
        """Whether the ``/`` filter keeps this line (case-insensitive, source included)."""
        return not needle or needle in self.text.lower() or needle in self.source.lower()


def event_type_of(line: str) -> str | None:
    """The event type named in a ``SEEN``/``RECEIVED`` line, if it has one."""
    match = _EVENT_TYPE.search(line)
    return match.group("type") if match else None


def type_style(event_type: str) -> str:
    """The colour of an event type."""
    for marker, style in _FAMILY_STYLES:
        if marker in event_type:
            return style
    return "white"


def render_line(line: FeedLine) -> Text:
    """The feed's rendering of a line: source, prefix dimmed, event type coloured."""
    source = line.source if len(line.source) <= SOURCE_WIDTH else line.source[: SOURCE_WIDTH - 1]
    text = Text(f"{source:<{SOURCE_WIDTH}} ", style="dim", end="")
    if line.text.startswith("❌"):
        text.append(line.text, style="bold red")
        return text
    if line.text.startswith("⚠️"):
        text.append(line.text, style="yellow")
        return text
    body = Text(line.text)
    match = _EVENT_TYPE.search(line.text)
    if match:
        body.stylize(type_style(match.group("type")), match.start("type"), match.end("type"))
    prefix_end = line.text.find(" [")
    if prefix_end > 0:
        body.stylize("bold", 0, prefix_end)
    text.append_text(body)
    return text
