"""Persistent subscriptions: define them, list them with their counters, and consume them here.

The console's consumer keeps a bounded buffer of ``RECEIVED`` lines, like the ExESDB console's
subscriber that printed and acked each event.  By default it acks everything; a
:class:`ConsumerPolicy` makes it nack every Nth delivery instead (retry, park or skip), a teaching
tool that shows redelivery, parking and replaying parked events.

A consumer outlives a lost quorum: it reconnects until it is stopped, shows ``reconnecting``
meanwhile, and resumes from the checkpoint (events in flight come again) with its policy, which
the session also remembers for the next consumer of the subscription.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from dataclasses import dataclass
from typing import Any, Literal, cast

from console.ops.cluster import ClusterStatus
from console.ops.errors import OpsError
from console.ops.formatting import received_line, selector_text
from console.ops.line_feed import LineFeed
from console.ops.numbers import is_choice_number, parse_whole
from engine.client import GateClient, GateError
from engine.client.results import Delivery, SubscriptionInfo
from engine.client.subscriptions import Consumer

# "reconnecting": the connection is lost (a failover, a lost quorum); it comes back by itself.
State = Literal["running", "reconnecting", "failed", "stopped"]
Action = Literal["ack", "nack_retry", "nack_park", "nack_skip"]

MAX_EVERY = 1000
_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
ACTIONS: tuple[Action, ...] = ("ack", "nack_retry", "nack_park", "nack_skip")
# What a RECEIVED line says the consumer did with the event.
OUTCOMES: dict[Action, str] = {
    "ack": "acked",
    "nack_retry": "nacked retry",
    "nack_park": "parked",
    "nack_skip": "skipped",
}


@dataclass(frozen=True, slots=True)
class ConsumerPolicy:
    """What this session's consumer does: ack everything, or nack every ``every``-th delivery
    with ``action`` (and ack the rest)."""

    action: Action = "ack"
    every: int = 1

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise OpsError(f"unknown consumer action {self.action!r} (one of {', '.join(ACTIONS)})")
        if not 1 <= self.every <= MAX_EVERY:
            raise OpsError(f"'every' must be between 1 and {MAX_EVERY}")

    @property
    def acks_all(self) -> bool:
        """Whether every event is acked (the classic console's behaviour)."""
        return self.action == "ack"

    def decide(self, delivery: int) -> Action:
        """The action for the ``delivery``-th event received (1-based)."""
        if self.acks_all or delivery % self.every:
            return "ack"
        return self.action

    def describe(self) -> str:
        """``acks all``, ``parks every 2nd`` …: the policy in a sentence."""
        if self.acks_all:
            return "acks all"
        verb = {"nack_retry": "retries", "nack_park": "parks", "nack_skip": "skips"}[self.action]
        return f"{verb} {'every event' if self.every == 1 else f'every {ordinal(self.every)}'}"


# Why the counts are still there after a leader was killed (and why they can grow by a few).
COUNTERS_NOTE = (
    "Delivered, acked and nacked are replicated with the checkpoint:",
    "a failover keeps them, and events delivered again count again",
)
# JetStream keeps no such counts (docs/ENGINE.md, "JetStream backend"): the gateway's own.
JETSTREAM_COUNTERS_NOTE = (
    "Delivered, acked and nacked are this gateway's counts since it started:",
    "JetStream keeps only the checkpoint (its consumer's ack floor)",
)


def counters_note(status: ClusterStatus | None) -> tuple[str, str]:
    """The words under the counters for the cluster's backend (Gate's while none is known)."""
    return JETSTREAM_COUNTERS_NOTE if status is not None and status.jetstream else COUNTERS_NOTE


def ordinal(n: int) -> str:
    """2 -> ``2nd``, 11 -> ``11th``, 23 -> ``23rd``."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def subscription_name(answer: str) -> str:
    """A name for a new subscription, by the engine's rule (engine/protocol/definitions.py),
    checked before anything is sent."""
    name = answer.strip()
    if not name:
        raise OpsError("a subscription needs a name")
    if not _NAME.fullmatch(name):
        raise OpsError(
            f"{name[:24]!r} cannot name a subscription: 1-128 characters of A-Z a-z 0-9 _ . : -"
        )
    return name


def parse_action(answer: str) -> Action:
    """An action typed by name or by its number in ``ACTIONS`` (empty: ``ack``)."""
    word = answer.strip().lower() or "ack"
    if is_choice_number(word, len(ACTIONS)):
        return ACTIONS[int(word) - 1]
    if word not in ACTIONS:
        raise OpsError(f"unknown consumer action {word[:24]!r} (one of {', '.join(ACTIONS)})")
    return word


def parse_policy(action: str, every: str) -> ConsumerPolicy:
    """A policy as typed in a form: an action name and ``every`` (empty = 1)."""
    count = parse_whole(every, "N (nack every Nth event)", default=1, minimum=1, maximum=MAX_EVERY)
    return ConsumerPolicy(cast(Action, action.strip() or "ack"), count)


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
    policy: ConsumerPolicy | None = None
    consumer_state: State | None = None


def subscription_row(
    entry: SubscriptionInfo,
    consuming_here: bool,
    policy: ConsumerPolicy | None = None,
    consumer_state: State | None = None,
) -> SubscriptionRow:
    """A row from one entry of the API's subscription list (``policy`` and ``consumer_state``:
    this session's consumer)."""
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
        policy=policy,
        consumer_state=consumer_state,
    )


def parse_start(text: str) -> int | str:
    """``Start from version`` as typed: empty = 0, a number, or ``origin`` / ``current``."""
    text = text.strip().lower()
    if not text:
        return 0
    if text in ("origin", "current"):
        return text
    return parse_whole(text, "start version")


class SubscriptionConsumer:
    """A consumer in this session: receives batches, acks or nacks each event as its policy
    says, keeps ``RECEIVED`` lines."""

    def __init__(
        self,
        client: GateClient,
        store: str,
        name: str,
        capacity: int = 500,
        policy: ConsumerPolicy | None = None,
    ) -> None:
        self.client = client
        self.store = store
        self.name = name
        self.feed = LineFeed(capacity)
        # Read once per batch, so a change applies from the next batch on.
        self.policy = policy or ConsumerPolicy()
        self.received = 0
        self.outcomes: dict[Action, int] = dict.fromkeys(ACTIONS, 0)
        self.state: State = "running"
        self.error: str | None = None
        self._stack = contextlib.AsyncExitStack()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Connect (errors such as an unknown subscription surface here), then consume."""
        consumer = await self._stack.enter_async_context(
            self.client.consume(
                self.store, self.name, keep_trying=True, on_connection=self._connection
            )
        )
        self._task = asyncio.create_task(self._run(consumer), name=f"consumer {self.name}")

    def _connection(self, up: bool, reason: str) -> None:
        if self.state not in ("running", "reconnecting"):
            return
        if up:
            self.state = "running"
            self.feed.push(f"✅ consumer {self.name} reconnected: resuming from the checkpoint")
        else:
            self.state = "reconnecting"
            self.feed.push(f"⚠️  consumer {self.name} reconnecting: {reason}")

    async def _run(self, consumer: Consumer) -> None:
        try:
            async for batch in consumer:
                await self._settle(consumer, batch)
        except GateError as exc:
            self.state = "failed"
            self.error = f"{exc.code}: {exc.message}"
            self.feed.push(f"❌ consumer {self.name} stopped: {self.error}")
        except asyncio.CancelledError:
            self.state = "stopped"
            raise

    async def _settle(self, consumer: Consumer, batch: list[Delivery]) -> None:
        """Ack or nack each event of a batch (one message per action) and log what was done."""
        policy = self.policy
        by_action: dict[Action, list[str]] = {}
        for record in batch:
            self.received += 1
            action = policy.decide(self.received)
            by_action.setdefault(action, []).append(record["event_id"])
            self.outcomes[action] += 1
            line = received_line(self.name, record)
            attempt = int(record.get("attempt") or 1)
            # The classic line stays as it was while the consumer simply acks first deliveries.
            if attempt > 1:
                line += f" attempt {attempt}"
            if attempt > 1 or not policy.acks_all:
                line += f" → {OUTCOMES[action]}"
            self.feed.push(line)
        for action, ids in by_action.items():
            if action == "ack":
                await consumer.ack(ids)
            else:
                await consumer.nack(ids, action.removeprefix("nack_"))

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
        # The last policy chosen per subscription, so consuming it again (c) keeps it.
        self._policies: dict[str, ConsumerPolicy] = {}
        # The last list read, shown (with the consumers' states now) while no leader answers.
        self._entries: list[SubscriptionInfo] | None = None

    async def create(
        self,
        name: str,
        selector: dict[str, Any],
        start_from: int | str = 0,
        *,
        consume: bool = True,
        policy: ConsumerPolicy | None = None,
    ) -> bool:
        """Define a subscription (or find the same one again) and consume it here with
        ``policy`` (default: ack everything).

        Answers whether it was new.  A different definition under the name is an ``OpsError``.
        """
        name = subscription_name(name)
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
            await self.start_consumer(name, policy)
        return bool((answer or {}).get("created", True))

    async def start_consumer(
        self, name: str, policy: ConsumerPolicy | None = None
    ) -> SubscriptionConsumer:
        """Consume a subscription in this session with ``policy`` (by default the last one chosen
        for it here, else acking every event); a failed consumer of it is replaced."""
        old = self._consumers.get(name)
        if old is not None and old.state in ("running", "reconnecting"):
            raise OpsError(f"this console consumes {name!r} already")
        policy = policy or self._policies.get(name) or ConsumerPolicy()
        consumer = SubscriptionConsumer(self.client, self.store, name, self.capacity, policy)
        try:
            await consumer.start()
        except GateError as exc:
            if exc.code == "subscription_not_found":
                raise OpsError(f"no subscription named {name!r}") from None
            raise
        if old is not None:
            await old.stop()
        self._consumers[name] = consumer
        self._policies[name] = policy
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

    def set_policy(self, name: str, policy: ConsumerPolicy) -> None:
        """Change what this session's consumer of a subscription does, while it runs."""
        consumer = self.consumer(name)
        consumer.policy = self._policies[consumer.name] = policy

    def consumer_names(self) -> list[str]:
        """Subscriptions consumed in this session."""
        return list(self._consumers)

    async def rows(self) -> list[SubscriptionRow]:
        """Every subscription of the store with its counters (the last ones read while the
        cluster is unavailable, so a reconnecting consumer is still shown)."""
        try:
            entries = self._entries = await self.client.list_subscriptions(self.store)
        except GateError as exc:
            if exc.code not in ("unavailable", "timeout") or self._entries is None:
                raise
            entries = self._entries
        return [self._row(entry) for entry in entries]

    def known_rows(self) -> list[SubscriptionRow] | None:
        """The last list read (None before the first), with this session's consumers as they
        are now, without a request: a table shows a consumer reconnecting while lists fail."""
        return None if self._entries is None else [self._row(e) for e in self._entries]

    def _row(self, entry: SubscriptionInfo) -> SubscriptionRow:
        consumer = self._consumers.get(str(entry.get("name")))
        if consumer is None:
            return subscription_row(entry, False)
        return subscription_row(entry, True, consumer.policy, consumer.state)

    async def names(self) -> list[str]:
        """The store's subscription names."""
        return [row.name for row in await self.rows()]

    async def delete(self, name: str) -> None:
        """Delete a subscription (stopping this session's consumer of it first)."""
        if name in self._consumers:
            await self.stop_consumer(name)
        self._policies.pop(name, None)
        try:
            await self.client.delete_subscription(self.store, name)
        except GateError as exc:
            if exc.code == "subscription_not_found":
                raise OpsError(f"no subscription named {name!r}") from None
            raise
        if self._entries is not None:
            self._entries = [e for e in self._entries if e.get("name") != name]

    async def replay_parked(self, name: str) -> None:
        """Deliver a subscription's parked events again."""
        await self.client.replay_parked(self.store, name)

    async def stop_all(self) -> None:
        """Stop every consumer of this session."""
        consumers, self._consumers = list(self._consumers.values()), {}
        await asyncio.gather(*(c.stop() for c in consumers))
