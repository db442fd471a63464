"""The gateway's TCP path to the nodes: one persistent, multiplexed connection per node.

Requests carry an ``id``; answers may come back in any order and are matched to their request
by that id.  The connection is an :class:`asyncio.Protocol` rather than a stream pair so that
answers are decoded and handed to their waiters straight from ``data_received``, with no reader
task in between, and so that writes go out with ``transport.write`` and only wait when the
transport's buffer is above its high-water mark (a burst of requests costs one flush, not one
drain per request).  Each connection starts with the handshake of ``engine.protocol.framing`` (in
``connection_made`` and the first answer), and requests wait for it.
"""

from __future__ import annotations

import asyncio
import itertools
import ssl
import struct
from collections.abc import Callable
from typing import Any, cast

from engine.cluster_secret import cluster_key
from engine.config_model import ClusterConfig, Endpoint
from engine.gateway.members import Members
from engine.protocol.framing import MAX_FRAME, ClientHandshake, FrameError, FrameSession
from engine.tls import describe_connect_error as describe_tls_error

CONNECT_TIMEOUT = 0.5  # to connect and finish the handshake
Push = Callable[[dict[str, Any]], None]  # takes a message the node sent unasked
_LEN = struct.Struct(">I")


class _Link(asyncio.Protocol):
    """One TCP connection: the handshake, frame parsing, answer dispatch, write flow control."""

    def __init__(self, name: str, secret: bytes) -> None:
        self._name = name
        self._handshake = ClientHandshake(secret)
        self._session: FrameSession | None = None
        self._buf = bytearray()
        self._transport: asyncio.Transport | None = None
        self._lost = False
        self._reason = "connection closed"
        self._writable: asyncio.Event | None = None  # set while the transport accepts writes
        self._settled = asyncio.Event()  # the handshake is done, or the link is lost
        self.pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.on_push: Push | None = None

    @property
    def usable(self) -> bool:
        return self._transport is not None and not self._lost

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport, though not an asyncio.Transport subclass on uvloop.
        self._transport = cast(asyncio.Transport, transport)
        self._writable = asyncio.Event()
        self._writable.set()
        self._transport.write(self._handshake.hello())

    async def handshake(self) -> None:
        """Wait for the end of the handshake; ConnectionError when it failed."""
        await self._settled.wait()
        if self._lost:
            raise ConnectionError(self._reason)

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        offset = 0
        try:
            # Parse every complete frame, then trim the buffer once (not once per frame).
            while len(buf) - offset >= 4:
                (size,) = _LEN.unpack_from(buf, offset)
                if size > MAX_FRAME:
                    raise FrameError(f"frame of {size} bytes exceeds the limit of {MAX_FRAME}")
                end = offset + 4 + size
                if len(buf) < end:
                    break
                body = bytes(buf[offset + 4 : end])
                offset = end
                session = self._session
                if session is None:
                    self._session, proof = self._handshake.finish(body)
                    assert self._transport is not None
                    self._transport.write(proof)
                    self._settled.set()
                    continue
                msg = session.decode(body)
                if "push" in msg:
                    # Unasked news from the node (engine/node/leadership.py), not an answer.
                    if self.on_push is not None:
                        self.on_push(msg)
                    continue
                rid = msg.get("id")
                fut = self.pending.pop(rid, None) if isinstance(rid, int) else None
                # No waiter: the request timed out or was cancelled; its late answer is dropped.
                if fut is not None and not fut.done():
                    fut.set_result(msg)
        except FrameError as exc:
            # A bad frame leaves the stream in an unknown state: drop the whole connection.
            what = "bad frame from" if self._settled.is_set() else "handshake failed with"
            self._fail(f"{what} {self._name}: {exc}")
            return
        finally:
            del buf[:offset]

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(f"connection to {self._name} lost" + (f": {exc}" if exc else ""))

    def pause_writing(self) -> None:
        if self._writable is not None:
            self._writable.clear()

    def resume_writing(self) -> None:
        if self._writable is not None:
            self._writable.set()

    def _fail(self, reason: str) -> None:
        if not self._lost:
            self._lost = True
            self._reason = reason
            if self._transport is not None:
                self._transport.abort()
        if self._writable is not None:
            self._writable.set()  # wake writers so they see the loss
        self._settled.set()
        pending, self.pending = self.pending, {}
        for fut in pending.values():
            if not fut.done():
                fut.set_exception(ConnectionError(self._reason))

    def send(self, msg: dict[str, Any]) -> None:
        """Queue a request on the transport (raises ConnectionError once the link is lost)."""
        if not self.usable:
            raise ConnectionError(self._reason)
        assert self._transport is not None and self._session is not None
        self._transport.write(self._session.encode(msg))

    async def wait_writable(self) -> None:
        """Wait while the transport's write buffer is above its high-water mark.

        Returns when the link is lost too: the request's future then holds the error.
        """
        if self._writable is not None and not self._writable.is_set():
            await self._writable.wait()

    def close(self, reason: str) -> None:
        self._fail(reason)


class NodeConnection:
    """One persistent TCP connection to a node, shared by concurrent requests.

    The connection is opened by the first request and reopened by the first request after it
    is lost; requests in flight when it is lost fail with :class:`ConnectionError`.
    """

    def __init__(
        self,
        node_id: str,
        endpoint: Endpoint,
        *,
        secret: bytes,
        connect_timeout: float = CONNECT_TIMEOUT,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.node_id = node_id
        self.endpoint = endpoint
        self._secret = secret
        self._tls = tls  # security.tls: verifies the node's certificate against the CA
        self._connect_timeout = connect_timeout
        self._ids = itertools.count(1)
        self._link: _Link | None = None
        self._connecting: asyncio.Future[_Link] | None = None
        self._closed = False
        self._on_push: Push | None = None

    def watch(self, on_push: Push) -> None:
        """Have the node push its leadership changes to ``on_push``, on this connection and on
        every one opened later (each starts with a ``watch``: docs/ENGINE.md)."""
        self._on_push = on_push
        link = self._link
        if link is not None and link.usable:
            self._watch(link)

    def _watch(self, link: _Link) -> None:
        if self._on_push is not None:
            link.on_push = self._on_push
            link.send({"op": "watch"})

    @property
    def connected(self) -> bool:
        """Whether a usable connection is open right now."""
        return self._link is not None and self._link.usable

    # The timeout is a parameter (not the caller's asyncio.timeout) because every caller has one.
    async def request(self, msg: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Send ``msg`` with a fresh ``id`` and return the node's answer with that id.

        The answer is returned as is (``ok`` may be false).  Raises :class:`ConnectionError`
        when the node cannot be reached or the connection drops before the answer, and
        :class:`TimeoutError` when no answer comes within ``timeout`` seconds (connecting
        included).
        """
        async with asyncio.timeout(timeout):
            link = await self._get_link()
            rid = next(self._ids)
            fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
            link.pending[rid] = fut
            try:
                link.send({**msg, "id": rid})
                await link.wait_writable()
                return await fut
            finally:
                link.pending.pop(rid, None)

    async def _get_link(self) -> _Link:
        if self._closed:
            raise ConnectionError(f"connection to {self.node_id} is closed")
        link = self._link
        if link is not None and link.usable:
            return link
        if not self.endpoint.enabled:
            raise ConnectionError(f"node {self.node_id} has no TCP endpoint")
        # Concurrent requests share one connection attempt.
        if self._connecting is None:
            self._connecting = asyncio.ensure_future(self._connect())
            self._connecting.add_done_callback(self._connect_done)
        return await asyncio.shield(self._connecting)

    def _connect_done(self, fut: asyncio.Future[_Link]) -> None:
        self._connecting = None
        if not fut.cancelled() and fut.exception() is None:
            self._link = fut.result()

    async def _connect(self) -> _Link:
        loop = asyncio.get_running_loop()
        name = f"{self.node_id} ({self.endpoint.addr})"
        link: _Link | None = None
        try:
            async with asyncio.timeout(self._connect_timeout):
                _, link = await loop.create_connection(
                    lambda: _Link(name, self._secret),
                    self.endpoint.connect_host,
                    self.endpoint.port,
                    ssl=self._tls,
                    server_hostname=self.endpoint.connect_host if self._tls else None,
                )
                await link.handshake()
        except TimeoutError:
            if link is not None:
                link.close(f"handshake with {name} timed out")
            raise ConnectionError(f"cannot connect to {name}: timed out") from None
        except ssl.SSLError as exc:  # before OSError, which it is
            raise ConnectionError(
                f"cannot connect to {name}: {describe_tls_error(exc, hint=False)}"
            ) from None
        except OSError as exc:
            if link is not None:
                raise  # the handshake failed: its reason says how
            raise ConnectionError(f"cannot connect to {name}: {exc.strerror or exc}") from None
        if self._closed:
            link.close(f"connection to {self.node_id} is closed")
        else:
            self._watch(link)
        return link

    def close(self) -> None:
        """Close the connection for good; pending requests fail with ConnectionError."""
        self._closed = True
        if self._link is not None:
            self._link.close(f"connection to {self.node_id} is closed")
            self._link = None


class NodePool:
    """One :class:`NodeConnection` per member (engine/gateway/members.py), signed with the
    cluster secret.

    ``tls``: the gateway's client context (``security.tls``); its other links to the nodes
    (health probes, consumer bridges) take it from here too.
    """

    def __init__(
        self,
        config: ClusterConfig,
        *,
        connect_timeout: float = CONNECT_TIMEOUT,
        members: Members | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self._key = cluster_key(config)
        self._connect_timeout = connect_timeout
        self.tls = tls
        self.members = members or Members(config)
        self._conns: dict[str, NodeConnection] = {}
        for node in self.members.nodes:
            self.get(node.node_id)

    def get(self, node_id: str) -> NodeConnection:
        """The connection to ``node_id``; KeyError for a node that is not a member."""
        conn = self._conns.get(node_id)
        if conn is None:
            node = self.members.node(node_id)
            conn = self._conns[node_id] = NodeConnection(
                node_id,
                node.tcp,
                secret=self._key,
                connect_timeout=self._connect_timeout,
                tls=self.tls,
            )
        return conn

    def drop(self, node_id: str) -> None:
        """Close the connection to a former member."""
        conn = self._conns.pop(node_id, None)
        if conn is not None:
            conn.close()

    def close(self) -> None:
        """Close every connection."""
        for conn in self._conns.values():
            conn.close()
