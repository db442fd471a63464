"""Read queries (docs/ENGINE.md, "Read queries"): validation and execution on a node's stores.

The gateway forwards HTTP query parameters into these dicts and a node's own HTTP endpoint builds
the same dicts, so numbers may arrive as ints or as strings of digits.  Every query is validated
here (400 ``invalid_request`` naming the field; unknown fields are refused too) and answered with
the body of the matching API response.  ``min_position`` is accepted on every kind: the node
checks it before it reads.  Validation looks at no store (``plan_read``), so a node refuses a bad
query before it waits for its state to catch up with the reader's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

from engine.protocol.commands import (
    reject_unknown,
    validate_non_negative_int,
    validate_snapshot_key,
    validate_store_id,
    validate_stream_id,
)
from engine.protocol.errors import GateError, invalid

if TYPE_CHECKING:
    from engine.storage.event_store import Direction, EventStore

DEFAULT_COUNT = 100
MAX_COUNT = 1000


class Stores(Protocol):
    """What a read needs of a node's state (``StateMachine``, which runs the reads)."""

    def store(self, store_id: str) -> EventStore: ...

    def stores(self) -> list[str]: ...


Answer: TypeAlias = Callable[[Stores], Any]


def plan_read(query: Any) -> Answer:
    """Validate ``query`` without looking at any store; the function that answers it."""
    if not isinstance(query, dict):
        raise invalid("query must be a JSON object", field="query")
    kind = query.get("kind")
    entry = _KINDS.get(kind) if isinstance(kind, str) else None
    if entry is None:
        raise invalid(f"kind must be one of {', '.join(sorted(_KINDS))}", field="kind")
    fields, plan = entry
    reject_unknown(query, fields | {"kind", "min_position"})
    if query.get("min_position") is not None:
        validate_non_negative_int(query["min_position"], "min_position")
    return plan(query)


def execute_read(machine: Stores, query: Any) -> Any:
    """Validate ``query`` and answer it from ``machine``'s local state."""
    return plan_read(query)(machine)


def _store_id(query: dict[str, Any]) -> str:
    return validate_store_id(query.get("store"))


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


def _read_stream(query: dict[str, Any]) -> Answer:
    store = _store_id(query)
    stream = validate_stream_id(query.get("stream"))
    start, count, direction = _optional_int(query, "from"), _count(query), _direction(query)
    return lambda m: m.store(store).read_stream(stream, start, count, direction)


def _read_all(query: dict[str, Any]) -> Answer:
    store = _store_id(query)
    start = _optional_int(query, "from_position") or 0
    count, direction = _count(query), _direction(query)
    if query.get("stream") is None:
        return lambda m: m.store(store).read_all(start, count, direction)
    # The global order of one stream, through its index (an observer's catch-up): "read_to"
    # says how far the store was looked at, since a page may hold few of its events or none.
    stream = query["stream"]
    if not isinstance(stream, str):  # no other check: a stream that cannot exist has no events
        raise invalid("stream must be a string", field="stream")
    if direction != "forward":
        raise invalid("a read of $all filtered by stream goes forward", field="direction")

    def answer(machine: Stores) -> dict[str, Any]:
        events, read_to = machine.store(store).read_past(start, count, stream=stream)
        return {"events": events, "read_to": read_to}

    return answer


def _streams(query: dict[str, Any]) -> Answer:
    store = _store_id(query)
    return lambda m: {"streams": m.store(store).list_streams()}


def _version(query: dict[str, Any]) -> Answer:
    store = _store_id(query)
    stream = validate_stream_id(query.get("stream"))
    return lambda m: {"stream_id": stream, "version": m.store(store).stream_version(stream)}


def _stores(query: dict[str, Any]) -> Answer:
    def answer(machine: Stores) -> dict[str, Any]:
        listed = []
        for store_id in machine.stores():
            try:
                info = machine.store(store_id).info()
            except GateError:  # deleted meanwhile
                continue
            info.pop("config")
            listed.append(info)
        return {"stores": listed}

    return answer


def _store_info(query: dict[str, Any]) -> Answer:
    store = _store_id(query)
    return lambda m: m.store(store).info()


def _snapshot(query: dict[str, Any]) -> Answer:
    key = validate_snapshot_key(
        query.get("store"), query.get("source_uuid"), query.get("stream_uuid"), query.get("version")
    )
    return lambda m: m.store(key["store"]).get_snapshot(
        key["source_uuid"], key["stream_uuid"], key["version"]
    )


def _snapshots(query: dict[str, Any]) -> Answer:
    store = _store_id(query)
    source_uuid = _optional_filter(query, "source_uuid")
    stream_uuid = _optional_filter(query, "stream_uuid")
    return lambda m: {"snapshots": m.store(store).list_snapshots(source_uuid, stream_uuid)}


# kind -> (its fields besides kind and min_position, its validation, which returns the answer)
_KINDS: dict[str, tuple[frozenset[str], Callable[[dict[str, Any]], Answer]]] = {
    "stream": (frozenset({"store", "stream", "from", "count", "direction"}), _read_stream),
    "all": (frozenset({"store", "from_position", "count", "direction", "stream"}), _read_all),
    "streams": (frozenset({"store"}), _streams),
    "version": (frozenset({"store", "stream"}), _version),
    "stores": (frozenset(), _stores),
    "store": (frozenset({"store"}), _store_info),
    "snapshot": (frozenset({"store", "source_uuid", "stream_uuid", "version"}), _snapshot),
    "snapshots": (frozenset({"store", "source_uuid", "stream_uuid"}), _snapshots),
}
