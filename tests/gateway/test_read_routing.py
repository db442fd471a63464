"""Router.read and damaged nodes: a ``store_damaged`` answer is retried on another node, once
per node, and takes the node out of the read rotation (real health rounds on fake nodes, the
nodes' read answers scripted)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from engine.gateway.health import HealthMonitor
from engine.gateway.routing import Router
from engine.protocol.errors import GateError
from tests.gateway.test_health import Cluster, make_cluster

ANSWER = {"events": [{"position": 1}]}


class ScriptedRouter(Router):
    """A router whose nodes answer reads from ``script``: a value, or a GateError to raise."""

    script: dict[str, Any]
    asked: list[str]

    async def ask(self, node_id: str, msg: dict[str, Any], timeout: float) -> Any:
        assert msg["op"] == "read"
        self.asked.append(node_id)
        answer = self.script[node_id]
        if isinstance(answer, GateError):
            raise answer
        return answer


def damaged(node_id: str) -> GateError:
    return GateError("store_damaged", f"store 's' is damaged on {node_id}", store="s")


@pytest.fixture
async def fakes() -> AsyncIterator[Cluster]:
    c = await make_cluster(fresh_lag=5)  # node2 and node3 are both fresh followers
    yield c
    c.pool.close()
    for fake in c.nodes.values():
        await fake.stop()


@pytest.fixture
async def router(fakes: Cluster) -> AsyncIterator[ScriptedRouter]:
    monitor = HealthMonitor(fakes.config, fakes.pool, probe_timeout=2.0)
    await monitor.refresh()
    r = ScriptedRouter(fakes.config, fakes.pool, monitor)
    r.asked = []
    yield r
    await monitor.stop()


async def test_a_damaged_follower_is_asked_once_then_left_out(router: ScriptedRouter) -> None:
    router.script = {"node1": ANSWER, "node2": damaged("node2"), "node3": ANSWER}
    assert sorted(router.health.fresh_nodes()) == ["node2", "node3"]
    for _ in range(6):  # the rotation puts node2 first in half of them, until it is out
        assert await router.read({"kind": "all", "store": "s"}, {}) == ANSWER
    assert router.asked.count("node2") == 1
    assert router.health.fresh_nodes() == ["node3"]
    assert router.health.damaged_nodes() == {"node2"}
    assert router.counters["reads_damaged"] == 1
    # The read that met it went on to the leader, next in line.
    first = router.asked.index("node2")
    assert router.asked[first + 1] == "node1"


async def test_a_damaged_leader_is_left_out_too(router: ScriptedRouter) -> None:
    router.script = {"node1": damaged("node1"), "node2": damaged("node2"), "node3": ANSWER}
    for _ in range(4):
        assert await router.read({"kind": "all", "store": "s"}, {}) == ANSWER
    assert router.asked.count("node1") == 1 and router.asked.count("node2") <= 1
    assert router.health.damaged_nodes() >= {"node1"}


async def test_when_every_node_is_damaged_the_read_fails_at_once(router: ScriptedRouter) -> None:
    router.script = {n: damaged(n) for n in ("node1", "node2", "node3")}
    started = time.monotonic()
    with pytest.raises(GateError) as caught:
        await router.read({"kind": "all", "store": "s"}, {})
    # Each node asked once, no waiting out the request deadline; a 503 naming every node.
    assert sorted(router.asked) == ["node1", "node2", "node3"]
    assert time.monotonic() - started < router.deadline / 2
    assert caught.value.code == "unavailable" and caught.value.status == 503
    for node_id in ("node1", "node2", "node3"):
        assert f"is damaged on {node_id}" in caught.value.message
