"""A node removed while it was down learns it on its return and stops campaigning
(docs/ENGINE.md, "Membership changes"): real processes, started by hand (the gateway does not
start nodes, so nothing stops the removed one for it).

Four nodes; node4 is killed -9, removed while down, and started again by hand with its old
config.  Its log still names it a voter: it times out and pre-votes, the members answer that it
was removed, and within a few election timeouts it stops for good, says so in its log and its
status, and still answers reads of its data.  The cluster's term never moves and the other
three keep serving writes (the fault tests' checker, bench/lib/nemesis.py).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bench.lib.nemesis import Workload, converge
from engine.client.checker import check_histories
from tests.cluster_harness import (
    HandStartedCluster,
    cluster_config,
    kill_pid,
    start_by_hand,
    wait_for,
)

pytestmark = pytest.mark.slow
NODE_MAIN = (sys.executable, "-m", "engine.node.main")


async def _get(cluster: HandStartedCluster, node_id: str, path: str) -> Any:
    http = cluster.raw["nodes"][node_id]["http"]
    token = cluster.config.security.admin_token
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession(headers=headers) as session,
        session.get(f"http://{http['host']}:{http['port']}{path}") as resp,
    ):
        return await resp.json()


def _pre_votes(log: dict[str, Any]) -> int:
    return sum(line["text"].startswith("asking for pre-votes") for line in log["lines"])


@pytest.mark.timeout(240)
async def test_a_node_removed_while_down_stops_pre_voting_on_its_return(tmp_path: Path) -> None:
    raw = cluster_config(tmp_path, nodes=4)
    cluster = await start_by_hand(tmp_path, raw)
    again: subprocess.Popen[bytes] | None = None
    workload = Workload(cluster.url, token=cluster.config.security.auth_token, seed=41)
    workload.start()
    try:
        await workload.wait_acked(50, timeout=30)
        kill_pid(cluster.procs["node4"].pid)
        cluster.procs["node4"].wait(10)
        async with cluster.client() as client:
            # Removed while down (if it led, the others elect a leader first).
            answer = await wait_for(lambda: client.remove_node("node4"), bool, 30, "node4 removed")
            removed_at = answer["index"]
            view = await wait_for(
                client.cluster,
                lambda v: "node4" not in [n["node_id"] for n in v["nodes"]],
                30,
                "the gateway to drop node4",
            )
            leader = str(view["leader"])
            term = (await _get(cluster, leader, "/status"))["term"]
        held = await cluster.node_all("node1")
        await workload.wait_acked(workload.counts()["ack"] + 20, timeout=30)

        # Started again by hand with its old config: its log still names it a voter.
        with open(tmp_path / "node4-again.log", "wb") as out:
            again = subprocess.Popen(
                [*NODE_MAIN, "--config", str(tmp_path / "node4.yaml"), "--node", "node4"],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        rep = cluster.config.replication
        timeout_s = rep.election_ticks * rep.tick_ms / 1000
        started = time.monotonic()
        status = await wait_for(
            lambda: _get(cluster, "node4", "/status"),
            lambda s: s["removed"] is not None,
            30,
            "node4 told it was removed",
        )
        took = time.monotonic() - started
        assert status["removed"]["index"] == removed_at, status
        assert status["removed"]["by"] in ("node1", "node2", "node3"), status
        assert status["role"] == "follower" and status["voter"] is True, status
        log = await _get(cluster, "node4", "/log")
        by = status["removed"]["by"]
        line = f"removed from the cluster by {by} at index {removed_at}: no longer campaigns"
        assert [x["text"] for x in log["lines"]].count(line) == 1, log
        output = (tmp_path / "node4-again.log").read_text()
        assert output.count(f"node node4: {line}") == 1, output
        first = next(x["time"] for x in log["lines"] if x["text"].startswith("asking for pre"))
        told = next(x["time"] for x in log["lines"] if x["text"] == line)
        # Answered at its first round whose pre-votes reach a member (those sent before its
        # links are up are lost): a few election timeouts at most.
        assert _pre_votes(log) <= 5, log
        print(
            f"\nnode4 told it was removed {told - first:.3f} s after its first pre-vote "
            f"({_pre_votes(log)} pre-vote rounds, election timeout {timeout_s} s; "
            f"{took:.2f} s after its start)"
        )

        # Ten election timeouts later (as node4's own uptime counts them), under writes: not one
        # more pre-vote, and the cluster's term has not moved.
        pre_votes, uptime = _pre_votes(log), status["uptime_s"]
        await workload.wait_acked(workload.counts()["ack"] + 50, timeout=30)
        await wait_for(
            lambda: _get(cluster, "node4", "/status"),
            lambda s: s["uptime_s"] >= uptime + 10 * timeout_s,
            30 + 10 * timeout_s,
            "ten election timeouts on node4",
        )
        log = await _get(cluster, "node4", "/log")
        assert _pre_votes(log) == pre_votes, log
        assert [x["text"] for x in log["lines"]].count(line) == 1, log
        async with cluster.client() as client:
            view = await client.cluster()
        assert view["leader"] == leader and view["term"] == term, (view, term)
        # It still answers reads of its data, as it stood when it was killed.
        mine = await cluster.node_all("node4")
        assert mine and [e["event_id"] for e in mine] == [e["event_id"] for e in held[: len(mine)]]
        await workload.wait_acked(workload.counts()["ack"] + 50, timeout=30)
    finally:
        await workload.stop()
        if again is not None:
            again.terminate()
            again.wait(10)
    try:
        histories = await converge(
            cluster, workload.attempts, timeout=40, nodes=["node1", "node2", "node3"]
        )
        verdict = check_histories(histories, workload.attempts)
        assert verdict.ok, verdict.report()
    finally:
        del cluster.procs["node4"]
        cluster.stop()
