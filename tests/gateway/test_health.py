"""HealthMonitor against fake nodes (real HTTP and TCP servers on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from engine.config_model import ClusterConfig, Endpoint, NodeConfig, ReplicationConfig
from engine.gateway.health import HealthMonitor
from engine.gateway.tcp_pool import NodePool
from engine.protocol.tempo import Tempo
from tests.gateway.fake_node import SECURITY, FakeNode, wait_until


@dataclass
class Cluster:
    nodes: dict[str, FakeNode]
    config: ClusterConfig
    pool: NodePool

    def set_status(self, node_id: str, **fields: Any) -> None:
        self.nodes[node_id].status.update(fields)

    def monitor(self, **kwargs: Any) -> HealthMonitor:
        kwargs.setdefault("probe_timeout", 2.0)
        kwargs.setdefault("clock", lambda: 100.0)  # latency is then exactly 0
        return HealthMonitor(self.config, self.pool, **kwargs)


async def make_cluster(fresh_lag: int = 0) -> Cluster:
    nodes = {nid: FakeNode(nid, preferred=nid == "node1") for nid in ("node1", "node2", "node3")}
    for fake in nodes.values():
        await fake.start()
    config = ClusterConfig(
        source="test",
        nodes=tuple(f.config for f in nodes.values()),
        replication=ReplicationConfig(fresh_lag=fresh_lag),
        security=SECURITY,
    )
    cluster = Cluster(nodes, config, NodePool(config))
    cluster.set_status("node1", role="leader", term=3, leader="node1", last_index=10)
    cluster.set_status("node1", commit_position=10, applied_position=10, serving=True, pid=11)
    cluster.set_status("node2", role="follower", term=3, leader="node1", applied_position=10)
    cluster.set_status("node3", role="follower", term=3, leader="node1", applied_position=7)
    return cluster


@pytest.fixture
async def cluster() -> AsyncIterator[Cluster]:
    c = await make_cluster()
    yield c
    c.pool.close()
    for fake in c.nodes.values():
        await fake.stop()


@pytest.fixture
async def monitor(cluster: Cluster) -> AsyncIterator[HealthMonitor]:
    m = cluster.monitor()
    yield m
    await m.stop()


def drain(queue: asyncio.Queue[dict[str, Any]]) -> list[dict[str, Any]]:
    events = []
    while not queue.empty():
        events.append(queue.get_nowait())
    return events


def by_id(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["node_id"]: n for n in view["nodes"]}


def health_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """Only the monitor's own lines (other loggers, e.g. asyncio's GC warnings, may interleave)."""
    return [r for r in caplog.records if r.name == "gate.health"]


def health_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in health_records(caplog)]


async def test_view_of_a_healthy_cluster(cluster: Cluster) -> None:
    managed = {"node1": (True, 4242), "node2": (True, None), "node3": (False, None)}
    progress = {"node2": {"match": 10, "next": 11, "state": "replicate"}}
    cluster.set_status(
        "node1",
        log={"first_index": 4, "last_index": 10},
        voted_for="node1",
        started_at=1796563200.25,
        uptime_s=12.5,
        election_timer={"elapsed_ms": 100, "timeout_ms": 300},
        progress=progress,
        handed_over=True,
    )
    # A node's word is checked, not trusted.
    cluster.set_status(
        "node3", log="garbage", voted_for=7, uptime_s="long", election_timer=[1], handed_over="yes"
    )
    monitor = cluster.monitor(managed_info=managed.__getitem__)
    try:
        view = await monitor.refresh()
    finally:
        await monitor.stop()

    assert view["leader"] == "node1" and view["term"] == 3
    node1, node2, node3 = (by_id(view)[n] for n in ("node1", "node2", "node3"))
    n1 = cluster.nodes["node1"]
    assert node1 == {
        "node_id": "node1",
        "role": "leader",
        "preferred": True,
        "voter": True,
        "http": {"addr": f"127.0.0.1:{n1.http_port}", "enabled": True, "up": True, "latency_ms": 0},
        "tcp": {"addr": f"127.0.0.1:{n1.tcp_port}", "enabled": True, "up": True, "latency_ms": 0},
        "term": 3,
        "commit_position": 10,
        "applied_position": 10,
        "lag": 0,
        "fresh": True,
        "serving": True,
        "managed": True,
        "pid": 4242,
        "state": None,
        "isolated": False,
        "cuts": {"in": [], "out": []},
        "link_faults": [],
        "damaged": None,
        "repairing": None,
        "repaired": None,
        "restarts": 0,
        "exit_code": None,
        "disk_full": None,
        "log": {"first_index": 4, "last_index": 10},
        "voted_for": "node1",
        "started_at": 1796563200.25,
        "uptime_s": 12.5,
        "election_timer": {"elapsed_ms": 100, "timeout_ms": 300},
        "progress": progress,
        "handed_over": True,
    }
    assert not node2["handed_over"] and not node3["handed_over"]
    assert node2["log"] is None and node3["log"] is None  # not reported; not a span
    inside = ("voted_for", "uptime_s", "election_timer", "progress")
    assert [node3[key] for key in inside] == [None] * 4
    assert (node2["role"], node2["lag"], node2["fresh"], node2["managed"]) == (
        "follower",
        0,
        True,
        True,
    )
    assert (node3["lag"], node3["fresh"], node3["managed"], node3["pid"]) == (3, False, False, None)
    assert monitor.view is view
    assert monitor.fresh_nodes() == ["node2"]


async def test_the_view_carries_the_supervisors_state_of_each_node(cluster: Cluster) -> None:
    states = {"node1": "running", "node2": "paused", "node3": "exited"}
    monitor = cluster.monitor(node_state=states.__getitem__)
    try:
        view = await monitor.refresh()
    finally:
        await monitor.stop()

    assert {n: by_id(view)[n]["state"] for n in states} == states


async def test_the_view_carries_the_restarts_of_each_node(cluster: Cluster) -> None:
    restarts = {"node1": (0, None), "node2": (2, -9), "node3": (1, 70)}
    monitor = cluster.monitor(restart_info=restarts.__getitem__)
    try:
        view = await monitor.refresh()
    finally:
        await monitor.stop()

    assert {n: (by_id(view)[n]["restarts"], by_id(view)[n]["exit_code"]) for n in restarts} == (
        restarts
    )


async def test_a_full_disk_is_in_the_view_and_logged_once_each_way(
    cluster: Cluster, monitor: HealthMonitor, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "gate.health")
    full = "disk full (/srv/gate/data/node2: 3 MB free)"
    cluster.set_status("node2", disk_full=full)
    cluster.set_status("node3", disk_full=["not", "a", "reason"])  # garbage: no reason
    view = await monitor.refresh()
    assert [by_id(view)[n]["disk_full"] for n in ("node1", "node2", "node3")] == [None, full, None]
    await monitor.refresh()
    cluster.set_status("node2", disk_full=None)
    view = await monitor.refresh()
    assert by_id(view)["node2"]["disk_full"] is None
    disk = [line for line in health_lines(caplog) if "disk" in line]
    assert disk == [
        f"Node node2: {full}, takes no new entries",
        "Node node2: disk space back, takes new entries",
    ]


async def test_the_node_pid_is_used_when_the_supervisor_has_none(
    cluster: Cluster, monitor: HealthMonitor
) -> None:
    view = await monitor.refresh()

    assert (by_id(view)["node1"]["managed"], by_id(view)["node1"]["pid"]) == (False, 11)


async def test_fresh_lag_lets_trailing_followers_serve_reads() -> None:
    cluster = await make_cluster(fresh_lag=3)
    monitor = cluster.monitor()
    try:
        await monitor.refresh()
        assert monitor.fresh_nodes() == ["node2", "node3"]
        cluster.set_status("node3", applied_position=6)
        await monitor.refresh()
        assert monitor.fresh_nodes() == ["node2"]
    finally:
        await monitor.stop()
        cluster.pool.close()
        for fake in cluster.nodes.values():
            await fake.stop()


async def test_a_stopped_node_is_down_and_comes_back_up(
    cluster: Cluster, monitor: HealthMonitor, caplog: pytest.LogCaptureFixture
) -> None:
    await monitor.refresh()
    events = monitor.subscribe()
    n2 = cluster.nodes["node2"]

    await n2.stop()
    with caplog.at_level(logging.INFO, logger="gate.health"):
        view = await monitor.refresh()

    node2 = by_id(view)["node2"]
    assert node2["role"] == "down"
    assert node2["http"]["up"] is False and node2["http"]["latency_ms"] is None
    assert node2["tcp"]["up"] is False and node2["tcp"]["latency_ms"] is None
    assert (node2["lag"], node2["fresh"], node2["applied_position"]) == (None, False, None)
    assert monitor.fresh_nodes() == []
    http, tcp = f"127.0.0.1:{n2.http_port}", f"127.0.0.1:{n2.tcp_port}"
    assert health_lines(caplog) == [
        f"Node follower (node2) [HTTP {http} | TCP {tcp}] : 🔴 HTTP down | 🔴 TCP down"
    ]
    assert health_records(caplog)[0].levelno == logging.WARNING
    published = drain(events)
    assert [e["type"] for e in published] == ["node_down", "cluster"]
    assert published[0]["node_id"] == "node2"

    caplog.clear()
    await n2.start()
    with caplog.at_level(logging.INFO, logger="gate.health"):
        view = await monitor.refresh()

    assert by_id(view)["node2"]["role"] == "follower"
    assert health_lines(caplog) == [
        f"Node follower (node2) [HTTP {http} | TCP {tcp}] : 🟢 HTTP up | 🟢 TCP up"
    ]
    assert health_records(caplog)[0].levelno == logging.INFO
    assert [e["type"] for e in drain(events)] == ["node_up", "cluster"]


async def test_first_round_logs_every_node_once(
    cluster: Cluster, monitor: HealthMonitor, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="gate.health"):
        await monitor.refresh()
        await monitor.refresh()

    n1 = cluster.nodes["node1"]
    assert len(health_lines(caplog)) == 3
    assert health_lines(caplog)[0] == (
        f"Node leader (node1) [HTTP 127.0.0.1:{n1.http_port} | TCP 127.0.0.1:{n1.tcp_port}]"
        " : 🟢 HTTP up | 🟢 TCP up"
    )


async def test_http_down_with_tcp_up_is_logged_per_transport(
    cluster: Cluster, monitor: HealthMonitor, caplog: pytest.LogCaptureFixture
) -> None:
    await monitor.refresh()
    cluster.nodes["node3"].health_status = 503

    with caplog.at_level(logging.INFO, logger="gate.health"):
        view = await monitor.refresh()

    node3 = by_id(view)["node3"]
    assert node3["role"] == "follower"
    assert (node3["http"]["up"], node3["tcp"]["up"]) == (False, True)
    assert len(health_lines(caplog)) == 1
    assert health_lines(caplog)[0].endswith(" : 🔴 HTTP down | 🟢 TCP up")


async def test_leader_change_is_published(cluster: Cluster, monitor: HealthMonitor) -> None:
    events = monitor.subscribe()
    await monitor.refresh()
    published = drain(events)
    # The leader is adopted (and announced) as soon as it answers, before the round ends.
    assert {"type": "leader_changed", "leader": "node1", "previous": None, "term": 3} in published
    assert published[-1] == {"type": "cluster", **monitor.view}

    cluster.set_status("node1", role="follower", term=4, leader="node2")
    cluster.set_status("node2", role="leader", term=4, leader="node2", last_index=12)
    view = await monitor.refresh()

    assert (view["leader"], view["term"], monitor.leader, monitor.term) == ("node2", 4, "node2", 4)
    assert drain(events) == [
        {"type": "leader_changed", "leader": "node2", "previous": "node1", "term": 4},
        {"type": "cluster", **view},
    ]
    assert by_id(view)["node1"]["lag"] == 2  # node2's last index 12 - node1's applied 10


async def test_a_stale_leader_is_ignored(cluster: Cluster, monitor: HealthMonitor) -> None:
    # node1 was cut off and still believes it leads term 3; node2 won term 4.
    cluster.set_status("node2", role="leader", term=4, leader="node2", last_index=10)
    cluster.set_status("node3", term=4, leader="node2")

    view = await monitor.refresh()

    assert (view["leader"], view["term"]) == ("node2", 4)
    assert by_id(view)["node1"]["role"] == "leader"  # reported as is, just not followed


async def test_no_leader_while_an_election_runs(cluster: Cluster, monitor: HealthMonitor) -> None:
    cluster.set_status("node2", role="candidate", term=4, leader=None)

    view = await monitor.refresh()

    assert (view["leader"], view["term"], monitor.leader) == (None, 4, None)
    assert all(n["lag"] is None for n in view["nodes"])
    assert monitor.fresh_nodes() == []


async def test_a_node_whose_status_fails_is_down(cluster: Cluster, monitor: HealthMonitor) -> None:
    await monitor.refresh()
    events = monitor.subscribe()
    cluster.nodes["node1"].status_fails = True

    view = await monitor.refresh()

    node1 = by_id(view)["node1"]
    assert (node1["role"], node1["http"]["up"], node1["tcp"]["up"]) == ("down", True, True)
    assert (view["leader"], view["term"]) == (None, 3)
    assert [e["type"] for e in drain(events)] == ["node_down", "leader_changed", "cluster"]


async def test_garbage_status_fields_count_as_zero(
    cluster: Cluster, monitor: HealthMonitor
) -> None:
    cluster.nodes["node1"].status = {"role": "leader", "term": "three", "applied_position": None}

    view = await monitor.refresh()

    # With term 0, node1 is a stale leader next to the followers' term 3.
    assert view["leader"] is None
    assert (by_id(view)["node1"]["term"], by_id(view)["node1"]["applied_position"]) == (0, 0)


async def test_the_view_shows_the_links_a_node_has_cut(
    cluster: Cluster, monitor: HealthMonitor
) -> None:
    cluster.nodes["node2"].status.update(
        isolated=True, cuts={"in": ["node1", "node3"], "out": ["node1", "node3"]}
    )
    cluster.nodes["node3"].status.update(isolated="yes", cuts={"in": "node1", "out": [7, "node2"]})

    view = await monitor.refresh()

    node2, node3 = by_id(view)["node2"], by_id(view)["node3"]
    assert node2["isolated"] is True
    assert node2["cuts"] == {"in": ["node1", "node3"], "out": ["node1", "node3"]}
    # Garbage from a node is no cut at all, never an error.
    assert node3["isolated"] is False and node3["cuts"] == {"in": [], "out": ["node2"]}


async def test_a_change_of_links_is_published_once(
    cluster: Cluster, monitor: HealthMonitor
) -> None:
    events = monitor.subscribe()
    await monitor.refresh()
    assert not [e for e in drain(events) if e["type"] == "links_changed"]  # nothing cut yet
    cut = {"in": ["node1"], "out": []}
    cluster.set_status("node3", cuts=cut)
    await monitor.refresh()
    await monitor.refresh()
    changes = [e for e in drain(events) if e["type"] == "links_changed"]
    assert changes == [
        {"type": "links_changed", "node_id": "node3", "isolated": False, "cuts": cut}
    ]
    cluster.set_status("node3", cuts={"in": [], "out": []})
    await monitor.refresh()
    changes = [e for e in drain(events) if e["type"] == "links_changed"]
    healed = {"in": [], "out": []}
    assert changes == [
        {"type": "links_changed", "node_id": "node3", "isolated": False, "cuts": healed}
    ]


async def test_a_damaged_node_leaves_the_read_rotation(
    cluster: Cluster, monitor: HealthMonitor, caplog: pytest.LogCaptureFixture
) -> None:
    events = monitor.subscribe()
    await monitor.refresh()
    assert monitor.fresh_nodes() == ["node2"] and monitor.damaged_nodes() == set()
    reason = "store 'reg_gh' is damaged: checksum mismatch at position 7"
    # The answer to a read takes it out at once, before any round.
    monitor.note_damaged("node2", reason)
    assert monitor.fresh_nodes() == [] and monitor.damaged_nodes() == {"node2"}
    assert by_id(monitor.view)["node2"]["damaged"] == reason
    assert [e for e in drain(events) if e["type"] == "node_damaged"] == [
        {"type": "node_damaged", "node_id": "node2", "damaged": reason}
    ]
    assert f"Node node2 serves no reads: {reason}" in health_lines(caplog)
    # The rounds then read it from the node's status, and see it go (a rebuilt node).
    cluster.set_status("node2", damaged="store reg_gh: checksum mismatch at position 7")
    await monitor.refresh()
    assert monitor.damaged_nodes() == {"node2"} and monitor.fresh_nodes() == []
    cluster.set_status("node2", damaged=["garbage"])  # not a reason: counts as sound
    await monitor.refresh()
    assert monitor.damaged_nodes() == set() and monitor.fresh_nodes() == ["node2"]
    changes = [e for e in drain(events) if e["type"] == "node_damaged"]
    assert [e["damaged"] for e in changes] == [
        "store reg_gh: checksum mismatch at position 7",
        None,
    ]


async def test_a_restart_by_the_gateway_is_published_once(cluster: Cluster) -> None:
    restarts = {"node1": (0, None), "node2": (0, None), "node3": (0, None)}
    monitor = cluster.monitor(restart_info=restarts.__getitem__)
    events = monitor.subscribe()
    try:
        await monitor.refresh()
        assert not [e for e in drain(events) if e["type"] == "node_restarted"]
        restarts["node2"] = (1, -9)
        await monitor.refresh()
        await monitor.refresh()
        restarts["node2"] = (3, 70)  # twice between two rounds: one event
        await monitor.refresh()
    finally:
        await monitor.stop()

    assert [e for e in drain(events) if e["type"] == "node_restarted"] == [
        {"type": "node_restarted", "node_id": "node2", "restarts": 1, "exit_code": -9},
        {"type": "node_restarted", "node_id": "node2", "restarts": 3, "exit_code": 70},
    ]


async def test_leader_hints(cluster: Cluster, monitor: HealthMonitor) -> None:
    await monitor.refresh()
    events = monitor.subscribe()

    monitor.note_leader_hint("node2", 2)  # older than term 3: ignored
    monitor.note_leader_hint("node9", 5)  # not in the config: ignored
    assert monitor.leader == "node1"

    monitor.note_leader_hint("node2", 4)
    assert (monitor.leader, monitor.term) == ("node2", 4)
    assert drain(events) == [
        {"type": "leader_changed", "leader": "node2", "previous": "node1", "term": 4}
    ]

    # A hint may name a transfer's target before it has won: the rows keep what nodes said.
    roles = {n["node_id"]: n["role"] for n in monitor.view["nodes"]}
    assert (roles["node1"], roles["node2"]) == ("leader", "follower")

    # A round whose probes predate the failover (still term 3) does not undo the hint...
    await monitor.refresh()
    assert monitor.leader == "node2"
    # ...but a round that has seen term 4 decides.
    cluster.set_status("node1", role="follower", term=4, leader="node3")
    cluster.set_status("node3", role="leader", term=4, leader="node3", last_index=10)
    await monitor.refresh()
    assert monitor.leader == "node3"


async def test_a_hint_without_a_term_counts_as_the_current_term(
    cluster: Cluster, monitor: HealthMonitor
) -> None:
    await monitor.refresh()

    monitor.note_leader_hint("node3")

    assert (monitor.leader, monitor.term) == ("node3", 3)


async def test_concurrent_refreshes_share_one_round(
    cluster: Cluster, monitor: HealthMonitor
) -> None:
    views = await asyncio.gather(*(monitor.refresh() for _ in range(5)))

    assert all(v is views[0] for v in views)
    assert [f.ops["status"] for f in cluster.nodes.values()] == [1, 1, 1]
    assert [f.ops["ping"] for f in cluster.nodes.values()] == [1, 1, 1]

    await monitor.refresh()
    assert [f.ops["status"] for f in cluster.nodes.values()] == [2, 2, 2]


async def test_a_slow_subscriber_loses_the_oldest_events(cluster: Cluster) -> None:
    monitor = cluster.monitor(queue_size=1)
    events = monitor.subscribe()
    other = monitor.subscribe()
    monitor.unsubscribe(other)
    try:
        await monitor.refresh()
        cluster.set_status("node2", term=5)
        latest = await monitor.refresh()
    finally:
        await monitor.stop()

    assert drain(events) == [{"type": "cluster", **latest}]
    assert other.empty()


async def test_periodic_rounds_publish_the_view(cluster: Cluster) -> None:
    monitor = cluster.monitor(interval=0.02)
    events = monitor.subscribe()
    monitor.start()
    try:
        rounds = 0
        async with asyncio.timeout(5):
            while rounds < 3:
                rounds += (await events.get())["type"] == "cluster"
    finally:
        await monitor.stop()

    assert monitor.leader == "node1"
    assert cluster.nodes["node1"].ops["status"] >= 3


async def test_a_paused_node_times_out_as_down(cluster: Cluster) -> None:
    monitor = cluster.monitor(probe_timeout=0.2)
    n3 = cluster.nodes["node3"]
    await n3.stop()
    # A listener that accepts but never answers, like a SIGSTOPped process.
    accepted: list[asyncio.StreamWriter] = []
    silent = await asyncio.start_server(lambda r, w: accepted.append(w), "127.0.0.1", n3.tcp_port)
    try:
        view = await monitor.refresh()
    finally:
        silent.close()
        for writer in accepted:
            writer.close()
        await monitor.stop()

    assert by_id(view)["node3"]["role"] == "down"
    assert by_id(view)["node1"]["role"] == "leader"


async def test_a_node_without_http_is_probed_over_tcp_only() -> None:
    fake = FakeNode("node1", preferred=True)
    await fake.start()
    fake.status.update(role="leader", term=1, last_index=0)
    node = fake.config
    config = ClusterConfig(
        source="test",
        nodes=(NodeConfig("node1", True, Endpoint("127.0.0.1", 1, enabled=False), node.tcp),),
        security=SECURITY,
    )
    pool = NodePool(config)
    monitor = HealthMonitor(config, pool, probe_timeout=2.0)
    try:
        view = await monitor.refresh()
    finally:
        await monitor.stop()
        pool.close()
        await fake.stop()

    node1 = view["nodes"][0]
    assert node1["role"] == "leader"
    assert node1["http"] == {
        "addr": "127.0.0.1:1",
        "enabled": False,
        "up": False,
        "latency_ms": None,
    }
    assert node1["tcp"]["up"] is True


async def test_a_leader_pushed_in_a_newer_term_is_adopted_at_once(
    cluster: Cluster, monitor: HealthMonitor
) -> None:
    await monitor.refresh()  # the probes open the connections, each asks for pushes
    await wait_until(lambda: all(f.watchers == 1 for f in cluster.nodes.values()))
    events = monitor.subscribe()
    moved = monitor.leader_moved()

    node2 = cluster.nodes["node2"]
    node2.announce("candidate", 4, None)  # no leader named: nothing to adopt
    node2.announce("leader", 2, "node2")  # an older term: stale news
    node2.announce("leader", 4, "node2")  # one connection keeps the order: this comes last
    await wait_until(lambda: monitor.leader == "node2")

    assert (monitor.term, monitor.leaders_pushed, moved.done()) == (4, 1, True)
    assert drain(events) == [
        {"type": "leader_changed", "leader": "node2", "previous": "node1", "term": 4}
    ]
    # Pushed, it is a fact: the rows agree with the view's leader and its term (a history of
    # leaders per term reads them), and the old leader leaves the read rotation.
    rows = {n["node_id"]: (n["role"], n["term"], n["fresh"]) for n in monitor.view["nodes"]}
    assert rows["node2"] == ("leader", 4, False) and rows["node1"][::2] == ("follower", False)
    # A round whose probes still say term 3 does not undo it, nor the rows.
    await monitor.refresh()
    assert monitor.leader == "node2"
    rows = {n["node_id"]: (n["role"], n["term"], n["fresh"]) for n in monitor.view["nodes"]}
    assert rows["node2"] == ("leader", 4, False) and rows["node1"][::2] == ("follower", False)
    # A follower naming the leader of a newer term counts too.
    cluster.nodes["node1"].announce("follower", 5, "node3")
    await wait_until(lambda: monitor.leader == "node3")
    assert (monitor.term, monitor.leaders_pushed) == (5, 2)


async def test_a_pushed_leader_handed_over_says_so_in_its_row_whoever_named_it_first(
    cluster: Cluster, monitor: HealthMonitor
) -> None:
    """The consoles' timelines tell a transfer from a failover by the leader's ``handed_over``;
    a pushed leader's row must carry it before the next round probes the leader."""
    await monitor.refresh()
    await wait_until(lambda: all(f.watchers == 1 for f in cluster.nodes.values()))

    def handed() -> dict[str, bool]:
        return {n["node_id"]: n["handed_over"] for n in monitor.view["nodes"]}

    # Told by the new leader itself.
    cluster.nodes["node2"].announce("leader", 4, "node2", handed_over=True)
    await wait_until(lambda: monitor.leader == "node2")
    assert handed() == {"node1": False, "node2": True, "node3": False}
    # A follower names the next leader first: not known yet; then the leader says it.
    cluster.nodes["node1"].announce("follower", 5, "node3")
    await wait_until(lambda: monitor.leader == "node3")
    assert handed() == {"node1": False, "node2": False, "node3": False}
    cluster.nodes["node3"].announce("leader", 5, "node3", handed_over=True)
    await wait_until(lambda: handed()["node3"])
    # A follower cannot say it for the leader.
    cluster.nodes["node1"].announce("follower", 6, "node2", handed_over=True)
    await wait_until(lambda: monitor.leader == "node2")
    assert not handed()["node2"]


async def test_members_follow_the_leader_s_committed_membership(
    cluster: Cluster, monitor: HealthMonitor
) -> None:
    node4 = FakeNode("node4")
    await node4.start()
    try:
        await monitor.refresh()
        events = monitor.subscribe()
        seen: list[dict[str, Any]] = []
        monitor.on_member_event = seen.append
        address = {
            "node_id": "node4",
            "http": ["127.0.0.1", node4.http_port],
            "tcp": ["127.0.0.1", node4.tcp_port],
        }
        voters = ["node1", "node2", "node3"]
        membership = {"voters": voters, "learners": ["node4"], "addresses": [address]}
        # Not committed yet: nothing changes.
        cluster.set_status("node1", membership=membership | {"pending": True})
        await monitor.refresh()
        assert "node4" not in monitor.members and drain(events)[-1]["type"] == "cluster"
        cluster.set_status("node1", membership=membership | {"pending": False})
        await monitor.refresh()
        assert [e for e in drain(events) if e["type"] != "cluster"] == [
            {"type": "member_added", "node_id": "node4", "voter": False}
        ]
        view = await monitor.refresh()  # learned members show from the next round
        assert by_id(view)["node4"]["voter"] is False and by_id(view)["node4"]["role"] != "down"
        promoted = {"voters": [*voters[1:], "node4"], "learners": [], "addresses": [address]}
        cluster.set_status("node1", membership=promoted | {"pending": False})
        await monitor.refresh()
        changes = [e for e in drain(events) if e["type"].startswith("member_")]
        assert changes == [
            {"type": "member_removed", "node_id": "node1"},
            {"type": "member_promoted", "node_id": "node4"},
        ]
        assert seen[-2:] == changes
        view = await monitor.refresh()
        assert [n["node_id"] for n in view["nodes"]] == ["node2", "node3", "node4"]
        assert all(n["voter"] for n in view["nodes"])
        # Garbage from a node changes nothing.
        cluster.set_status("node2", role="leader", term=9, membership={"voters": 3})
        await monitor.refresh()
        assert monitor.members.node_ids == ("node2", "node3", "node4")
    finally:
        await node4.stop()


async def test_a_repair_is_published_when_it_starts_and_when_it_is_done(
    cluster: Cluster, monitor: HealthMonitor
) -> None:
    events = monitor.subscribe()
    await monitor.refresh()
    reason = "stores/reg_gh.db: database disk image is malformed"
    cluster.set_status("node2", repairing=reason)
    view = await monitor.refresh()
    assert by_id(view)["node2"]["repairing"] == reason and not by_id(view)["node2"]["fresh"]
    await monitor.refresh()
    repaired = {"reason": reason, "source": "node1", "seconds": 1.5, "at": time.time()}
    cluster.set_status("node2", repairing=None, repaired=repaired)
    view = await monitor.refresh()
    await monitor.refresh()
    assert by_id(view)["node2"]["repaired"] == repaired and by_id(view)["node2"]["fresh"]
    repairs = [e for e in drain(events) if e["type"] in ("node_repairing", "node_repaired")]
    assert repairs == [
        {"type": "node_repairing", "node_id": "node2", "reason": reason, "source": "node1"},
        {"type": "node_repaired", "node_id": "node2", **repaired},
    ]


async def test_the_newest_tempo_a_node_holds_is_taken_and_pushed_to_the_others(
    cluster: Cluster, monitor: HealthMonitor
) -> None:
    slow = {"scale": 20, "since": 5.0}
    cluster.set_status("node2", tempo=slow)
    for node_id in ("node1", "node3"):
        cluster.set_status(node_id, tempo={"scale": 1, "since": 0.0})
    queue = monitor.subscribe()
    view = await monitor.refresh()
    assert monitor.tempo == Tempo(20, 5.0) and view["tempo"] == slow
    assert {"type": "tempo_changed", "scale": 20, "previous": 1} in drain(queue)
    # node1 and node3 (restarted at 1, say) are brought to it; node2 is left alone.
    await wait_until(lambda: all(n.status["tempo"] == slow for n in cluster.nodes.values()))
    assert cluster.nodes["node2"].ops["tempo"] == 0
    await monitor.refresh()
    assert not [e for e in drain(queue) if e["type"] == "tempo_changed"]


async def test_the_rounds_slow_down_with_the_tempo_and_a_change_wakes_them(
    cluster: Cluster,
) -> None:
    monitor = cluster.monitor(interval=0.05)
    try:
        monitor.set_tempo(Tempo(100, time.time()))  # a round every 5 s
        monitor.start()
        await wait_until(lambda: cluster.nodes["node1"].ops["status"] >= 1)
        seen = cluster.nodes["node1"].ops["status"]
        await asyncio.sleep(0.5)  # ten rounds at full speed: none at a hundredth of it
        assert cluster.nodes["node1"].ops["status"] == seen
        # Wakes the sleeping round: unwoken it would sleep 4.5 s more, past the deadline below.
        monitor.set_tempo(Tempo(1, time.time()))
        await wait_until(lambda: cluster.nodes["node1"].ops["status"] >= seen + 2, within=2.0)
    finally:
        await monitor.stop()
