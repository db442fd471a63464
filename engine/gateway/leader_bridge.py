"""Gateway side of persistent subscriptions: requests to the leader and the consumer bridge.

Subscriptions are served by the leader, so listing, replaying and consuming go to it through
``Router.on_leader``, the retry that writes use too (engine/gateway/leader_retry.py).

``ConsumerBridge`` serves ``WebSocket /api/stores/{store}/subscriptions/{name}/consume``: it
opens a dedicated TCP connection to the leader (``consume`` op, docs/ENGINE.md), then relays
event batches to the client and acks/nacks to the leader.  When the node ends the connection
the WebSocket is closed with a code saying what to do (engine/protocol/consume.py).
"""

from __future__ import annotations

import asyncio
import contextlib

import orjson
from aiohttp import WSMsgType, web

from engine.cluster_secret import cluster_key
from engine.config_model import ClusterConfig
from engine.gateway.routing import Router
from engine.protocol.consume import (
    CLOSE_LEADER_CHANGED,
    CLOSE_NOT_FOUND,
    CLOSE_STOPPED,
    parse_client_frame,
)
from engine.protocol.errors import GateError
from engine.protocol.framing import FrameError, FrameSession, open_session, read_frame
from engine.transport.limits import send_bounded

_CLOSE_CODES = {
    "stopped": CLOSE_STOPPED,
    "subscription_not_found": CLOSE_NOT_FOUND,
    "store_not_found": CLOSE_NOT_FOUND,
}
CONNECT_TIMEOUT = 1.0


class ConsumerBridge:
    """Relays consumers' WebSockets to the leader's dispatchers."""

    def __init__(self, config: ClusterConfig, router: Router) -> None:
        self.config = config
        self.router = router
        self.secret = cluster_key(config)

    async def _open(
        self, store: str, name: str
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, FrameSession]:
        """A consume connection to the current leader (retried until the routing deadline)."""

        async def connect(
            node_id: str, remaining: float
        ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, FrameSession]:
            endpoint = self.router.pool.members.node(node_id).tcp
            writer: asyncio.StreamWriter | None = None
            try:
                async with asyncio.timeout(min(remaining, CONNECT_TIMEOUT + 3.0)):
                    tls = self.router.pool.tls
                    reader, writer = await asyncio.open_connection(
                        endpoint.connect_host,
                        endpoint.port,
                        ssl=tls,
                        server_hostname=endpoint.connect_host if tls else None,
                    )
                    session = await open_session(reader, writer, self.secret)
                    request = {"op": "consume", "id": 1, "store": store, "name": name}
                    writer.write(session.encode(request))
                    answer = await read_frame(reader, session)
                if not answer.get("ok"):
                    raise GateError.from_dict(answer.get("error") or {"code": "internal"})
            except BaseException:
                if writer is not None:
                    writer.close()
                raise
            return reader, writer, session

        return await self.router.on_leader(connect, what="serve the consumer")

    async def handle(self, request: web.Request, store: str, name: str) -> web.WebSocketResponse:
        """The consume WebSocket of a validated store and subscription name (see the module
        docstring)."""
        # Open before upgrading: a missing subscription is a plain 404 answer.
        reader, writer, session = await self._open(store, name)
        ws = web.WebSocketResponse(heartbeat=20)
        try:
            await ws.prepare(request)
            from_node = asyncio.create_task(self._node_to_client(reader, session, ws, request))
            from_client = asyncio.create_task(self._client_to_node(ws, writer, session))
            await asyncio.wait({from_node, from_client}, return_when=asyncio.FIRST_COMPLETED)
            for task in (from_node, from_client):
                task.cancel()
            closing = (CLOSE_LEADER_CHANGED, "the subscription's leader changed; reconnect")
            with contextlib.suppress(asyncio.CancelledError, Exception):
                closing = await from_node
            await ws.close(code=closing[0], message=closing[1].encode()[:120])
        finally:
            writer.close()
        return ws

    async def _node_to_client(
        self,
        reader: asyncio.StreamReader,
        session: FrameSession,
        ws: web.WebSocketResponse,
        request: web.Request,
    ) -> tuple[int, str]:
        """Relay event batches; the close code and reason when the node ends the connection."""
        while True:
            try:
                frame = await read_frame(reader, session)
            except (asyncio.IncompleteReadError, ConnectionError, FrameError):
                return CLOSE_LEADER_CHANGED, "the subscription's leader went away; reconnect"
            if frame.get("type") == "closed":
                code = _CLOSE_CODES.get(str(frame.get("code")), CLOSE_LEADER_CHANGED)
                return code, str(frame.get("message") or frame.get("code"))
            await send_bounded(ws, request, orjson.dumps(frame).decode())

    async def _client_to_node(
        self, ws: web.WebSocketResponse, writer: asyncio.StreamWriter, session: FrameSession
    ) -> None:
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                if msg.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
                    return
                continue
            try:
                frame = parse_client_frame(msg.data)
            except GateError as err:
                await ws.send_str(orjson.dumps({"type": "error", "error": err.to_dict()}).decode())
                continue
            writer.write(session.encode(frame))
