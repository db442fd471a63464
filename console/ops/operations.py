"""Everything a console session does, in one object both front ends hold.

``Operations.open`` starts (or attaches to) the engine and builds the parts; ``close`` stops
what the session started, in order: consumers, observers and producers first (so nothing is
left writing or reading), then the cluster if the session launched it.
"""

from __future__ import annotations

import asyncio
import time

from console.ops.cluster import ClusterOps, HealthMonitor
from console.ops.messages import MessageFeed
from console.ops.observers import ObserverRegistry
from console.ops.producers import ProducerManager
from console.ops.rate import Clock
from console.ops.session import EngineSession, SessionOptions
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
        self.observers = ObserverRegistry(client, self.store, clock=clock)
        self.verdict = VerdictMonitor(
            client,
            self.store,
            lambda: None if self.health.latest is None else self.health.latest.status,
            session.node_client,
            interval=health_interval,
        )
        self.producers = ProducerManager(client, self.store, seed=seed, verdict=self.verdict)
        self.subscriptions = SubscriptionManager(client, self.store)
        self.streams = StreamOps(client, self.store, seed=seed)
        self.cluster = ClusterOps(client)
        self.messages = MessageFeed(client)  # the Raft messages, while the panel is shown
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
        await asyncio.gather(
            self.subscriptions.stop_all(),
            self.observers.stop_all(),
            self.producers.stop_all(),
        )
        await self.verdict.stop()
        await self._health_client.close()
        await self.session.close()
