"""Persistent subscription definitions: validation of the PUT body and the log commands.

A definition is stored as the JSON of ``{"type", "selector", "start_from", "ack_timeout_ms",
"max_retries", "max_in_flight"}`` with every default filled in, so "the same definition again"
is a plain comparison.  The commands (docs/ENGINE.md, "Commands in the log"):

- ``subscription_put`` ``{store, name, definition, created_epoch}``;
- ``subscription_delete`` ``{store, name}``;
- ``subscription_progress`` ``{store, name, incarnation, checkpoint, park, unpark, counters}``:
  the leader's delivery progress — events to park, replayed events to unpark, the new
  checkpoint and the delivered / acked / nacked counts so far, applied together in one
  transaction.  ``incarnation`` is the log index of the
  ``subscription_put`` that created the subscription, so progress of a deleted subscription
  never lands on a new one of the same name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from engine.errors import invalid
from engine.storage.commands import reject_unknown, validate_store_id
from engine.subscriptions.patterns import Predicate
from engine.subscriptions.selectors import Selector, parse_selector

PUT = "subscription_put"
DELETE = "subscription_delete"
PROGRESS = "subscription_progress"
COMMANDS = frozenset({PUT, DELETE, PROGRESS})

NAME_RE = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
START_NAMES = ("origin", "current")
DEFAULTS: dict[str, Any] = {
    "start_from": "origin",
    "ack_timeout_ms": 30_000,
    "max_retries": 10,
    "max_in_flight": 100,
}
# field -> (minimum, maximum)
_LIMITS = {
    "ack_timeout_ms": (10, 24 * 3600 * 1000),
    "max_retries": (0, 1000),
    "max_in_flight": (1, 10_000),
}
_PUT_FIELDS = frozenset({"type", "selector", *DEFAULTS})


def validate_name(name: Any) -> str:
    """A subscription name: 1-128 characters of A-Z a-z 0-9 _ . : -."""
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise invalid("the subscription name must be 1-128 characters of A-Z a-z 0-9 _ . : -")
    return name


def _int_field(body: dict[str, Any], field: str) -> int:
    value = body.get(field, DEFAULTS[field])
    low, high = _LIMITS[field]
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise invalid(f"{field} must be an integer from {low} to {high}", field=field)
    return value


def normalize_definition(body: Any) -> dict[str, Any]:
    """The full definition for a PUT body; 400 naming what is wrong."""
    if not isinstance(body, dict):
        raise invalid("the body must be a JSON object")
    reject_unknown(body, _PUT_FIELDS)
    selector = parse_selector(body.get("type"), body.get("selector"))
    start_from = body.get("start_from", DEFAULTS["start_from"])
    is_int = isinstance(start_from, int) and not isinstance(start_from, bool)
    if not (start_from in START_NAMES or (is_int and start_from >= 0)):
        raise invalid(
            'start_from must be "origin", "current", or an event number (for a "$<stream-id>" '
            "selector) or a position",
            field="start_from",
        )
    if is_int and selector.stream_id is None and start_from == 0:
        raise invalid('start_from: positions start at 1 (or use "origin")', field="start_from")
    return {
        **selector.to_wire(),
        "start_from": start_from,
        **{field: _int_field(body, field) for field in _LIMITS},
    }


def build_put(store: str, name: str, body: Any, *, now_epoch_us: int) -> dict[str, Any]:
    """The ``subscription_put`` command for ``PUT .../subscriptions/{name}``."""
    return {
        "op": PUT,
        "store": validate_store_id(store),
        "name": validate_name(name),
        "definition": normalize_definition(body),
        "created_epoch": now_epoch_us,
    }


def build_delete(store: str, name: str) -> dict[str, Any]:
    """The ``subscription_delete`` command."""
    return {"op": DELETE, "store": validate_store_id(store), "name": validate_name(name)}


@dataclass(frozen=True)
class Definition:
    """A stored subscription, compiled: what it selects and how it delivers."""

    name: str
    incarnation: int
    selector: Selector
    start_from: int | str
    ack_timeout_ms: int
    max_retries: int
    max_in_flight: int

    @classmethod
    def from_stored(cls, name: str, incarnation: int, stored: dict[str, Any]) -> Definition:
        """Compile a definition as :func:`normalize_definition` made it."""
        return cls(
            name=name,
            incarnation=incarnation,
            selector=parse_selector(stored["type"], stored["selector"]),
            start_from=stored["start_from"],
            ack_timeout_ms=stored["ack_timeout_ms"],
            max_retries=stored["max_retries"],
            max_in_flight=stored["max_in_flight"],
        )

    def matcher(self) -> Predicate:
        """Whether a record is delivered: the selector, and a stream's first event number."""
        matches = self.selector.matches
        if self.selector.stream_id is None or not isinstance(self.start_from, int):
            return matches
        first = self.start_from
        return lambda record: matches(record) and record["event_number"] >= first
