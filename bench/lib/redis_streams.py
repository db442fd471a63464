"""Redis Streams as an append target: XADD requests of the append scenarios, a server's start.

``redis_baseline`` and ``peers`` drive Redis with these, so their Redis figures are one thing.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import orjson
import redis.asyncio as redis
from redis.exceptions import RedisError
from redis.typing import EncodableT, FieldT

from bench.lib.driver import Request, Scenario, sample_events


def entry_fields(event: dict[str, Any]) -> dict[FieldT, EncodableT]:
    """One event as XADD fields, encoded the way a Gate client sends it."""
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": event["event_type"],
        "data": orjson.dumps(event["data"]),
        "metadata": orjson.dumps(event["metadata"]),
        "created_epoch": time.time_ns() // 1000,
    }


class RedisTarget:
    """The XADD requests of the scenarios against one server."""

    def __init__(self, client: redis.Redis, seed: int) -> None:
        self.client = client
        self.pool = sample_events(seed)
        self.appended = 0  # entries acknowledged, warm-up included (for the sanity check)
        self.streams: set[str] = set()

    def request_for(self, scenario: Scenario, phase: str) -> Request:
        """The request one worker of ``scenario`` repeats; each worker has its own stream."""
        pool, size, batch = self.pool, len(self.pool), scenario.batch
        prefix = f"bench-{phase}-{scenario.key}"
        self.streams.update(f"{prefix}-{w}" for w in range(scenario.workers))

        async def single(worker: int, seq: int) -> None:
            await self.client.xadd(f"{prefix}-{worker}", entry_fields(pool[(seq + worker) % size]))
            self.appended += 1

        async def pipelined(worker: int, seq: int) -> None:
            stream = f"{prefix}-{worker}"
            start = seq * batch + worker
            async with self.client.pipeline(transaction=False) as pipe:
                for k in range(batch):
                    pipe.xadd(stream, entry_fields(pool[(start + k) % size]))
                await pipe.execute()
            self.appended += batch

        return single if batch == 1 else pipelined

    async def send(self, stream: str, event_id: str, i: int) -> None:
        """XADD one small event (the latency workload)."""
        fields: dict[FieldT, EncodableT] = {"event_id": event_id, "event_type": "t:v1"}
        await self.client.xadd(stream, {**fields, "data": orjson.dumps({"i": i})})

    async def feed(
        self, reader: redis.Redis, stream: str, ready: asyncio.Event
    ) -> AsyncIterator[str]:
        """The event ids ``XREAD BLOCK`` on ``reader`` (a connection of its own) receives."""
        last: bytes | str = "0-0"  # the stream is new: from its start, nothing is missed
        ready.set()
        while True:
            answer = cast(
                list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]],
                await reader.xread({stream: last}, block=1000),
            )
            for _, entries in answer:
                for entry_id, fields in entries:
                    last = entry_id
                    yield fields[b"event_id"].decode()


async def wait_until_serving(client: redis.Redis, server: asyncio.subprocess.Process) -> None:
    """Wait (10 s at most) until the server answers PING."""
    deadline = time.monotonic() + 10.0
    while True:
        if server.returncode is not None:
            raise RuntimeError(f"redis-server exited with code {server.returncode}")
        try:
            await client.ping()
            return
        except RedisError:
            if time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.05)


def redis_command(binary: str, port: int, fsync: str, directory: Path) -> list[str]:
    """A private server on 127.0.0.1:``port``: an append-only file synced per ``fsync``, no RDB."""
    return [
        *(binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""),
        *("--appendonly", "yes", "--appendfsync", fsync, "--dir", str(directory)),
    ]
