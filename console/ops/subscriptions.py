"""Persistent subscriptions: define them, list them with their counters, and consume them here.

The console's consumer acknowledges every event it receives and keeps a bounded buffer of
``RECEIVED`` lines, like the ExESDB console's subscriber that printed and acked each event.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any, Literal

from console.ops.errors import OpsError
from console.ops.formatting import received_line, selector_text
from console.ops.line_feed import LineFeed
from engine.client import GateClient, GateError

State = Literal["running", "failed", "stopped"]


@dataclass(frozen=True, slots=True)
class SubscriptionRow:
    """One line of the subscriptions table: the engine's counters plus this session's consumer."""

    name: str
    selector: str
    start_from: Any
    checkpoint: Any
    consumers: int
    in_flight: int
    parked: int
    delivered: int
    acked: int
    nacked: int
    consuming_here: bool


def subscription_row(entry: dict[str, Any], consuming_here: bool) -> SubscriptionRow:
    """A row from one entry of the API's subscription list."""
    kind, value = entry.get("type"), entry.get("selector")
    selector = selector_text({kind: value}) if isinstance(kind, str) else str(value)
    return SubscriptionRow(
        name=str(entry.get("name")),
        selector=selector,
        start_from=entry.get("start_from"),
        checkpoint=entry.get("checkpoint"),
        consumers=int(entry.get("consumers") or 0),
        in_flight=int(entry.get("in_flight") or 0),
        parked=int(entry.get("parked") or 0),
        delivered=int(entry.get("delivered") or 0),
        acked=int(entry.get("acked") or 0),
        nacked=int(entry.get("nacked") or 0),
        consuming_here=consuming_here,
    )


def parse_start(text: str) -> int | str:
    """``Start from version`` as typed: empty = 0, a number, or ``origin`` / ``current``."""
    text = text.strip().lower()
    if not text:
        return 0
    if text in ("origin", "current"):
        return text
    try:
        value = int(text)
    except ValueError:
        raise OpsError(
            f"{text!r} is not a version: type a number (0 = the first event), origin or current"
        ) from None
    if value < 0:
        raise OpsError("the start version cannot be negative")
    return value


class SubscriptionConsumer:
    """A consumer in this session: receives batches, acks them, keeps ``RECEIVED`` lines."""

    def __init__(self, client: GateClient, store: str, name: str, capacity: int = 500) -> None:
        self.client = client
        self.store = store
        self.name = name
        self.feed = LineFeed(capacity)
        self.received = 0
        self.state: State = "running"
        self.error: str | None = None
        self._stack = contextlib.AsyncExitStack()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Connect (errors such as an unknown subscription surface here), then consume."""
        consumer = await self._stack.enter_async_context(self.client.consume(self.store, self.name))
        self._task = asyncio.create_task(self._run(consumer), name=f"consumer {self.name}")

    async def _run(self, consumer: Any) -> None:
        try:
            async for batch in consumer:
                for record in batch:
                    self.feed.push(received_line(self.name, record))
                self.received += len(batch)
                await consumer.ack([record["event_id"] for record in batch])
        except GateError as exc:
            self.state = "failed"
            self.error = f"{exc.code}: {exc.message}"
            self.feed.push(f"❌ consumer {self.name} stopped: {self.error}")
        except asyncio.CancelledError:
            self.state = "stopped"
            raise

    async def stop(self) -> None:
        """Disconnect (idempotent); unacknowledged events go back to the subscription."""
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(GateError):
            await self._stack.aclose()
        if self.state != "failed":
            self.state = "stopped"


class SubscriptionManager:
    """The store's persistent subscriptions, and the consumers this session runs."""

    def __init__(self, client: GateClient, store: str, *, capacity: int = 500) -> None:
        self.client = client
        self.store = store
        self.capacity = capacity
        self._consumers: dict[str, SubscriptionConsumer] = {}

    async def create(
        self,
        name: str,
        selector: dict[str, Any],
        start_from: int | str = 0,
        *,
        consume: bool = True,
    ) -> bool:
        """Define a subscription (or find the same one again) and consume it here.

        Answers whether it was new.  A different definition under the name is an ``OpsError``.
        """
        name = name.strip()
        if not name:
            raise OpsError("a subscription needs a name")
        one_stream = selector.get("by_stream", "$all") != "$all"
        if start_from == 0 and not one_stream:
            # Version 0 means "from the start"; other selectors count 1-based positions.
            start_from = "origin"
        try:
            answer = await self.client.put_subscription(
                self.store, name, selector, start_from=start_from
            )
        except GateError as exc:
            if exc.code == "subscription_exists":
                raise OpsError(
                    f"a subscription named {name!r} exists with another definition"
                ) from None
            raise
        if consume and name not in self._consumers:
            await self.start_consumer(name)
        return bool((answer or {}).get("created", True))

    async def start_consumer(self, name: str) -> SubscriptionConsumer:
        """Consume a subscription in this session (acking every event)."""
        if name in self._consumers and self._consumers[name].state == "running":
            raise OpsError(f"this console consumes {name!r} already")
        consumer = SubscriptionConsumer(self.client, self.store, name, self.capacity)
        try:
            await consumer.start()
        except GateError as exc:
            if exc.code == "subscription_not_found":
                raise OpsError(f"no subscription named {name!r}") from None
            raise
        self._consumers[name] = consumer
        return consumer

    async def stop_consumer(self, name: str) -> None:
        """Stop consuming a subscription here (the subscription stays)."""
        consumer = self.consumer(name)
        await consumer.stop()
        del self._consumers[consumer.name]

    def consumer(self, name: str) -> SubscriptionConsumer:
        """This session's consumer of a subscription."""
        consumer = self._consumers.get(name.strip())
        if consumer is None:
            known = ", ".join(self._consumers) or "none"
            raise OpsError(f"this console does not consume {name.strip()!r} (consuming: {known})")
        return consumer

    def consumer_names(self) -> list[str]:
        """Subscriptions consumed in this session."""
        return list(self._consumers)

    async def rows(self) -> list[SubscriptionRow]:
        """Every subscription of the store with its counters."""
        entries = await self.client.list_subscriptions(self.store)
        return [subscription_row(e, str(e.get("name")) in self._consumers) for e in entries]

    async def names(self) -> list[str]:
        """The store's subscription names."""
        return [row.name for row in await self.rows()]

    async def delete(self, name: str) -> None:
        """Delete a subscription (stopping this session's consumer of it first)."""
        if name in self._consumers:
            await self.stop_consumer(name)
        try:
            await self.client.delete_subscription(self.store, name)
        except GateError as exc:
            if exc.code == "subscription_not_found":
                raise OpsError(f"no subscription named {name!r}") from None
            raise

    async def replay_parked(self, name: str) -> None:
        """Deliver a subscription's parked events again."""
        await self.client.replay_parked(self.store, name)

    async def stop_all(self) -> None:
        """Stop every consumer of this session."""
        consumers, self._consumers = list(self._consumers.values()), {}
        await asyncio.gather(*(c.stop() for c in consumers))
