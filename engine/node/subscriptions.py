"""Persistent subscriptions on the leader: one dispatcher per subscription, consumers over TCP.

:class:`SubscriptionService` lives in every node's ``RaftHost``, which it sees through the
:class:`Replica` port, and is active only while the node is a serving leader.  It then waits
until the node has applied every committed entry, loads each store's subscriptions (definition,
checkpoint, parked positions) and runs a :class:`Dispatcher` for each; the apply loop wakes it
when events or definitions change.
On stepping down it drops everything and closes its consumers' connections: the gateway closes
their WebSockets, the clients reconnect through the new leader, which resumes from the
replicated checkpoint (events in flight are delivered again; none is skipped).

A consumer is a dedicated TCP connection from the gateway (``consume`` op, docs/ENGINE.md):
after the answer, the node pushes ``{"type": "events", "events": [...]}`` frames and the
gateway sends ``{"type": "ack" | "nack", ...}`` frames; a final
``{"type": "closed", "code", "message"}`` says why the node ends it.

Checkpoints, parked events and the delivered / acked / nacked counts are replicated (the counts
ride along with each progress, so a failover keeps them as of the last one; events delivered
again after it count again).  Consumers and events in flight live on the leader only.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from typing import TYPE_CHECKING, Any, Protocol

from engine.node.delivery import Delivery
from engine.protocol import definitions
from engine.protocol.commands import validate_store_id
from engine.protocol.consume import NACK_ACTIONS
from engine.protocol.definitions import COUNTERS, Definition
from engine.protocol.errors import GateError, invalid
from engine.protocol.framing import FrameError, ServerConnection
from engine.storage.subscription_tables import StoredSubscription

if TYPE_CHECKING:
    from engine.storage.event_store import EventStore
    from engine.storage.state_machine import StateMachine

log = logging.getLogger("gate.node.subscriptions")

FLUSH_INTERVAL = 0.1  # seconds between checkpoint proposals of one subscription
READ_PAGE = 500
MAX_REPLAY = 10_000  # parked events replayed per request
LOAD_WAIT = 3.0  # how long a consumer waits for a new leader to load its subscriptions
PROPOSE_TIMEOUT = 5.0


class RaftView(Protocol):
    """What the service reads of the node's Raft state."""

    @property
    def commit_index(self) -> int: ...

    @property
    def leader_id(self) -> str | None: ...


class Replica(Protocol):
    """The service's port onto its node (``RaftHost``): the replicated state and how to
    change it.  A port, so the host can own the service without an import cycle."""

    @property
    def core(self) -> RaftView: ...

    @property
    def state(self) -> StateMachine: ...

    @property
    def applied_index(self) -> int: ...

    async def propose(self, command: dict[str, Any], timeout: float) -> dict[str, Any]: ...

    async def wait_applied(self, timeout: float) -> None: ...


class ConsumerLink:
    """The node's end of one consumer connection."""

    def __init__(self, conn: ServerConnection) -> None:
        self._conn = conn

    def send(self, message: dict[str, Any]) -> None:
        """Queue a frame; the subscription's ``max_in_flight`` bounds what can pile up."""
        self._conn.send(message)

    def close(self, code: str, message: str) -> None:
        """Tell the gateway why, then hang up."""
        self.send({"type": "closed", "code": code, "message": message})
        self._conn.writer.close()


async def fill(delivery: Delivery, store: EventStore, stream: str | None) -> int:
    """Read ``store`` past the delivery's cursor while it wants more; the pages read.

    A one-stream selector reads through the stream's index.  Other narrow selectors on a big
    store read many pages for few events: this yields to the loop after each page, or the
    leader would stop sending heartbeats and lose its term (300 ms at the default ticks).
    """
    pages = 0
    while delivery.wants_events() and store.last_position > delivery.cursor:
        events, read_to = store.read_past(delivery.cursor, READ_PAGE, stream=stream)
        delivery.add_events(events, read_to)
        pages += 1
        await asyncio.sleep(0)
    return pages


class Dispatcher:
    """Delivers one subscription: reads its store, feeds its consumers, proposes progress."""

    def __init__(
        self, host: Replica, store: EventStore, stored: StoredSubscription, parked: set[int]
    ) -> None:
        self.host = host
        self.store = store
        self.stored = stored
        self.definition = Definition.from_stored(stored.name, stored.incarnation, stored.definition)
        self.delivery = Delivery(
            self.definition, stored.checkpoint, time.monotonic, parked, stored.counters
        )
        self.links: dict[int, ConsumerLink] = {}
        self._wake = asyncio.Event()
        self._dirty = False
        self._last_flush = 0.0
        self._proposing: asyncio.Task[None] | None = None
        self._task = asyncio.create_task(self._run(), name=f"subscription-{stored.name}")

    @property
    def incarnation(self) -> int:
        return self.stored.incarnation

    def wake(self) -> None:
        self._wake.set()

    def add_consumer(self, consumer: int, link: ConsumerLink) -> None:
        self.links[consumer] = link
        self.delivery.add_consumer(consumer)
        self.wake()

    def remove_consumer(self, consumer: int) -> None:
        if self.links.pop(consumer, None) is not None:
            self.delivery.remove_consumer(consumer)
            self.wake()

    def answer(self, consumer: int, frame: dict[str, Any]) -> None:
        """An ack or nack frame from a consumer (validated here: it comes from the network)."""
        kind = frame.get("type")
        event_ids = frame.get("event_ids")
        if not isinstance(event_ids, list) or not all(isinstance(i, str) for i in event_ids):
            raise invalid("event_ids must be a list of event ids")
        if kind == "ack":
            self.delivery.ack(consumer, event_ids)
        elif kind == "nack":
            action = frame.get("action", "retry")
            if action not in NACK_ACTIONS:
                raise invalid(f"action must be one of {', '.join(NACK_ACTIONS)}")
            self.delivery.nack(consumer, event_ids, action)
            if action == "stop" and consumer in self.links:
                self.links[consumer].close("stopped", "the consumer stopped (nack with stop)")
        else:
            raise invalid('a consumer sends {"type": "ack" | "nack", "event_ids": [...]}')
        self._dirty = True
        self.wake()

    def replay(self, records: list[dict[str, Any]]) -> None:
        self.delivery.add_replay(records)
        self.wake()

    def close(self, code: str, message: str) -> None:
        """Stop delivering and hang up on every consumer."""
        self._task.cancel()
        if self._proposing is not None:
            self._proposing.cancel()
        for link in self.links.values():
            link.close(code, message)
        self.links.clear()

    async def _run(self) -> None:
        try:
            while True:
                self._wake.clear()
                await self._fill()
                if self.delivery.expire():
                    self._dirty = True  # events may have been parked
                for consumer, records in self.delivery.dispatch().items():
                    self.links[consumer].send({"type": "events", "events": records})
                self._maybe_flush()
                await self._sleep()
        except GateError as err:  # the store is gone; the service drops this dispatcher
            log.info("subscription %s stops: %s", self.stored.name, err.message)
        except Exception:
            log.exception("subscription %s failed", self.stored.name)

    async def _fill(self) -> None:
        stream = self.definition.selector.stream_id
        if await fill(self.delivery, self.store, stream):
            self._dirty = True

    def _maybe_flush(self) -> None:
        if not self._dirty or self._proposing is not None:
            return
        if time.monotonic() - self._last_flush < FLUSH_INTERVAL:
            return
        self._dirty = False
        progress = self.delivery.progress()
        if progress is None:
            return
        self._last_flush = time.monotonic()
        self._proposing = asyncio.create_task(self._propose(progress))

    async def _propose(self, progress: dict[str, Any]) -> None:
        command = {
            "op": definitions.PROGRESS,
            "store": self.store.store_id,
            "name": self.stored.name,
            "incarnation": self.incarnation,
            **progress,
        }
        try:
            await self.host.propose(command, PROPOSE_TIMEOUT)
            self.delivery.progress_committed(progress)
        except GateError as err:
            # Kept for the next proposal; on a lost leadership the service drops us anyway.
            log.debug("progress of %s not committed: %s", self.stored.name, err.message)
            self._dirty = True
        finally:
            self._proposing = None
            self.wake()

    async def _sleep(self) -> None:
        now = time.monotonic()
        waits = []
        deadline = self.delivery.next_deadline()
        if deadline is not None:
            waits.append(deadline - now)
        if self._dirty and self._proposing is None:
            waits.append(self._last_flush + FLUSH_INTERVAL - now)
        timeout = max(0.0, min(waits)) if waits else None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)


class SubscriptionService:
    """The persistent subscriptions a node serves while it is the leader."""

    def __init__(self, host: Replica) -> None:
        self.host = host
        self._serving_term: int | None = None  # the term in which this node serves as leader
        self._task: asyncio.Task[None] | None = None
        self._loaded = asyncio.Event()
        self._dispatchers: dict[tuple[str, str], Dispatcher] = {}
        self._generations: dict[str, int] = {}
        self._consumer_ids = itertools.count(1)

    # -- leadership --------------------------------------------------------------------------

    def leadership(self, serving: bool, term: int) -> None:
        """Called by the host after every round: run while this node is a serving leader."""
        serving_term = term if serving else None
        if serving_term == self._serving_term:
            return
        if self._serving_term is not None:
            self._drop("not_leader", "this node is no longer the leader; reconnect")
        self._serving_term = serving_term
        if serving_term is not None:
            self._task = asyncio.create_task(self._lead(), name="subscriptions")

    def _drop(self, code: str, message: str) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self._loaded.clear()
        for dispatcher in self._dispatchers.values():
            dispatcher.close(code, message)
        self._dispatchers.clear()
        self._generations.clear()

    async def stop(self) -> None:
        """Node shutdown."""
        self._serving_term = None
        self._drop("not_leader", "the node is shutting down; reconnect")

    async def _lead(self) -> None:
        # Read subscriptions only once everything committed before we led is applied here.
        target = self.host.core.commit_index
        while self.host.applied_index < target:
            await self.host.wait_applied(1.0)
        self._reconcile()
        self._loaded.set()
        log.info("serving %d persistent subscriptions", len(self._dispatchers))
        while True:
            await self.host.wait_applied(1.0)
            self._reconcile()
            for dispatcher in self._dispatchers.values():
                if dispatcher.store.last_position > dispatcher.delivery.cursor:
                    dispatcher.wake()

    def _reconcile(self) -> None:
        """Start, replace and stop dispatchers after definition changes (put, delete)."""
        state = self.host.state
        seen: set[str] = set()
        for store_id in state.stores():
            try:
                store = state.store(store_id)
            except GateError:
                continue
            seen.add(store_id)
            if self._generations.get(store_id) == store.subscriptions.generation:
                continue
            self._generations[store_id] = store.subscriptions.generation
            self._load_store(store)
        for key in [k for k in self._dispatchers if k[0] not in seen]:
            self._dispatchers.pop(key).close("store_not_found", f"store {key[0]!r} was deleted")
        for store_id in [s for s in self._generations if s not in seen]:
            del self._generations[store_id]

    def _load_store(self, store: EventStore) -> None:
        rows = {row.name: row for row in store.subscriptions.list()}
        for key in [k for k in self._dispatchers if k[0] == store.store_id]:
            row = rows.get(key[1])
            if row is None or row.incarnation != self._dispatchers[key].incarnation:
                self._dispatchers.pop(key).close(
                    "subscription_not_found", f"subscription {key[1]!r} was deleted"
                )
        for name, row in rows.items():
            if (store.store_id, name) not in self._dispatchers:
                parked = {
                    p.position
                    for p in store.subscriptions.parked(name, MAX_REPLAY)
                    if p.position > row.checkpoint
                }
                self._dispatchers[(store.store_id, name)] = Dispatcher(
                    self.host, store, row, parked
                )

    async def _ready(self) -> None:
        """Wait until a new leader has loaded its subscriptions (not_leader on a follower)."""
        if self._serving_term is None:
            raise GateError(
                "not_leader", "this node is not the leader", leader=self.host.core.leader_id
            )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._loaded.wait(), LOAD_WAIT)
        if not self._loaded.is_set():
            raise GateError("unavailable", "the new leader is still loading its subscriptions")
        self._reconcile()

    async def _dispatcher(self, store: Any, name: Any) -> Dispatcher:
        store_id = validate_store_id(store)
        name = definitions.validate_name(name)
        await self._ready()
        dispatcher = self._dispatchers.get((store_id, name))
        if dispatcher is None:
            self.host.state.store(store_id)  # store_not_found first
            raise GateError("subscription_not_found", f"no subscription {name!r} in {store_id!r}")
        return dispatcher

    # -- requests from the gateway -----------------------------------------------------------

    async def list(self, store_id: Any) -> dict[str, Any]:
        """``GET /api/stores/{store}/subscriptions``, with this leader's counters."""
        await self._ready()
        store = self.host.state.store(validate_store_id(store_id))
        listed = []
        for row in store.subscriptions.list():
            entry = {"name": row.name, **row.definition, "checkpoint": row.checkpoint}
            entry |= {"consumers": 0, "in_flight": 0, "parked": row.parked}
            entry |= {key: int(row.counters.get(key, 0)) for key in COUNTERS}
            dispatcher = self._dispatchers.get((store.store_id, row.name))
            if dispatcher is not None and dispatcher.incarnation == row.incarnation:
                delivery = dispatcher.delivery
                entry["checkpoint"] = max(row.checkpoint, delivery.checkpoint)
                entry |= {"consumers": delivery.consumers, "in_flight": delivery.in_flight}
                entry |= delivery.counters
            listed.append(entry)
        return {"subscriptions": listed}

    async def replay_parked(self, store_id: Any, name: Any) -> dict[str, Any]:
        """Deliver a subscription's parked events again; how many are replayed."""
        dispatcher = await self._dispatcher(store_id, name)
        store = dispatcher.store
        parked = store.subscriptions.parked(dispatcher.stored.name, MAX_REPLAY)
        # One query per 500 events: 10,000 single reads held the leader's loop for 0.2 s.
        records = store.read_positions([p.position for p in parked])
        dispatcher.replay(records)
        return {"replayed": len(records)}

    async def serve_consumer(self, msg: dict[str, Any], conn: ServerConnection) -> None:
        """Serve one ``consume`` connection until either side ends it."""
        rid = msg.get("id")
        try:
            dispatcher = await self._dispatcher(msg.get("store"), msg.get("name"))
        except GateError as err:
            conn.send({"id": rid, "ok": False, "error": err.to_dict()})
            return
        consumer = next(self._consumer_ids)
        link = ConsumerLink(conn)
        conn.send({"id": rid, "ok": True, "result": {"consumer": consumer}})
        dispatcher.add_consumer(consumer, link)
        try:
            while True:
                frame = await conn.read()
                try:
                    dispatcher.answer(consumer, frame)
                except GateError as err:
                    link.send({"type": "error", "error": err.to_dict()})
        except (asyncio.IncompleteReadError, ConnectionError, FrameError):
            pass
        finally:
            dispatcher.remove_consumer(consumer)
