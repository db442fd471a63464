"""Selectors: which events an observer or a subscription receives (docs/ARCHITECTURE.md).

Four kinds, each with its value:

========================  ==========================================================
``by_stream``             ``"$all"`` (every event) or ``"$<stream-id>"`` (one stream)
``by_event_type``         an event type name, e.g. ``"temperature_measured:v1"``
``by_event_pattern``      a pattern object matched against the whole event record
``by_event_payload``      a pattern object matched against the record's ``data``
========================  ==========================================================

Wire shapes (docs/ENGINE.md, "Subscriptions"), all accepted by :func:`parse_selector`:

- ``type`` + ``selector``: ``{"type": "by_event_type", "selector": "temperature_measured:v1"}``
  — the form of docs/API.md, and the form every listing answers with;
- ``selector`` alone as a one-key object: ``{"selector": {"by_stream": "$greenhouse-1"}}``;
- neither: every event (``by_stream "$all"``).

In the observe URL (:func:`parse_selector_query`), ``type`` is the kind and ``selector`` its
value: the plain text for ``by_stream`` / ``by_event_type``, JSON text for the pattern kinds, or
without ``type`` the one-key JSON object.  Pattern syntax: :mod:`engine.protocol.patterns`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.protocol.errors import invalid
from engine.protocol.json_input import loads_exact
from engine.protocol.patterns import Predicate, compile_pattern

KINDS = ("by_stream", "by_event_type", "by_event_pattern", "by_event_payload")
ALL = "$all"
MAX_NAME_LENGTH = 256


@dataclass(frozen=True)
class Selector:
    """A validated selector and its compiled matcher over event records."""

    kind: str
    value: Any
    matches: Predicate = field(compare=False, repr=False)

    @property
    def stream_id(self) -> str | None:
        """The one stream a ``by_stream "$<stream-id>"`` selector names; None otherwise."""
        if self.kind == "by_stream" and self.value != ALL:
            return str(self.value)[1:]
        return None

    def to_wire(self) -> dict[str, Any]:
        """``{"type": kind, "selector": value}`` — the form listings answer with."""
        return {"type": self.kind, "selector": self.value}


def build_selector(kind: Any, value: Any) -> Selector:
    """Validate one selector given as its kind and value; 400 saying what is wrong."""
    if kind not in KINDS:
        raise invalid(f"selector type must be one of {', '.join(KINDS)}, got {kind!r}")
    if kind == "by_stream":
        return Selector(kind, value, _stream_matcher(value))
    if kind == "by_event_type":
        if not isinstance(value, str) or not value or len(value) > MAX_NAME_LENGTH:
            raise invalid(
                f"a by_event_type selector must be an event type name "
                f"(1-{MAX_NAME_LENGTH} characters), got {value!r}"
            )
        return Selector(kind, value, lambda record: record.get("event_type") == value)
    where = f"the {kind} selector"
    pattern = compile_pattern(value, where)
    if kind == "by_event_pattern":
        return Selector(kind, value, pattern)
    return Selector(kind, value, lambda record: pattern(record.get("data")))


def _stream_matcher(value: Any) -> Predicate:
    if value == ALL:
        return lambda record: True
    if (
        not isinstance(value, str)
        or len(value) < 2
        or not value.startswith("$")
        or len(value) > MAX_NAME_LENGTH + 1
    ):
        raise invalid(f'a by_stream selector must be "$all" or "$<stream-id>", got {value!r}')
    stream = value[1:]
    return lambda record: record.get("stream_id") == stream


def parse_selector(kind: Any, selector: Any) -> Selector:
    """A selector from a request body's ``type`` and ``selector`` fields (either may be None).

    With ``type``, ``selector`` is its value; without, ``selector`` is a one-key object
    ``{kind: value}``; with neither, every event.
    """
    if kind is not None:
        if selector is None:
            raise invalid(f"selector is missing: give the value of the {kind} selector")
        return build_selector(kind, selector)
    if selector is None:
        return build_selector("by_stream", ALL)
    if not isinstance(selector, dict) or len(selector) != 1:
        raise invalid(
            'selector must be an object with one key naming its kind, e.g. {"by_stream": "$all"}, '
            "or come with a type field"
        )
    ((kind, value),) = selector.items()
    return build_selector(kind, value)


def parse_selector_query(kind: str | None, selector: str | None) -> Selector:
    """A selector from the observe URL's ``type`` and ``selector`` query parameters."""
    if kind is not None and kind not in ("by_event_pattern", "by_event_payload"):
        return parse_selector(kind, selector)  # a plain-text value, or an unknown kind
    if selector is None or selector == "":
        return parse_selector(kind, None)
    value = loads_exact(selector.encode(), "the selector query parameter", "selector")
    return parse_selector(kind, value)
