"""The observer registry: named transient observers, each with a bounded buffer of ``SEEN`` lines.

An observer is a ``GateClient.observe`` WebSocket read by a background task.  Creating one waits
until the gateway says it is live, so every event committed after ``create`` returns is seen,
and a refused selector or a missing store is an error right away instead of a silent failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal

from console.ops.errors import OpsError
from console.ops.formatting import seen_line, selector_text
from console.ops.line_feed import FeedBatch, LineFeed
from console.ops.rate import Clock, RateMeter
from console.ops.streams import stream_id
from domain.greenhouse.catalogue import EVENT_TYPES
from engine.client import GateClient, GateError
from engine.client.results import ObserverMessage

# "reconnecting": the connection is lost; the observer continues after the last position seen.
State = Literal["starting", "running", "reconnecting", "failed", "stopped"]
ALL_STREAMS = "$all"


@dataclass(frozen=True, slots=True)
class ObserverRow:
    """One line of the observers table."""

    name: str
    kind: str
    selector: str
    seen: int
    rate: float
    dropped: int
    state: State
    error: str | None


def stream_selector(stream: str) -> dict[str, Any]:
    """``$all`` or a stream id (with or without its ``$``) as a ``by_stream`` selector."""
    stream = stream.strip()
    if not stream:
        raise OpsError("a stream name is needed (or $all)")
    if stream == ALL_STREAMS:
        return {"by_stream": ALL_STREAMS}
    if stream == "$":
        raise OpsError("'$' is not a stream id; type $all or one such as greenhouse-1")
    return {"by_stream": "$" + stream_id(stream.removeprefix("$"))}


def event_type_selector(event_type: str) -> dict[str, Any]:
    """A ``by_event_type`` selector for one of the catalogue's types."""
    event_type = event_type.strip()
    if event_type not in EVENT_TYPES:
        raise OpsError(f"unknown event type {event_type!r}; the greenhouse types are listed above")
    return {"by_event_type": event_type}


def payload_selector(pattern: dict[str, Any]) -> dict[str, Any]:
    """A ``by_event_payload`` selector for a parsed pattern (see ``console.ops.patterns``)."""
    if not pattern:
        raise OpsError("an empty pattern would match every event; name at least one field")
    return {"by_event_payload": pattern}


class Observer:
    """One transient observer: its selector, counters and recent lines."""

    def __init__(
        self,
        client: GateClient,
        store: str,
        name: str,
        selector: dict[str, Any],
        *,
        capacity: int = 500,
        clock: Clock = time.monotonic,
        from_position: int | None = None,
    ) -> None:
        self.client = client
        self.store = store
        self.name = name
        self.selector = selector
        self.from_position = from_position
        self.feed = LineFeed(capacity)
        self.seen = 0
        self.dropped = 0
        self.state: State = "starting"
        self.error: str | None = None
        self._meter = RateMeter(clock=clock)
        self._live = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def kind(self) -> str:
        """The selector's kind: ``by_stream``, ``by_event_type`` or ``by_event_payload``."""
        return next(iter(self.selector))

    def describe(self) -> str:
        """The selector as people read it: ``by_stream $all``, ``by_event_payload %{...}``."""
        return selector_text(self.selector)

    async def start(self, timeout: float) -> None:
        """Connect and wait until live; raises the gateway's error (or ``OpsError``) if not."""
        self._task = asyncio.create_task(self._run(), name=f"observer {self.name}")
        live = asyncio.create_task(self._live.wait())
        try:
            await asyncio.wait({self._task, live}, timeout=timeout, return_when="FIRST_COMPLETED")
        except asyncio.CancelledError:
            # Interrupted (Ctrl+C) before it was live: no registry holds it, so it ends here,
            # and an error it met meanwhile is nobody's to report (nor a loop's traceback).
            self._task.cancel()
            self._task.add_done_callback(_forget)
            raise
        finally:
            live.cancel()
        if self._live.is_set():
            return
        if self._task.done():
            exc = self._task.exception()
            raise exc if exc is not None else OpsError(f"observer {self.name!r} ended at once")
        await self.stop()
        raise OpsError(f"the gateway did not start observer {self.name!r} within {timeout:g} s")

    async def _run(self) -> None:
        try:
            messages = self.client.observe(
                self.store,
                self.selector,
                self.from_position,
                keep_trying=True,
                on_connection=self._connection,
            )
            async for message in messages:
                self._take(message)
        except GateError as exc:
            self.state = "failed"
            self.error = f"{exc.code}: {exc.message}"
            if not self._live.is_set():
                raise  # start() reports it to whoever is creating the observer
            self.feed.push(f"❌ observer {self.name} stopped: {self.error}")
        except asyncio.CancelledError:
            self.state = "stopped"
            raise

    def _connection(self, up: bool, reason: str) -> None:
        if up:
            self.state = "running"
            self.feed.push(f"✅ observer {self.name} reconnected: continuing where it was")
        else:
            self.state = "reconnecting"
            self.feed.push(f"⚠️  observer {self.name} reconnecting: {reason}")

    def _take(self, message: ObserverMessage) -> None:
        if message["type"] == "events":
            events = message["events"]
            for record in events:
                self.feed.push(seen_line(record))
            self.seen += len(events)
            self._meter.add(len(events))
        elif message["type"] == "dropped":
            count = message["count"]
            self.dropped += count
            self.feed.push(f"⚠️  {count} events dropped: this observer fell behind")
        elif message["type"] == "live":
            self.state = "running"
            self._live.set()

    async def stop(self) -> None:
        """Close the observer (idempotent)."""
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, GateError):
                await task
        if self.state != "failed":
            self.state = "stopped"

    def row(self) -> ObserverRow:
        """The observer's line in the observers table."""
        return ObserverRow(
            name=self.name,
            kind=self.kind,
            selector=self.describe(),
            seen=self.seen,
            rate=self._meter.rate() if self.state == "running" else 0.0,
            dropped=self.dropped,
            state=self.state,
            error=self.error,
        )

    def follow(self, backlog: int = 0) -> AsyncIterator[FeedBatch]:
        """New lines as they come, starting with up to ``backlog`` buffered ones."""
        return self.feed.follow(max(0, self.feed.total - backlog))


def _forget(task: asyncio.Task[None]) -> None:
    """Read the outcome of a task nobody awaits, so the loop does not report it."""
    if not task.cancelled():
        task.exception()


class ObserverRegistry:
    """The session's observers by name."""

    def __init__(
        self,
        client: GateClient,
        store: str,
        *,
        capacity: int = 500,
        clock: Clock = time.monotonic,
        connect_timeout: float = 15.0,
    ) -> None:
        self.client = client
        self.store = store
        self.capacity = capacity
        self.clock = clock
        self.connect_timeout = connect_timeout
        self._observers: dict[str, Observer] = {}

    async def create(
        self,
        selector: dict[str, Any],
        name: str | None = None,
        *,
        from_position: int | None = None,
    ) -> Observer:
        """Start an observer; without a name it gets one from its selector, like the original."""
        name = self.new_name(name or "", selector)
        observer = Observer(
            self.client,
            self.store,
            name,
            selector,
            capacity=self.capacity,
            clock=self.clock,
            from_position=from_position,
        )
        await observer.start(self.connect_timeout)
        self._observers[name] = observer
        return observer

    async def create_by_stream(self, stream: str, name: str | None = None) -> Observer:
        """Observe ``$all`` or one stream."""
        return await self.create(stream_selector(stream), name)

    async def create_by_event_type(self, event_type: str, name: str | None = None) -> Observer:
        """Observe one greenhouse event type."""
        return await self.create(event_type_selector(event_type), name)

    async def create_by_payload(self, pattern: dict[str, Any], name: str | None = None) -> Observer:
        """Observe events whose data match a pattern."""
        return await self.create(payload_selector(pattern), name)

    def new_name(self, answer: str, selector: dict[str, Any]) -> str:
        """The name typed for a new observer (its selector's default when empty), if free."""
        name = answer.strip() or self.default_name(selector)
        if name in self._observers:
            raise OpsError(f"an observer named {name!r} exists already; pick another name")
        return name

    def default_name(self, selector: dict[str, Any]) -> str:
        """``reg_gh:$all``, ``reg_gh:greenhouse-1``, ``reg_gh:temperature_measured:v1`` (the
        original's topics), ``reg_gh:payload`` for patterns; ``#2``, ``#3``... when taken."""
        ((kind, value),) = selector.items()
        if kind == "by_stream":
            base = f"{self.store}:{value if value == ALL_STREAMS else value[1:]}"
        elif isinstance(value, str):
            base = f"{self.store}:{value}"
        else:
            base = f"{self.store}:{'payload' if kind == 'by_event_payload' else 'pattern'}"
        name, number = base, 1
        while name in self._observers:
            number += 1
            name = f"{base}#{number}"
        return name

    def get(self, name: str) -> Observer:
        """The observer of that name; ``OpsError`` naming the existing ones when unknown."""
        observer = self._observers.get(name.strip())
        if observer is None:
            known = ", ".join(self._observers) or "none yet"
            raise OpsError(f"no observer named {name.strip()!r} (observers: {known})")
        return observer

    def names(self) -> list[str]:
        """Observer names, oldest first."""
        return list(self._observers)

    def rows(self) -> list[ObserverRow]:
        """The observers table, oldest first."""
        return [observer.row() for observer in self._observers.values()]

    async def stop(self, name: str) -> Observer:
        """Stop an observer and forget it."""
        observer = self.get(name)
        await observer.stop()
        del self._observers[observer.name]
        return observer

    async def stop_all(self) -> None:
        """Stop every observer."""
        observers, self._observers = list(self._observers.values()), {}
        await asyncio.gather(*(o.stop() for o in observers))
