"""The JetStream backend under a killed stream leader: writers through the gateway, SIGKILL of
the nats-server leading the store's stream (the gateway's own kill action), a restart, and the
fault checker's verdict over the store read back through the gateway (the same checker as Gate's
own fault tests)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from typing import Any

import orjson

from bench.lib.jetstream import connect
from bench.lib.nemesis import Workload
from engine.client import GateClient
from engine.client.checker import check_histories
from tests.cluster_harness import wait_for
from tests.jetstream_cluster import JetStreamGateway, jetstream_config, jetstream_gateway

WARM_UP_WRITES = 100


async def stream_leader(served: JetStreamGateway, store: str) -> str:
    """The server that leads the store's stream now, as JetStream reports it ("" for none)."""
    nc = await connect(served.client_urls())
    try:
        answer = await nc.request(f"$JS.API.STREAM.INFO.GATE_{store}", b"{}", timeout=2)
        leader: str = orjson.loads(answer.data).get("cluster", {}).get("leader", "")
        return leader
    except Exception:  # no answer while the servers elect: asked again
        return ""
    finally:
        await nc.close()


async def read_back(url: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    async with GateClient(url) as client:
        while True:
            position = events[-1]["position"] if events else 0
            page = await client.read_all("reg_gh", from_position=position, count=1000)
            if not page:
                return events
            events += page


async def test_acknowledged_writes_survive_killing_the_stream_leader(tmp_path: Path) -> None:
    raw = jetstream_config(tmp_path)
    async with jetstream_gateway(tmp_path, raw) as served, GateClient(served.url) as admin:
        await wait_for(admin.ready, bool, 30, "the store created")
        workload = Workload(served.url, seed=21)
        workload.start()
        try:
            await workload.wait_acked(WARM_UP_WRITES, timeout=30)
            leader = await stream_leader(served, "reg_gh")
            await admin.node_action(leader, "kill")
            killed_at = time.monotonic()
            recovered = await workload.wait_ack_after(killed_at, timeout=20)
            assert recovered is not None, f"nothing acknowledged after: {workload.counts()}"
            await wait_for(
                lambda: stream_leader(served, "reg_gh"),
                lambda now: now not in ("", leader),
                timeout=20,
                what="a new stream leader",
            )
            await admin.node_action(leader, "start")
            acked = workload.counts()["ack"]
            await workload.wait_acked(acked + 50, timeout=30)
        finally:
            await workload.stop()
        histories = {"gateway": await read_back(served.url)}
    verdict = check_histories(histories, workload.attempts)
    print(f"\nfirst write acknowledged {recovered:.2f} s after the kill\n{verdict.report()}")
    assert verdict.ok, verdict.report()
    assert workload.counts()["ack"] > WARM_UP_WRITES + 50


async def test_a_consumer_gets_every_event_across_a_killed_stream_leader(tmp_path: Path) -> None:
    """At least once: a persistent subscription's consumer, acking as it goes, receives every
    event written before, during and after the kill of the stream leader's server."""
    raw = jetstream_config(tmp_path)
    async with jetstream_gateway(tmp_path, raw) as served, GateClient(served.url) as admin:
        await wait_for(admin.ready, bool, 30, "the store created")
        await admin.put_subscription("reg_gh", "fo", {"by_stream": "$fo"})
        written: list[str] = []
        received: set[str] = set()

        async def write(n: int) -> None:
            for i in range(n):
                event_id = f"fo-{len(written)}"
                event = {"event_id": event_id, "event_type": "t", "data": {"i": i}}
                await admin.append("reg_gh", "fo", [event])
                written.append(event_id)

        async def consume() -> None:
            async with admin.consume("reg_gh", "fo", keep_trying=True) as consumer:
                async for batch in consumer:
                    ids = [e["event_id"] for e in batch]
                    received.update(ids)
                    await consumer.ack(ids)

        consuming = asyncio.create_task(consume())
        try:
            await write(50)
            leader = await stream_leader(served, "reg_gh")
            await admin.node_action(leader, "kill")
            await write(50)  # the client retries through the election
            await admin.node_action(leader, "start")
            await write(50)
            await wait_for(
                lambda: asyncio.sleep(0, len(received)),
                lambda n: n >= len(written),
                30,
                "every event received",
            )
        finally:
            consuming.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await consuming
    assert received == set(written)
    assert len(written) == 150
