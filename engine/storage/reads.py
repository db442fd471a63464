"""Read queries (docs/ENGINE.md, "Read queries"): validation and execution on a node's stores.

The gateway forwards HTTP query parameters into these dicts and a node's own HTTP endpoint builds
the same dicts, so numbers may arrive as ints or as strings of digits.  Every query is validated
here (400 ``invalid_request`` naming the field; unknown fields are refused too) and answered with
the body of the matching API response.  ``min_position`` is accepted on every kind: the node
checks it before it reads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from engine.errors import GateError, invalid
from engine.storage.commands import (
    reject_unknown,
    validate_non_negative_int,
    validate_snapshot_key,
    validate_store_id,
    validate_stream_id,
)

if TYPE_CHECKING:
    from engine.storage.event_store import Direction, EventStore
    from engine.storage.state_machine import StateMachine

DEFAULT_COUNT = 100
MAX_COUNT = 1000


def execute_read(machine: StateMachine, query: Any) -> Any:
    """Validate ``query`` and answer it from ``machine``'s local state."""
    if not isinstance(query, dict):
        raise invalid("query must be a JSON object", field="query")
    kind = query.get("kind")
    entry = _KINDS.get(kind) if isinstance(kind, str) else None
    if entry is None:
        raise invalid(f"kind must be one of {', '.join(sorted(_KINDS))}", field="kind")
    fields, handler = entry
    reject_unknown(query, fields | {"kind", "min_position"})
    if query.get("min_position") is not None:
        validate_non_negative_int(query["min_position"], "min_position")
    return handler(machine, query)


def _store(machine: StateMachine, query: dict[str, Any]) -> EventStore:
    return machine.store(validate_store_id(query.get("store")))


def _count(query: dict[str, Any]) -> int:
    raw = query.get("count")
    if raw is None:
        return DEFAULT_COUNT
    count = validate_non_negative_int(raw, "count")
    if not 1 <= count <= MAX_COUNT:
        raise invalid(f"count must be between 1 and {MAX_COUNT}", field="count")
    return count


def _direction(query: dict[str, Any]) -> Direction:
    direction = query.get("direction")
    if direction is None or direction == "forward":
        return "forward"
    if direction == "backward":
        return "backward"
    raise invalid("direction must be forward or backward", field="direction")


def _optional_int(query: dict[str, Any], field: str) -> int | None:
    raw = query.get(field)
    return None if raw is None else validate_non_negative_int(raw, field)


def _optional_filter(query: dict[str, Any], field: str) -> str | None:
    raw = query.get(field)
    if raw is None or raw == "":  # "?source_uuid=" means no filter
        return None
    if not isinstance(raw, str):
        raise invalid(f"{field} must be a string", field=field)
    return raw


def _read_stream(machine: StateMachine, query: dict[str, Any]) -> dict[str, Any]:
    store = _store(machine, query)
    stream = validate_stream_id(query.get("stream"))
    return store.read_stream(stream, _optional_int(query, "from"), _count(query), _direction(query))


def _read_all(machine: StateMachine, query: dict[str, Any]) -> dict[str, Any]:
    store = _store(machine, query)
    start = _optional_int(query, "from_position") or 0
    if query.get("stream") is None:
        return store.read_all(start, _count(query), _direction(query))
    # The global order of one stream, through its index (an observer's catch-up): "read_to"
    # says how far the store was looked at, since a page may hold few of its events or none.
    stream = query["stream"]
    if not isinstance(stream, str):  # no other check: a stream that cannot exist has no events
        raise invalid("stream must be a string", field="stream")
    if _direction(query) != "forward":
        raise invalid("a read of $all filtered by stream goes forward", field="direction")
    events, read_to = store.read_past(start, _count(query), stream=stream)
    return {"events": events, "read_to": read_to}


def _streams(machine: StateMachine, query: dict[str, Any]) -> dict[str, Any]:
    return {"streams": _store(machine, query).list_streams()}


def _version(machine: StateMachine, query: dict[str, Any]) -> dict[str, Any]:
    store = _store(machine, query)
    stream = validate_stream_id(query.get("stream"))
    return {"stream_id": stream, "version": store.stream_version(stream)}


def _stores(machine: StateMachine, query: dict[str, Any]) -> dict[str, Any]:
    listed = []
    for store_id in machine.stores():
        try:
            info = machine.store(store_id).info()
        except GateError:  # deleted meanwhile
            continue
        info.pop("config")
        listed.append(info)
    return {"stores": listed}


def _store_info(machine: StateMachine, query: dict[str, Any]) -> dict[str, Any]:
    return _store(machine, query).info()


def _snapshot(machine: StateMachine, query: dict[str, Any]) -> dict[str, Any]:
    key = validate_snapshot_key(
        query.get("store"), query.get("source_uuid"), query.get("stream_uuid"), query.get("version")
    )
    store = machine.store(key["store"])
    return store.get_snapshot(key["source_uuid"], key["stream_uuid"], key["version"])


def _snapshots(machine: StateMachine, query: dict[str, Any]) -> dict[str, Any]:
    store = _store(machine, query)
    source_uuid = _optional_filter(query, "source_uuid")
    stream_uuid = _optional_filter(query, "stream_uuid")
    return {"snapshots": store.list_snapshots(source_uuid, stream_uuid)}


_Handler = Callable[["StateMachine", dict[str, Any]], Any]

# kind -> (its fields besides kind and min_position, handler)
_KINDS: dict[str, tuple[frozenset[str], _Handler]] = {
    "stream": (
        frozenset({"store", "stream", "from", "count", "direction"}),
        _read_stream,
    ),
    "all": (frozenset({"store", "from_position", "count", "direction", "stream"}), _read_all),
    "streams": (frozenset({"store"}), _streams),
    "version": (frozenset({"store", "stream"}), _version),
    "stores": (frozenset(), _stores),
    "store": (frozenset({"store"}), _store_info),
    "snapshot": (frozenset({"store", "source_uuid", "stream_uuid", "version"}), _snapshot),
    "snapshots": (frozenset({"store", "source_uuid", "stream_uuid"}), _snapshots),
}
