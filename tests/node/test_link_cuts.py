"""The partition fault's bookkeeping: which links a node cuts, each way, and the request body."""

from __future__ import annotations

from typing import Any

import pytest

from engine.node.peers import LinkCuts
from engine.protocol.errors import GateError
from engine.protocol.link_cuts import parse_cut_request

NODES = ("node1", "node2", "node3")


def _cuts() -> LinkCuts:
    return LinkCuts("node1", ["node3", "node2"])


def test_isolating_cuts_every_peer_both_ways_and_healing_restores_them() -> None:
    cuts = _cuts()
    assert not cuts.isolated and cuts.describe() == "all links to its peers are up"
    cuts.cut()
    assert cuts.isolated
    assert cuts.view() == {"in": ["node2", "node3"], "out": ["node2", "node3"]}
    assert cuts.describe() == "isolated: every link to its peers is cut both ways"
    cuts.heal()
    assert not cuts.isolated and cuts.view() == {"in": [], "out": []}


def test_partial_and_one_way_cuts_add_up_and_heal_piece_by_piece() -> None:
    cuts = _cuts()
    cuts.cut(["node2"])
    cuts.cut(["node3"], "in")
    assert cuts.view() == {"in": ["node2", "node3"], "out": ["node2"]}
    assert not cuts.isolated
    assert cuts.describe() == "cut both ways from node2; deaf to node3"
    cuts.cut(["node3"], "out")
    assert cuts.isolated  # the same as isolating at once
    cuts.heal(["node2"], "in")
    assert cuts.describe() == "cut both ways from node3; mute to node2"
    cuts.heal(direction="out")
    assert cuts.view() == {"in": ["node3"], "out": []}


def test_a_node_without_peers_is_never_isolated() -> None:
    alone = LinkCuts("node1", [])
    alone.cut()
    assert not alone.isolated


@pytest.mark.parametrize(
    ("peers", "direction", "message"),
    [
        (["node1"], "both", "node1 cannot be cut from itself"),
        (["node9"], "both", "node9: not a peer of node1 (peers: node2, node3)"),
        (None, "sideways", "direction must be one of both, in, out, not 'sideways'"),
    ],
)
def test_misuse_raises(peers: list[str] | None, direction: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _cuts().cut(peers, direction)


def test_the_request_body_defaults_to_every_peer_both_ways() -> None:
    assert parse_cut_request(None, "node1", NODES) == (None, "both")
    assert parse_cut_request({}, "node1", NODES) == (None, "both")
    body = {"peers": ["node3"], "direction": "out"}
    assert parse_cut_request(body, "node1", NODES) == (["node3"], "out")


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ([], None, "the body must be a JSON object"),
        ({"peer": ["node2"]}, "peer", "unknown field 'peer' (allowed: peers, direction)"),
        ({"direction": "up"}, "direction", "direction must be one of both, in, out, got 'up'"),
        ({"direction": None}, "direction", "got None"),
        ({"peers": []}, "peers", "peers must be a non-empty list of node ids"),
        ({"peers": "node2"}, "peers", "peers must be a non-empty list"),
        ({"peers": [2]}, "peers", "peers must be a non-empty list"),
        ({"peers": ["node2", "node2"]}, "peers", "peers names a node twice"),
        ({"peers": ["node1"]}, "peers", "node1 cannot be cut from itself"),
        ({"peers": ["node9"]}, "peers", "no node 'node9' in this cluster"),
    ],
)
def test_a_bad_body_is_one_clear_400(body: Any, field: str | None, message: str) -> None:
    with pytest.raises(GateError) as caught:
        parse_cut_request(body, "node1", NODES)
    assert caught.value.code == "invalid_request"
    assert message in caught.value.message
    assert caught.value.details.get("field") == field
