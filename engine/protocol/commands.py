"""The commands carried in log entries: validation of client input, building, encoding, decoding.

A log entry's data is the UTF-8 JSON of one command (see docs/ENGINE.md, "Commands in the log");
empty data is the no-op a new leader commits.  Each command has one checker here (the
subscription commands theirs in engine/protocol/definitions.py), which every builder ends
with and which a node runs again on every command it is asked to propose and on every entry it
applies (engine/storage/check.py): a command is a whole, typed object with every integer in the
signed 64-bit range SQLite stores, so applying it can only fail on state (expected version, a
missing store), never on shape.  Every error is a 400 ``invalid_request`` whose one-line message
names the offending field.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import orjson

from engine.protocol.errors import invalid

STORE_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
MAX_ID_LEN = 256
# Positions, versions, counts and timestamps are SQLite INTEGERs: signed 64-bit.
MAX_INT = 2**63 - 1
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_DIGITS_RE = re.compile(r"[0-9]+")
_NAMED_VERSIONS = ("any", "no_stream", "stream_exists")
_APPEND_FIELDS = frozenset({"expected_version", "events"})
_EVENT_FIELDS = frozenset({"event_id", "event_type", "data", "metadata"})
_CREATE_STORE_FIELDS = frozenset({"store_id", "config"})
_SNAPSHOT_FIELDS = frozenset({"data", "metadata", "source_type"})
_STORED_EVENT_FIELDS = _EVENT_FIELDS | {"created_epoch"}
_COMMAND_FIELDS = {
    "append": frozenset({"op", "store", "stream", "expected_version", "events"}),
    "create_store": frozenset({"op", "store", "config", "created_epoch"}),
    "delete_store": frozenset({"op", "store"}),
    "snapshot_put": frozenset(
        {"op", "store", "source_uuid", "stream_uuid", "version", *_SNAPSHOT_FIELDS, "created_epoch"}
    ),
    "snapshot_delete": frozenset({"op", "store", "source_uuid", "stream_uuid", "version"}),
}


def encode_command(cmd: dict[str, Any]) -> bytes:
    """A command as the data of a log entry."""
    # Copied to a bytes of its own size: orjson's result keeps the 4 KiB buffer it wrote into,
    # and a leader holds thousands of entries in its log cache (16 MiB instead of ~1.5 MiB of
    # 300-byte events).
    return bytes(memoryview(orjson.dumps(cmd)))


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
    """An int from 0 to 2^63-1, given as an int or (from a URL) a string of decimal digits."""
    if isinstance(value, str) and _DIGITS_RE.fullmatch(value) and len(value) <= 19:
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_INT:
        return value
    raise invalid(f"{field} must be an integer from 0 to {MAX_INT}", field=field)


def validate_int(value: Any, field: str, low: int, high: int = MAX_INT) -> int:
    """A JSON integer (not a bool) from ``low`` to ``high``."""
    if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
        return value
    raise invalid(f"{field} must be an integer from {low} to {high}", field=field)


def build_append(
    store: str,
    stream: str,
    body: Any,
    *,
    now_epoch_us: int,
    new_id: Callable[[], str],
    max_events: int,
) -> dict[str, Any]:
    """The ``append`` command for an append request body (docs/API.md, "Events")."""
    validate_store_id(store)
    validate_stream_id(stream)
    body = _object(body, "body")
    reject_unknown(body, _APPEND_FIELDS, "")
    raw_events = body.get("events")
    if not isinstance(raw_events, list) or not raw_events:
        raise invalid("events must be a non-empty list", field="events")
    events = []
    for i, raw in enumerate(raw_events):
        prefix = f"events[{i}]"
        raw = _object(raw, prefix)
        reject_unknown(raw, _EVENT_FIELDS, prefix + ".")
        events.append(
            {
                "event_id": raw["event_id"] if "event_id" in raw else new_id(),
                "event_type": raw.get("event_type"),
                "data": raw.get("data"),
                "metadata": raw.get("metadata", {}),
                "created_epoch": now_epoch_us,
            }
        )
    return check_append(
        {
            "op": "append",
            "store": store,
            "stream": stream,
            "expected_version": body.get("expected_version", "any"),
            "events": events,
        },
        max_events=max_events,
    )


def check_append(cmd: dict[str, Any], *, max_events: int | None) -> dict[str, Any]:
    """Check a whole ``append`` command (see the module docstring); returns it."""
    reject_unknown(cmd, _COMMAND_FIELDS["append"])
    validate_store_id(cmd.get("store"))
    validate_stream_id(cmd.get("stream"))
    expected = cmd.get("expected_version")
    if expected not in _NAMED_VERSIONS and not (
        isinstance(expected, int) and not isinstance(expected, bool) and -1 <= expected <= MAX_INT
    ):
        raise invalid(
            'expected_version must be "any", "no_stream", "stream_exists" or an integer'
            f" from -1 to {MAX_INT}",
            field="expected_version",
        )
    events = cmd.get("events")
    if not isinstance(events, list) or not events:
        raise invalid("events must be a non-empty list", field="events")
    if max_events is not None and len(events) > max_events:
        raise invalid(f"events holds more than {max_events} events", field="events")
    seen: dict[str, int] = {}
    for i, event in enumerate(events):
        prefix = f"events[{i}]"
        event = _object(event, prefix)
        reject_unknown(event, _STORED_EVENT_FIELDS, prefix + ".")
        event_type = event.get("event_type")
        if not isinstance(event_type, str) or not event_type:
            raise invalid(
                f"{prefix}.event_type must be a non-empty string", field=f"{prefix}.event_type"
            )
        _validate_id(event_type, f"{prefix}.event_type")
        _object(event.get("data"), f"{prefix}.data")
        _object(event.get("metadata"), f"{prefix}.metadata")
        validate_int(event.get("created_epoch"), f"{prefix}.created_epoch", 0)
        event_id = _validate_id(event.get("event_id"), f"{prefix}.event_id")
        if event_id in seen:
            raise invalid(
                f"{prefix}.event_id duplicates events[{seen[event_id]}].event_id",
                field=f"{prefix}.event_id",
            )
        seen[event_id] = i
    return cmd


def build_create_store(body: Any, *, now_epoch_us: int) -> dict[str, Any]:
    """The ``create_store`` command for a ``POST /api/stores`` body."""
    body = _object(body, "body")
    reject_unknown(body, _CREATE_STORE_FIELDS, "")
    return check_create_store(
        {
            "op": "create_store",
            "store": validate_store_id(body.get("store_id"), "store_id"),
            "config": body.get("config", {}),
            "created_epoch": now_epoch_us,
        }
    )


def check_create_store(cmd: dict[str, Any]) -> dict[str, Any]:
    """Check a whole ``create_store`` command; returns it."""
    reject_unknown(cmd, _COMMAND_FIELDS["create_store"])
    validate_store_id(cmd.get("store"))
    _object(cmd.get("config"), "config")
    validate_int(cmd.get("created_epoch"), "created_epoch", 0)
    return cmd


def build_delete_store(store: str) -> dict[str, Any]:
    """The ``delete_store`` command."""
    return check_delete_store({"op": "delete_store", "store": store})


def check_delete_store(cmd: dict[str, Any]) -> dict[str, Any]:
    """Check a whole ``delete_store`` command; returns it."""
    reject_unknown(cmd, _COMMAND_FIELDS["delete_store"])
    validate_store_id(cmd.get("store"))
    return cmd


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
    return check_snapshot_put(
        {
            "op": "snapshot_put",
            **key,
            "data": body.get("data"),
            "metadata": body.get("metadata", {}),
            "source_type": body.get("source_type"),
            "created_epoch": now_epoch_us,
        }
    )


def check_snapshot_put(cmd: dict[str, Any]) -> dict[str, Any]:
    """Check a whole ``snapshot_put`` command; returns it."""
    reject_unknown(cmd, _COMMAND_FIELDS["snapshot_put"])
    _check_snapshot_key(cmd)
    _object(cmd.get("data"), "data")
    _object(cmd.get("metadata"), "metadata")
    source_type = cmd.get("source_type")
    if source_type is not None and not (
        isinstance(source_type, str) and len(source_type) <= MAX_ID_LEN
    ):
        raise invalid(
            f"source_type must be a string of at most {MAX_ID_LEN} characters", field="source_type"
        )
    validate_int(cmd.get("created_epoch"), "created_epoch", 0)
    return cmd


def build_snapshot_delete(
    store: str, source_uuid: str, stream_uuid: str, version: Any
) -> dict[str, Any]:
    """The ``snapshot_delete`` command."""
    return check_snapshot_delete(
        {
            "op": "snapshot_delete",
            **validate_snapshot_key(store, source_uuid, stream_uuid, version),
        }
    )


def check_snapshot_delete(cmd: dict[str, Any]) -> dict[str, Any]:
    """Check a whole ``snapshot_delete`` command; returns it."""
    reject_unknown(cmd, _COMMAND_FIELDS["snapshot_delete"])
    _check_snapshot_key(cmd)
    return cmd


def _check_snapshot_key(cmd: dict[str, Any]) -> None:
    validate_snapshot_key(
        cmd.get("store"), cmd.get("source_uuid"), cmd.get("stream_uuid"), cmd.get("version")
    )
    validate_int(cmd.get("version"), "version", 0)


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
    if obj.keys() <= allowed:
        return
    unknown = sorted(str(k) for k in obj if k not in allowed)
    if unknown:
        raise invalid(f"{prefix}{unknown[0]} is not a known field", field=f"{prefix}{unknown[0]}")
