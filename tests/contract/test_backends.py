"""One contract for both backends: the same requests through the gateway's public API get the
same answers from a real Gate cluster and from a real 3-server JetStream cluster
(engine/backends/port.py; docs/ENGINE.md, "Backends")."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any, Protocol

import aiohttp
import pytest

from engine.client import GateClient, GateError
from engine.client.subscriptions import Consumer
from tests.cluster_harness import start_cluster, stop_cluster, wait_for
from tests.jetstream_cluster import START_TIMEOUT, jetstream_config, launch


class Served(Protocol):
    @property
    def url(self) -> str: ...


def _ready(url: str) -> None:
    """Wait until the gateway has created its configured stores (``/ready``)."""

    async def ready() -> bool:
        async with GateClient(url) as client:
            return await client.ready()

    asyncio.run(wait_for(ready, bool, START_TIMEOUT, "the gateway ready"))


@pytest.fixture(scope="module", params=["gate", "jetstream"])
def engine_cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Served]]:
    """A gateway process over each backend in turn, shared by the module's tests (the name
    ending in ``cluster`` marks them slow): Gate's nodes, or three nats-servers it launched."""
    directory = tmp_path_factory.mktemp(request.param)
    if request.param == "gate":
        running = start_cluster(directory)
        try:
            yield "gate", running
        finally:
            stop_cluster(running)
        return
    served = launch(directory, jetstream_config(directory))
    try:
        _ready(served.url)
        yield "jetstream", served
    finally:
        served.stop()


@pytest.fixture
async def client(engine_cluster: tuple[str, Served]) -> AsyncIterator[GateClient]:
    async with GateClient(engine_cluster[1].url) as gate:
        yield gate


def ev(i: int = 0, event_id: str | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {"event_type": "temperature_measured:v1", "data": {"t": i}}
    if event_id is not None:
        event["event_id"] = event_id
    return event


def new_stream() -> str:
    return f"c-{uuid.uuid4().hex[:8]}"


async def post(url: str, path: str, body: Any) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.post(url + path, json=body) as resp:
        return resp.status, await resp.json()


async def test_append_then_read_forward_backward_and_by_version(client: GateClient) -> None:
    stream = new_stream()
    first = await client.append("reg_gh", stream, [ev(i) for i in range(5)])
    assert first["version"] == 4
    second = await client.append("reg_gh", stream, [ev(5)], expected_version=4)
    assert second == {"version": 5, "position": first["position"] + 1}
    forward = await client.read_stream("reg_gh", stream)
    assert forward["version"] == 5
    assert [e["event_number"] for e in forward["events"]] == list(range(6))
    assert [e["data"]["t"] for e in forward["events"]] == list(range(6))
    assert {e["stream_id"] for e in forward["events"]} == {stream}
    record = forward["events"][0]
    assert set(record) == {
        "event_id",
        "event_type",
        "stream_id",
        "event_number",
        "position",
        "data",
        "metadata",
        "created",
        "created_epoch",
    }
    page = await client.read_stream("reg_gh", stream, start=2, count=2)
    assert [e["event_number"] for e in page["events"]] == [2, 3]
    back = await client.read_stream("reg_gh", stream, direction="backward", count=3)
    assert [e["event_number"] for e in back["events"]] == [5, 4, 3]
    assert await client.stream_version("reg_gh", stream) == 5
    missing = await client.read_stream("reg_gh", new_stream())
    assert (missing["version"], missing["events"]) == (-1, [])


async def test_stream_ids_that_are_not_subject_tokens(client: GateClient) -> None:
    for stream in ("a.b", "sp ace/*>", "ünï-çødé", "x" * 256):
        await client.append("reg_gh", stream, [ev(1), ev(2)])
        read = await client.read_stream("reg_gh", stream)
        assert [(e["stream_id"], e["event_number"]) for e in read["events"]] == [
            (stream, 0),
            (stream, 1),
        ]
    listed = {s["stream_id"]: s["version"] for s in await client.list_streams("reg_gh")}
    assert listed["a.b"] == 1 and listed["sp ace/*>"] == 1


async def test_wrong_expected_version_is_the_same_409(engine_cluster: tuple[str, Served]) -> None:
    url = engine_cluster[1].url
    stream = new_stream()
    path = f"/api/stores/reg_gh/streams/{stream}/events"
    assert (await post(url, path, {"events": [ev()], "expected_version": "no_stream"}))[0] == 200
    status, body = await post(url, path, {"events": [ev()], "expected_version": 5})
    assert status == 409
    assert body == {
        "error": {
            "code": "wrong_expected_version",
            "message": f"stream '{stream}' is at version 0, expected 5",
            "current_version": 0,
        }
    }
    status, body = await post(url, path, {"events": [ev()], "expected_version": "no_stream"})
    assert (status, body["error"]["current_version"]) == (409, 0)
    status, body = await post(url, "/api/stores/reg_gh/streams/$x/events", {"events": [ev()]})
    assert (status, body["error"]["code"]) == (400, "invalid_request")


async def test_a_retry_with_the_same_event_ids_is_written_once(client: GateClient) -> None:
    stream = new_stream()
    batch = [ev(i, str(uuid.uuid4())) for i in range(3)]
    first = await client.append("reg_gh", stream, batch, expected_version="no_stream")
    assert await client.append("reg_gh", stream, batch, expected_version="no_stream") == first
    assert await client.append("reg_gh", stream, batch) == first
    more = await client.append("reg_gh", stream, [ev(9)], expected_version=2)
    assert await client.append("reg_gh", stream, batch, expected_version=-1) == first
    read = await client.read_stream("reg_gh", stream)
    assert [e["event_id"] for e in read["events"]][:3] == [e["event_id"] for e in batch]
    assert read["version"] == more["version"] == 3
    # The same ids at another version are no retry: a conflict.
    with pytest.raises(GateError) as caught:
        await client.append("reg_gh", stream, batch[1:], expected_version=3)
    assert caught.value.code == "wrong_expected_version"


async def test_a_retry_among_concurrent_appends_is_answered_and_written_once(
    client: GateClient,
) -> None:
    stream = new_stream()
    stored = [ev(i, str(uuid.uuid4())) for i in range(2)]
    first = await client.append("reg_gh", stream, stored)
    fresh = [[ev(10 + k)] for k in range(5)]
    results = await asyncio.gather(
        client.append("reg_gh", stream, stored),
        *(client.append("reg_gh", stream, batch) for batch in fresh),
        client.append("reg_gh", stream, stored, expected_version=-1),
    )
    assert results[0] == results[-1] == first
    assert sorted(r["version"] for r in results[1:-1]) == [2, 3, 4, 5, 6]
    read = await client.read_stream("reg_gh", stream)
    assert [e["event_number"] for e in read["events"]] == list(range(7))
    assert sorted(e["data"]["t"] for e in read["events"][2:]) == [10, 11, 12, 13, 14]


async def test_batches_are_atomic_and_one_of_two_racers_wins(client: GateClient) -> None:
    stream = new_stream()
    await client.append("reg_gh", stream, [ev()], expected_version="no_stream")
    racers = [[ev(k * 10 + i) for i in range(4)] for k in range(6)]
    results = await asyncio.gather(
        *(client.append("reg_gh", stream, r, expected_version=0) for r in racers),
        return_exceptions=True,
    )
    won = [r for r in results if isinstance(r, dict)]
    lost = [r for r in results if isinstance(r, GateError)]
    assert len(won) == 1 and len(lost) == 5
    assert {e.code for e in lost} == {"wrong_expected_version"}
    read = await client.read_stream("reg_gh", stream)
    assert read["version"] == 4
    winner = racers[results.index(won[0])]
    assert [e["data"] for e in read["events"][1:]] == [e["data"] for e in winner]


async def test_concurrent_writers_with_any_each_get_a_whole_slot(client: GateClient) -> None:
    stream = new_stream()
    batches = [[ev(k * 10 + i) for i in range(3)] for k in range(8)]
    results = await asyncio.gather(*(client.append("reg_gh", stream, b) for b in batches))
    assert sorted(r["version"] for r in results) == [3 * k + 2 for k in range(8)]
    read = await client.read_stream("reg_gh", stream)
    numbers = [e["event_number"] for e in read["events"]]
    positions = [e["position"] for e in read["events"]]
    assert numbers == list(range(24))
    # Each batch's events stand together, in order, in the store's global order too.
    for k in range(8):
        mine = [e for e in read["events"] if e["data"]["t"] // 10 == k]
        assert [e["data"]["t"] % 10 for e in mine] == [0, 1, 2]
        assert [e["position"] for e in mine] == list(
            range(mine[0]["position"], mine[0]["position"] + 3)
        )
    assert positions == sorted(positions)


async def test_all_pages_forward_and_backward_without_gaps(client: GateClient) -> None:
    await client.append("reg_gh", new_stream(), [ev(i) for i in range(7)])
    last = (await client.get_store("reg_gh"))["last_position"]
    forward = await client.read_all("reg_gh", from_position=last - 7, count=5)
    assert [e["position"] for e in forward] == list(range(last - 6, last - 1))
    backward = await client.read_all("reg_gh", direction="backward", count=3)
    assert [e["position"] for e in backward] == [last, last - 1, last - 2]
    every: list[int] = []
    position = 0
    while True:
        page = await client.read_all("reg_gh", from_position=position, count=50)
        if not page:
            break
        every += [e["position"] for e in page]
        position = every[-1]
    assert every == list(range(1, last + 1))


async def test_stores_create_list_info_delete(client: GateClient) -> None:
    store = f"st{uuid.uuid4().hex[:8]}"
    await client.create_store(store, {"purpose": "contract"})
    with pytest.raises(GateError) as exists:
        await client.create_store(store)
    assert exists.value.code == "store_exists"
    await client.append(store, "one", [ev(1), ev(2)])
    info = await client.get_store(store)
    assert info == {
        "store_id": store,
        "status": "running",
        "config": {"purpose": "contract"},
        "streams": 1,
        "events": 2,
        "last_position": 2,
    }
    listed = {s["store_id"]: s for s in await client.list_stores()}
    assert listed[store] == {k: v for k, v in info.items() if k != "config"}
    await client.delete_store(store)
    for call in (client.get_store(store), client.delete_store(store)):
        with pytest.raises(GateError) as gone:
            await call
        assert gone.value.code == "store_not_found"
    assert store not in {s["store_id"] for s in await client.list_stores()}


async def test_snapshots_put_get_list_delete(client: GateClient) -> None:
    source, other = f"src-{uuid.uuid4().hex[:6]}", "with space.and.dots"
    await client.put_snapshot("reg_gh", source, "s1", 3, {"n": 3}, {"m": 1}, source_type="counter")
    await client.put_snapshot("reg_gh", source, "s1", 7, {"n": 7})
    await client.put_snapshot("reg_gh", other, "s1", 1, {"n": 1})
    got = await client.get_snapshot("reg_gh", source, "s1", 3)
    assert {k: got[k] for k in ("source_uuid", "stream_uuid", "source_version")} == {
        "source_uuid": source,
        "stream_uuid": "s1",
        "source_version": 3,
    }
    assert (got["data"], got["metadata"], got["source_type"]) == ({"n": 3}, {"m": 1}, "counter")
    assert got["created_at"].endswith("Z")
    mine = await client.list_snapshots("reg_gh", source_uuid=source)
    assert [s["source_version"] for s in mine] == [3, 7]
    assert (await client.get_snapshot("reg_gh", other, "s1", 1))["source_uuid"] == other
    await client.delete_snapshot("reg_gh", source, "s1", 3)
    with pytest.raises(GateError) as gone:
        await client.get_snapshot("reg_gh", source, "s1", 3)
    assert gone.value.code == "snapshot_not_found"
    with pytest.raises(GateError) as no_store:
        await client.put_snapshot("nosuchstore", source, "s1", 1, {})
    assert no_store.value.code == "store_not_found"


async def test_an_observer_sees_new_events_live(client: GateClient) -> None:
    stream = new_stream()
    seen: list[dict[str, Any]] = []
    live = asyncio.Event()
    enough = asyncio.Event()

    async def watch() -> None:
        async for message in client.observe("reg_gh", {"by_stream": f"${stream}"}):
            if message["type"] == "live":
                live.set()
            elif message["type"] == "events":
                seen.extend(message["events"])
                if len(seen) >= 5:
                    enough.set()

    task = asyncio.create_task(watch())
    try:
        async with asyncio.timeout(20):
            await live.wait()
            await client.append("reg_gh", new_stream(), [ev(99)])
            for i in range(5):
                await client.append("reg_gh", stream, [ev(i)])
            await enough.wait()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task  # its WebSocket closed, not left to the gateway's shutdown
    assert [e["data"]["t"] for e in seen] == list(range(5))
    assert [e["event_number"] for e in seen] == list(range(5))


# -- persistent subscriptions (the rules of tests/subscriptions/test_persistent_api.py) -----------


def events(n: int) -> list[dict[str, Any]]:
    return [
        {"event_id": str(uuid.uuid4()), "event_type": "t:v1", "data": {"i": i}} for i in range(n)
    ]


async def receive(consumer: Consumer, n: int, timeout: float = 10.0) -> list[dict[str, Any]]:
    """The next ``n`` delivered events (without acknowledging them)."""
    received: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout):
        while len(received) < n:
            received += await anext(consumer)
    return received


async def wait_listing(client: GateClient, name: str, **expected: Any) -> dict[str, Any]:
    async def listing() -> dict[str, Any]:
        return next(s for s in await client.list_subscriptions("reg_gh") if s["name"] == name)

    return await wait_for(
        listing,
        lambda s: all(s[k] == v for k, v in expected.items()),
        10,
        f"{name} to show {expected}",
    )


async def subscribed(client: GateClient, n: int, **options: Any) -> tuple[str, str, list[Any]]:
    stream, name = new_stream(), f"sub.{uuid.uuid4().hex[:8]}:x"
    written = events(n)
    await client.append("reg_gh", stream, written)
    await client.put_subscription("reg_gh", name, {"by_stream": f"${stream}"}, **options)
    return stream, name, written


async def test_subscription_definitions_put_list_delete(
    engine_cluster: tuple[str, Served], client: GateClient
) -> None:
    name = f"def-{uuid.uuid4().hex[:8]}"
    path = f"{engine_cluster[1].url}/api/stores/reg_gh/subscriptions/{name}"
    body = {"type": "by_event_type", "selector": "t:v1", "max_in_flight": 5}
    async with aiohttp.ClientSession() as http:
        async with http.put(path, json=body) as resp:
            assert (resp.status, await resp.json()) == (201, {"name": name, "created": True})
        async with http.put(path, json=body) as resp:
            assert (resp.status, await resp.json()) == (200, {"name": name, "created": False})
        async with http.put(path, json={**body, "max_in_flight": 6}) as resp:
            assert resp.status == 409
            assert (await resp.json())["error"]["code"] == "subscription_exists"
        async with http.put(path, json={**body, "max_retries": -1}) as resp:
            assert resp.status == 400
    listed = await wait_listing(client, name)
    assert listed == {
        "name": name,
        "type": "by_event_type",
        "selector": "t:v1",
        "start_from": "origin",
        "ack_timeout_ms": 30000,
        "max_retries": 10,
        "max_in_flight": 5,
        "checkpoint": listed["checkpoint"],  # the store's position: other tests wrote events
        "consumers": 0,
        "in_flight": 0,
        "parked": 0,
        "delivered": 0,
        "acked": 0,
        "nacked": 0,
    }
    await client.delete_subscription("reg_gh", name)
    assert name not in [s["name"] for s in await client.list_subscriptions("reg_gh")]
    for gone in (client.delete_subscription("reg_gh", name), client.replay_parked("reg_gh", name)):
        with pytest.raises(GateError) as info:
            await gone
        assert info.value.code == "subscription_not_found"
    with pytest.raises(GateError) as info:
        async with client.consume("reg_gh", name):
            pass
    assert info.value.code == "subscription_not_found"


async def test_delivery_in_order_and_acks_move_the_checkpoint(client: GateClient) -> None:
    stream, name, written = await subscribed(client, 30)
    await client.append("reg_gh", new_stream(), events(3))  # not selected
    async with client.consume("reg_gh", name) as consumer:
        got = await receive(consumer, 30)
        assert [e["event_id"] for e in got] == [e["event_id"] for e in written]
        assert {e["attempt"] for e in got} == {1}
        await consumer.ack([e["event_id"] for e in got])
        final = await client.append("reg_gh", stream, events(1))
        more = await receive(consumer, 1)
        await consumer.ack([more[0]["event_id"]])
        shown = await wait_listing(client, name, checkpoint=final["position"], in_flight=0)
    assert (shown["delivered"], shown["acked"]) == (31, 31)


async def test_subscriptions_start_from_current_and_from_an_event_number(
    client: GateClient,
) -> None:
    stream = new_stream()
    await client.append("reg_gh", stream, events(5))
    current, numbered, ahead = (f"{k}-{uuid.uuid4().hex[:8]}" for k in ("cur", "num", "ahead"))
    selector = {"by_stream": f"${stream}"}
    await client.put_subscription("reg_gh", current, selector, start_from="current")
    await client.put_subscription("reg_gh", numbered, selector, start_from=3)
    await client.put_subscription("reg_gh", ahead, selector, start_from=6)
    await client.append("reg_gh", stream, events(2))
    for name, numbers in ((current, [5, 6]), (numbered, [3, 4, 5, 6]), (ahead, [6])):
        async with client.consume("reg_gh", name) as consumer:
            got = await receive(consumer, len(numbers))
            assert [e["event_number"] for e in got] == numbers, name


async def test_nack_retry_until_parked_then_replayed(client: GateClient) -> None:
    _, name, written = await subscribed(client, 2, max_retries=2)
    first, second = (e["event_id"] for e in written)
    async with client.consume("reg_gh", name) as consumer:
        got = await receive(consumer, 2)
        await consumer.ack([second])
        attempts = [got[0]["attempt"]]
        for _ in range(2):
            await consumer.nack([first], "retry")
            (again,) = await receive(consumer, 1)
            assert again["event_id"] == first
            attempts.append(again["attempt"])
        assert attempts == [1, 2, 3]
        await consumer.nack([first], "retry")  # the third failure: parked
        await wait_listing(client, name, parked=1, in_flight=0, checkpoint=got[1]["position"])
        await client.replay_parked("reg_gh", name)
        (replayed,) = await receive(consumer, 1)
        assert (replayed["event_id"], replayed["attempt"]) == (first, 1)
        await consumer.ack([first])
        await wait_listing(client, name, parked=0, in_flight=0)


async def test_nack_park_skip_and_stop(client: GateClient) -> None:
    _, name, written = await subscribed(client, 4)
    ids = [e["event_id"] for e in written]
    async with client.consume("reg_gh", name) as consumer:
        await receive(consumer, 4)
        await consumer.nack([ids[0]], "park")
        await consumer.nack([ids[1]], "skip")
        await consumer.ack([ids[2]])
        await consumer.nack([ids[3]], "stop")
        async with asyncio.timeout(10):
            assert [batch async for batch in consumer] == [], "stop ends the iteration"
    shown = await wait_listing(client, name, parked=1, consumers=0)
    assert (shown["nacked"], shown["acked"]) == (3, 1)
    async with client.consume("reg_gh", name) as consumer:
        (again,) = await receive(consumer, 1)
        assert (again["event_id"], again["attempt"]) == (ids[3], 2), "stop gave it back"
        await consumer.ack([ids[3]])
    await wait_listing(client, name, in_flight=0, parked=1, checkpoint=again["position"])


async def test_an_ack_timeout_redelivers_then_parks(client: GateClient) -> None:
    _, name, written = await subscribed(client, 1, ack_timeout_ms=300, max_retries=1)
    async with client.consume("reg_gh", name) as consumer:
        (first,) = await receive(consumer, 1)
        (second,) = await receive(consumer, 1)  # no ack: it comes again
        assert first["event_id"] == second["event_id"] == written[0]["event_id"]
        assert (first["attempt"], second["attempt"]) == (1, 2)
        await wait_listing(client, name, parked=1, in_flight=0)  # max_retries, then parked


async def test_deleting_a_subscription_ends_its_consumers(client: GateClient) -> None:
    _, name, _ = await subscribed(client, 1)
    async with client.consume("reg_gh", name) as consumer:
        await receive(consumer, 1)
        await client.delete_subscription("reg_gh", name)
        with pytest.raises(GateError) as ended:
            async with asyncio.timeout(10):
                async for _ in consumer:
                    pass
    assert ended.value.code == "subscription_not_found"
