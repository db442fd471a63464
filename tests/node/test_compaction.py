"""Log compaction and snapshot transfers with real processes.

docs/ENGINE.md, "Compaction and snapshots".

With ``replication.compactAfter: 200`` every node's log stays near 200 entries behind what its
stores hold durably while 2,000 events are written one append (one log entry) each; a node whose
data is wiped comes back empty, is sent the leader's stores as a snapshot (its log then starts
after the snapshot) and holds every event, in the leader's order.

The long run (#17): 50,000 events of ~300 bytes in 5-event appends (10,000 log entries, five
times ``compactAfter: 2000``): no node's log ever holds more than about twice ``compactAfter``
entries, each ``raft.db`` stops growing once its log has reached its steady size, and a wiped
node catches up by snapshot.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from engine.client import GateClient
from tests.cluster_harness import RunningCluster, wait_for

MakeCluster = Callable[..., Awaitable[RunningCluster]]
KEEP = 200
EVENTS = 2_000
WRITERS = 8


async def _write(cluster: RunningCluster, count: int, tag: str, store: str = "reg_gh") -> None:
    """``count`` single-event appends from ``WRITERS`` concurrent writers."""
    async with cluster.new_client() as client:

        async def writer(w: int) -> None:
            for i in range(w, count, WRITERS):
                event = {"event_type": "t:v1", "data": {"tag": tag, "i": i}}
                await client.append(store, f"{tag}-{w}", [event])

        await asyncio.gather(*(writer(w) for w in range(WRITERS)))


def _log_size(status: dict[str, Any]) -> int:
    return status["log"]["last_index"] - status["log"]["first_index"] + 1


async def test_logs_stay_bounded_and_a_wiped_node_catches_up_by_snapshot(
    make_cluster: MakeCluster,
) -> None:
    cluster = await make_cluster(extra={"replication": {"compactAfter": KEEP}})
    nodes = list(cluster.config.node_ids)
    await _write(cluster, EVENTS, "a")
    leader = await cluster.leader()
    leader_status = await cluster.node_get(leader, "/status")
    commit = leader_status["commit_position"]
    assert commit > EVENTS  # one entry per append, plus the store's creation and no-ops

    async def statuses() -> list[dict[str, Any]]:
        return [await cluster.node_get(n, "/status") for n in nodes]

    # Each node compacts once its stores' durable point (about a second) passes the entries:
    # its log then holds compactAfter entries, plus less than half that again (compaction
    # deletes in batches), of 2,000.
    compacted = await wait_for(
        statuses,
        lambda all_: all(
            s["applied_position"] >= commit and _log_size(s) <= 1.5 * KEEP for s in all_
        ),
        timeout=20,
        what="every node compacted its log",
    )
    for status in compacted:
        assert status["snapshot"]["index"] >= commit - 1.5 * KEEP
        assert status["log"]["first_index"] == status["snapshot"]["index"] + 1
        assert status["log"]["last_index"] == status["last_index"]

    # Wipe a follower: it restarts with nothing and the leader no longer holds its log's start.
    victim = next(n for n in nodes if n != leader)
    async with cluster.new_client() as client:
        await _down(client, victim, "stop")
        shutil.rmtree(cluster.config.node_data_dir(victim))
        await _write(cluster, 300, "b")  # the cluster goes on without it
        await client.node_action(victim, "start")

    leader = await cluster.leader()
    target = (await cluster.node_get(leader, "/status"))["commit_position"]
    caught_up = await wait_for(
        lambda: cluster.node_get(victim, "/status"),
        lambda s: s["applied_position"] >= target,
        timeout=30,
        what=f"{victim} caught up",
    )
    assert caught_up["snapshot"]["index"] > 0  # its log starts after the snapshot it installed
    lines = (await cluster.node_get(victim, "/log"))["lines"]
    assert any("installed" in line["text"] and line["kind"] == "snapshot" for line in lines)
    metrics = await _metrics(cluster, leader)
    assert _metric(metrics, "gate_node_snapshots_sent_total") >= 1
    assert _metric(metrics, "gate_node_snapshot_bytes_sent_total") > 0
    # The leader holds its compaction back while it sends a snapshot; once sent, it catches up.
    await wait_for(
        lambda: _metrics(cluster, leader),
        lambda text: _metric(text, "gate_node_log_entries") <= 2 * KEEP,
        timeout=10,
        what=f"{leader}'s log compacted again after the snapshot",
    )
    expected = await cluster.node_all(leader)
    assert len(expected) == EVENTS + 300
    assert await cluster.node_all(victim) == expected


async def test_a_node_back_from_a_crash_far_behind_has_its_stores_replaced_by_a_snapshot(
    make_cluster: MakeCluster,
) -> None:
    cluster = await make_cluster(extra={"replication": {"compactAfter": KEEP}})
    await _write(cluster, 400, "a")
    leader = await cluster.leader()
    victim = next(n for n in cluster.config.node_ids if n != leader)
    async with cluster.new_client() as client:
        await _down(client, victim, "kill")  # its log and stores stay, as they were
        # While it is down: more writes than a log keeps, a store created and written, and one
        # created and deleted again.
        await client.create_store("extra")
        await client.create_store("brief")
        await _write(cluster, 3 * KEEP, "b")
        await _write(cluster, 40, "c", store="extra")
        await client.delete_store("brief")
        await _write(cluster, KEEP, "d")
        await client.node_action(victim, "start")
    leader, lines = await _caught_up(cluster, victim, timeout=30)
    assert any(line["text"].startswith("restoring") for line in lines)
    for store in ("reg_gh", "extra"):
        expected = await cluster.node_all(leader, store)
        assert await cluster.node_all(victim, store) == expected
    assert len(await cluster.node_all(victim)) == 400 + 4 * KEEP
    stores = await cluster.node_get(victim, "/api/stores")
    assert sorted(s["store_id"] for s in stores["stores"]) == ["extra", "reg_gh"]


LONG_KEEP = 2_000
LONG_EVENTS = 50_000
LONG_BATCH = 5
LONG_WRITERS = 32


@pytest.mark.slow
@pytest.mark.timeout(300)  # 50,000 events: about 100 s on a 2-core machine shared with others
async def test_a_long_run_keeps_logs_and_raft_db_bounded_and_a_wiped_node_catches_up(
    make_cluster: MakeCluster,
) -> None:
    cluster = await make_cluster(extra={"replication": {"compactAfter": LONG_KEEP}})
    nodes = list(cluster.config.node_ids)
    padding = "x" * 200  # ~300 bytes per event, as the soak's
    appends = LONG_EVENTS // LONG_BATCH
    done = 0
    spans: dict[str, int] = dict.fromkeys(nodes, 0)  # the longest log each node was seen with
    raft_sizes: list[tuple[int, dict[str, int]]] = []  # (appends done, node -> raft.db bytes)

    def raft_bytes(node: str) -> int:
        # The database file alone: the WAL's size is the most written between two checkpoints
        # (once a second), which follows the machine's load rather than the log's length.
        return (cluster.config.node_data_dir(node) / "raft.db").stat().st_size

    async def watch() -> None:
        while True:
            for node in nodes:
                spans[node] = max(spans[node], _log_size(await cluster.node_get(node, "/status")))
            raft_sizes.append((done, {node: raft_bytes(node) for node in nodes}))
            await asyncio.sleep(0.2)

    async def writer(client: GateClient, w: int) -> None:
        nonlocal done
        for i in range(w, appends, LONG_WRITERS):
            events = [
                {"event_type": "t:v1", "data": {"i": i, "k": k, "padding": padding}}
                for k in range(LONG_BATCH)
            ]
            await client.append("reg_gh", f"long-{w}", events)
            done += 1

    started = time.monotonic()
    watcher = asyncio.create_task(watch())
    try:
        async with cluster.new_client() as client:
            await asyncio.gather(*(writer(client, w) for w in range(LONG_WRITERS)))
        leader = await cluster.leader()
        commit = (await cluster.node_get(leader, "/status"))["commit_position"]
        await wait_for(
            lambda: asyncio.gather(*(cluster.node_get(n, "/status") for n in nodes)),
            lambda all_: all(
                s["applied_position"] >= commit and _log_size(s) <= 1.5 * LONG_KEEP for s in all_
            ),
            timeout=30,
            what="every node applied and compacted",
        )
    finally:
        if watcher.done():
            watcher.result()  # the watcher failed: say why
        watcher.cancel()
    written_s = time.monotonic() - started
    # compactAfter entries behind the durable point, up to half that again between compactions,
    # and what was applied since the last durable point.
    # "About" twice: what was applied since the last durable point grows with the load (2.14x
    # seen on a busy machine); a log never compacted would hold all 10,000 entries (5x).
    assert all(span <= 2.5 * LONG_KEEP for span in spans.values()), spans
    # Past the point where a log reaches its steady size (1.5 x compactAfter entries, a third of
    # the run), raft.db reuses the pages compaction frees: the second half of the run, which
    # appends as many entries again, leaves it at most a little larger than at half-time (a log
    # that kept every entry would be about twice as large).  A checkpoint lands a second's
    # appends at once, a few MiB on a loaded machine, whichever sample is the largest.
    halfway = {node: max(s[node] for n, s in raft_sizes if n <= appends // 2) for node in nodes}
    final = {node: max(s[node] for _, s in raft_sizes) for node in nodes}
    assert all(final[n] <= 1.25 * halfway[n] + 5 * 2**20 for n in nodes), (halfway, final)

    # Wipe a follower: it comes back empty, long after the leader compacted its log's start.
    victim = next(n for n in nodes if n != leader)
    async with cluster.new_client() as client:
        await _down(client, victim, "stop")
        shutil.rmtree(cluster.config.node_data_dir(victim))
        await client.node_action(victim, "start")
    leader, lines = await _caught_up(cluster, victim, timeout=60)
    assert any("installed" in line["text"] and line["kind"] == "snapshot" for line in lines)
    expected = await cluster.node_all(leader)
    assert len(expected) == LONG_EVENTS
    assert await cluster.node_all(victim) == expected
    print(f"50,000 events written and compacted in {written_s:.1f} s; raft.db {final}")


async def _caught_up(cluster: RunningCluster, victim: str, timeout: float) -> tuple[str, list[Any]]:
    """Once ``victim`` applied the leader's commit: the leader, and the victim's log lines."""
    leader = await cluster.leader()
    target = (await cluster.node_get(leader, "/status"))["commit_position"]
    await wait_for(
        lambda: cluster.node_get(victim, "/status"),
        lambda s: s["applied_position"] >= target,
        timeout=timeout,
        what=f"{victim} caught up",
    )
    return leader, (await cluster.node_get(victim, "/log"))["lines"]


async def _down(client: GateClient, node_id: str, action: str) -> None:
    await client.node_action(node_id, action)
    await wait_for(
        client.cluster,
        lambda view: (
            next(n for n in view["nodes"] if n["node_id"] == node_id)["state"]
            in ("stopped", "exited")
        ),
        timeout=15,
        what=f"{node_id} down",
    )


async def _metrics(cluster: RunningCluster, node_id: str) -> str:
    async with (
        aiohttp.ClientSession() as http,
        http.get(cluster.node_url(node_id) + "/metrics") as r,
    ):
        return await r.text()


def _metric(text: str, name: str) -> float:
    """The value of the metric ``name`` (one node's, so one sample) in a scrape."""
    for line in text.splitlines():
        if line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no {name} in the scrape")
