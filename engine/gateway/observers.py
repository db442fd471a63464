"""Transient observers, on the gateway: one tail per store, fanned out to bounded buffers.

A :class:`StoreTail` long-polls the leader (or, without one, a fresh follower) for the store's
next committed events (the ``read`` op's ``wait_ms``, woken when the node applies) and offers
each page to every attached :class:`Observer`.  Offering never waits: an observer keeps at most
``buffer`` matching events, dropping the oldest and counting them, and its sender tells the
client ``{"type": "dropped", "count": N}`` before the events that follow.  So a slow observer
costs only its own events, and writers never wait for anyone.

An observer with ``from_position`` first catches up from history, page by page, sending as fast
as the client takes them, and attaches to the tail once it has read up to the tail's position;
checking that and attaching happen without a pause in between, and events at or below the last
position it sent are skipped, so the join has neither a gap nor a duplicate.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from engine.protocol.commands import validate_store_id
from engine.protocol.errors import GateError
from engine.protocol.selectors import Selector, parse_selector_query
from engine.transport.http_common import int_param, query_param
from engine.transport.limits import open_websocket, send_bounded

log = logging.getLogger("gate.gateway.observers")

# read(query, min_position, wait_ms) -> the read's result, from a fresh node (Router.read).
Reader = Callable[[dict[str, Any], int | None, int], Awaitable[Any]]
# send(message) -> when the message is on its way to the client.
Sender = Callable[[dict[str, Any]], Awaitable[None]]

PAGE = 1000  # events per read and per message
LONG_POLL_MS = 1000
DEFAULT_BUFFER = 10_000
MAX_BUFFER = 100_000
_RETRY_DELAY = 0.2


class Observer:
    """One client's view: its selector, its bounded buffer and its dropped count."""

    def __init__(self, selector: Selector, buffer: int) -> None:
        self.selector = selector
        self.buffer_size = buffer
        self.last_position = 0  # events at or below it were sent (or skipped) already
        self.dropped = 0
        self.closed_reason: GateError | None = None
        self._events: collections.deque[dict[str, Any]] = collections.deque()
        self._wake = asyncio.Event()

    def offer(self, events: list[dict[str, Any]]) -> None:
        """Buffer the matching events of a page, dropping the oldest beyond the bound."""
        matches = self.selector.matches
        after = self.last_position
        fresh = [e for e in events if e["position"] > after and matches(e)]
        if events:
            self.last_position = max(after, events[-1]["position"])
        if not fresh:
            return
        self._events.extend(fresh)
        overflow = len(self._events) - self.buffer_size
        if overflow > 0:
            for _ in range(overflow):
                self._events.popleft()
            self.dropped += overflow
        self._wake.set()

    def close(self, reason: GateError) -> None:
        """End this observer: its sender stops after telling the client why."""
        self.closed_reason = reason
        self._wake.set()

    async def pump(self, send: Sender) -> None:
        """Send buffered events to the client until closed (runs as the observer's task)."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self.dropped or self._events:
                # Drops happen while a send waits: report them before the events kept after them.
                if self.dropped:
                    dropped, self.dropped = self.dropped, 0
                    await send({"type": "dropped", "count": dropped})
                if self._events:
                    n = min(PAGE, len(self._events))
                    batch = [self._events.popleft() for _ in range(n)]
                    await send({"type": "events", "events": batch})
            if self.closed_reason is not None:
                await send({"type": "error", "error": self.closed_reason.to_dict()})
                return


class StoreTail:
    """Follows one store's committed events and fans them out to its observers."""

    def __init__(self, store: str, read: Reader, *, wait_ms: int = LONG_POLL_MS) -> None:
        self.store = store
        self.position = 0  # the last position fanned out
        self.observers: set[Observer] = set()
        self._read = read
        self._wait_ms = wait_ms
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Learn the store's last position and start following it (store_not_found if none)."""
        if self._following():
            return
        info = await self._read({"kind": "store", "store": self.store}, None, 0)
        if not self._following():  # another observer may have started it meanwhile
            self.position = int(info["last_position"])
            self._task = asyncio.create_task(self._follow(), name=f"tail-{self.store}")

    def _following(self) -> bool:
        return self._task is not None and not self._task.done()

    async def stop(self) -> None:
        """Stop following (when the last observer left)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def attach(self, observer: Observer, after: int) -> None:
        """Give ``observer`` every event past ``after`` that the tail reads from now on."""
        observer.last_position = max(after, observer.last_position)
        self.observers.add(observer)

    async def _follow(self) -> None:
        try:
            await self._follow_pages()
        except GateError as err:
            self._close_all(err)
        except Exception:
            log.exception("observer tail of %s failed", self.store)
            self._close_all(GateError("internal", "the gateway's observer tail failed"))

    def _close_all(self, reason: GateError) -> None:
        for observer in self.observers:
            observer.close(reason)

    async def _follow_pages(self) -> None:
        query = {"kind": "all", "store": self.store, "count": PAGE}
        while True:
            try:
                page = await self._read(
                    {**query, "from_position": self.position}, None, self._wait_ms
                )
            except GateError as err:
                if err.code == "store_not_found":
                    raise
                # Unavailable for a whole routing deadline (no node answers): keep trying.
                log.warning("observer tail of %s: %s", self.store, err.message)
                await asyncio.sleep(_RETRY_DELAY)
                continue
            events = page["events"]
            if not events:
                continue
            self.position = events[-1]["position"]
            for observer in self.observers:
                observer.offer(events)


class ObserverHub:
    """The gateway's observers: the tails of the stores being observed."""

    def __init__(self, read: Reader) -> None:
        self._read = read
        self._tails: dict[str, StoreTail] = {}

    async def observe(
        self, store: str, observer: Observer, from_position: int | None, send: Sender
    ) -> None:
        """Serve ``observer`` until cancelled or the store goes away.

        Raises ``store_not_found`` before anything is sent when the store does not exist.
        """
        tail = self._tails.get(store)
        if tail is None:
            tail = self._tails[store] = StoreTail(store, self._read)
        try:
            await tail.start()
            if from_position is None:
                tail.attach(observer, tail.position)
            else:
                await self._catch_up(tail, observer, from_position, send)
            # Where the live part starts: a client that reconnects continues from there.
            await send({"type": "live", "position": observer.last_position})
            await observer.pump(send)
        finally:
            tail.observers.discard(observer)
            if not tail.observers and self._tails.get(store) is tail:
                del self._tails[store]
                await tail.stop()

    async def _catch_up(
        self, tail: StoreTail, observer: Observer, position: int, send: Sender
    ) -> None:
        query = {"kind": "all", "store": tail.store, "count": PAGE}
        stream = observer.selector.stream_id
        if stream is not None:
            query["stream"] = stream  # through the stream's index, not the whole store
        matches = observer.selector.matches
        # No await between the loop's test and attach(): the tail cannot move in between.
        while position < tail.position:
            page = await self._read({**query, "from_position": position}, tail.position, 0)
            events = page["events"]
            if stream is not None:
                if page["read_to"] <= position:
                    break
                position = page["read_to"]
            elif events:
                position = events[-1]["position"]
            else:
                break
            selected = [e for e in events if matches(e)]
            if selected:
                await send({"type": "events", "events": selected})
        tail.attach(observer, position)

    async def close(self) -> None:
        """Stop every tail (gateway shutdown)."""
        tails, self._tails = list(self._tails.values()), {}
        for tail in tails:
            await tail.stop()

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        """``GET /api/stores/{store}/observe`` (WebSocket): see docs/ENGINE.md, "Subscriptions"."""
        store = validate_store_id(request.match_info["store"])
        selector = parse_selector_query(
            query_param(request, "type"), query_param(request, "selector")
        )
        from_position = int_param(request, "from_position", minimum=0)
        buffer = int_param(request, "buffer", minimum=1) or DEFAULT_BUFFER
        observer = Observer(selector, min(buffer, MAX_BUFFER))
        # Look the store up before upgrading, so a missing store is a plain 404 answer.
        await self._read({"kind": "store", "store": store}, None, 0)
        ws = await open_websocket(request, heartbeat=20)

        async def send(message: dict[str, Any]) -> None:
            await send_bounded(ws, request, orjson.dumps(message).decode())

        serving = asyncio.create_task(self.observe(store, observer, from_position, send))
        client = asyncio.create_task(_until_closed(ws))
        try:
            await asyncio.wait({serving, client}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (serving, client):
                task.cancel()
            for task in (serving, client):
                with contextlib.suppress(asyncio.CancelledError, ConnectionError, RuntimeError):
                    await task
            await ws.close()
        return ws


async def _until_closed(ws: web.WebSocketResponse) -> None:
    async for msg in ws:
        if msg.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
            return
