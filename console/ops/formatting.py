"""Text shared by both front ends: the ``SEEN`` / ``RECEIVED`` lines, values, selectors, rates.

The observer and subscription lines keep the ExESDB console's shape (docs/CONSOLE.md)::

    SEEN ["greenhouse-1:temperature_measured:v1 (v15) => %{temperature: 23}"]
    RECEIVED ["my_sub" "greenhouse-1:humidity_measured:v1 v(12) => %{humidity: 65}"]

The payload is shown as an Elixir map and the whole message as an inspected Elixir string, as
the original printed it, so teaching material that quotes those lines stays true.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from console.ops.patterns import ANY_VALUE
from domain.greenhouse.catalogue import PAYLOADS, RANGES

# A subscription's checkpoint next to a stream's last version (8 next to 7) puzzles: say why.
CHECKPOINT_NOTE = (
    "Checkpoint: a position in the whole store ($all), not a version: versions count one stream"
)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*[?!]?")
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def inspect_string(text: str) -> str:
    """A string as Elixir's ``inspect`` shows it: double-quoted, with escapes."""
    return '"' + "".join(_ESCAPES.get(char, char) for char in text) + '"'


def elixir_term(value: Any, *, patterns: bool = False) -> str:
    """A JSON value in Elixir syntax: ``%{temperature: 23}``, ``"John"``, ``nil``, ``[1, 2]``.

    With ``patterns``, ``{"$exists": true}`` is shown as ``_`` (any value), the way it is typed.
    """
    if patterns and value == ANY_VALUE:
        return "_"
    if isinstance(value, dict):
        entries = ", ".join(
            f"{_key(str(k))} {elixir_term(v, patterns=patterns)}" for k, v in value.items()
        )
        return "%{" + entries + "}"
    if isinstance(value, list):
        return "[" + ", ".join(elixir_term(v, patterns=patterns) for v in value) + "]"
    if isinstance(value, str):
        return inspect_string(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "nil"
    return str(value)


def pattern_text(pattern: dict[str, Any]) -> str:
    """A parsed pattern shown back the way it is typed: ``%{intensity: _}``."""
    return elixir_term(pattern, patterns=True)


def _key(key: str) -> str:
    return f"{key}:" if _IDENTIFIER.fullmatch(key) else f"{inspect_string(key)}:"


def event_text(record: Mapping[str, Any], *, received: bool = False) -> str:
    """``greenhouse-1:temperature_measured:v1 (v15) => %{temperature: 23}``.

    Subscriptions wrote the version as ``v(12)`` in the original; ``received`` keeps that.
    """
    number = record.get("event_number")
    version = f"v({number})" if received else f"(v{number})"
    data = elixir_term(record.get("data"))
    return f"{record.get('stream_id')}:{record.get('event_type')} {version} => {data}"


def seen_line(record: Mapping[str, Any]) -> str:
    """An observer's line for one event."""
    return f"SEEN [{inspect_string(event_text(record))}]"


def received_line(subscription: str, record: Mapping[str, Any]) -> str:
    """A subscription consumer's line for one event."""
    text = event_text(record, received=True)
    return f"RECEIVED [{inspect_string(subscription)} {inspect_string(text)}]"


def selector_text(selector: dict[str, Any]) -> str:
    """``{"by_event_payload": {...}}`` -> ``by_event_payload %{operator: "John"}``."""
    ((kind, value),) = selector.items()
    shown = value if isinstance(value, str) else elixir_term(value, patterns=True)
    return f"{kind} {shown}"


def rate_text(per_second: float) -> str:
    """An events/s figure with a sensible number of digits."""
    if per_second >= 100:
        return f"{per_second:.0f}/s"
    return f"{per_second:.1f}/s"


def latency_text(ms: float | None) -> str:
    """A probe latency, or a dash when there was no answer."""
    return "-" if ms is None else f"{ms:.1f} ms"


def data_hint(event_type: str) -> str:
    """The payload fields of an event type, e.g. ``%{temperature: 6..35}``."""
    parts = []
    for name in PAYLOADS[event_type]:
        if name == "operator":
            parts.append('operator: "John"')
        else:
            low, high = RANGES[name]
            parts.append(f"{name}: {low}..{high}")
    return "%{" + ", ".join(parts) + "}"
