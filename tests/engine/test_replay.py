"""Frames captured on the wire cannot be replayed (issue #23).

A relay of the test's sits between the gateway and every node, and between every two nodes, of
a real cluster, and records every frame, as an eavesdropper on the network would.  The frames
it captured are then sent again: on a new connection (alone, or after the captured handshake),
and inside the live connection they were captured on.  Every one is refused and its connection
closed, and the cluster's state is what it was.  The attacker's side speaks raw bytes and knows
no secret (tests/raw_wire.py).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from engine.client import GateClient
from tests.cluster_harness import (
    HandStartedCluster,
    cluster_config,
    start_by_hand,
    wait_for,
)
from tests.raw_wire import message, read_frame, refused

NODES = ("node1", "node2", "node3")


@dataclass
class Relayed:
    """One relayed connection: the frames each way, and a way to slip one in."""

    sent: list[bytes] = field(default_factory=list)  # client -> server
    answered: list[bytes] = field(default_factory=list)  # server -> client
    upstream: asyncio.StreamWriter | None = None
    closed: asyncio.Event = field(default_factory=asyncio.Event)  # the server's side ended

    def inject(self, frame: bytes) -> None:
        """Send ``frame`` to the server inside this connection, between two whole frames."""
        assert self.upstream is not None
        self.upstream.write(frame)


class Relay:
    """Relays whole frames from a port of its own to ``target`` and records them."""

    def __init__(self, name: str, target: int) -> None:
        self.name = name
        self.target = target
        self.connections: list[Relayed] = []
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()
        self._handlers: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handler = asyncio.current_task()
        assert handler is not None
        self._handlers.add(handler)
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            writer.close()
            self._handlers.discard(handler)
            return
        relayed = Relayed(upstream=up_writer)
        self.connections.append(relayed)
        to_server = asyncio.create_task(self._pipe(reader, up_writer, relayed.sent))
        to_client = asyncio.create_task(self._pipe(up_reader, writer, relayed.answered))
        self._pipes |= {to_server, to_client}
        await asyncio.wait({to_server, to_client}, return_when=asyncio.FIRST_COMPLETED)
        # The server's last frames (a refusal) still go through after the client's side ends.
        with contextlib.suppress(OSError):
            up_writer.write_eof()
        with contextlib.suppress(asyncio.CancelledError):
            await to_client
        relayed.closed.set()
        to_server.cancel()
        writer.close()
        up_writer.close()
        self._pipes -= {to_server, to_client}
        self._handlers.discard(handler)

    @staticmethod
    async def _pipe(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, record: list[bytes]
    ) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                frame = await read_frame(reader)
                record.append(frame)
                writer.write(frame)
                await writer.drain()

    def find(self, wanted: Callable[[dict[str, Any]], bool]) -> tuple[Relayed, int]:
        """The last connection and the index of its last frame to the server that is wanted."""
        for relayed in reversed(self.connections):
            for i in reversed(range(len(relayed.sent))):
                if wanted(message(relayed.sent[i])):
                    return relayed, i
        raise AssertionError(f"no such frame was relayed by {self.name}")

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in self._pipes:
            task.cancel()
        # The handlers end once their pipes do (cancelling them would log errors).
        await asyncio.gather(*self._handlers, return_exceptions=True)


def proposes(op: str, **fields: Any) -> Callable[[dict[str, Any]], bool]:
    """Frames that propose an ``op`` command with these ``fields``."""

    def wanted(msg: dict[str, Any]) -> bool:
        command = msg.get("command") if msg.get("op") == "propose" else None
        return (
            isinstance(command, dict)
            and command.get("op") == op
            and all(command.get(k) == v for k, v in fields.items())
        )

    return wanted


def reads(msg: dict[str, Any]) -> bool:
    return msg.get("op") == "read"


def raft_appends(msg: dict[str, Any]) -> bool:
    return msg.get("op") == "raft" and any(
        m.get("type") == "append" and m.get("entries") for m in msg.get("msgs", ())
    )


async def node_states(cluster: HandStartedCluster) -> dict[str, tuple[str, int, int]]:
    """Each node's role, term and last log index, from the node itself."""
    states = {}
    async with aiohttp.ClientSession() as http:
        for node_id in NODES:
            port = cluster.raw["nodes"][node_id]["http"]["port"]
            async with http.get(f"http://127.0.0.1:{port}/status") as resp:
                status = await resp.json()
            states[node_id] = (status["role"], status["term"], status["last_index"])
    return states


async def settled_states(cluster: HandStartedCluster) -> dict[str, tuple[str, int, int]]:
    """The nodes' states once every node holds the whole log."""
    return await wait_for(
        lambda: node_states(cluster),
        lambda states: len({last for _, _, last in states.values()}) == 1,
        10,
        "every node to hold the whole log",
    )


@pytest.fixture
async def eavesdropped(
    tmp_path: Path,
) -> AsyncIterator[tuple[HandStartedCluster, dict[str, Relay]]]:
    """A cluster whose every TCP connection goes through a relay: ``relays["gateway>node1"]``."""
    # Relays in the test's process add a hop: a longer election timeout keeps the leader put.
    raw = cluster_config(tmp_path, extra={"replication": {"electionTicks": 12}})
    relays: dict[str, Relay] = {}
    routes: dict[str, dict[str, int]] = {}
    for src in ("gateway", *NODES):
        for dst in NODES:
            if src != dst:
                relay = Relay(f"{src}>{dst}", raw["nodes"][dst]["tcp"]["port"])
                relays[relay.name] = relay
                routes.setdefault(src, {})[dst] = await relay.start()
    cluster = await start_by_hand(tmp_path, raw, routes)
    try:
        yield cluster, relays
    finally:
        cluster.stop()
        for relay in relays.values():
            await relay.close()


async def test_captured_frames_are_refused_on_new_connections(
    eavesdropped: tuple[HandStartedCluster, dict[str, Relay]],
) -> None:
    cluster, relays = eavesdropped
    async with GateClient(cluster.url) as client:
        view = await wait_for(client.cluster, lambda v: v["leader"] is not None, 15, "a leader")
        leader = view["leader"]
        follower = next(n for n in NODES if n != leader)
        await client.append("reg_gh", "s", [{"event_type": "t", "data": {"i": 1}}])
        await client.read_stream("reg_gh", "s")
        await client.put_snapshot("reg_gh", "src", "strm", 1, {"state": "old"})
        await client.put_snapshot("reg_gh", "src", "strm", 1, {"state": "new"})
        await client.create_store("doomed")
        await client.delete_store("doomed")
        await client.create_store("doomed")
        await client.append("doomed", "kept", [{"event_type": "t", "data": {}}])
        before = await settled_states(cluster)
        streams = (("reg_gh", "s"), ("doomed", "kept"))
        versions = [await client.stream_version(*stream) for stream in streams]

        to_leader = relays[f"gateway>{leader}"]
        # Reads go to any fresh node: take the one from wherever it went.
        read_relay = next(r for n in NODES if _has(r := relays[f"gateway>{n}"], reads))
        captured = {
            "read": (read_relay, reads),
            "propose append": (to_leader, proposes("append", stream="s")),
            # The first snapshot: replayed, it would roll the second one back.
            "propose snapshot_put": (to_leader, proposes("snapshot_put", data={"state": "old"})),
            # Replayed, it would delete the store created again since.
            "propose delete_store": (to_leader, proposes("delete_store", store="doomed")),
            "raft append": (relays[f"{leader}>{follower}"], raft_appends),
        }
        for kind, (relay, wanted) in captured.items():
            relayed, index = relay.find(wanted)
            frame = relayed.sent[index]
            alone = await refused(relay.target, [frame])
            assert "before the handshake" in alone, (kind, alone)
            handshake = relayed.sent[:2]  # the hello and the proof of that connection
            assert [message(f).get("op") for f in handshake] == ["hello", "proof"], kind
            # A replayed handshake meets a new challenge, which its old proof does not answer.
            for frames in ([*handshake, frame], relayed.sent[: index + 1]):
                reason = await refused(relay.target, frames)
                assert "does not hold this cluster's secret" in reason, (kind, reason)

        await asyncio.sleep(0.5)  # anything taken would have been applied by now
        assert await node_states(cluster) == before
        assert (await client.get_snapshot("reg_gh", "src", "strm", 1))["data"] == {"state": "new"}
        assert "doomed" in {s["store_id"] for s in await client.list_stores()}
        assert [await client.stream_version(*stream) for stream in streams] == versions


async def test_a_frame_replayed_inside_its_connection_closes_it(
    eavesdropped: tuple[HandStartedCluster, dict[str, Relay]],
) -> None:
    cluster, relays = eavesdropped
    async with GateClient(cluster.url) as client:
        view = await wait_for(client.cluster, lambda v: v["leader"] is not None, 15, "a leader")
        leader = view["leader"]
        await client.append("reg_gh", "inside", [{"event_type": "t", "data": {}}])
        relay = relays[f"gateway>{leader}"]
        relayed, index = relay.find(proposes("append"))
        before = await client.stream_version("reg_gh", "inside")

        relayed.inject(relayed.sent[index])

        async with asyncio.timeout(5):
            await relayed.closed.wait()
        reason = message(relayed.answered[-1])
        assert reason["ok"] is False and "where" in reason["error"]["message"], reason
        await asyncio.sleep(0.3)
        assert await client.stream_version("reg_gh", "inside") == before
        # The gateway reconnects, with a new handshake, and goes on.
        await client.append("reg_gh", "inside", [{"event_type": "t", "data": {}}])
        assert await client.stream_version("reg_gh", "inside") == before + 1
    assert "refused a frame" in cluster.log(leader)


def _has(relay: Relay, wanted: Callable[[dict[str, Any]], bool]) -> bool:
    try:
        relay.find(wanted)
    except AssertionError:
        return False
    return True
