"""Everything a console session does, in one object both front ends hold.

``Operations.open`` starts (or attaches to) the engine and builds the parts; ``close`` stops
what the session started, in order: consumers, observers and producers first (so nothing is
left writing or reading), then the cluster if the session launched it.  ``switch_store`` points
the parts that work on a store at another (console/ops/stores.py).
"""

from __future__ import annotations

import asyncio
import time

from console.ops.catalogue import EVERYTHING, Offer
from console.ops.cluster import ClusterOps, HealthMonitor
from console.ops.errors import OpsError
from console.ops.inside import InsideFeed
from console.ops.messages import MessageFeed
from console.ops.observers import ObserverRegistry
from console.ops.producers import ProducerManager
from console.ops.rate import Clock
from console.ops.session import EngineSession, SessionOptions
from console.ops.stores import Running, StoreOps, StoreSwitch
from console.ops.streams import StreamOps
from console.ops.subscriptions import SubscriptionManager
from console.ops.verdict import VerdictMonitor
from engine.client import GateClient


class Operations:
    """The operations layer of one console session (see the package docstring)."""

    def __init__(
        self,
        session: EngineSession,
        client: GateClient,
        *,
        seed: int | None = None,
        clock: Clock = time.monotonic,
        health_interval: float = 1.0,
    ) -> None:
        self.session = session
        self.client = client
        self.store = session.store
        self.access = session.access  # the role the consoles hide and refuse operations by
        self._seed = seed
        self._clock = clock
        self._health_interval = health_interval
        self.observers = ObserverRegistry(client, self.store, clock=clock)
        self.verdict = self._verdict(self.store)
        self.producers = ProducerManager(client, self.store, seed=seed, verdict=self.verdict)
        self.subscriptions = SubscriptionManager(client, self.store)
        self.streams = StreamOps(client, self.store, seed=seed)
        self.stores = StoreOps(client)
        self.cluster = ClusterOps(client)
        self.messages = MessageFeed(client)  # the Raft messages, while the panel is shown
        self.inside = InsideFeed(client)  # the nodes' inside, while the Cluster panel is shown
        # Its own client that never retries, so a status bar never waits on a dead engine.
        self._health_client = session.new_client(retry_deadline=0)
        self.health = HealthMonitor(
            self._health_client, self.store, interval=health_interval, clock=clock
        )

    @classmethod
    async def open(
        cls,
        options: SessionOptions,
        *,
        seed: int | None = None,
        retry_deadline: float = 5.0,
        health_interval: float = 1.0,
    ) -> Operations:
        """Start or attach to the engine (``SessionError`` with a one-line reason if not)."""
        session = EngineSession(options, retry_deadline=retry_deadline)
        client = await session.open()
        ops = cls(session, client, seed=seed, health_interval=health_interval)
        ops.health.start()
        return ops

    def _verdict(self, store: str) -> VerdictMonitor:
        """The live verdict on what this console's producers get acknowledged in ``store``."""
        return VerdictMonitor(
            self.client,
            store,
            lambda: None if self.health.latest is None else self.health.latest.status,
            self.session.node_client,
            interval=self._health_interval,
        )

    def running(self) -> Running:
        """What this console runs on its store (a switch stops it)."""
        return Running(
            len(self.observers.names()),
            len(self.producers.running()),
            len(self.subscriptions.consumer_names()),
        )

    async def switch_store(self, store: str) -> StoreSwitch:
        """Work on ``store`` from now on: an admin's console creates it when missing; what this
        console ran on the old store (observers, producers, consumers) is stopped."""
        store = store.strip()
        if not store:
            raise OpsError("name a store")
        if store == self.store:
            raise OpsError(f"this console works on {store} already")
        known = [row.store_id for row in await self.stores.rows(subscriptions=False)]
        created = store not in known
        if created:
            if self.access.role != "admin":
                raise OpsError(
                    f"there is no store {store!r} (stores: {', '.join(known) or 'none'}); "
                    "only an admin creates one"
                )
            await self.stores.create(store)
        row = await self.stores.row(store)
        running = self.running()
        old_store = self.store
        previous = (self.observers, self.producers, self.subscriptions, self.verdict)
        # The new store's parts first, so that nothing shown belongs to the old one meanwhile;
        # the verdict starts afresh with the first producer on it.
        self.store = store
        self.observers = ObserverRegistry(self.client, store, clock=self._clock)
        self.verdict = self._verdict(store)
        self.producers = ProducerManager(self.client, store, seed=self._seed, verdict=self.verdict)
        self.subscriptions = SubscriptionManager(self.client, store)
        self.streams = StreamOps(self.client, store, seed=self._seed)
        self.health.follow(store)
        observers, producers, subscriptions, verdict = previous
        await asyncio.gather(subscriptions.stop_all(), observers.stop_all(), producers.stop_all())
        await verdict.stop()
        return StoreSwitch(old_store, row, created, running)

    @property
    def offer(self) -> Offer:
        """What the cluster's backend offers, as of the last cluster view (everything before
        the first)."""
        status = self.health.status
        return EVERYTHING if status is None else status.offer

    @property
    def url(self) -> str:
        """The gateway's URL."""
        return self.session.url

    @property
    def started_engine(self) -> bool:
        """Whether closing will stop the cluster."""
        return self.session.started_engine

    async def close(self) -> None:
        """Stop everything this session started."""
        await self.health.stop()
        await self.messages.stop()
        await self.inside.stop()
        await asyncio.gather(
            self.subscriptions.stop_all(),
            self.observers.stop_all(),
            self.producers.stop_all(),
        )
        await self.verdict.stop()
        await self._health_client.close()
        await self.session.close()
