"""Raft traffic to the other nodes: one outgoing TCP connection per peer, fire and forget.

Raft tolerates lost messages (heartbeats and rejections repair everything), so a peer that is
down, or paused with its socket buffers full, simply loses messages instead of making the
sender wait: replication never blocks on the slowest node.  Each connection starts with the
handshake of ``engine.protocol.framing``, which also finds out a peer without this cluster's secret.

:class:`LinkCuts` is the partition fault (``POST /api/cluster/nodes/{id}/isolate``): Raft messages
to the peers cut outbound are never sent, and those from the peers cut inbound are dropped on
arrival (engine/node/tcp_server.py), while the node still serves its gateways.  Link faults and
the tempo's delay act on each frame before it is written (engine/node/link_shaping.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections import defaultdict
from collections.abc import Iterable, Sequence

from engine.config_model import Endpoint
from engine.node.link_shaping import Frame, LinkShaper
from engine.protocol.framing import FrameError, FrameSession, open_session
from engine.protocol.link_cuts import DIRECTIONS
from engine.replication.messages import Message
from engine.replication.wire import encode_message

log = logging.getLogger("gate.node.peers")

# Past this many unsent bytes a peer is not keeping up (paused, or on a dead link): drop.
_MAX_BUFFERED = 16 * 1024 * 1024


class LinkCuts:
    """Which peers' Raft traffic this node drops: ``inbound`` from them, ``outbound`` to them.

    Kept in memory only: a restarted node has all its links back.
    """

    def __init__(self, node_id: str, peers: Iterable[str]) -> None:
        self.node_id = node_id
        self.peers = tuple(sorted(peers))
        self.inbound: set[str] = set()
        self.outbound: set[str] = set()

    def _sides(self, direction: str) -> tuple[set[str], ...]:
        if direction == "both":
            return self.inbound, self.outbound
        if direction == "in":
            return (self.inbound,)
        if direction == "out":
            return (self.outbound,)
        raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}, not {direction!r}")

    def _chosen(self, peers: Iterable[str] | None) -> set[str]:
        if peers is None:
            return set(self.peers)
        chosen = set(peers)
        if self.node_id in chosen:
            raise ValueError(f"{self.node_id} cannot be cut from itself")
        unknown = sorted(chosen - set(self.peers))
        if unknown:
            raise ValueError(
                f"{', '.join(unknown)}: not a peer of {self.node_id} "
                f"(peers: {', '.join(self.peers)})"
            )
        return chosen

    def cut(self, peers: Iterable[str] | None = None, direction: str = "both") -> None:
        """Cut the links to ``peers`` (every peer when None) in ``direction``."""
        chosen, sides = self._chosen(peers), self._sides(direction)
        for side in sides:
            side.update(chosen)

    def heal(self, peers: Iterable[str] | None = None, direction: str = "both") -> None:
        """Restore the links to ``peers`` (every peer when None) in ``direction``."""
        chosen, sides = self._chosen(peers), self._sides(direction)
        for side in sides:
            side.difference_update(chosen)

    @property
    def isolated(self) -> bool:
        """Cut from every peer both ways (a node without peers never is)."""
        everyone = set(self.peers)
        return bool(everyone) and self.inbound == everyone == self.outbound

    def view(self) -> dict[str, list[str]]:
        """``{"in": [...], "out": [...]}``: the peers cut each way, sorted."""
        return {"in": sorted(self.inbound), "out": sorted(self.outbound)}

    def describe(self) -> str:
        """The cuts in words, for the node's log."""
        if not (self.inbound or self.outbound):
            return "all links to its peers are up"
        if self.isolated:
            return "isolated: every link to its peers is cut both ways"
        both = sorted(self.inbound & self.outbound)
        only_in = sorted(self.inbound - self.outbound)
        only_out = sorted(self.outbound - self.inbound)
        parts = []
        if both:
            parts.append(f"cut both ways from {', '.join(both)}")
        if only_in:
            parts.append(f"deaf to {', '.join(only_in)}")
        if only_out:
            parts.append(f"mute to {', '.join(only_out)}")
        return "; ".join(parts)


class PeerLink:
    """The outgoing connection to one peer, reconnecting in the background.

    It counts as connected once the handshake is done: frames before that are dropped.
    """

    def __init__(
        self,
        node_id: str,
        peer_id: str,
        endpoint: Endpoint,
        secret: bytes,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.node_id = node_id
        self.peer_id = peer_id
        self.endpoint = endpoint
        self.secret = secret
        self.tls = tls  # security.tls: the peer's certificate must be signed by the CA
        self._writer: asyncio.StreamWriter | None = None
        self._session: FrameSession | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._problem: str | None = None  # the last handshake failure logged

    def start(self) -> None:
        self._task = asyncio.create_task(self._keep_connected(), name=f"peer-{self.peer_id}")

    @property
    def connected(self) -> bool:
        return self._session is not None

    def send(self, msg: dict[str, object]) -> bool:
        """Queue one message; False when it was dropped (not connected, or backed up)."""
        writer, session = self._writer, self._session
        if writer is None or session is None or writer.is_closing():
            return False
        if writer.transport.get_write_buffer_size() > _MAX_BUFFERED:
            return False
        # Encoded only when sent: the peer takes no gap in the frame numbers.
        writer.write(session.encode(msg))
        return True

    async def _keep_connected(self) -> None:
        delay = 0.02
        while not self._closed:
            writer: asyncio.StreamWriter | None = None
            try:
                async with asyncio.timeout(1.0):
                    reader, writer = await asyncio.open_connection(
                        self.endpoint.connect_host,
                        self.endpoint.port,
                        ssl=self.tls,
                        server_hostname=self.endpoint.connect_host if self.tls else None,
                    )
                    session = await open_session(reader, writer, self.secret)
            except (OSError, TimeoutError, asyncio.IncompleteReadError, FrameError) as exc:
                if isinstance(exc, FrameError | ssl.SSLError):
                    self._report(str(exc))
                if writer is not None:
                    writer.close()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.25)
                continue
            delay = 0.02
            self._problem = None
            self._writer, self._session = writer, session
            log.debug("%s connected to peer %s", self.node_id, self.peer_id)
            try:
                # The peer never answers on this connection; reading tells us when it goes away.
                while await reader.read(65536):
                    pass
            except OSError:
                pass
            finally:
                self._writer = self._session = None
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()

    def _report(self, problem: str) -> None:
        # Once per problem, not once per reconnection attempt.
        if problem != self._problem:
            self._problem = problem
            log.warning("%s cannot link to peer %s: %s", self.node_id, self.peer_id, problem)

    async def close(self) -> None:
        self._closed = True
        if self._writer is not None:
            self._writer.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task


class PeerTransport:
    """Sends Raft messages to peers, one frame per peer per batch."""

    def __init__(
        self,
        node_id: str,
        peers: dict[str, Endpoint],
        secret: bytes,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.node_id = node_id
        self.secret = secret
        self.tls = tls
        self.links = {pid: PeerLink(node_id, pid, ep, secret, tls) for pid, ep in peers.items()}
        self.cuts = LinkCuts(node_id, peers)
        self.shaper = LinkShaper(self._deliver)
        self._later: dict[str, Frame] = {}
        self._later_timer: asyncio.TimerHandle | None = None
        self._started = False
        self._closing: set[asyncio.Task[None]] = set()
        # Connections of their own to nodes that are no peers (send_once), by node.
        self._once: dict[str, asyncio.Task[None]] = {}

    def start(self) -> None:
        self._started = True
        for link in self.links.values():
            link.start()

    def set_peers(self, peers: dict[str, Endpoint]) -> None:
        """The membership changed: link to new members, drop the links to former ones (a
        partition cut to a former member is forgotten with it)."""
        for peer_id, link in list(self.links.items()):
            if peers.get(peer_id) != link.endpoint:
                del self.links[peer_id]
                self.cuts.inbound.discard(peer_id)
                self.cuts.outbound.discard(peer_id)
                self.shaper.forget(peer_id)
                self._closing.add(task := asyncio.create_task(link.close()))
                task.add_done_callback(self._closing.discard)
        for peer_id, endpoint in peers.items():
            if peer_id not in self.links:
                link = self.links[peer_id] = PeerLink(
                    self.node_id, peer_id, endpoint, self.secret, self.tls
                )
                if self._started:
                    link.start()
        self.cuts.peers = tuple(sorted(peers))

    def send(self, messages: list[Message], ids: Sequence[int] = ()) -> None:
        """Send a batch of messages, grouped into one frame per destination; ``ids``: their
        numbers in the node's trace, by which one can be dropped in flight (none: 0 each)."""
        if not messages:
            return
        by_peer: dict[str, Frame] = defaultdict(list)
        for msg, trace_id in zip(messages, ids or [0] * len(messages), strict=True):
            by_peer[msg.to].append((trace_id, encode_message(msg)))
        for peer_id, encoded in by_peer.items():
            self._send_frame(peer_id, self._later.pop(peer_id, []) + encoded)

    def send_once(self, peer_id: str, endpoint: Endpoint, messages: list[Message]) -> None:
        """Send ``messages`` to a node that is no peer (a removed one, told so) on a connection
        of their own, closed once they are written.  One at a time per node: more while one is
        under way are dropped (it sends again, and is answered again)."""
        if peer_id in self._once or not messages:
            return
        frame: dict[str, object] = {"op": "raft", "msgs": [encode_message(m) for m in messages]}
        task = asyncio.create_task(self._send_once(peer_id, endpoint, frame))
        self._once[peer_id] = task
        task.add_done_callback(lambda _: self._once.pop(peer_id, None))

    async def _send_once(self, peer_id: str, endpoint: Endpoint, frame: dict[str, object]) -> None:
        writer: asyncio.StreamWriter | None = None
        try:
            async with asyncio.timeout(1.0):
                reader, writer = await asyncio.open_connection(
                    endpoint.connect_host,
                    endpoint.port,
                    ssl=self.tls,
                    server_hostname=endpoint.connect_host if self.tls else None,
                )
                session = await open_session(reader, writer, self.secret)
                writer.write(session.encode(frame))
                await writer.drain()
        except (OSError, TimeoutError, asyncio.IncompleteReadError, FrameError) as exc:
            # Lost like any Raft message: it asks again, and is answered again.
            log.debug("%s could not reach %s: %s", self.node_id, peer_id, exc)
        finally:
            if writer is not None:
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()

    def send_later(self, messages: list[Message], delay: float, ids: Sequence[int] = ()) -> None:
        """Send ``messages`` after ``delay`` s, or sooner, ahead of the next batch to their peer.

        Held messages never overtake later ones: ``send`` puts them first in its frame.
        """
        if not messages:
            return
        for msg, trace_id in zip(messages, ids or [0] * len(messages), strict=True):
            self._later.setdefault(msg.to, []).append((trace_id, encode_message(msg)))
        if self._later_timer is None:
            self._later_timer = asyncio.get_running_loop().call_later(delay, self._send_pending)

    def _send_pending(self) -> None:
        self._later_timer = None
        pending, self._later = self._later, {}
        for peer_id, encoded in pending.items():
            self._send_frame(peer_id, encoded)

    def _send_frame(self, peer_id: str, encoded: Frame) -> None:
        self.shaper.send(peer_id, encoded)

    def _deliver(self, peer_id: str, encoded: list[dict[str, object]]) -> None:
        link = self.links.get(peer_id)
        # A cut link loses what is sent on it, as a partitioned network would.
        if link is not None and peer_id not in self.cuts.outbound:
            link.send({"op": "raft", "msgs": encoded})

    async def close(self) -> None:
        if self._later_timer is not None:
            self._later_timer.cancel()
        self.shaper.close()
        for link in self.links.values():
            await link.close()
        for task in list(self._once.values()):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for task in list(self._closing):
            await task
