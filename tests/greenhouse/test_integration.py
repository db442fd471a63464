"""The greenhouse domain against a real 3-node cluster (real processes, real sockets)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from domain.greenhouse.aggregate import fold
from domain.greenhouse.catalogue import INITIALIZED, validate_event
from domain.greenhouse.producer import Producer, ProducerPool
from domain.greenhouse.repository import SOURCE_TYPE, SnapshotPolicy, load
from engine.client import GateClient


async def until(condition: Callable[[], bool], within: float, what: str) -> None:
    """Wait until ``condition()`` holds; fail saying ``what`` after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def read_whole(client: GateClient, store: str, stream: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    while True:
        page = await client.read_stream(store, stream, start=len(events), count=1000)
        events.extend(page["events"])
        if not page["events"] or len(events) > page["version"]:
            return events


def check_stream(events: list[dict[str, Any]], produced: int) -> None:
    """A producer's stream: initialized first, valid, gapless, no duplicates, all counted."""
    assert events[0]["event_type"] == INITIALIZED
    assert [e["event_number"] for e in events] == list(range(len(events)))
    for event in events:
        validate_event(event["event_type"], event["data"])
    ids = [e["event_id"] for e in events]
    assert len(set(ids)) == len(ids)
    assert len(events) == produced


async def test_producers_append_valid_streams(cluster: Any) -> None:
    async with cluster.new_client() as client:
        pool = ProducerPool(client, "it_pool", rate=100.0, batch_size=5, seed=1)
        await pool.start(2)
        await until(lambda: all(r.produced >= 50 for r in pool.rows()), 30, "50 events each")
        await pool.stop_all()
        for row in pool.rows():
            assert row.state == "stopped", row
            events = await read_whole(client, "it_pool", row.stream)
            check_stream(events, row.produced)
            assert row.last_version == len(events) - 1


async def test_loading_from_a_snapshot_equals_the_full_fold(cluster: Any) -> None:
    store, stream = "it_snap", "greenhouse-1"
    async with cluster.new_client() as client:
        await ProducerPool(client, store).start(0)  # creates the store
        producer = Producer(
            client, store, stream, "simulate", 300.0, 10, 5, snapshots=SnapshotPolicy(every=40)
        )
        producer.start()
        await until(lambda: producer.produced >= 170, 30, "170 events")
        await producer.stop()
        assert producer.state == "stopped", producer.row()

        snapshots = await client.list_snapshots(store, source_uuid=stream, stream_uuid=stream)
        assert len(snapshots) >= 3
        assert {s["source_type"] for s in snapshots} == {SOURCE_TYPE}
        events = await read_whole(client, store, stream)
        check_stream(events, producer.produced)
        assert await load(client, store, stream) == fold(stream, events)


async def test_producers_survive_a_leader_kill(make_cluster: Any) -> None:
    running = await make_cluster()
    async with running.new_client() as client:
        pool = ProducerPool(client, "reg_gh", rate=50.0, batch_size=2, seed=9)
        await pool.start(2)
        await until(lambda: all(r.produced >= 20 for r in pool.rows()), 30, "a first 20 each")
        leader = await running.leader()
        await client.node_action(leader, "kill")
        before = {r.stream: r.produced for r in pool.rows()}
        await until(
            lambda: all(r.produced >= before[r.stream] + 40 for r in pool.rows()),
            60,
            "40 more events each after the kill",
        )
        await pool.stop_all()
        assert (await client.cluster())["leader"] not in (None, leader)
        for row in pool.rows():
            assert row.state == "stopped", row
            check_stream(await read_whole(client, "reg_gh", row.stream), row.produced)


async def test_gate_produce_runs_for_a_duration_and_summarises(cluster: Any) -> None:
    command = [
        sys.executable,
        "-m",
        "domain.greenhouse.produce_cli",
        "--config",
        str(cluster.config_path),
        "--store",
        "it_cli",
        "--producers",
        "2",
        "--rate",
        "20",
        "--mode",
        "simulate",
        "--seed",
        "7",
        "--duration",
        "2",
    ]
    process = await asyncio.create_subprocess_exec(
        *command, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, stderr.decode()
    summary = stdout.decode()
    assert "seed 7" in summary
    assert "greenhouse-1" in summary and "greenhouse-2" in summary
    async with cluster.new_client() as client:
        streams = {s["stream_id"]: s["version"] for s in await client.list_streams("it_cli")}
    assert set(streams) == {"greenhouse-1", "greenhouse-2"}
    assert all(version >= 10 for version in streams.values())  # ~40 at 20/s for 2 s
