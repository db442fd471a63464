"""Self-repair from the leader (issue #24, point 1): damaged files on a follower, then on the
leader, under writers and readers through the gateway.

Each kind of damage the issue names, made to real files of a real cluster: bytes flipped in a
store (the node stopped, damaged, started again through ``POST .../start``), a store cut to half
under the running node (found by a read, or at the start after a crash when SQLite's page cache
kept the node from reading the cut pages), the log's WAL deleted under a frozen node before a
SIGKILL (the supervisor starts it again), the log cut to half (stopped, started).  Throughout,
the workload of :mod:`bench.lib.nemesis` writes and a reader pages through ``$all`` with each
request sent once: no 5xx, no wrong record.  Afterwards the damaged node has set its files
aside, rebuilt them from the leader's snapshot by itself within ``REPAIR_BOUND``, and holds
what every other node holds (the checker compares every node's own ``$all``).  ``pytest -s``
prints the repair times.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from bench.lib.nemesis import EVENT_TYPE
from engine.client import GateClient
from engine.protocol.errors import GateError
from tests.cluster_harness import RunningCluster, wait_for
from tests.faults.test_damaged_store import _flip_middle
from tests.faults.test_failover import faulted

MakeCluster = Callable[..., Awaitable[RunningCluster]]
REPAIR_BOUND = 60.0  # seconds from the damage to the node repaired; generous, the machine is shared
PAGE = 50
STORE = "reg_gh"  # the workload's
SEED = "seed_gh"  # written before the faults, to a size where flipped bytes hit used pages
SEED_STREAMS = 36


def _entry(view: dict[str, Any], node_id: str) -> dict[str, Any]:
    return next(n for n in view["nodes"] if n["node_id"] == node_id)


def _expected_data(event_id: str) -> dict[str, int]:
    """What the workload wrote under ``event_id`` (``w<writer>-s<seq>-e<k>``)."""
    writer, seq, k = event_id.split("-s")[0][1:], *event_id.split("-s")[1].split("-e")
    return {"writer": int(writer), "seq": int(seq), "k": int(k)}


async def _seed(client: GateClient, rng: random.Random) -> None:
    await client.create_store(SEED)
    for s in range(SEED_STREAMS):
        events = [
            {
                "event_id": f"seed-{s}-{k}",
                "event_type": "temperature_measured:v1",
                "data": {"sensor": s, "k": k, "note": "".join(rng.choices("abcdef", k=250))},
            }
            for k in range(25)
        ]
        await client.append(SEED, f"greenhouse-{s}", events)


class Reader:
    """Pages through both stores' ``$all`` via the gateway, each request sent once, and checks
    every record against what was written: what it saw go wrong."""

    def __init__(self, client: GateClient, seeded: list[dict[str, Any]]) -> None:
        self.client = client
        self.seeded = seeded
        self._rng = random.Random(24)
        self.wrong: list[str] = []
        self.pages = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _run(self) -> None:
        position = 0
        seed_at = 0
        while True:
            try:
                page = await self.client.request_once(
                    "GET", f"/api/stores/{SEED}/all", {"from_position": seed_at, "count": PAGE}
                )
            except GateError as err:
                self.wrong.append(f"{SEED} $all from {seed_at}: {err.code} {err.message}")
            else:
                events = [e for e in page["events"] if e["position"] <= len(self.seeded)]
                if events != self.seeded[seed_at : seed_at + PAGE]:
                    self.wrong.append(f"{SEED} $all from {seed_at}: wrong records")
            seed_at = (seed_at + PAGE) % len(self.seeded)
            try:
                page = await self.client.request_once(
                    "GET", f"/api/stores/{STORE}/all", {"from_position": position, "count": PAGE}
                )
            except GateError as err:
                self.wrong.append(f"$all from {position}: {err.code} {err.message}")
                await asyncio.sleep(0.05)
                continue
            self.pages += 1
            events = page["events"]
            for offset, event in enumerate(events):
                if event["position"] != position + offset + 1:
                    self.wrong.append(f"$all from {position}: position {event['position']}")
                if event["event_type"] != EVENT_TYPE or event["data"] != _expected_data(
                    event["event_id"]
                ):
                    self.wrong.append(f"{event['event_id']}: wrong record {event}")
            if events:
                position = events[-1]["position"]
            if len(events) < PAGE:
                position = 0 if self._rng.random() < 0.2 else position  # read the old pages again
                await asyncio.sleep(0.02)


def _node_dir(cluster: RunningCluster, node_id: str) -> Path:
    return cluster.config.node_data_dir(node_id)


async def _down(client: GateClient, node_id: str) -> None:
    await wait_for(
        client.cluster, lambda v: _entry(v, node_id)["role"] == "down", 20, f"{node_id} down"
    )


async def _damage(kind: str, cluster: RunningCluster, client: GateClient, node_id: str) -> None:
    """Damage ``node_id``'s files the way ``kind`` says (see the module docstring)."""
    node_dir = _node_dir(cluster, node_id)
    store = node_dir / "stores" / f"{SEED}.db"
    if kind in ("store-flipped", "log-truncated"):
        await client.node_action(node_id, "stop")
        await _down(client, node_id)
        if kind == "store-flipped":
            _flip_middle(store, random.Random(24))
        else:
            raft = node_dir / "raft.db"
            os.truncate(raft, raft.stat().st_size // 2)
        await client.node_action(node_id, "start")
    elif kind == "store-truncated":
        os.truncate(store, store.stat().st_size // 2)
        # A write to the store makes the node read its file again (its page cache was warm);
        # then reads of its own endpoint find the damage, if applying the write did not.
        event = {"event_id": f"damage-{node_id}", "event_type": "probe:v1", "data": {}}
        await client.append(SEED, "damage", [event])

        async def noticed() -> bool:
            for start in range(0, SEED_STREAMS * 25, PAGE):
                await cluster.node_get(node_id, f"/api/stores/{SEED}/all?from_position={start}")
            status = await cluster.node_get(node_id, "/status")
            return bool(status["repairing"] or status["repaired"])

        # Until the node has applied the write (its reads before that hit its cache), and
        # while it restarts on its repair (its endpoint does not answer for a moment).  SQLite's
        # page cache may hold every page the node still reads: then the crash below makes the
        # start's quick_check find the cut file instead (seen on an idle machine).
        try:
            await wait_for(noticed, bool, 10, f"{node_id} to notice its damaged store")
        except AssertionError:
            with contextlib.suppress(ProcessLookupError):
                os.kill(await cluster.node_pid(node_id), signal.SIGKILL)
    else:  # log-wal-deleted
        # Frozen, the node cannot checkpoint its WAL into raft.db between the unlink and the
        # kill, so the entries only the WAL held are surely lost while its stores applied them.
        pid = await cluster.node_pid(node_id)
        os.kill(pid, signal.SIGSTOP)
        try:
            (node_dir / "raft.db-wal").unlink()
        finally:
            os.kill(pid, signal.SIGKILL)  # the gateway's supervisor starts it again


async def _repair_needed(cluster: RunningCluster, node_id: str) -> bool:
    """Whether the restarted node found its files damaged (it is repairing or has repaired)."""

    async def started() -> dict[str, Any] | None:
        try:
            return await cluster.node_get(node_id, "/status")
        except Exception:  # still starting after the kill
            return None

    status = await wait_for(started, lambda s: s is not None, 30, f"{node_id} to start again")
    assert status is not None
    return bool(status["repairing"] or status["repaired"])


async def _caught_up(client: GateClient, node_id: str) -> None:
    await wait_for(
        client.cluster,
        lambda v: _entry(v, node_id)["role"] == "follower" and _entry(v, node_id)["fresh"],
        REPAIR_BOUND,
        f"{node_id} caught up",
    )


async def _repaired(client: GateClient, node_id: str, since: float) -> float:
    """Wait until ``node_id`` reports a repair finished after ``since`` (epoch seconds) and is
    a fresh follower again; the seconds from ``since``."""
    view = await wait_for(
        client.cluster,
        lambda v: (
            (_entry(v, node_id)["repaired"] or {}).get("at", 0) > since
            and _entry(v, node_id)["repairing"] is None
            and _entry(v, node_id)["role"] == "follower"
        ),
        REPAIR_BOUND,
        f"{node_id} repaired",
    )
    return float(_entry(view, node_id)["repaired"]["at"]) - since


@pytest.mark.slow
@pytest.mark.parametrize(
    "kind", ["store-flipped", "store-truncated", "log-wal-deleted", "log-truncated"]
)
async def test_a_damaged_node_rebuilds_itself_from_the_leader(
    make_cluster: MakeCluster, kind: str
) -> None:
    cluster = await make_cluster()
    async with cluster.new_client() as client:
        await _seed(client, random.Random(24))
        leader = await cluster.leader()
        seeded = await cluster.node_all(leader, SEED)
        assert len(seeded) == SEED_STREAMS * 25
        reader = Reader(client, seeded)
        reader.start()
        times: dict[str, float] = {}
        try:
            async with faulted(cluster, seed=24) as (workload, nemesis):
                for role in ("follower", "leader"):
                    leader = await nemesis.leader()
                    target = (
                        leader
                        if role == "leader"
                        else next(n for n in cluster.config.node_ids if n != leader)
                    )
                    since = time.time()
                    await _damage(kind, cluster, client, target)
                    if kind == "log-wal-deleted" and not await _repair_needed(cluster, target):
                        # The WAL held only entries the stores had not made durable: the node
                        # fetches them again from the leader like any follower behind, no repair.
                        await _caught_up(client, target)
                        continue
                    times[f"{role} {target}"] = await _repaired(client, target, since)
                    aside = [p for p in _node_dir(cluster, target).iterdir() if p.is_dir()]
                    assert any(p.name.startswith("damaged-") for p in aside), aside
                    assert not (_node_dir(cluster, target) / "repair.json").exists()
                    lines = (await client.node_log(target))["lines"]
                    assert any(
                        line["kind"] == "repair" and line["text"].startswith("repaired")
                        for line in lines
                    ), lines
                    await workload.wait_acked(workload.counts()["ack"] + 20, timeout=30)
        finally:
            await reader.stop()
        repaired = ", ".join(f"{k}: {v:.1f} s" for k, v in times.items())
        print(f"\n{kind}: repaired in {repaired or 'none: no node needed a repair'}")
        assert reader.pages > 0
        assert not reader.wrong, "\n".join(reader.wrong[:20])
        counts = workload.counts()
        assert counts["failed"] == 0 and counts["unknown"] == 0, (
            counts,
            [a.error for a in workload.attempts if a.error][:10],
        )
        # Every node holds the seeded store as written (the checker compared the workload's).
        held = {n: await cluster.node_all(n, SEED) for n in cluster.config.node_ids}
        for node_id, events in held.items():
            assert events[: len(seeded)] == seeded, node_id
            assert events == held[cluster.config.node_ids[0]], node_id
