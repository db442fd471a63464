"""Greenhouse producers for the console: start N, stop one by stream id, list them.

A thin layer over ``domain.greenhouse.producer.ProducerPool`` that turns its answers into the
console's errors and tables.
"""

from __future__ import annotations

from console.ops.errors import OpsError
from console.ops.verdict import VerdictMonitor
from domain.greenhouse.producer import ProducerPool, ProducerRow
from engine.client import GateClient

DEFAULT_COUNT = 3
DEFAULT_RATE = 5.0  # events/s per producer: lively, yet readable in an observer
MAX_COUNT = 100


class ProducerManager:
    """The session's producers on ``greenhouse-1…N`` of one store; ``verdict`` is told of
    what they get acknowledged."""

    def __init__(
        self,
        client: GateClient,
        store: str,
        *,
        rate: float = DEFAULT_RATE,
        mode: str = "random",
        seed: int | None = None,
        verdict: VerdictMonitor | None = None,
    ) -> None:
        self.verdict = verdict
        on_ack = verdict.record if verdict is not None else None
        self.pool = ProducerPool(client, store, mode=mode, rate=rate, seed=seed, on_ack=on_ack)

    @property
    def rate(self) -> float:
        """Events per second each producer writes."""
        return self.pool.rate

    async def start(self, count: int = DEFAULT_COUNT) -> list[str]:
        """Start ``count`` producers on the lowest free streams; answers their stream ids."""
        if not 1 <= count <= MAX_COUNT:
            raise OpsError(f"the number of producers must be between 1 and {MAX_COUNT}")
        if self.verdict is not None:
            await self.verdict.begin()
        return [producer.stream for producer in await self.pool.start(count)]

    async def stop(self, stream: str) -> None:
        """Stop the producer of one stream."""
        stream = stream.strip()
        if not await self.pool.stop(stream):
            running = ", ".join(self.running()) or "none"
            raise OpsError(f"no producer is running on {stream!r} (running: {running})")

    def running_stream(self, answer: str) -> str:
        """A stream typed to stop its producer: one with a running producer."""
        stream = answer.strip()
        if stream not in self.running():
            running = ", ".join(self.running()) or "none"
            raise OpsError(f"no producer is running on {stream!r} (running: {running})")
        return stream

    def running(self) -> list[str]:
        """Streams with a running producer, in stream order."""
        return [row.stream for row in self.pool.rows() if row.state == "running"]

    def rows(self) -> list[ProducerRow]:
        """The producers table (running, stopped and failed ones), in stream order."""
        return self.pool.rows()

    async def stop_all(self) -> None:
        """Stop every producer."""
        await self.pool.stop_all()
