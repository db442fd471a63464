"""An in-memory store answering the reads an observer hub makes, long polls included."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from engine.protocol.errors import GateError


def record(position: int, stream: str = "s-1", event_type: str = "t:v1") -> dict[str, Any]:
    return {
        "event_id": f"e-{position}",
        "event_type": event_type,
        "stream_id": stream,
        "event_number": position - 1,
        "position": position,
        "data": {"n": position},
        "metadata": {},
    }


class FakeStore:
    """Events of one store; ``read`` has the signature of an observer hub's reader."""

    def __init__(self, store: str = "reg_gh") -> None:
        self.store = store
        self.events: list[dict[str, Any]] = []
        self.reads: list[dict[str, Any]] = []
        self.before_history_read: Callable[[], None] | None = None
        self._grew = asyncio.Event()

    def append(self, count: int, **fields: Any) -> None:
        """Commit ``count`` more events and wake the long polls (as a node's apply loop does)."""
        start = len(self.events) + 1
        self.events.extend(record(p, **fields) for p in range(start, start + count))
        self._grew.set()
        self._grew = asyncio.Event()

    async def read(self, query: dict[str, Any], min_position: int | None, wait_ms: int) -> Any:
        self.reads.append(query)
        if query["store"] != self.store:
            raise GateError("store_not_found", f"store {query['store']!r} not found")
        if query["kind"] == "store":
            return {"store_id": self.store, "last_position": len(self.events)}
        after = query["from_position"]
        if wait_ms and len(self.events) <= after:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._grew.wait(), wait_ms / 1000)
        elif self.before_history_read is not None:
            self.before_history_read()
        assert min_position is None or len(self.events) >= min_position
        count, stream = query["count"], query.get("stream")
        if stream is None:
            return {"events": self.events[after : after + count]}
        # As EventStore.read_past: the stream's events past ``after``, and how far it looked.
        events = [e for e in self.events[after:] if e["stream_id"] == stream][:count]
        read_to = events[-1]["position"] if len(events) == count else len(self.events)
        return {"events": events, "read_to": read_to}
