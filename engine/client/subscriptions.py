"""The client side of observers and consumers: WebSocket iterators that reconnect by themselves.

``GateClient.observe`` and ``GateClient.consume`` (engine.client) hand these out.  Both survive
a failover or a gateway restart: they reconnect with backoff until the client's
``retry_deadline`` passes without a successful connection, or, with ``keep_trying``, until they
are closed (a console's consumer outlives a lost quorum).  An observer continues from the last
position it saw, so it neither skips nor repeats; a consumer starts again from the
subscription's checkpoint, so events not yet acknowledged come again (at-least-once).
``on_connection(False, reason)`` is called when a connection is lost and ``on_connection(True,
"")`` when it is back, so a caller can show that it is reconnecting.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Mapping
from types import TracebackType
from typing import Any, Protocol

import aiohttp
import orjson

from engine.client.results import Delivery, InsideMessage, ObserverMessage, TraceBatch
from engine.protocol.consume import CLOSE_NOT_FOUND, CLOSE_STOPPED, NACK_ACTIONS
from engine.protocol.errors import GateError
from engine.protocol.json_input import check_integers, dumps_exact

_FIRST_DELAY = 0.05
_MAX_DELAY = 0.5

# Told False (with the reason) when a connection is lost, True when one is made again.
ConnectionListener = Callable[[bool, str], None]


class Gateway(Protocol):
    """What the iterators need of ``GateClient``; a port, so this module does not import it."""

    base_url: str
    retry_deadline: float

    def segment(self, text: str) -> str: ...

    def websocket(self, path: str, params: Mapping[str, str]) -> Any: ...

    async def request_once(
        self, method: str, path: str, params: Mapping[str, Any] | None = None
    ) -> Any: ...


def selector_params(selector: dict[str, Any] | None) -> dict[str, str]:
    """The observe URL's ``type`` and ``selector`` for a ``{kind: value}`` selector."""
    if not selector:
        return {}
    if len(selector) != 1:
        raise GateError(
            "invalid_request", 'a selector has one key naming its kind, e.g. "by_stream"'
        )
    ((kind, value),) = selector.items()
    text = value if isinstance(value, str) else dumps_exact(value, "selector").decode()
    return {"type": str(kind), "selector": text}


class _Reconnect:
    """Backoff between connection attempts, bounded by the client's retry deadline (none once
    connected with ``keep_trying``), telling ``listener`` when a connection is lost or back."""

    def __init__(
        self,
        client: Gateway,
        what: str,
        *,
        keep_trying: bool = False,
        listener: ConnectionListener | None = None,
    ) -> None:
        self._client = client
        self._what = what
        self._keep_trying = keep_trying
        self._listener = listener
        self._deadline: float | None = None
        self._delay = _FIRST_DELAY
        # A first connection must succeed within the deadline: a wrong URL stays an error.
        self._was_connected = False
        self._lost = False

    def connected(self) -> None:
        self._deadline = None
        self._delay = _FIRST_DELAY
        self._was_connected = True
        if self._lost:
            self._lost = False
            if self._listener is not None:
                self._listener(True, "")

    async def wait(self, reason: str) -> None:
        """Sleep before the next attempt; ``unavailable`` once the deadline has passed."""
        if self._was_connected and not self._lost:
            self._lost = True
            if self._listener is not None:
                self._listener(False, reason)
        now = time.monotonic()
        if self._deadline is None:
            self._deadline = now + self._client.retry_deadline
        forever = self._keep_trying and self._was_connected
        if not forever and now + self._delay > self._deadline:
            raise GateError(
                "unavailable", f"{self._what}: no connection to {self._client.base_url} ({reason})"
            )
        await asyncio.sleep(self._delay)
        self._delay = min(self._delay * 2, _MAX_DELAY)


async def _handshake_error(
    client: Gateway, path: str, params: dict[str, Any], exc: Exception
) -> GateError:
    """The API's error for a refused WebSocket upgrade (a 400, 401, 403 or 404 has a JSON body).

    A WebSocket handshake does not expose the body, so the same URL is asked once more without
    the upgrade: the gateway checks everything before upgrading and answers the same error.
    """
    try:
        await client.request_once("GET", path, params)
    except GateError as err:
        return err
    return GateError("unavailable", f"the gateway refused the WebSocket at {path}: {exc}")


async def observe(
    client: Gateway,
    store: str,
    selector: dict[str, Any] | None = None,
    from_position: int | None = None,
    buffer: int | None = None,
    *,
    keep_trying: bool = False,
    on_connection: ConnectionListener | None = None,
) -> AsyncIterator[ObserverMessage]:
    """Messages of a transient observer: ``events``, ``dropped`` and ``live`` (see GateClient)."""
    path = f"/api/stores/{client.segment(store)}/observe"
    params: dict[str, Any] = selector_params(selector)
    check_integers(from_position, "from_position")
    check_integers(buffer, "buffer")
    if buffer is not None:
        params["buffer"] = str(buffer)
    position = from_position
    backoff = _Reconnect(
        client, f"observer of {store}", keep_trying=keep_trying, listener=on_connection
    )
    while True:
        query = dict(params)
        if position is not None:
            query["from_position"] = str(position)
        try:
            async with client.websocket(path, query) as ws:
                backoff.connected()
                async for msg in ws:
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        break
                    message = orjson.loads(msg.data)
                    kind = message.get("type")
                    if kind == "error":
                        raise GateError.from_dict(message.get("error") or {})
                    if kind == "events" and message["events"]:
                        position = message["events"][-1]["position"]
                    elif kind == "live":
                        position = max(position or 0, int(message["position"]))
                    yield message
            reason = "the gateway closed the connection"
        except aiohttp.WSServerHandshakeError as exc:
            if exc.status in (400, 401, 403, 404):
                raise await _handshake_error(client, path, query, exc) from None
            reason = f"HTTP {exc.status}"
        except (aiohttp.ClientError, ConnectionError, TimeoutError) as exc:
            reason = str(exc) or type(exc).__name__
        await backoff.wait(reason)


async def trace(
    client: Gateway,
    params: dict[str, str],
    *,
    keep_trying: bool = False,
    on_connection: ConnectionListener | None = None,
) -> AsyncIterator[TraceBatch]:
    """The batches of ``/api/cluster/trace`` (see GateClient.trace), reconnecting by itself."""
    async for batch in _cluster_feed(
        client, "/api/cluster/trace", params, "message trace", keep_trying, on_connection
    ):
        yield batch


async def inside(
    client: Gateway,
    *,
    keep_trying: bool = False,
    on_connection: ConnectionListener | None = None,
) -> AsyncIterator[InsideMessage]:
    """The messages of ``/api/cluster/inside`` (see GateClient.inside), reconnecting by itself;
    the first after each connection holds every node."""
    async for message in _cluster_feed(
        client, "/api/cluster/inside", {}, "nodes' inside", keep_trying, on_connection
    ):
        yield message


async def _cluster_feed(
    client: Gateway,
    path: str,
    params: dict[str, str],
    what: str,
    keep_trying: bool,
    on_connection: ConnectionListener | None,
) -> AsyncIterator[Any]:
    """The JSON messages of a cluster WebSocket that only pushes, reconnecting by itself."""
    backoff = _Reconnect(client, what, keep_trying=keep_trying, listener=on_connection)
    while True:
        try:
            async with client.websocket(path, params) as ws:
                backoff.connected()
                async for msg in ws:
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        break
                    yield orjson.loads(msg.data)
            reason = "the gateway closed the connection"
        except aiohttp.WSServerHandshakeError as exc:
            # 501: a backend without it (JetStream) will not have it on the next try either.
            if exc.status in (400, 401, 403, 404, 501):
                raise await _handshake_error(client, path, params, exc) from None
            reason = f"HTTP {exc.status}"
        except (aiohttp.ClientError, ConnectionError, TimeoutError) as exc:
            reason = str(exc) or type(exc).__name__
        await backoff.wait(reason)


class Consumer:
    """A consumer of a persistent subscription: an async context manager and async iterator.

    Iterating yields batches (lists) of event records, each with its ``attempt`` number.
    Acknowledge with :meth:`ack` or :meth:`nack`; an event neither acked nor nacked within the
    subscription's ``ack_timeout_ms`` is delivered again.  After a failover the consumer
    reconnects by itself and the new leader delivers from the checkpoint, so events whose
    acknowledgement was lost come again: handle events idempotently.  Acks for events of an
    earlier connection are dropped (those events come again).
    """

    def __init__(
        self,
        client: Gateway,
        store: str,
        name: str,
        *,
        keep_trying: bool = False,
        on_connection: ConnectionListener | None = None,
    ) -> None:
        self._client = client
        self.store = store
        self.name = name
        self._path = (
            f"/api/stores/{client.segment(store)}/subscriptions/{client.segment(name)}/consume"
        )
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._ws_context: Any = None
        self._backoff = _Reconnect(
            client,
            f"consumer of {store}/{name}",
            keep_trying=keep_trying,
            listener=on_connection,
        )
        self.reconnects = 0

    async def __aenter__(self) -> Consumer:
        await self._connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __aiter__(self) -> Consumer:
        return self

    async def __anext__(self) -> list[Delivery]:
        while True:
            ws = self._ws if self._ws is not None and not self._ws.closed else None
            if ws is None:
                await self._reconnect("not connected")
                continue
            msg = await ws.receive()
            if msg.type == aiohttp.WSMsgType.TEXT:
                message = orjson.loads(msg.data)
                kind = message.get("type")
                if kind == "events":
                    return message["events"]
                if kind == "error":
                    err = GateError.from_dict(message.get("error") or {})
                    if err.code in ("subscription_not_found", "store_not_found", "invalid_request"):
                        raise err
                continue
            if msg.type == aiohttp.WSMsgType.CLOSE and ws.close_code == CLOSE_STOPPED:
                await self._drop()
                raise StopAsyncIteration
            if msg.type == aiohttp.WSMsgType.CLOSE and ws.close_code == CLOSE_NOT_FOUND:
                await self._drop()
                raise GateError("subscription_not_found", str(msg.extra or "subscription gone"))
            await self._reconnect(
                str(msg.extra) if msg.extra else f"WebSocket {msg.type.name.lower()}"
            )

    async def ack(self, event_ids: list[str]) -> None:
        """Acknowledge events: they are done and will not come again."""
        await self._send({"type": "ack", "event_ids": list(event_ids)})

    async def nack(self, event_ids: list[str], action: str = "retry") -> None:
        """Refuse events: ``retry`` later, ``park`` them, ``skip`` them, or ``stop`` consuming."""
        if action not in NACK_ACTIONS:
            raise GateError("invalid_request", f"action must be one of {', '.join(NACK_ACTIONS)}")
        await self._send({"type": "nack", "event_ids": list(event_ids), "action": action})

    async def _send(self, message: dict[str, Any]) -> None:
        ws = self._ws
        if ws is None or ws.closed:
            return  # the events of a lost connection come again from the checkpoint
        # Same when the send fails: the connection is gone and the events will come again.
        with contextlib.suppress(aiohttp.ClientError, ConnectionError):
            await ws.send_str(orjson.dumps(message).decode())

    async def _connect(self) -> None:
        while True:
            try:
                context = self._client.websocket(self._path, {})
                self._ws = await context.__aenter__()
                self._ws_context = context
                self._backoff.connected()
                return
            except aiohttp.WSServerHandshakeError as exc:
                if exc.status in (400, 401, 403, 404):
                    raise await _handshake_error(self._client, self._path, {}, exc) from None
                reason = f"HTTP {exc.status}"
            except (aiohttp.ClientError, ConnectionError, TimeoutError) as exc:
                reason = str(exc) or type(exc).__name__
            await self._backoff.wait(reason)

    async def _reconnect(self, reason: str) -> None:
        await self._drop()
        await self._backoff.wait(reason)
        self.reconnects += 1
        await self._connect()

    async def _drop(self) -> None:
        context, self._ws_context, self._ws = self._ws_context, None, None
        if context is not None:
            with contextlib.suppress(aiohttp.ClientError, ConnectionError):
                await context.__aexit__(None, None, None)

    async def close(self) -> None:
        """Disconnect; events delivered and not acknowledged go to other consumers."""
        await self._drop()
