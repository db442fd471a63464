"""ProposalBatcher (engine/gateway/proposals.py) against a fake node on a real socket."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from engine.config_model import ClusterConfig
from engine.gateway.proposals import MAX_BATCH_BYTES, ProposalBatcher
from engine.gateway.tcp_pool import NodePool
from engine.protocol.errors import GateError
from tests.gateway.fake_node import SECURITY, FakeNode


@pytest.fixture
async def node() -> AsyncIterator[FakeNode]:
    fake = FakeNode("node1")
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def batcher(node: FakeNode) -> AsyncIterator[ProposalBatcher]:
    pool = NodePool(ClusterConfig(source="test", nodes=(node.config,), security=SECURITY))
    yield ProposalBatcher(pool)
    pool.close()


async def test_writes_of_one_turn_share_a_frame_and_keep_their_own_answers(
    node: FakeNode, batcher: ProposalBatcher
) -> None:
    commands = [{"n": 0}, {"fail": "wrong_expected_version"}, {"n": 2}, {"fail": "store_not_found"}]
    answers = await asyncio.gather(
        *(batcher.submit("node1", c, 5) for c in commands), return_exceptions=True
    )

    assert [p.get("commands") for p in node.proposals] == [commands]
    assert answers[0] == {"result": {"n": 0}, "index": 1}
    assert answers[2] == {"result": {"n": 2}, "index": 2}
    assert [(type(a), getattr(a, "code", None)) for a in answers[1::2]] == [
        (GateError, "wrong_expected_version"),
        (GateError, "store_not_found"),
    ]
    assert batcher.counters == {"propose_frames": 1, "proposals": 4}


async def test_a_write_alone_leaves_at_once_as_one_command(
    node: FakeNode, batcher: ProposalBatcher
) -> None:
    assert await batcher.submit("node1", {"n": 1}, 5) == {"result": {"n": 1}, "index": 1}
    with pytest.raises(GateError) as refused:
        await batcher.submit("node1", {"fail": "wrong_expected_version"}, 5)
    assert refused.value.code == "wrong_expected_version"
    assert [(p.get("command"), "commands" in p) for p in node.proposals] == [
        ({"n": 1}, False),
        ({"fail": "wrong_expected_version"}, False),
    ]


async def test_a_write_given_up_before_its_frame_left_is_never_sent(
    node: FakeNode, batcher: ProposalBatcher
) -> None:
    kept = batcher.submit("node1", {"n": "kept"}, 5)
    dropped = batcher.submit("node1", {"n": "dropped"}, 5)
    dropped.cancel()  # before the end of this turn of the loop, when the frame leaves
    assert (await kept)["result"] == {"n": "kept"}
    assert dropped.cancelled()
    assert [p.get("command") for p in node.proposals] == [{"n": "kept"}]


async def test_a_lost_connection_fails_every_write_of_the_frame(
    node: FakeNode, batcher: ProposalBatcher
) -> None:
    await batcher.submit("node1", {"n": 0}, 5)  # connected
    await node.stop()
    answers = await asyncio.gather(
        *(batcher.submit("node1", {"n": n}, 5) for n in range(3)), return_exceptions=True
    )
    assert all(isinstance(a, ConnectionError) for a in answers), answers


async def test_frames_stay_under_their_byte_budget(
    node: FakeNode, batcher: ProposalBatcher
) -> None:
    big = "x" * (MAX_BATCH_BYTES // 2)  # two fit in no frame: each goes with what follows it
    commands = [{"n": 0, "pad": big}, {"n": 1, "pad": big}, {"n": 2}, {"n": 3}]
    answers = await asyncio.gather(*(batcher.submit("node1", c, 5) for c in commands))

    assert [a["result"]["n"] for a in answers] == [0, 1, 2, 3]
    sent = [[c["n"] for c in p.get("commands", [p.get("command")])] for p in node.proposals]
    assert sent == [[0], [1, 2, 3]]
