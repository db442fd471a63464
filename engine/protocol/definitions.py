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

from engine.protocol.commands import (
    MAX_ID_LEN,
    MAX_INT,
    reject_unknown,
    validate_int,
    validate_store_id,
)
from engine.protocol.errors import invalid
from engine.protocol.patterns import Predicate
from engine.protocol.selectors import Selector, parse_selector

PUT = "subscription_put"
DELETE = "subscription_delete"
PROGRESS = "subscription_progress"
COMMANDS = frozenset({PUT, DELETE, PROGRESS})

NAME_RE = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
START_NAMES = ("origin", "current")
COUNTERS = ("delivered", "acked", "nacked")  # replicated with each progress
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
    if not (start_from in START_NAMES or (is_int and 0 <= start_from <= MAX_INT)):
        raise invalid(
            'start_from must be "origin", "current", or an event number (for a "$<stream-id>" '
            f"selector) or a position, from 0 to {MAX_INT}",
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
    validate_store_id(store)
    validate_name(name)
    return check_put(
        {
            "op": PUT,
            "store": store,
            "name": name,
            "definition": normalize_definition(body),
            "created_epoch": now_epoch_us,
        }
    )


def build_delete(store: str, name: str) -> dict[str, Any]:
    """The ``subscription_delete`` command."""
    return check_delete({"op": DELETE, "store": store, "name": name})


_PUT_COMMAND_FIELDS = frozenset({"op", "store", "name", "definition", "created_epoch"})
_DELETE_COMMAND_FIELDS = frozenset({"op", "store", "name"})
_PROGRESS_FIELDS = frozenset(
    {"op", "store", "name", "incarnation", "checkpoint", "park", "unpark", "counters"}
)
_PARK_FIELDS = frozenset({"position", "event_id", "attempts", "reason"})
MAX_REASON_LEN = 1024


def check_put(cmd: dict[str, Any]) -> dict[str, Any]:
    """Check a whole ``subscription_put`` command: its definition must be normalized already
    (as :func:`normalize_definition` makes it), so what is stored is what a listing shows."""
    reject_unknown(cmd, _PUT_COMMAND_FIELDS)
    validate_store_id(cmd.get("store"))
    validate_name(cmd.get("name"))
    definition = cmd.get("definition")
    if normalize_definition(definition) != definition:
        raise invalid("definition is not in its normalized form", field="definition")
    validate_int(cmd.get("created_epoch"), "created_epoch", 0)
    return cmd


def check_delete(cmd: dict[str, Any]) -> dict[str, Any]:
    """Check a whole ``subscription_delete`` command."""
    reject_unknown(cmd, _DELETE_COMMAND_FIELDS)
    validate_store_id(cmd.get("store"))
    validate_name(cmd.get("name"))
    return cmd


def check_progress(cmd: dict[str, Any]) -> dict[str, Any]:
    """Check a whole ``subscription_progress`` command (the leader's own, or anyone's)."""
    reject_unknown(cmd, _PROGRESS_FIELDS)
    validate_store_id(cmd.get("store"))
    validate_name(cmd.get("name"))
    validate_int(cmd.get("incarnation"), "incarnation", 1)
    validate_int(cmd.get("checkpoint"), "checkpoint", 0)
    park = cmd.get("park", [])
    if not isinstance(park, list):
        raise invalid("park must be a list", field="park")
    for i, item in enumerate(park):
        if not isinstance(item, dict):
            raise invalid(f"park[{i}] must be an object", field=f"park[{i}]")
        reject_unknown(item, _PARK_FIELDS, f"park[{i}].")
        validate_int(item.get("position"), f"park[{i}].position", 1)
        validate_int(item.get("attempts"), f"park[{i}].attempts", 0)
        for field, limit in (("event_id", MAX_ID_LEN), ("reason", MAX_REASON_LEN)):
            value = item.get(field)
            if not isinstance(value, str) or len(value) > limit:
                raise invalid(
                    f"park[{i}].{field} must be a string of at most {limit} characters",
                    field=f"park[{i}].{field}",
                )
    unpark = cmd.get("unpark", [])
    if not isinstance(unpark, list):
        raise invalid("unpark must be a list", field="unpark")
    for i, position in enumerate(unpark):
        validate_int(position, f"unpark[{i}]", 1)
    counters = cmd.get("counters", {})
    if not isinstance(counters, dict):
        raise invalid("counters must be an object", field="counters")
    for key, value in counters.items():
        if key not in COUNTERS:
            raise invalid(f"counters.{key} is not a known counter", field=f"counters.{key}")
        validate_int(value, f"counters.{key}", 0)
    return cmd


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
