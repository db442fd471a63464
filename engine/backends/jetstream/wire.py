"""What the JetStream backend's modules share: the API's error answers and the event record of
a stored message."""

from __future__ import annotations

from typing import Any

import orjson

from engine.backends.jetstream import naming
from engine.storage.event_store import iso_utc


class JetStreamError(Exception):
    """An error answer of the JetStream API."""

    def __init__(self, err: dict[str, Any]) -> None:
        super().__init__(err.get("description", "JetStream error"))
        self.code = int(err.get("err_code") or 0)
        self.status = int(err.get("code") or 0)
        self.description = str(err.get("description", ""))


def event_record(subject: str, data: bytes, seq: int) -> dict[str, Any]:
    """The event record (docs/API.md) of a stored message: its subject, body and sequence."""
    body = orjson.loads(data)
    _, number = naming.parse_event_subject(subject)
    epoch = int(body["created_epoch"])
    return {
        "event_id": body["event_id"],
        "event_type": body["event_type"],
        "stream_id": body["stream_id"],
        "event_number": number,
        "position": seq,
        "data": body["data"],
        "metadata": body["metadata"],
        "created": iso_utc(epoch),
        "created_epoch": epoch,
    }
