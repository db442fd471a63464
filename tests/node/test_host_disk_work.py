"""A node's background disk work (durable points, checkpoints) follows its answers."""

from __future__ import annotations

import asyncio
from pathlib import Path

from engine.config import load_config
from engine.node.host import RaftHost
from tests.cluster_harness import cluster_config, write_config


async def _leading_host(tmp_path: Path) -> RaftHost:
    raw = cluster_config(tmp_path, 1, extra={"security": {"clusterSecret": "test-secret"}})
    config = load_config(write_config(tmp_path, raw))
    host = RaftHost(config, "node1")
    await host.start()
    async with asyncio.timeout(5):
        while not host.core.serving:
            await asyncio.sleep(0.01)
    await host.propose({"op": "create_store", "store": "s", "config": {}, "created_epoch": 0}, 5)
    return host


def _append(n: int) -> dict[str, object]:
    return {
        "op": "append",
        "store": "s",
        "stream": "a",
        "expected_version": "any",
        "events": [
            {
                "event_id": f"e{n}",
                "event_type": "t",
                "data": {},
                "metadata": {},
                "created_epoch": 0,
            }
        ],
    }


async def test_disk_work_waits_for_the_answers_of_its_round(tmp_path: Path) -> None:
    host = await _leading_host(tmp_path)
    seen: list[tuple[int, bool]] = []  # (applied index, latest write answered) at each call
    maintain = host.state.maintain
    writes: list[asyncio.Task[dict[str, object]]] = []

    def recording_maintain() -> None:
        seen.append((host.applied_index, writes[-1].done() if writes else True))
        maintain()

    host.state.maintain = recording_maintain  # type: ignore[method-assign]
    try:
        for n in range(5):
            writes.append(asyncio.create_task(host.propose(_append(n), 5)))
            index = (await writes[-1])["index"]
            # The round that applied this write had answered it before its disk work began.
            assert next(done for applied, done in seen if applied >= index)
    finally:
        await host.stop()


async def test_durable_points_are_taken_while_the_node_runs(tmp_path: Path) -> None:
    host = await _leading_host(tmp_path)
    try:
        n = 0
        async with asyncio.timeout(10):
            while host.state.durable_index == 0:
                n += 1
                await host.propose(_append(n), 5)
                await asyncio.sleep(0.05)
        assert 0 < host.state.durable_index <= host.applied_index
    finally:
        await host.stop()
