"""``Delivery``: the delivery state of one persistent subscription on the leader, without I/O.

It takes events read from the store, consumers coming and going, acks, nacks and the clock,
and says what to send to which consumer and what progress to make durable.  The dispatcher
(:mod:`engine.node.subscriptions`) does the reading, sending and proposing around it, so
every rule here is tested without a socket (tests/subscriptions/test_delivery.py).

Rules:

- events matching the subscription, after its checkpoint, are delivered in position order
  (first attempts in order; a retried event goes back to the head of the queue), each to the
  next consumer in turn that has room (``max_in_flight``): competing consumers, round-robin;
- an event is settled by an ack, by ``nack skip``, or by being parked (``nack park``, or a
  failure — ``nack retry`` or no answer within ``ack_timeout_ms`` — after ``max_retries``
  redeliveries); until then it is redelivered, its ``attempt`` counting the deliveries;
- ``nack stop`` puts the consumer's events back in the queue and sends it nothing more;
  a consumer that leaves puts its events back in the queue without counting a failure;
- the checkpoint is the highest position at or below which every matching event is settled;
  :meth:`progress` hands out the new checkpoint together with the events parked and unparked
  since the last progress, to be committed in one command — so the checkpoint never passes an
  event that is neither acknowledged, skipped nor durably parked;
- replayed parked events (:meth:`add_replay`) lie below the checkpoint: they do not hold it
  back, and once acked or skipped they are unparked.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.protocol.definitions import COUNTERS, Definition

READ_AHEAD = 1000  # events held beyond the checkpoint before reading more


@dataclass(slots=True)
class _Pending:
    record: dict[str, Any]
    attempts: int = 0  # deliveries so far
    consumer: int | None = None  # in flight to this consumer
    replay: bool = False


@dataclass(slots=True)
class _Consumer:
    in_flight: set[int] = field(default_factory=set)  # positions
    stopped: bool = False


class Delivery:
    """Delivery state of one subscription; ``clock()`` is monotonic seconds."""

    def __init__(
        self,
        definition: Definition,
        checkpoint: int,
        clock: Callable[[], float],
        parked: set[int] | None = None,
        counters: dict[str, int] | None = None,
    ) -> None:
        """Start after ``checkpoint``; ``parked`` are positions above it parked already;
        ``counters`` go on from the last progress committed (a failover keeps them)."""
        self.definition = definition
        self._matches = definition.matcher()
        self._timeout = definition.ack_timeout_ms / 1000
        self._clock = clock
        self.checkpoint = checkpoint  # as last made durable (or loaded)
        self.cursor = checkpoint  # every event at or below it has been looked at
        self._pending: dict[int, _Pending] = {}
        self._queue: list[int] = []  # heap of positions waiting for a consumer
        self._deadlines: list[tuple[float, int, int]] = []  # heap of (deadline, position, attempt)
        self._consumers: dict[int, _Consumer] = {}
        self._turn = 0
        self._parked_above = parked or set()
        self._parks: dict[int, dict[str, Any]] = {}  # parked since the last progress
        self._unparks: set[int] = set()
        self.counters = {key: int((counters or {}).get(key, 0)) for key in COUNTERS}

    # -- state for listings ------------------------------------------------------------------

    @property
    def in_flight(self) -> int:
        """Events delivered and not yet acknowledged."""
        return sum(len(c.in_flight) for c in self._consumers.values())

    @property
    def consumers(self) -> int:
        return len(self._consumers)

    # -- events ------------------------------------------------------------------------------

    def wants_events(self) -> bool:
        """Whether to read more events past the cursor (the read-ahead is not full)."""
        ahead = sum(1 for p in self._pending.values() if not p.replay)
        return ahead < max(READ_AHEAD, 2 * self.definition.max_in_flight * max(1, self.consumers))

    def add_events(self, records: list[dict[str, Any]], read_up_to: int) -> None:
        """Events read from the store past the cursor, up to position ``read_up_to``."""
        for record in records:
            position = record["position"]
            if (
                position > self.cursor
                and position not in self._pending
                and position not in self._parked_above
                and self._matches(record)
            ):
                self._pending[position] = _Pending(record)
                heapq.heappush(self._queue, position)
        self.cursor = max(self.cursor, read_up_to)

    def add_replay(self, records: list[dict[str, Any]]) -> None:
        """Parked events to deliver again (attempts start over)."""
        for record in records:
            position = record["position"]
            if position in self._pending:
                continue
            self._parks.pop(position, None)
            self._pending[position] = _Pending(record, replay=True)
            heapq.heappush(self._queue, position)

    # -- consumers ---------------------------------------------------------------------------

    def add_consumer(self, consumer: int) -> None:
        self._consumers[consumer] = _Consumer()

    def remove_consumer(self, consumer: int) -> None:
        """A consumer left: its events go back to the queue (not counted as failures)."""
        slot = self._consumers.pop(consumer, None)
        if slot is not None:
            for position in list(slot.in_flight):
                self._requeue(position)

    def dispatch(self) -> dict[int, list[dict[str, Any]]]:
        """Hand queued events to consumers with room: consumer -> records (with ``attempt``)."""
        out: dict[int, list[dict[str, Any]]] = {}
        limit = self.definition.max_in_flight
        order = [c for c, slot in self._consumers.items() if not slot.stopped]
        now = self._clock()
        while self._queue and order:
            consumer = self._next_consumer(order, limit)
            if consumer is None:
                break
            position = heapq.heappop(self._queue)
            pending = self._pending.get(position)
            if pending is None or pending.consumer is not None:
                continue  # settled or handed out since it was queued
            pending.attempts += 1
            pending.consumer = consumer
            self._consumers[consumer].in_flight.add(position)
            heapq.heappush(self._deadlines, (now + self._timeout, position, pending.attempts))
            out.setdefault(consumer, []).append({**pending.record, "attempt": pending.attempts})
            self.counters["delivered"] += 1
        return out

    def _next_consumer(self, order: list[int], limit: int) -> int | None:
        for k in range(len(order)):
            consumer = order[(self._turn + k) % len(order)]
            if len(self._consumers[consumer].in_flight) < limit:
                self._turn = (self._turn + k + 1) % len(order)
                return consumer
        return None

    # -- answers -----------------------------------------------------------------------------

    def _own(self, consumer: int, event_ids: list[str]) -> list[int]:
        """Positions in flight to ``consumer`` with these ids; others' and stale ids are ignored."""
        slot = self._consumers.get(consumer)
        if slot is None:
            return []
        wanted = set(event_ids)
        return sorted(p for p in slot.in_flight if self._pending[p].record["event_id"] in wanted)

    def ack(self, consumer: int, event_ids: list[str]) -> None:
        """The consumer processed these events."""
        for position in self._own(consumer, event_ids):
            self._settle(position)
            self.counters["acked"] += 1

    def nack(self, consumer: int, event_ids: list[str], action: str) -> None:
        """The consumer refused these events; ``action`` is one of :data:`NACK_ACTIONS`."""
        positions = self._own(consumer, event_ids)
        self.counters["nacked"] += len(positions)
        for position in positions:
            if action == "skip":
                self._settle(position)
            elif action == "park":
                self._park(position, "nacked with park")
            elif action == "retry":
                self._fail(position, "nacked with retry")
            else:
                self._requeue(position)
        if action == "stop":
            slot = self._consumers[consumer]
            slot.stopped = True
            for position in list(slot.in_flight):
                self._requeue(position)

    def expire(self) -> bool:
        """Fail every delivery whose ack timeout has passed; whether there was one."""
        now = self._clock()
        failed = False
        while self._deadlines and self._deadlines[0][0] <= now:
            _, position, attempt = heapq.heappop(self._deadlines)
            pending = self._pending.get(position)
            if pending is not None and pending.consumer is not None and pending.attempts == attempt:
                self._fail(position, "no ack within ack_timeout_ms")
                failed = True
        return failed

    def next_deadline(self) -> float | None:
        """When the earliest delivery in flight times out (may be a stale, earlier entry)."""
        return self._deadlines[0][0] if self._deadlines else None

    def _release(self, position: int) -> _Pending:
        pending = self._pending[position]
        if pending.consumer is not None:
            slot = self._consumers.get(pending.consumer)
            if slot is not None:
                slot.in_flight.discard(position)
            pending.consumer = None
        return pending

    def _requeue(self, position: int) -> None:
        self._release(position)
        heapq.heappush(self._queue, position)

    def _fail(self, position: int, reason: str) -> None:
        pending = self._release(position)
        if pending.attempts > self.definition.max_retries:
            self._park(position, f"{reason}, after {pending.attempts} attempts")
        else:
            heapq.heappush(self._queue, position)

    def _settle(self, position: int) -> None:
        pending = self._release(position)
        del self._pending[position]
        if pending.replay:
            self._unparks.add(position)

    def _park(self, position: int, reason: str) -> None:
        pending = self._release(position)
        del self._pending[position]
        self._unparks.discard(position)
        record = pending.record
        self._parks[position] = {
            "position": position,
            "event_id": record["event_id"],
            "attempts": pending.attempts,
            "reason": reason,
        }

    # -- durable progress --------------------------------------------------------------------

    def progress(self) -> dict[str, Any] | None:
        """``{"checkpoint", "park", "unpark", "counters"}`` to commit, or None when there is
        nothing new.  The counters ride along; they alone are no reason to write."""
        held = [p for p, pending in self._pending.items() if not pending.replay]
        checkpoint = min(held) - 1 if held else self.cursor
        if checkpoint <= self.checkpoint and not self._parks and not self._unparks:
            return None
        return {
            "checkpoint": max(checkpoint, self.checkpoint),
            "park": list(self._parks.values()),
            "unpark": sorted(self._unparks),
            "counters": dict(self.counters),
        }

    def progress_committed(self, progress: dict[str, Any]) -> None:
        """``progress`` is durable: forget what it carried."""
        self.checkpoint = max(self.checkpoint, progress["checkpoint"])
        for park in progress["park"]:
            if self._parks.get(park["position"]) == park:
                del self._parks[park["position"]]
        self._unparks.difference_update(progress["unpark"])
