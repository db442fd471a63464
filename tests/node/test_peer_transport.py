"""Raft traffic to peers over real sockets: held commit notices go later, never out of order."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from engine.config_model import Endpoint
from engine.node.peers import PeerTransport
from engine.protocol.framing import FrameError, ServerConnection
from engine.replication.messages import AppendRequest, Entry, Removed
from engine.replication.wire import decode_message
from tests.cluster_harness import free_ports

DELAY = 0.05
SECRET = b"peer-secret"


def _notice(commit: int) -> AppendRequest:
    return AppendRequest(2, "node1", "node2", 3, 2, (), commit)


def _append(index: int) -> AppendRequest:
    return AppendRequest(2, "node1", "node2", index - 1, 2, (Entry(index, 2, b"x"),), index - 1)


class _Peer:
    """A peer that records each Raft frame it receives, with the time it arrived."""

    def __init__(self, secret: bytes = SECRET) -> None:
        self.secret = secret
        self.frames: list[tuple[float, list[object]]] = []
        self.refused: list[str] = []
        self.arrived = asyncio.Event()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = ServerConnection(reader, writer, self.secret)
        while True:
            try:
                frame = await conn.read()
            except asyncio.IncompleteReadError:
                return
            except FrameError as exc:
                self.refused.append(str(exc))
                writer.close()
                return
            msgs = [decode_message(m) for m in frame["msgs"]]
            self.frames.append((time.monotonic(), msgs))
            self.arrived.set()

    async def next_frame(self) -> tuple[float, list[object]]:
        async with asyncio.timeout(5):
            while not self.frames:
                self.arrived.clear()
                await self.arrived.wait()
        return self.frames.pop(0)


@pytest.fixture
async def linked() -> AsyncIterator[tuple[PeerTransport, _Peer]]:
    peer = _Peer()
    server = await asyncio.start_server(peer.serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    transport = PeerTransport("node1", {"node2": Endpoint("127.0.0.1", port)}, SECRET)
    transport.start()
    async with asyncio.timeout(5):
        while not transport.links["node2"].connected:
            await asyncio.sleep(0.01)
    yield transport, peer
    await transport.close()
    server.close()


async def test_a_held_notice_goes_after_the_delay(linked: tuple[PeerTransport, _Peer]) -> None:
    transport, peer = linked
    held_at = time.monotonic()
    transport.send_later([_notice(3)], DELAY)
    arrived, msgs = await peer.next_frame()
    assert msgs == [_notice(3)]
    assert arrived - held_at >= DELAY * 0.9


async def test_held_notices_go_first_with_the_next_batch(
    linked: tuple[PeerTransport, _Peer],
) -> None:
    transport, peer = linked
    transport.send_later([_notice(3)], DELAY)
    transport.send([_append(4)])
    _, msgs = await peer.next_frame()
    assert msgs == [_notice(3), _append(4)]
    # Once the held messages' timer has run, nothing of them is sent again: the next frame
    # holds only the next batch (frames arrive in order on the connection).
    async with asyncio.timeout(5):
        while transport._later_timer is not None:
            await asyncio.sleep(0.01)
    transport.send([_append(5)])
    _, msgs = await peer.next_frame()
    assert msgs == [_append(5)]


async def test_a_link_is_connected_only_after_the_handshake() -> None:
    accepted: list[asyncio.StreamWriter] = []
    # A listener that accepts and never answers: the handshake cannot finish.
    silent = await asyncio.start_server(lambda r, w: accepted.append(w), "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    transport = PeerTransport("node1", {"node2": Endpoint("127.0.0.1", port)}, SECRET)
    transport.start()
    try:
        async with asyncio.timeout(5):
            while not accepted:
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)
        assert not transport.links["node2"].connected
        assert transport.links["node2"].send({"op": "raft", "msgs": []}) is False
    finally:
        await transport.close()
        silent.close()
        for writer in accepted:
            writer.close()


async def test_a_peer_without_the_secret_never_links(caplog: pytest.LogCaptureFixture) -> None:
    peer = _Peer(b"another secret")
    server = await asyncio.start_server(peer.serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    transport = PeerTransport("node1", {"node2": Endpoint("127.0.0.1", port)}, SECRET)
    transport.start()
    try:
        async with asyncio.timeout(5):
            while "the server does not hold" not in caplog.text:
                await asyncio.sleep(0.01)
        transport.send([_append(4)])
        await asyncio.sleep(0.1)
    finally:
        await transport.close()
        server.close()
    assert not transport.links["node2"].connected
    assert peer.frames == []
    assert caplog.text.count("cannot link to peer node2") == 1, "logged once, not per attempt"


async def test_a_message_dropped_by_hand_in_flight_never_arrives(
    linked: tuple[PeerTransport, _Peer],
) -> None:
    transport, peer = linked
    transport.shaper.set_delay(0.3)  # the tempo's delay: every message waits in its delay line
    transport.send([_append(4)], [7])
    transport.send([_append(5), _append(6)], [8, 9])
    assert transport.shaper.drop_message(7) == "node2"
    assert transport.shaper.drop_message(7) is None  # gone already
    assert transport.shaper.drop_message(9) == "node2"
    _, msgs = await peer.next_frame()  # the first frame, emptied, is never written
    assert msgs == [_append(5)]
    assert transport.shaper.drop_message(8) is None  # delivered: too late
    assert transport.shaper.counters["dropped_by_hand"] == 2
    transport.send([_append(7)])  # untraced (0): delivered, and never a match
    assert transport.shaper.drop_message(0) is None
    _, msgs = await peer.next_frame()
    assert msgs == [_append(7)]


async def test_speeding_up_delivers_what_waits_out_the_slower_tempo_at_once(
    linked: tuple[PeerTransport, _Peer],
) -> None:
    """x1/20 to x1 with heartbeats on their 0.95 s way: they go at once, in order, else a
    follower back at full-speed timeouts would wait for them and campaign."""
    transport, peer = linked
    transport.shaper.set_delay(0.95)
    transport.send([_notice(3)], [1])
    transport.send([_notice(4)], [2])
    sent = time.monotonic()
    await asyncio.sleep(0.1)
    assert peer.frames == []  # on their way
    transport.shaper.set_delay(0.0)
    first, second = await peer.next_frame(), await peer.next_frame()
    assert [first[1], second[1]] == [[_notice(3)], [_notice(4)]]
    assert second[0] - sent < 0.5, second[0] - sent
    # Slowing down holds what is on its way longer by the difference.
    transport.shaper.set_delay(0.2)
    transport.send([_notice(5)], [3])
    transport.shaper.set_delay(0.6)
    sent = time.monotonic()
    arrived, msgs = await peer.next_frame()
    assert msgs == [_notice(5)] and arrived - sent >= 0.55, arrived - sent


async def test_a_node_that_is_no_peer_is_told_on_a_connection_of_its_own() -> None:
    """A removed node has no link: ``send_once`` reaches it all the same, one frame on a
    connection closed once written, and a node that does not listen costs nothing but a line."""
    peer = _Peer()
    server = await asyncio.start_server(peer.serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    transport = PeerTransport("node1", {}, SECRET)
    transport.start()
    told = Removed(3, "node1", "node4", 812)
    try:
        transport.send_once("node4", Endpoint("127.0.0.1", port), [told])
        transport.send_once("node4", Endpoint("127.0.0.1", port), [told])  # one under way
        _, msgs = await peer.next_frame()
        assert msgs == [told]
        (closed,) = free_ports(1)
        transport.send_once("node5", Endpoint("127.0.0.1", closed), [told])
        async with asyncio.timeout(5):
            while transport._once:
                await asyncio.sleep(0.01)
        assert peer.frames == [], "the second, sent while the first was under way, dropped"
    finally:
        await transport.close()
        server.close()
