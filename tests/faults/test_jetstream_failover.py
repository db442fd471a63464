"""The JetStream backend under a killed stream leader: writers through the gateway, SIGKILL of
the nats-server leading the store's stream, a restart, and the fault checker's verdict over the
store read back through the gateway (the same checker as Gate's own fault tests)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from bench.lib.nemesis import Workload
from engine.client.checker import check_histories
from tests.cluster_harness import wait_for
from tests.jetstream_cluster import JetStreamGateway, jetstream_gateway

WARM_UP_WRITES = 100


async def read_back(served: JetStreamGateway) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    async with served.new_client() as client:
        while True:
            position = events[-1]["position"] if events else 0
            page = await client.read_all("reg_gh", from_position=position, count=1000)
            if not page:
                return events
            events += page


async def test_acknowledged_writes_survive_killing_the_stream_leader(tmp_path: Path) -> None:
    with jetstream_gateway(tmp_path) as served:
        workload = Workload(served.url, seed=21)
        workload.start()
        try:
            await workload.wait_acked(WARM_UP_WRITES, timeout=30)
            leader = await served.stream_leader("reg_gh")
            await asyncio.to_thread(served.kill, leader)
            killed_at = time.monotonic()
            recovered = await workload.wait_ack_after(killed_at, timeout=20)
            assert recovered is not None, (
                f"no write acknowledged after the kill: {workload.counts()}"
            )

            await wait_for(
                lambda: served.stream_leader("reg_gh"),
                lambda now: now not in ("", leader),
                timeout=20,
                what="a new stream leader",
            )
            await asyncio.to_thread(served.restart, leader)
            acked = workload.counts()["ack"]
            await workload.wait_acked(acked + 50, timeout=30)
        finally:
            await workload.stop()
        histories = {"gateway": await read_back(served)}
    verdict = check_histories(histories, workload.attempts)
    print(f"\nfirst write acknowledged {recovered:.2f} s after the kill\n{verdict.report()}")
    assert verdict.ok, verdict.report()
    assert workload.counts()["ack"] > WARM_UP_WRITES + 50
