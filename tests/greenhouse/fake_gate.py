"""Test doubles for the pure producer and repository tests: an in-memory gateway and a clock.

``FakeGate`` answers the subset of ``GateClient`` the domain uses, with the API's semantics
(expected versions, idempotent retries by event id, snapshots), and can be told to fail the
next appends, with or without writing them first (a lost answer after a commit).
"""

from __future__ import annotations

import asyncio
from collections import deque
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from engine.client import GateError

_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


class FakeClock:
    """A clock whose sleeps return at once, moving time forward by the amount slept."""

    def __init__(self) -> None:
        self.time = 0.0

    def now(self) -> float:
        return self.time

    async def sleep(self, seconds: float) -> None:
        self.time += max(0.0, seconds)
        await asyncio.sleep(0)


def records_of(stream: str, events: list[dict[str, Any]], first: int = 0) -> list[dict[str, Any]]:
    """Generated events as the store would answer them (numbered, timestamped)."""
    return [
        {
            **event,
            "stream_id": stream,
            "event_number": first + i,
            "position": first + i + 1,
            "created": (_EPOCH + timedelta(seconds=first + i)).isoformat(),
        }
        for i, event in enumerate(events)
    ]


class FakeGate:
    """An in-memory stand-in for ``GateClient`` (one store namespace, no network)."""

    def __init__(self, clock: FakeClock | None = None, *, append_latency: float = 0.0) -> None:
        self.clock = clock
        self.append_latency = append_latency
        self.stores: set[str] = set()
        self.streams: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.snapshots: dict[tuple[str, str, str, int], dict[str, Any]] = {}
        self.position = 0
        # (code, written first?) for each coming append that should fail
        self.failures: deque[tuple[str, bool]] = deque()
        self.append_times: list[float] = []
        self.append_calls = 0

    # -- helpers for tests ---------------------------------------------------------------------

    def events(self, store: str, stream: str) -> list[dict[str, Any]]:
        return self.streams.get((store, stream), [])

    def fail_next(self, code: str, times: int = 1, *, written: bool = False) -> None:
        self.failures.extend([(code, written)] * times)

    def write_directly(self, store: str, stream: str, events: list[dict[str, Any]]) -> None:
        """Another writer appends (no failure injection, no expected version)."""
        self._write(store, stream, events)

    # -- the GateClient subset -----------------------------------------------------------------

    async def create_store(self, store_id: str) -> None:
        if store_id in self.stores:
            raise GateError("store_exists", f"store {store_id} exists")
        self.stores.add(store_id)

    def _store(self, store: str) -> None:
        if store not in self.stores:
            raise GateError("store_not_found", f"no store {store}")

    async def append(
        self,
        store: str,
        stream: str,
        events: list[dict[str, Any]],
        expected_version: int | str = "any",
    ) -> dict[str, int]:
        self.append_calls += 1
        self._store(store)
        if self.clock is not None:
            self.append_times.append(self.clock.now())
            self.clock.time += self.append_latency
        await asyncio.sleep(0)
        failure = self.failures.popleft() if self.failures else None
        if failure is not None and not failure[1]:
            raise GateError(failure[0], "injected failure")
        result = self._append(store, stream, events, expected_version)
        if failure is not None:
            raise GateError(failure[0], "injected failure after writing")
        return result

    def _append(
        self, store: str, stream: str, events: list[dict[str, Any]], expected: int | str
    ) -> dict[str, int]:
        existing = self.events(store, stream)
        current = len(existing) - 1
        if isinstance(expected, int):
            following = existing[expected + 1 : expected + 1 + len(events)]
            if [e["event_id"] for e in following] == [e["event_id"] for e in events]:
                # A retry of events already written right after the expected version.
                return {"version": expected + len(events), "position": following[-1]["position"]}
            if expected != current:
                raise GateError(
                    "wrong_expected_version",
                    f"expected {expected}, stream is at {current}",
                    current_version=current,
                )
        return self._write(store, stream, events)

    def _write(self, store: str, stream: str, events: list[dict[str, Any]]) -> dict[str, int]:
        existing = self.streams.setdefault((store, stream), [])
        for event in events:
            self.position += 1
            existing.append(
                {
                    "event_id": event["event_id"],
                    "event_type": event["event_type"],
                    "stream_id": stream,
                    "event_number": len(existing),
                    "position": self.position,
                    "data": orjson.loads(orjson.dumps(event["data"])),
                    "metadata": orjson.loads(orjson.dumps(event.get("metadata", {}))),
                    "created": (_EPOCH + timedelta(seconds=self.position)).isoformat(),
                }
            )
        return {"version": len(existing) - 1, "position": self.position}

    async def stream_version(self, store: str, stream: str) -> int:
        self._store(store)
        await asyncio.sleep(0)
        return len(self.events(store, stream)) - 1

    async def read_stream(
        self,
        store: str,
        stream: str,
        start: int | None = None,
        count: int = 100,
        direction: str = "forward",
    ) -> dict[str, Any]:
        assert direction == "forward"
        self._store(store)
        await asyncio.sleep(0)
        existing = self.events(store, stream)
        begin = start or 0
        return {
            "stream_id": stream,
            "version": len(existing) - 1,
            "events": [dict(e) for e in existing[begin : begin + count]],
        }

    async def put_snapshot(
        self,
        store: str,
        source_uuid: str,
        stream_uuid: str,
        version: int,
        data: dict[str, Any],
        metadata: dict[str, Any] | None = None,
        source_type: str | None = None,
    ) -> None:
        self._store(store)
        self.snapshots[(store, source_uuid, stream_uuid, version)] = {
            "source_uuid": source_uuid,
            "stream_uuid": stream_uuid,
            "source_version": version,
            "source_type": source_type,
            "data": orjson.loads(orjson.dumps(data)),
            "metadata": metadata or {},
        }

    async def get_snapshot(
        self, store: str, source_uuid: str, stream_uuid: str, version: int
    ) -> dict[str, Any]:
        try:
            return self.snapshots[(store, source_uuid, stream_uuid, version)]
        except KeyError:
            raise GateError("snapshot_not_found", "no such snapshot") from None

    async def list_snapshots(
        self, store: str, source_uuid: str | None = None, stream_uuid: str | None = None
    ) -> list[dict[str, Any]]:
        self._store(store)
        return [
            s
            for (st, src, strm, _), s in self.snapshots.items()
            if st == store and source_uuid in (None, src) and stream_uuid in (None, strm)
        ]
