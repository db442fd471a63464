"""The gateway's rounds of asking the nodes for their inside (engine/gateway/inside.py): nothing
is asked while nobody watches; a node that does not answer is null; a watcher is sent only what
changed."""

from __future__ import annotations

import asyncio
from typing import Any

from engine.gateway.inside import InsideHub, changes, clean_inside
from engine.protocol.errors import GateError
from tests.inside_data import node_inside


def inside(term: int, elapsed: int, role: str = "follower") -> dict[str, Any]:
    return node_inside(role, term, elapsed, commit=7)


class Nodes:
    def __init__(self) -> None:
        self.answers = {"node1": inside(2, 0, "leader"), "node2": inside(2, 50)}
        self.down: set[str] = set()
        self.asked: list[tuple[str, dict[str, Any]]] = []

    async def ask(self, node: str, msg: dict[str, Any], timeout: float) -> Any:
        self.asked.append((node, msg))
        if node in self.down:
            raise GateError("unavailable", f"{node} does not answer")
        return self.answers[node]


async def test_nothing_is_asked_while_nobody_watches() -> None:
    nodes = Nodes()
    hub = InsideHub(nodes.ask, lambda: ["node1", "node2"])
    hub.pace = 0.01
    await asyncio.sleep(0.05)
    assert nodes.asked == [] and not hub.watched
    queue = hub.watch()
    _, first = await asyncio.wait_for(queue.get(), 5)
    assert first == {
        "node1": clean_inside(nodes.answers["node1"]),
        "node2": inside(2, 50) | {"progress": None},
    }
    assert {msg["op"] for _, msg in nodes.asked} == {"inside"}
    hub.unwatch(queue)
    await asyncio.sleep(0)  # the cancelled round ends
    count = len(nodes.asked)
    await asyncio.sleep(0.05)
    assert len(nodes.asked) == count and not hub.watched
    await hub.close()


async def test_a_node_that_does_not_answer_is_null() -> None:
    nodes = Nodes()
    nodes.down.add("node2")
    hub = InsideHub(nodes.ask, lambda: ["node1", "node2"])
    _, round_ = await hub.poll()
    assert round_["node2"] is None and round_["node1"] is not None
    nodes.answers["node1"] = ["not", "an", "object"]  # type: ignore[assignment]
    assert (await hub.poll())[1]["node1"] is None


def test_a_watcher_is_sent_what_changed() -> None:
    sent: dict[str, dict[str, Any] | None] = {}
    one = {"node1": inside(2, 0), "node2": inside(2, 50)}
    assert changes(sent, one) == one  # the first: every node
    assert changes(sent, dict(one)) == {}
    later = {"node1": inside(2, 0), "node2": inside(2, 100)}
    assert changes(sent, later) == {"node2": inside(2, 100)}
    assert changes(sent, {"node1": inside(2, 0), "node2": None}) == {"node2": None}


def test_garbage_in_an_answer_reads_as_zero_or_null() -> None:
    cleaned = clean_inside(
        {"role": "leader", "term": "x", "log": 3, "election_timer": [], "progress": {"node2": 1}}
    )
    assert cleaned is not None
    assert cleaned["term"] == 0 and cleaned["log"] is None and cleaned["election_timer"] is None
    assert cleaned["progress"] == {}
    assert clean_inside(None) is None
