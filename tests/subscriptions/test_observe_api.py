"""Transient observers through the gateway's WebSocket, against a real 3-node cluster."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from engine.client import GateClient, GateError
from tests.cluster_harness import RunningCluster


def stream_name() -> str:
    return f"obs-{uuid.uuid4().hex[:8]}"


def events(n: int, event_type: str = "temperature_measured:v1") -> list[dict[str, Any]]:
    return [{"event_type": event_type, "data": {"temperature": 20 + i}} for i in range(n)]


class Collector:
    """Runs an observer in the background and keeps what it yields."""

    def __init__(self, iterator: AsyncIterator[dict[str, Any]]) -> None:
        self.messages: list[dict[str, Any]] = []
        self.live = asyncio.Event()
        self.changed = asyncio.Event()
        self._iterator = iterator
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async for message in self._iterator:
            self.messages.append(message)
            if message["type"] == "live":
                self.live.set()
            self.changed.set()

    def records(self) -> list[dict[str, Any]]:
        return [e for m in self.messages if m["type"] == "events" for e in m["events"]]

    async def wait_records(self, n: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        async with asyncio.timeout(timeout):
            while len(self.records()) < n:
                if self.task.done():
                    self.task.result()
                self.changed.clear()
                await self.changed.wait()
        return self.records()

    async def close(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


@contextlib.asynccontextmanager
async def observer(
    client: GateClient, selector: dict[str, Any] | None = None, from_position: int | None = None
) -> AsyncIterator[Collector]:
    collector = Collector(client.observe("reg_gh", selector, from_position))
    try:
        async with asyncio.timeout(10):
            await collector.live.wait()
        yield collector
    finally:
        await collector.close()


async def test_live_observer_sees_committed_events_in_order(cluster: RunningCluster) -> None:
    async with cluster.new_client() as client:
        stream = stream_name()
        async with observer(client, {"by_stream": f"${stream}"}) as seen:
            for _ in range(5):
                await client.append("reg_gh", stream, events(3))
                await client.append("reg_gh", stream_name(), events(1))  # not selected
            records = await seen.wait_records(15)
        assert [r["event_number"] for r in records] == list(range(15))
        assert {r["stream_id"] for r in records} == {stream}
        positions = [r["position"] for r in records]
        assert positions == sorted(positions)


async def test_catch_up_then_live_without_gap_or_duplicate(cluster: RunningCluster) -> None:
    async with cluster.new_client() as client:
        stream = stream_name()
        first = await client.append("reg_gh", stream, events(1))
        start = first["position"] - 1
        for _ in range(4):  # with another stream's events in between: the catch-up reads
            await client.append("reg_gh", stream, events(500))  # this stream's index
            await client.append("reg_gh", stream_name(), events(300))
        async with observer(client, {"by_stream": f"${stream}"}, from_position=start) as seen:
            await client.append("reg_gh", stream, events(7))
            records = await seen.wait_records(2008)
        assert [r["event_number"] for r in records] == list(range(2008))


async def test_selectors_over_the_wire(cluster: RunningCluster) -> None:
    async with cluster.new_client() as client:
        stream = stream_name()
        last = await client.append("reg_gh", stream, events(1))
        by_type = {"by_event_type": "humidity_measured:v1"}
        by_payload = {"by_event_payload": {"humidity": {"$gte": 60}}}
        by_pattern = {"by_event_pattern": {"stream_id": stream, "data": {"humidity": {"$lt": 60}}}}
        async with (
            observer(client, by_type, last["position"]) as typed,
            observer(client, by_payload, last["position"]) as payload,
            observer(client, by_pattern, last["position"]) as pattern,
        ):
            await client.append(
                "reg_gh",
                stream,
                [{"event_type": "humidity_measured:v1", "data": {"humidity": h}} for h in (50, 70)],
            )
            await client.append("reg_gh", stream, events(2))
            assert [r["data"] for r in await typed.wait_records(2)] == [
                {"humidity": 50},
                {"humidity": 70},
            ]
            assert [r["data"] for r in await payload.wait_records(1)] == [{"humidity": 70}]
            assert [r["data"] for r in await pattern.wait_records(1)] == [{"humidity": 50}]


@pytest.mark.parametrize(
    ("query", "status", "says"),
    [
        ("type=by_color&selector=red", 400, "selector type must be one of"),
        ("type=by_stream&selector=nope", 400, "by_stream selector must be"),
        ("type=by_event_payload&selector=%7Bbad", 400, "not valid JSON"),
        ("type=by_event_payload&selector=%7B%22t%22%3A%7B%22%24nope%22%3A1%7D%7D", 400, "$nope"),
        ("from_position=-1", 400, "from_position"),
    ],
)
async def test_bad_observe_requests_are_refused_with_a_reason(
    cluster: RunningCluster, query: str, status: int, says: str
) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{cluster.url}/api/stores/reg_gh/observe?{query}") as resp,
    ):
        body = await resp.json()
    assert resp.status == status
    assert says in body["error"]["message"]


async def test_client_reports_refusals_as_errors(cluster: RunningCluster) -> None:
    async with cluster.new_client() as client:
        with pytest.raises(GateError) as info:
            async for _ in client.observe("no_such_store"):
                pass
        assert info.value.code == "store_not_found"
        with pytest.raises(GateError) as info:
            async for _ in client.observe("reg_gh", {"by_event_payload": {"x": {"$in": 3}}}):
                pass
        assert info.value.code == "invalid_request"
        assert "$in must be a list" in info.value.message


async def _long_polls(cluster: RunningCluster, node_id: str) -> int:
    async with (
        aiohttp.ClientSession() as http,
        http.get(cluster.node_url(node_id) + "/metrics") as resp,
    ):
        text = await resp.text()
    line = next(ln for ln in text.splitlines() if ln.startswith("gate_node_long_polls_total"))
    return int(float(line.split()[-1]))


async def test_the_live_tail_is_served_by_the_leader(cluster: RunningCluster) -> None:
    """The leader applies first, so the observers' tail long-polls it, not a follower."""
    leader = await cluster.leader()
    nodes = cluster.config.node_ids
    followers = [n for n in nodes if n != leader]
    before = {n: await _long_polls(cluster, n) for n in nodes}
    async with cluster.new_client() as client:
        stream = stream_name()
        async with observer(client, {"by_stream": f"${stream}"}) as seen:
            for _ in range(3):
                await client.append("reg_gh", stream, events(1))
            await seen.wait_records(3)
    after = {n: await _long_polls(cluster, n) for n in nodes}
    assert after[leader] > before[leader]
    assert all(after[n] == before[n] for n in followers)
