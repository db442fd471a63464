"""Producers: append one greenhouse stream's events at a rate, through failovers, until stopped.

A producer knows its stream's version and appends every batch with that expected version.  An
event counts as produced only once the cluster acknowledged it.  When an append finally fails
(the client has already retried it until its deadline) the producer counts an error, backs off
briefly and sends the SAME batch again, with the same event ids, so the store's idempotent
append can neither drop nor duplicate it.  It never dies silently: an unexpected error leaves it
``failed`` with the error in ``last_error``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from domain.greenhouse.aggregate import Greenhouse
from domain.greenhouse.catalogue import STORE_ID, STREAM_PREFIX
from domain.greenhouse.event_factory import stream_seed
from domain.greenhouse.generators import MODES, EventGenerator, make_generator
from domain.greenhouse.pacing import Clock, MonotonicClock, Pacer
from domain.greenhouse.repository import GreenhouseRepository, SnapshotPolicy, load
from domain.greenhouse.simulation import SimClock
from engine.client import GateClient, GateError

log = logging.getLogger(__name__)

State = Literal["stopped", "running", "failed"]
T = TypeVar("T")

# Errors no retry can fix; anything else (unavailable, timeout, a node restarting) is retried.
PERMANENT_ERRORS = frozenset(
    {"invalid_request", "unauthorized", "store_not_found", "payload_too_large"}
)
# Told of each acknowledged batch: (stream, events as sent, stream version, last position).
AckListener = Callable[[str, Sequence[Mapping[str, Any]], int, int], None]
_BACKOFF_FIRST = 0.1
_BACKOFF_MAX = 2.0


@dataclass(frozen=True, slots=True)
class ProducerRow:
    """One line of the producers table."""

    stream: str
    mode: str
    rate: float
    produced: int
    last_version: int
    errors: int
    state: State
    last_error: str | None


class Producer:
    """Appends the events of one greenhouse stream at ``rate`` events/s in batches.

    ``seed`` and the stream's version when the producer starts pick the events (see
    ``stream_seed``); ``clock`` paces the sends (tests inject a fake one); ``sim_clock`` drives
    the ``simulate`` mode; ``snapshots`` records greenhouse snapshots as the stream grows;
    ``on_ack`` is told of every batch the cluster acknowledged (a live checker's record).
    """

    def __init__(
        self,
        client: GateClient,
        store: str,
        stream: str,
        mode: str = "random",
        rate: float = 10.0,
        batch_size: int = 1,
        seed: int = 0,
        clock: Clock | None = None,
        *,
        snapshots: SnapshotPolicy | None = None,
        sim_clock: SimClock | None = None,
        on_ack: AckListener | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}: expected one of {', '.join(MODES)}")
        if batch_size < 1:
            raise ValueError(f"batch size must be at least 1, not {batch_size}")
        if rate <= 0:
            raise ValueError(f"rate must be positive, not {rate}")
        self.client = client
        self.store = store
        self.stream = stream
        self.mode = mode
        self.rate = rate
        self.batch_size = batch_size
        self.seed = seed
        self.clock: Clock = clock or MonotonicClock()
        self.sim_clock = sim_clock
        self.snapshots = snapshots
        self.on_ack = on_ack
        self.state: State = "stopped"
        self.produced = 0
        self.errors = 0
        self.last_version = -1
        self.last_error: str | None = None
        self._generator: EventGenerator | None = None
        self._batch: list[dict[str, Any]] | None = None
        self._snapshot_version = -1
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # -- control -------------------------------------------------------------------------------

    def start(self) -> None:
        """Start producing in a background task (no-op while running)."""
        if self._task is not None and not self._task.done():
            return
        self._stop.clear()
        self.state = "running"
        self.last_error = None
        self._task = asyncio.create_task(self._run(), name=f"producer {self.stream}")

    async def stop(self, grace: float = 12.0) -> None:
        """Stop after the append in flight (if any) is answered, waiting at most ``grace`` s.

        Past the timeout the task is cancelled; an append cut off that way may still be
        written by the cluster, but it is not counted as produced.
        """
        self._stop.set()
        task = self._task
        if task is None or task.done():
            return
        try:
            await asyncio.wait_for(asyncio.shield(task), grace)
        except TimeoutError:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            self.state = "stopped"

    async def wait(self) -> None:
        """Wait until the producer has stopped or failed."""
        if self._task is not None:
            await asyncio.shield(self._task)

    def row(self) -> ProducerRow:
        """The producer's line in the producers table."""
        return ProducerRow(
            stream=self.stream,
            mode=self.mode,
            rate=self.rate,
            produced=self.produced,
            last_version=self.last_version,
            errors=self.errors,
            state=self.state,
            last_error=self.last_error,
        )

    # -- the loop ------------------------------------------------------------------------------

    async def _run(self) -> None:
        try:
            await self._produce()
        except asyncio.CancelledError:
            self.state = "stopped"
            raise
        except Exception as exc:
            self.state = "failed"
            self.last_error = _describe(exc)
            log.exception("producer %s failed", self.stream)
        else:
            self.state = "stopped"

    async def _produce(self) -> None:
        version = await self._retrying(lambda: self.client.stream_version(self.store, self.stream))
        if version is None or not await self._begin(version):
            return
        pacer = Pacer(self.rate, self.clock)
        while not self._stop.is_set():
            delay = pacer.delay()
            if delay > 0:
                await self._pause(delay)
                continue
            if self._batch is None:
                self._batch = self._next_batch()
            count = len(self._batch)
            if not await self._append_batch():
                return
            pacer.sent(count)
            await self._snapshot_if_due()

    async def _begin(self, version: int) -> bool:
        """Set up the generator for a stream at ``version``; False when stopped meanwhile."""
        generator = make_generator(
            self.mode, stream_seed(self.seed, self.stream, version), clock=self.sim_clock
        )
        if version >= 0:
            if self.mode == "simulate":
                # The model takes over the greenhouse where the stream left it.
                greenhouse = await self._retrying(
                    lambda: load(self.client, self.store, self.stream)
                )
                if greenhouse is None:
                    return False
                version = greenhouse.version
            else:
                greenhouse = Greenhouse(self.stream, version=version)
            generator.resume(greenhouse)
        self._generator = generator
        self.last_version = version
        self._batch = None
        return True

    def _next_batch(self) -> list[dict[str, Any]]:
        assert self._generator is not None  # set by _begin before the loop
        return [self._generator.next_event() for _ in range(self.batch_size)]

    async def _append_batch(self) -> bool:
        """Append the pending batch until acknowledged; False when stopped first."""
        backoff = _BACKOFF_FIRST
        while not self._stop.is_set():
            assert self._batch is not None  # the loop fills it before appending
            try:
                result = await self.client.append(
                    self.store, self.stream, self._batch, expected_version=self.last_version
                )
            except GateError as exc:
                if exc.code in PERMANENT_ERRORS:
                    raise
                self._count_error(exc)
                if exc.code == "wrong_expected_version":
                    if not await self._resync():
                        return False
                    if self._batch is None:  # it turned out to be written already
                        return True
                    continue
                await self._pause(backoff)
                backoff = min(backoff * 2, _BACKOFF_MAX)
                continue
            self._acknowledged(int(result["version"]), int(result["position"]))
            return True
        return False

    def _acknowledged(self, version: int, position: int) -> None:
        """The pending batch is in the stream, its last event at ``version`` and ``position``."""
        assert self._batch is not None
        if self.on_ack is not None:
            self.on_ack(self.stream, self._batch, version, position)
        self.produced += len(self._batch)
        self.last_version = version
        self._batch = None

    async def _resync(self) -> bool:
        """After a version conflict: learn the stream's version and adapt the pending batch.

        If the batch is already in the stream right after our expected version (an earlier
        attempt was written after all) it counts as acknowledged and ``_batch`` becomes None.
        If the stream is gone, the generator starts over with ``initialized:v1``.  Otherwise
        the same batch is retried at the new version.  False when stopped meanwhile.
        """
        assert self._batch is not None
        current = await self._retrying(lambda: self.client.stream_version(self.store, self.stream))
        if current is None:
            return False
        if current == -1:
            if not await self._begin(-1):
                return False
            self._batch = self._next_batch()
            return True
        expected = self.last_version
        if current >= expected + len(self._batch):
            page = await self._retrying(
                lambda: self.client.read_stream(
                    self.store, self.stream, start=expected + 1, count=len(self._batch or ())
                )
            )
            if page is None:
                return False
            written = [e["event_id"] for e in page["events"]]
            if written == [e["event_id"] for e in self._batch]:
                self._acknowledged(expected + len(self._batch), page["events"][-1]["position"])
                return True
        self.last_version = current
        return True

    async def _snapshot_if_due(self) -> None:
        if self.snapshots is None or not self.snapshots.due(
            self._snapshot_version, self.last_version
        ):
            return
        repository = GreenhouseRepository(self.client, self.store, self.snapshots)
        try:
            self._snapshot_version = await repository.snapshot_if_due(self.stream)
        except GateError as exc:
            # A missed snapshot only makes the next load read a longer tail.
            self._count_error(exc)

    # -- helpers -------------------------------------------------------------------------------

    async def _retrying(self, call: Callable[[], Awaitable[T]]) -> T | None:
        """Run ``call`` until it succeeds (None when stopped first), backing off on errors."""
        backoff = _BACKOFF_FIRST
        while not self._stop.is_set():
            try:
                return await call()
            except GateError as exc:
                if exc.code in PERMANENT_ERRORS:
                    raise
                self._count_error(exc)
            await self._pause(backoff)
            backoff = min(backoff * 2, _BACKOFF_MAX)
        return None

    def _count_error(self, exc: GateError) -> None:
        self.errors += 1
        self.last_error = _describe(exc)
        log.warning("producer %s: %s", self.stream, self.last_error)

    async def _pause(self, seconds: float) -> None:
        """Wait ``seconds`` on the producer's clock, or less if it is stopped meanwhile."""
        sleeper = asyncio.ensure_future(self.clock.sleep(seconds))
        stopper = asyncio.ensure_future(self._stop.wait())
        _, pending = await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, GateError):
        return f"{exc.code}: {exc.message}"
    return f"{type(exc).__name__}: {exc}"


_STREAM_NUMBER = re.compile(re.escape(STREAM_PREFIX) + r"(\d+)$")


def _stream_order(stream: str) -> tuple[int, str]:
    match = _STREAM_NUMBER.match(stream)
    return (int(match.group(1)) if match else 1 << 62, stream)


async def ensure_store(client: GateClient, store: str) -> None:
    """Create the store unless it exists."""
    try:
        await client.create_store(store)
    except GateError as exc:
        if exc.code != "store_exists":
            raise


class ProducerPool:
    """Producers on ``greenhouse-1…N`` of one store, started and stopped by stream id.

    ``seed`` (random when None, then kept in ``self.seed``) seeds every producer: each stream
    derives its own seed from it.
    """

    def __init__(
        self,
        client: GateClient,
        store: str = STORE_ID,
        *,
        mode: str = "random",
        rate: float = 10.0,
        batch_size: int = 1,
        seed: int | None = None,
        clock: Clock | None = None,
        snapshots: SnapshotPolicy | None = None,
        sim_clock: SimClock | None = None,
        on_ack: AckListener | None = None,
    ) -> None:
        self.client = client
        self.store = store
        self.mode = mode
        self.rate = rate
        self.batch_size = batch_size
        self.seed = seed if seed is not None else random.SystemRandom().randrange(1 << 32)
        self.clock = clock
        self.snapshots = snapshots if snapshots is not None else SnapshotPolicy()
        self.sim_clock = sim_clock
        self.on_ack = on_ack
        self._producers: dict[str, Producer] = {}

    async def start(
        self,
        count: int = 3,
        *,
        mode: str | None = None,
        rate: float | None = None,
        batch_size: int | None = None,
    ) -> list[Producer]:
        """Start ``count`` producers on the lowest-numbered streams not being produced to."""
        await ensure_store(self.client, self.store)
        started: list[Producer] = []
        number = 0
        while len(started) < count:
            number += 1
            stream = f"{STREAM_PREFIX}{number}"
            current = self._producers.get(stream)
            if current is not None and current.state == "running":
                continue
            producer = Producer(
                self.client,
                self.store,
                stream,
                mode or self.mode,
                rate or self.rate,
                batch_size or self.batch_size,
                self.seed,
                self.clock,
                snapshots=self.snapshots,
                sim_clock=self.sim_clock,
                on_ack=self.on_ack,
            )
            self._producers[stream] = producer
            producer.start()
            started.append(producer)
        return started

    def get(self, stream: str) -> Producer | None:
        """The producer of a stream, if the pool has one (running or not)."""
        return self._producers.get(stream)

    async def stop(self, stream: str) -> bool:
        """Stop the producer of a stream; False when the pool has none running there."""
        producer = self._producers.get(stream)
        if producer is None or producer.state != "running":
            return False
        await producer.stop()
        return True

    async def stop_all(self) -> None:
        """Stop every producer."""
        await asyncio.gather(*(p.stop() for p in self._producers.values()))

    def rows(self) -> list[ProducerRow]:
        """The producers table, in stream order."""
        ordered = sorted(self._producers, key=_stream_order)
        return [self._producers[s].row() for s in ordered]
