"""The gateway's cluster view, event feed, node endpoints and health endpoints."""

from __future__ import annotations

import asyncio
import time

import aiohttp

from tests.cluster_harness import RunningCluster, wait_for


async def test_cluster_view_shape(cluster: RunningCluster) -> None:
    async with cluster.new_client() as client:
        view = await wait_for(
            client.cluster,
            lambda v: all(n["http"]["up"] and n["tcp"]["up"] for n in v["nodes"]),
            10,
        )
    assert view["leader"] == "node1"
    assert view["term"] >= 1
    nodes = {n["node_id"]: n for n in view["nodes"]}
    assert set(nodes) == {"node1", "node2", "node3"}
    assert nodes["node1"]["role"] == "leader" and nodes["node1"]["preferred"] is True
    for node_id in ("node2", "node3"):
        assert nodes[node_id]["role"] == "follower" and nodes[node_id]["preferred"] is False
    for node in nodes.values():
        assert node["managed"] is True and isinstance(node["pid"], int)
        assert node["http"]["addr"] == cluster.config.node(node["node_id"]).http.addr
        assert node["tcp"]["latency_ms"] is not None
        assert set(node) >= {"term", "commit_position", "applied_position", "lag", "fresh"}
        # The span of its Raft log, as the node's status reports it (an empty log starts at 1).
        span = node["log"]
        assert span is not None and 1 <= span["first_index"] <= span["last_index"] + 1
        assert span["last_index"] >= (node["commit_position"] or 0)


async def test_each_nodes_inside_in_its_status_and_in_the_view(cluster: RunningCluster) -> None:
    rep = cluster.config.replication
    shortest, longest = rep.election_ticks * rep.tick_ms, 2 * rep.election_ticks * rep.tick_ms
    leader = await wait_for(
        lambda: cluster.node_get("node1", "/status"),
        lambda s: s["role"] == "leader" and len(s.get("progress") or {}) == 2,
        10,
        "the leader's status with its followers' progress",
    )
    assert leader["voted_for"] == "node1"  # it campaigned and voted for itself
    assert abs(leader["started_at"] - time.time()) < 600 and leader["uptime_s"] > 0
    # On the leader the timer is its quorum check's period, electionTicks.
    assert leader["election_timer"]["timeout_ms"] == shortest
    for peer, progress in leader["progress"].items():
        assert progress["state"] == "replicate"
        assert progress["match"] == leader["match"][peer]
        assert progress["next"] > progress["match"]
    for node_id in ("node2", "node3"):
        status = await cluster.node_get(node_id, "/status")
        assert status["voted_for"] in (None, "node1") and "progress" not in status
        timer = status["election_timer"]
        # Drawn in [electionTicks, 2 electionTicks) ticks; heartbeats keep it from running out.
        assert shortest <= timer["timeout_ms"] < longest
        assert 0 <= timer["elapsed_ms"] < timer["timeout_ms"]
    later = await cluster.node_get("node1", "/status")
    assert later["started_at"] == leader["started_at"] and later["uptime_s"] > leader["uptime_s"]
    # The gateway's view carries the same, as of its last probe.
    async with cluster.new_client() as client:
        view = await wait_for(
            client.cluster,
            # Its first rounds may predate the election.
            lambda v: (
                all(n["uptime_s"] is not None for n in v["nodes"])
                and v["nodes"][0]["progress"] is not None
            ),
            10,
            "every node's uptime and the leader's progress in the view",
        )
    nodes = {n["node_id"]: n for n in view["nodes"]}
    assert set(nodes["node1"]["progress"]) == {"node2", "node3"}
    assert nodes["node1"]["started_at"] == leader["started_at"]
    assert nodes["node2"]["progress"] is None
    for node in nodes.values():
        assert node["uptime_s"] > 0
        assert set(node["election_timer"]) == {"elapsed_ms", "timeout_ms"}


def _frozen(metrics: str) -> float:
    line = next(ln for ln in metrics.splitlines() if ln.startswith("gate_process_gc_frozen"))
    return float(line.split()[-1])


async def test_node_endpoints(cluster: RunningCluster) -> None:
    status = await wait_for(
        lambda: cluster.node_get("node2", "/status"), lambda s: s["leader"] == "node1", 10
    )
    assert status["node_id"] == "node2" and status["role"] == "follower"
    assert (await cluster.node_get("node1", "/health"))["status"] == "ok"
    async with aiohttp.ClientSession() as http:
        async with http.get(cluster.node_url("node1") + "/ready") as resp:
            assert resp.status == 200
        async with http.get(cluster.node_url("node1") + "/metrics") as resp:
            text = await resp.text()
        assert "gate_node_term" in text and "gate_node_commit_index" in text
        assert _frozen(text) > 10_000  # the start-up heap is out of garbage collection
        async with http.get(cluster.url + "/metrics") as resp:
            text = await resp.text()
        assert "gate_cluster_has_leader 1.0" in text
        assert _frozen(text) > 10_000
        async with http.get(cluster.url + "/ready") as resp:
            assert resp.status == 200


async def test_node_tcp_ping(cluster: RunningCluster) -> None:
    from engine.protocol.framing import encode_frame, read_frame

    tcp = cluster.config.node("node3").tcp
    reader, writer = await asyncio.open_connection(tcp.connect_host, tcp.port)
    writer.write(encode_frame({"op": "ping", "id": 1}))
    assert await read_frame(reader) == {"id": 1, "ok": True, "op": "pong"}
    writer.close()


async def test_cluster_event_feed(cluster: RunningCluster) -> None:
    async with cluster.new_client() as client:
        feed = client.cluster_events()
        first = await asyncio.wait_for(feed.__anext__(), 5)
        assert first["type"] == "cluster" and first["leader"] == "node1"
        second = await asyncio.wait_for(feed.__anext__(), 5)
        assert second["type"] == "cluster"
        await feed.aclose()
