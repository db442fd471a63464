"""Persistent subscriptions through the gateway, against a real 3-node cluster."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import aiohttp
import pytest

from engine.client import GateClient, GateError
from engine.client.subscriptions import Consumer
from tests.cluster_harness import RunningCluster, wait_for

STORE = "reg_gh"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def events(n: int, **data: Any) -> list[dict[str, Any]]:
    return [
        {"event_id": str(uuid.uuid4()), "event_type": "t:v1", "data": {"i": i, **data}}
        for i in range(n)
    ]


async def next_batch(consumer: Consumer, timeout: float = 10.0) -> list[dict[str, Any]]:
    async with asyncio.timeout(timeout):
        return await anext(consumer)


async def receive(consumer: Consumer, n: int, timeout: float = 10.0) -> list[dict[str, Any]]:
    """The next ``n`` delivered events (without acknowledging them)."""
    received: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout):
        while len(received) < n:
            received += await anext(consumer)
    return received


async def listing(client: GateClient, name: str) -> dict[str, Any]:
    return next(s for s in await client.list_subscriptions(STORE) if s["name"] == name)


async def wait_listing(client: GateClient, name: str, **expected: Any) -> dict[str, Any]:
    return await wait_for(
        lambda: listing(client, name),
        lambda s: all(s[k] == v for k, v in expected.items()),
        10,
        f"{name} to show {expected}",
    )


async def setup(
    client: GateClient, n: int = 5, **options: Any
) -> tuple[str, str, list[dict[str, Any]]]:
    stream, name = unique("ps"), unique("sub")
    written = events(n)
    await client.append(STORE, stream, written)
    await client.put_subscription(STORE, name, {"by_stream": f"${stream}"}, **options)
    return stream, name, written


async def test_definitions_put_list_and_delete(cluster: RunningCluster) -> None:
    async with cluster.new_client() as client:
        name = unique("def")
        path = f"{cluster.url}/api/stores/{STORE}/subscriptions/{name}"
        body = {"type": "by_event_type", "selector": "t:v1", "max_in_flight": 5}
        async with aiohttp.ClientSession() as http:
            async with http.put(path, json=body) as resp:
                assert resp.status == 201
            async with http.put(path, json=body) as resp:
                assert resp.status == 200
            async with http.put(path, json={**body, "max_in_flight": 6}) as resp:
                assert resp.status == 409
                assert (await resp.json())["error"]["code"] == "subscription_exists"
            async with http.put(path, json={"selector": {"by_stream": "oops"}}) as resp:
                assert resp.status == 400
                assert "by_stream selector must be" in (await resp.json())["error"]["message"]
            async with http.put(path, json={**body, "max_retries": -1}) as resp:
                assert resp.status == 400
                assert "max_retries" in (await resp.json())["error"]["message"]
        listed = await listing(client, name)
        assert listed == {
            "name": name,
            "type": "by_event_type",
            "selector": "t:v1",
            "start_from": "origin",
            "ack_timeout_ms": 30000,
            "max_retries": 10,
            "max_in_flight": 5,
            "checkpoint": 0,
            "consumers": 0,
            "in_flight": 0,
            "parked": 0,
            "delivered": 0,
            "acked": 0,
            "nacked": 0,
        }
        await client.delete_subscription(STORE, name)
        assert name not in [s["name"] for s in await client.list_subscriptions(STORE)]
        with pytest.raises(GateError) as info:
            await client.delete_subscription(STORE, name)
        assert info.value.code == "subscription_not_found"
        with pytest.raises(GateError) as info:
            async with client.consume(STORE, name):
                pass
        assert info.value.code == "subscription_not_found"


async def test_delivery_in_order_with_acks_moves_the_checkpoint(cluster: RunningCluster) -> None:
    async with cluster.new_client() as client:
        stream, name, written = await setup(client, 30)
        await client.append(STORE, unique("other"), events(3))  # not selected
        async with client.consume(STORE, name) as consumer:
            got = await receive(consumer, 30)
            assert [e["event_id"] for e in got] == [e["event_id"] for e in written]
            assert {e["attempt"] for e in got} == {1}
            await consumer.ack([e["event_id"] for e in got])
            final = await client.append(STORE, stream, events(1))
            more = await receive(consumer, 1)
            await consumer.ack([more[0]["event_id"]])
            shown = await wait_listing(client, name, checkpoint=final["position"])
        assert shown["delivered"] == 31
        assert shown["acked"] == 31


async def test_start_from_current_and_from_an_event_number(cluster: RunningCluster) -> None:
    async with cluster.new_client() as client:
        stream = unique("start")
        await client.append(STORE, stream, events(5))
        current, numbered = unique("cur"), unique("num")
        await client.put_subscription(
            STORE, current, {"by_stream": f"${stream}"}, start_from="current"
        )
        await client.put_subscription(STORE, numbered, {"by_stream": f"${stream}"}, start_from=3)
        await client.append(STORE, stream, events(2))
        async with client.consume(STORE, current) as consumer:
            assert [e["event_number"] for e in await receive(consumer, 2)] == [5, 6]
        async with client.consume(STORE, numbered) as consumer:
            assert [e["event_number"] for e in await receive(consumer, 4)] == [3, 4, 5, 6]


async def test_nack_retry_then_parked_after_max_retries_then_replayed(
    cluster: RunningCluster,
) -> None:
    async with cluster.new_client() as client:
        _, name, written = await setup(client, 2, max_retries=2)
        first, second = (e["event_id"] for e in written)
        async with client.consume(STORE, name) as consumer:
            got = await receive(consumer, 2)
            await consumer.ack([second])
            attempts = [got[0]["attempt"]]
            for _ in range(2):
                await consumer.nack([first], "retry")
                (again,) = await next_batch(consumer)
                assert again["event_id"] == first
                attempts.append(again["attempt"])
            assert attempts == [1, 2, 3]
            await consumer.nack([first], "retry")  # the third failure: parked
            # parked counts as settled: the checkpoint moves past both events
            await wait_listing(client, name, parked=1, in_flight=0, checkpoint=got[1]["position"])
            await client.replay_parked(STORE, name)
            (replayed,) = await next_batch(consumer)
            assert (replayed["event_id"], replayed["attempt"]) == (first, 1)
            await consumer.ack([first])
            await wait_listing(client, name, parked=0, in_flight=0)


async def test_nack_park_skip_and_stop(cluster: RunningCluster) -> None:
    async with cluster.new_client() as client:
        _, name, written = await setup(client, 4)
        ids = [e["event_id"] for e in written]
        async with client.consume(STORE, name) as consumer:
            await receive(consumer, 4)
            await consumer.nack([ids[0]], "park")
            await consumer.nack([ids[1]], "skip")
            await consumer.ack([ids[2]])
            await consumer.nack([ids[3]], "stop")
            async with asyncio.timeout(10):
                assert [batch async for batch in consumer] == [], "stop ends the iteration"
        shown = await wait_listing(client, name, parked=1, consumers=0)
        assert shown["nacked"] == 3
        assert shown["acked"] == 1
        async with client.consume(STORE, name) as consumer:
            (again,) = await next_batch(consumer)
            assert (again["event_id"], again["attempt"]) == (ids[3], 2), "stop gave it back"
            await consumer.ack([ids[3]])
        await wait_listing(client, name, in_flight=0, parked=1, checkpoint=again["position"])


async def test_ack_timeout_redelivers_with_attempt_counts(cluster: RunningCluster) -> None:
    async with cluster.new_client() as client:
        _, name, written = await setup(client, 1, ack_timeout_ms=200, max_retries=1)
        async with client.consume(STORE, name) as consumer:
            (first,) = await next_batch(consumer)
            (second,) = await next_batch(consumer)  # no ack: it comes again
            assert first["event_id"] == second["event_id"] == written[0]["event_id"]
            assert (first["attempt"], second["attempt"]) == (1, 2)
            await wait_listing(client, name, parked=1, in_flight=0)  # max_retries then parked


async def test_competing_consumers_round_robin_with_max_in_flight(
    cluster: RunningCluster,
) -> None:
    async with cluster.new_client() as client:
        stream, name = unique("rr"), unique("sub")
        await client.put_subscription(STORE, name, {"by_stream": f"${stream}"}, max_in_flight=2)
        async with client.consume(STORE, name) as one, client.consume(STORE, name) as two:
            await wait_listing(client, name, consumers=2)
            written = events(4)
            await client.append(STORE, stream, written)
            got_one = await receive(one, 2)
            got_two = await receive(two, 2)
            assert sorted(e["event_number"] for e in got_one + got_two) == [0, 1, 2, 3]
            assert [e["event_number"] for e in got_one] in ([0, 2], [1, 3])
            await client.append(STORE, stream, events(2))
            shown = await wait_listing(client, name, in_flight=4)
            assert shown["delivered"] == 4, "max_in_flight holds the rest back"
            await one.ack([e["event_id"] for e in got_one])
            assert [e["event_number"] for e in await receive(one, 2)] == [4, 5]
