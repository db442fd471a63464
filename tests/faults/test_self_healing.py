"""The gateway's supervisor heals (``gateway.restart``), with real node processes.

A node SIGKILLed from outside comes back by itself and the cluster keeps every acknowledged
write; one stopped or killed through the API stays down; ``restart: never`` leaves a dead node
dead; a gateway that stops leaves no node process behind, restarted or not.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from pathlib import Path
from typing import Any

from engine.client import GateClient
from tests.cluster_harness import RunningCluster, wait_for
from tests.faults.test_failover import MakeCluster, assert_sane, faulted


def node_entry(view: dict[str, Any], node_id: str) -> dict[str, Any]:
    return next(n for n in view["nodes"] if n["node_id"] == node_id)


async def node_view(client: GateClient, node_id: str) -> dict[str, Any]:
    return node_entry(await client.cluster(), node_id)


async def write(client: GateClient, stream: str, n: int) -> None:
    await client.append("reg_gh", stream, [{"event_type": "heal:v1", "data": {"n": n}}])


def node_processes(gateway_pid: int) -> list[int]:
    """Live processes started by the gateway ``gateway_pid`` (a managed node's command line
    names its gateway with ``--parent-pid``)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue  # gone while we looked
        if b"--parent-pid" in args and str(gateway_pid).encode() in args and state != "Z":
            found.append(int(entry.name))
    return found


async def _feed(feed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return list(feed)


def gateway_log(cluster: RunningCluster) -> str:
    return cluster.embedded.log_file.read_text(errors="replace")


async def test_a_leader_killed_from_outside_is_restarted_and_no_write_is_lost(
    make_cluster: MakeCluster,
) -> None:
    cluster = await make_cluster()  # gateway.restart: on-failure, the default
    assert cluster.config.gateway.restart == "on-failure"
    async with faulted(cluster, seed=4) as (_, nemesis):
        # os.kill(pid, SIGKILL); the nemesis waits for the gateway to restart the node (it
        # starts nothing itself) and for the node to catch up.
        record = await nemesis.inject("kill_leader_pid")
        assert_sane(record, str(record))
        assert record.new_leader not in (None, record.old_leader)
    # faulted() checked that every acknowledged write is on every node once, in one order.
    async with cluster.new_client() as client:
        # The checker read the nodes themselves; the gateway's view follows at its next probe.
        view = await wait_for(
            client.cluster,
            lambda v: node_entry(v, record.node)["role"] == "follower",
            10,
            f"the view to show {record.node} a follower",
        )
        killed = node_entry(view, record.node)
        assert (killed["restarts"], killed["exit_code"], killed["state"]) == (1, -9, "running")
        others = [n for n in view["nodes"] if n["node_id"] != record.node]
        assert [(n["restarts"], n["exit_code"]) for n in others] == [(0, None), (0, None)]
        await write(client, "after-restart", 1)
    log = gateway_log(cluster)
    assert f"node {record.node} exited unexpectedly (signal 9); restarting it in 0.2 s" in log
    assert f"restarted node {record.node} (restart 1)" in log


async def test_a_node_killed_through_the_api_stays_down(make_cluster: MakeCluster) -> None:
    cluster = await make_cluster()
    async with cluster.new_client() as client:
        await client.node_action("node2", "kill")
        await wait_for(
            lambda: node_view(client, "node2"),
            lambda n: n["role"] == "down" and n["pid"] is None,
            10,
            "node2 to be down",
        )
        feed: list[dict[str, Any]] = []

        async def follow() -> None:
            async with cluster.new_client() as watcher:
                async for message in watcher.cluster_events():
                    feed.append(message)

        follower = asyncio.create_task(follow())
        try:
            await wait_for(lambda: _feed(feed), bool, 10, "the cluster event feed")
            # node3 dies behind the gateway's back: it is restarted, 0.2 s after its exit and
            # later than node2's restart would have been, had there been one.
            pid3 = (await node_view(client, "node3"))["pid"]
            os.kill(pid3, signal.SIGKILL)
            await wait_for(
                lambda: node_view(client, "node3"),
                lambda n: n["restarts"] == 1 and n["role"] != "down",
                20,
                "node3 to be restarted and answer",
            )
            restarted = {"type": "node_restarted", "node_id": "node3", "restarts": 1}
            await wait_for(
                lambda: _feed(feed),
                lambda messages: (
                    [m for m in messages if m["type"] == "node_restarted"]
                    == [{**restarted, "exit_code": -9}]
                ),
                10,
                "node_restarted of node3 on the feed",
            )
        finally:
            follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follower
        node2 = await node_view(client, "node2")
        assert (node2["role"], node2["state"], node2["restarts"]) == ("down", "stopped", 0)
        await write(client, "one-down", 1)  # node1 and node3 are a majority
        await client.node_action("node2", "start")
        await wait_for(
            lambda: node_view(client, "node2"),
            lambda n: n["role"] == "follower",
            20,
            "node2 to be started",
        )
        assert (await node_view(client, "node2"))["restarts"] == 0  # started, not restarted
    assert "node node2 exited unexpectedly" not in gateway_log(cluster)


async def test_restart_never_leaves_a_dead_node_dead(make_cluster: MakeCluster) -> None:
    cluster = await make_cluster(extra={"gateway": {"restart": "never"}})
    async with cluster.new_client() as client:
        os.kill((await node_view(client, "node3"))["pid"], signal.SIGKILL)
        await wait_for(
            lambda: node_view(client, "node3"),
            lambda n: n["state"] == "exited" and n["role"] == "down",
            10,
            "node3 to be seen dead",
        )
        # No restart to wait for: the writes below give one (at 0.2 s) time to happen.
        window_end = time.monotonic() + 1.0
        n = 0
        while time.monotonic() < window_end:
            n += 1
            await write(client, "never", n)
        node3 = await node_view(client, "node3")
        assert (node3["role"], node3["state"], node3["restarts"], node3["exit_code"]) == (
            "down",
            "exited",
            0,
            -9,
        )
    log = gateway_log(cluster)
    assert "node node3 exited unexpectedly (signal 9) (log: " in log
    assert "restarting it" not in log


async def test_a_stopping_gateway_restarts_nothing_and_leaves_no_process(
    make_cluster: MakeCluster,
) -> None:
    cluster = await make_cluster()
    gateway_pid = cluster.gateway_pid
    assert len(node_processes(gateway_pid)) == 3
    async with cluster.new_client() as client:
        pid = (await node_view(client, "node2"))["pid"]
    # A restart is due 0.2 s after this; the gateway is told to stop at once.
    os.kill(pid, signal.SIGKILL)
    await cluster.embedded.stop()

    assert cluster.embedded.process is not None
    assert cluster.embedded.process.returncode == 0
    assert node_processes(gateway_pid) == []
    log = gateway_log(cluster)
    stopping = log.index("gateway stopping")
    assert "restarted node" not in log[stopping:]
