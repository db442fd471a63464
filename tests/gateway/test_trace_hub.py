"""The gateway's rounds of asking the nodes for their messages (engine/gateway/trace.py), on
nodes' rings in this process: cursors, a node down, a node restarted, the direction asked."""

from __future__ import annotations

from typing import Any

from engine.gateway.trace import FIRST_PAGE, QUEUED_BATCHES, TraceHub
from engine.node.trace import MessageTrace, trace_page
from engine.protocol.errors import GateError
from engine.replication.messages import AppendRequest, AppendResponse


def ping(frm: str, to: str) -> list[Any]:
    return [AppendRequest(2, frm, to, 0, 0, (), 0)]


class Nodes:
    def __init__(self) -> None:
        now = [100.0]
        self.clock = now
        self.rings = {n: MessageTrace(n, 1000, clock=lambda: now[0]) for n in ("node1", "node2")}
        self.down: set[str] = set()
        self.asked: list[dict[str, Any]] = []

    async def ask(self, node: str, msg: dict[str, Any], timeout: float) -> Any:
        self.asked.append(msg)
        if node in self.down:
            raise GateError("unavailable", f"{node} does not answer")
        return trace_page(self.rings[node], msg.get("after"), msg.get("limit"), msg.get("dir"))


async def test_each_round_brings_what_is_new_merged_by_time() -> None:
    nodes = Nodes()
    hub = TraceHub(nodes.ask, lambda: ["node1", "node2"])
    for _ in range(FIRST_PAGE + 10):
        nodes.rings["node1"].sent(ping("node1", "node2"))
    records, missed = await hub.poll()
    assert len(records) == FIRST_PAGE  # a new watch: the recent history only
    assert missed == {"node1": 0, "node2": 0}
    nodes.clock[0] = 101.0
    nodes.rings["node2"].received(ping("node1", "node2"))  # not asked for: sent ones only
    nodes.rings["node2"].sent([AppendResponse(2, "node2", "node1", True, 5)])
    nodes.clock[0] = 102.0
    nodes.rings["node1"].sent(ping("node1", "node2"))
    records, _ = await hub.poll()
    assert [(r["node"], r["type"], r["time"]) for r in records] == [
        ("node2", "append_response", 101.0),
        ("node1", "append", 102.0),
    ]
    assert all(m.get("dir") == "send" for m in nodes.asked)
    assert (await hub.poll())[0] == []


async def test_a_node_down_is_asked_again_and_a_restarted_one_read_from_its_start() -> None:
    nodes = Nodes()
    hub = TraceHub(nodes.ask, lambda: ["node1", "node2"])
    await hub.poll()
    nodes.down.add("node2")
    nodes.rings["node2"].sent(ping("node2", "node1"))
    assert (await hub.poll())[0] == []
    nodes.down.clear()
    assert [r["node"] for r in (await hub.poll())[0]] == ["node2"]
    # node1 restarts: a new ring, numbered from 1 again.
    nodes.clock[0] = 200.0
    nodes.rings["node1"] = MessageTrace("node1", 1000, clock=lambda: 200.0)
    nodes.rings["node1"].sent(ping("node1", "node2") * 3)
    assert (await hub.poll())[0] == []  # the round that finds it restarted
    assert [r["seq"] for r in (await hub.poll())[0]] == [1, 2, 3]


async def test_a_watcher_that_falls_behind_is_told_what_it_missed() -> None:
    """Its oldest batches go once its queue is full: their messages (the ones it watches: sent
    only, unless it asked for received too) come back as ``missed`` with the next batch."""
    hub = TraceHub(Nodes().ask, lambda: ["node1", "node2"])
    sent = hub.subscribe()
    both = hub.subscribe(received=True)
    try:
        record = {"node": "node1", "dir": "send"}
        received = {"node": "node2", "dir": "recv"}
        for _ in range(QUEUED_BATCHES):
            for queue in (sent, both):
                hub.hand(queue, ([record, received], {}))
        for queue in (sent, both):
            hub.hand(queue, ([record], {"node2": 1}))  # the first batch goes out, counted
            hub.hand(queue, ([record], {}))  # and the second
        for _ in range(QUEUED_BATCHES - 2):
            assert sent.get_nowait()[1] == {} and both.get_nowait()[1] == {}
        assert sent.get_nowait() == ([record], {"node1": 1, "node2": 1})
        assert sent.get_nowait() == ([record], {"node1": 1})
        assert both.get_nowait() == ([record], {"node1": 1, "node2": 2})
        assert both.get_nowait() == ([record], {"node1": 1, "node2": 1})
        assert sent.empty() and both.empty()
    finally:
        hub.unsubscribe(sent)
        hub.unsubscribe(both)
        await hub.close()
