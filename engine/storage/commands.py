"""The commands carried in log entries: validation of client input, building, encoding, decoding.

A log entry's data is the UTF-8 JSON of one command (see docs/ENGINE.md, "Commands in the log");
empty data is the no-op a new leader commits.  Everything a client sends is validated here, before
the command enters the log, so that applying it can only fail on state (expected version, a
missing store), never on shape.  Every error is a 400 ``invalid_request`` whose one-line message
names the offending field.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import orjson

from engine.errors import invalid

STORE_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
MAX_ID_LEN = 256
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_DIGITS_RE = re.compile(r"[0-9]+")
_NAMED_VERSIONS = ("any", "no_stream", "stream_exists")
_APPEND_FIELDS = frozenset({"expected_version", "events"})
_EVENT_FIELDS = frozenset({"event_id", "event_type", "data", "metadata"})
_CREATE_STORE_FIELDS = frozenset({"store_id", "config"})
_SNAPSHOT_FIELDS = frozenset({"data", "metadata", "source_type"})


def encode_command(cmd: dict[str, Any]) -> bytes:
    """A command as the data of a log entry."""
    return orjson.dumps(cmd)


def decode_command(data: bytes) -> dict[str, Any] | None:
    """The command in a log entry's data; None for the no-op (empty data)."""
    if not data:
        return None
    cmd = orjson.loads(data)
    if not isinstance(cmd, dict):
        raise ValueError("a command must be a JSON object")
    return cmd


def validate_store_id(store: Any, field: str = "store") -> str:
    """A store id: 1-64 characters of [A-Za-z0-9_-]."""
    if not isinstance(store, str) or not STORE_ID_RE.fullmatch(store):
        raise invalid(f"{field} must be 1-64 characters of A-Z a-z 0-9 _ -", field=field)
    return store


def validate_stream_id(stream: Any, field: str = "stream") -> str:
    """A stream id: non-empty, at most 256 characters, no control characters, no leading '$'."""
    text = _validate_id(stream, field)
    if text.startswith("$"):
        raise invalid(f"{field} must not start with '$' (reserved)", field=field)
    return text


def validate_non_negative_int(value: Any, field: str) -> int:
    """An int >= 0, given as an int or (from a URL) a string of decimal digits."""
    if isinstance(value, str) and _DIGITS_RE.fullmatch(value):
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise invalid(f"{field} must be a non-negative integer", field=field)


def build_append(
    store: str,
    stream: str,
    body: Any,
    *,
    now_epoch_us: int,
    new_id: Callable[[], str],
    max_events: int,
) -> dict[str, Any]:
    """The ``append`` command for an append request body (API.md, "Events")."""
    validate_store_id(store)
    validate_stream_id(stream)
    body = _object(body, "body")
    reject_unknown(body, _APPEND_FIELDS, "")
    expected = body.get("expected_version", "any")
    if not (
        expected in _NAMED_VERSIONS
        or (isinstance(expected, int) and not isinstance(expected, bool) and expected >= -1)
    ):
        raise invalid(
            'expected_version must be "any", "no_stream", "stream_exists" or an integer >= -1',
            field="expected_version",
        )
    raw_events = body.get("events")
    if not isinstance(raw_events, list) or not raw_events:
        raise invalid("events must be a non-empty list", field="events")
    if len(raw_events) > max_events:
        raise invalid(f"events holds more than {max_events} events", field="events")
    events = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(raw_events):
        prefix = f"events[{i}]"
        raw = _object(raw, prefix)
        reject_unknown(raw, _EVENT_FIELDS, prefix + ".")
        event_type = raw.get("event_type")
        if not isinstance(event_type, str) or not event_type:
            raise invalid(
                f"{prefix}.event_type must be a non-empty string", field=f"{prefix}.event_type"
            )
        data = _object(raw.get("data"), f"{prefix}.data")
        metadata = _object(raw.get("metadata", {}), f"{prefix}.metadata")
        if "event_id" in raw:
            event_id = _validate_id(raw["event_id"], f"{prefix}.event_id")
        else:
            event_id = new_id()
        if event_id in seen:
            raise invalid(
                f"{prefix}.event_id duplicates events[{seen[event_id]}].event_id",
                field=f"{prefix}.event_id",
            )
        seen[event_id] = i
        events.append(
            {
                "event_id": event_id,
                "event_type": event_type,
                "data": data,
                "metadata": metadata,
                "created_epoch": now_epoch_us,
            }
        )
    return {
        "op": "append",
        "store": store,
        "stream": stream,
        "expected_version": expected,
        "events": events,
    }


def build_create_store(body: Any, *, now_epoch_us: int) -> dict[str, Any]:
    """The ``create_store`` command for a ``POST /api/stores`` body."""
    body = _object(body, "body")
    reject_unknown(body, _CREATE_STORE_FIELDS, "")
    store = validate_store_id(body.get("store_id"), "store_id")
    config = _object(body.get("config", {}), "config")
    return {"op": "create_store", "store": store, "config": config, "created_epoch": now_epoch_us}


def build_delete_store(store: str) -> dict[str, Any]:
    """The ``delete_store`` command."""
    return {"op": "delete_store", "store": validate_store_id(store)}


def build_snapshot_put(
    store: str,
    source_uuid: str,
    stream_uuid: str,
    version: Any,
    body: Any,
    *,
    now_epoch_us: int,
) -> dict[str, Any]:
    """The ``snapshot_put`` command for a snapshot ``PUT`` (path parts and body)."""
    key = validate_snapshot_key(store, source_uuid, stream_uuid, version)
    body = _object(body, "body")
    reject_unknown(body, _SNAPSHOT_FIELDS, "")
    data = _object(body.get("data"), "data")
    metadata = _object(body.get("metadata", {}), "metadata")
    source_type = body.get("source_type")
    if source_type is not None and not isinstance(source_type, str):
        raise invalid("source_type must be a string", field="source_type")
    return {
        "op": "snapshot_put",
        **key,
        "data": data,
        "metadata": metadata,
        "source_type": source_type,
        "created_epoch": now_epoch_us,
    }


def build_snapshot_delete(
    store: str, source_uuid: str, stream_uuid: str, version: Any
) -> dict[str, Any]:
    """The ``snapshot_delete`` command."""
    return {
        "op": "snapshot_delete",
        **validate_snapshot_key(store, source_uuid, stream_uuid, version),
    }


def validate_snapshot_key(
    store: Any, source_uuid: Any, stream_uuid: Any, version: Any
) -> dict[str, Any]:
    """The validated key of one snapshot: ``{"store", "source_uuid", "stream_uuid", "version"}``."""
    return {
        "store": validate_store_id(store),
        "source_uuid": _validate_id(source_uuid, "source_uuid"),
        "stream_uuid": _validate_id(stream_uuid, "stream_uuid"),
        "version": validate_non_negative_int(version, "version"),
    }


def _validate_id(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value:
        raise invalid(f"{field} must be a non-empty string", field=field)
    if len(value) > MAX_ID_LEN:
        raise invalid(f"{field} is longer than {MAX_ID_LEN} characters", field=field)
    if _CONTROL_RE.search(value):
        raise invalid(f"{field} must not contain control characters", field=field)
    return value


def _object(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid(f"{field} must be a JSON object", field=field)
    return value


def reject_unknown(obj: dict[str, Any], allowed: frozenset[str], prefix: str = "") -> None:
    """Raise ``invalid_request`` naming the first field of ``obj`` not in ``allowed``."""
    unknown = sorted(str(k) for k in obj if k not in allowed)
    if unknown:
        raise invalid(f"{prefix}{unknown[0]} is not a known field", field=f"{prefix}{unknown[0]}")
