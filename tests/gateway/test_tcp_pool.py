"""NodeConnection and NodePool against a real TCP frame server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest

from engine.cluster_secret import SecretError
from engine.config_model import ClusterConfig, Endpoint, NodeConfig, SecurityConfig
from engine.gateway.tcp_pool import NodeConnection, NodePool
from tests.gateway.fake_node import SECRET, SECURITY, FakeNode, wait_until


@pytest.fixture
async def node() -> AsyncIterator[FakeNode]:
    fake = FakeNode("node1")
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def conn(node: FakeNode) -> AsyncIterator[NodeConnection]:
    connection = NodeConnection("node1", node.config.tcp, secret=SECRET)
    yield connection
    connection.close()


async def test_concurrent_requests_share_one_connection(
    node: FakeNode, conn: NodeConnection
) -> None:
    answers = await asyncio.gather(
        *(conn.request({"op": "echo", "value": i}, timeout=5) for i in range(200))
    )

    assert [a["result"] for a in answers] == list(range(200))
    assert len({a["id"] for a in answers}) == 200
    assert node.connections == 1


async def test_answers_out_of_order_reach_their_requests(
    node: FakeNode, conn: NodeConnection
) -> None:
    held = asyncio.create_task(conn.request({"op": "hold", "key": "a"}, timeout=5))
    await wait_until(lambda: node.ops["hold"] == 1)  # the held request reached the server
    echo = await conn.request({"op": "echo", "value": "b"}, timeout=5)
    assert echo["result"] == "b"
    assert not held.done()

    released = await conn.request({"op": "release", "key": "a"}, timeout=5)

    assert released["result"] == "released"
    assert (await held)["result"] == "a"


async def test_connection_loss_fails_pending_requests_and_next_request_reconnects(
    node: FakeNode, conn: NodeConnection
) -> None:
    pending = [
        asyncio.create_task(conn.request({"op": "hold", "key": k}, timeout=5)) for k in "xyz"
    ]
    await wait_until(lambda: node.ops["hold"] == 3)

    node.drop_connections()

    for task in pending:
        with pytest.raises(ConnectionError, match="node1"):
            await task
    answer = await conn.request({"op": "echo", "value": 1}, timeout=5)
    assert answer["result"] == 1
    assert node.connections == 2


async def test_timeout_leaves_the_connection_usable(node: FakeNode, conn: NodeConnection) -> None:
    with pytest.raises(TimeoutError):
        await conn.request({"op": "hold", "key": "late"}, timeout=0.05)

    # The late answer arrives with no one waiting for it and is dropped.
    released = await conn.request({"op": "release", "key": "late"}, timeout=5)

    assert released["result"] == "released"
    assert (await conn.request({"op": "echo", "value": 2}, timeout=5))["result"] == 2
    assert node.connections == 1


async def test_error_answers_are_returned_as_they_are(conn: NodeConnection) -> None:
    answer = await conn.request({"op": "nonsense"}, timeout=5)

    assert answer["ok"] is False
    assert answer["error"]["code"] == "invalid_request"


async def test_a_bad_frame_drops_the_connection(node: FakeNode, conn: NodeConnection) -> None:
    with pytest.raises(ConnectionError, match="bad frame"):
        await conn.request({"op": "garbage"}, timeout=5)

    assert (await conn.request({"op": "echo", "value": 3}, timeout=5))["result"] == 3


async def test_large_bursts_wait_for_the_transport_buffer(conn: NodeConnection) -> None:
    blob = "x" * 200_000  # 100 of these are far above the transport's high-water mark

    answers = await asyncio.gather(
        *(conn.request({"op": "echo", "value": f"{i}{blob}"}, timeout=10) for i in range(100))
    )

    assert [a["result"][: len(str(i))] for i, a in enumerate(answers)] == [
        str(i) for i in range(100)
    ]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_unreachable_node_fails_with_connection_error() -> None:
    conn = NodeConnection("node9", Endpoint("127.0.0.1", _closed_port()), secret=SECRET)

    with pytest.raises(ConnectionError, match="cannot connect to node9"):
        await conn.request({"op": "ping"}, timeout=5)


async def test_disabled_endpoint_fails_with_connection_error() -> None:
    conn = NodeConnection("node9", Endpoint("127.0.0.1", 1, enabled=False), secret=SECRET)

    with pytest.raises(ConnectionError, match="no TCP endpoint"):
        await conn.request({"op": "ping"}, timeout=5)


async def test_requests_are_signed_frames_of_one_session(node: FakeNode) -> None:
    conn = NodeConnection("node1", node.config.tcp, secret=SECRET)
    try:
        pong = await conn.request({"op": "ping"}, timeout=5)
        status = await conn.request({"op": "status"}, timeout=5)
    finally:
        conn.close()

    assert pong["op"] == "pong"
    assert status["result"]["node_id"] == "node1"
    assert node.ops["ping"] == 1, "the ping went through the session, signed"
    assert node.connections == 1


async def test_a_node_without_the_secret_fails_the_handshake() -> None:
    fake = FakeNode("node1", secret=b"another secret")
    await fake.start()
    conn = NodeConnection("node1", fake.config.tcp, secret=SECRET)
    try:
        with pytest.raises(ConnectionError, match="the server does not hold"):
            await conn.request({"op": "status"}, timeout=5)
    finally:
        conn.close()
        await fake.stop()
    assert fake.ops == {}, "nothing was sent to it"


async def test_a_node_that_never_finishes_the_handshake_times_out() -> None:
    accepted: list[asyncio.StreamWriter] = []
    silent = await asyncio.start_server(lambda r, w: accepted.append(w), "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    conn = NodeConnection("node1", Endpoint("127.0.0.1", port), secret=SECRET)
    try:
        with pytest.raises(ConnectionError, match="timed out"):
            await conn.request({"op": "ping"}, timeout=5)
    finally:
        conn.close()
        silent.close()
        for writer in accepted:
            writer.close()


async def test_pool_holds_one_connection_per_node(node: FakeNode) -> None:
    config = ClusterConfig(source="test", nodes=(node.config,), security=SECURITY)
    pool = NodePool(config)

    assert pool.get("node1") is pool.get("node1")
    assert (await pool.get("node1").request({"op": "ping"}, timeout=5))["ok"] is True
    with pytest.raises(KeyError):
        pool.get("node7")

    pool.close()
    with pytest.raises(ConnectionError, match="closed"):
        await pool.get("node1").request({"op": "ping"}, timeout=5)


def test_pool_needs_the_cluster_secret() -> None:
    node = NodeConfig("node1", True, Endpoint("127.0.0.1", 1), Endpoint("127.0.0.1", 2))
    config = ClusterConfig(source="test", nodes=(node,), security=SecurityConfig())
    with pytest.raises(SecretError, match="not resolved"):
        NodePool(config)


async def test_a_watched_connection_hands_pushes_over_and_watches_again_once_reopened(
    node: FakeNode, conn: NodeConnection
) -> None:
    pushes: list[dict[str, object]] = []
    conn.watch(pushes.append)
    await conn.request({"op": "echo", "value": 1}, timeout=5)  # opens it: watch goes first
    await wait_until(lambda: node.watchers == 1)

    node.announce("leader", 4, "node1")
    await wait_until(lambda: len(pushes) == 1)
    assert pushes == [
        {
            "push": "leadership",
            "node_id": "node1",
            "role": "leader",
            "term": 4,
            "leader": "node1",
            "handed_over": False,
        }
    ]
    assert (await conn.request({"op": "echo", "value": 2}, timeout=5))["result"] == 2

    node.drop_connections()
    await wait_until(lambda: node.watchers == 0)
    await conn.request({"op": "echo", "value": 3}, timeout=5)
    await wait_until(lambda: node.watchers == 1)
    node.announce("follower", 5, "node2")
    await wait_until(lambda: len(pushes) == 2)
    assert pushes[1]["leader"] == "node2"


async def test_watching_an_open_connection_asks_at_once(
    node: FakeNode, conn: NodeConnection
) -> None:
    await conn.request({"op": "echo", "value": 1}, timeout=5)
    assert node.watchers == 0
    conn.watch(lambda msg: None)
    await wait_until(lambda: node.watchers == 1)
    assert node.connections == 1
