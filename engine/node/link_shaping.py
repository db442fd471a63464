"""What happens to this node's outgoing Raft messages on their way: link faults and slow motion.

A link fault (engine/protocol/link_faults.py) drops, delays or duplicates each message sent to
one peer, drawing from its own seeded generator; the tempo (engine/protocol/tempo.py) delays
every message by a matching amount.  Both act here, on the sender, before the frame is written,
so a fault is one direction of one link.  Delayed frames go through a delay line per peer and
keep their order: the link is slow, not reordering (a shorter delay set meanwhile waits behind
what is already in flight).  Each message travels with its number in the node's message trace
(engine/node/trace.py), by which one still waiting in a delay line can be dropped by hand
(:meth:`LinkShaper.drop_message`, RaftScope's "drop").
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import Callable

from engine.protocol.link_faults import LinkFault

Encoded = dict[str, object]
# Messages on their way: each with its number in the sender's trace (0: not traced).
Frame = list[tuple[int, Encoded]]
Deliver = Callable[[str, list[Encoded]], None]


class _DelayLine:
    """Frames for one peer, each sent at its due time, in the order they came."""

    def __init__(self, peer: str, deliver: Deliver) -> None:
        self.peer = peer
        self._deliver = deliver
        self._queue: deque[tuple[float, Frame]] = deque()
        self._timer: asyncio.TimerHandle | None = None

    @property
    def empty(self) -> bool:
        return not self._queue

    def push(self, due: float, frame: Frame) -> None:
        if self._queue:
            due = max(due, self._queue[-1][0])
        self._queue.append((due, frame))
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_at(due, self._release)

    def _release(self) -> None:
        self._timer = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        while self._queue and self._queue[0][0] <= now:
            frame = self._queue.popleft()[1]
            if frame:  # empty once its messages were dropped by hand
                self._deliver(self.peer, [msg for _, msg in frame])
        if self._queue:
            self._timer = loop.call_at(self._queue[0][0], self._release)

    def shift(self, seconds: float) -> None:
        """Every frame on its way due ``seconds`` later (earlier when negative, not before now):
        a change of tempo reaches the messages in flight as it does the clocks under way."""
        if not self._queue:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        self._queue = deque((max(now, due + seconds), frame) for due, frame in self._queue)
        if self._timer is not None:
            self._timer.cancel()
        self._timer = loop.call_at(self._queue[0][0], self._release)

    def drop(self, trace_id: int) -> int:
        """Take the message numbered ``trace_id`` (and its duplicate) out; how many went."""
        dropped = 0
        for _, frame in self._queue:
            kept = [(n, msg) for n, msg in frame if n != trace_id]
            if len(kept) != len(frame):
                dropped += len(frame) - len(kept)
                frame[:] = kept
        return dropped

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._queue.clear()


class LinkShaper:
    """The link faults of this node's outgoing links, the tempo's delay, and their counts."""

    def __init__(self, deliver: Deliver) -> None:
        self._deliver = deliver
        self.faults: dict[str, LinkFault] = {}
        self._rngs: dict[str, random.Random] = {}
        self.delay = 0.0  # seconds every message waits (the tempo)
        self._lines: dict[str, _DelayLine] = {}
        self.counters = {"dropped": 0, "duplicated": 0, "delayed": 0, "dropped_by_hand": 0}

    def set_delay(self, delay: float) -> None:
        """The tempo's delay from now on, for what is on its way too: speeding up from x1/20 to
        x1 delivers the heartbeats still waiting out 0.95 s at once, so no follower, back at
        full-speed timeouts, waits for them and times out (a change of tempo starts no
        election)."""
        for line in self._lines.values():
            line.shift(delay - self.delay)
        self.delay = delay

    def set_fault(self, fault: LinkFault) -> None:
        """Shape the link to ``fault.to`` from now on (replacing its fault, if any); its
        generator starts again from the fault's seed."""
        self.faults[fault.to] = fault
        self._rngs[fault.to] = random.Random(fault.seed)

    def clear(self, peer: str | None = None) -> list[str]:
        """Clear the fault of the link to ``peer`` (every link when None); the peers cleared."""
        peers = sorted(self.faults) if peer is None else [p for p in (peer,) if p in self.faults]
        for p in peers:
            del self.faults[p]
            del self._rngs[p]
        return peers

    def drops_all(self, peer: str) -> bool:
        """Whether everything sent to ``peer`` is lost (a snapshot transfer too)."""
        fault = self.faults.get(peer)
        return fault is not None and fault.drops_all

    def send(self, peer: str, frame: Frame) -> None:
        """Send ``frame`` to ``peer`` through its fault and the tempo's delay."""
        delay = self.delay
        fault = self.faults.get(peer)
        if fault is not None:
            frame = self._through(fault, frame)
            if not frame:
                return
            delay += fault.delay_ms / 1000
        line = self._lines.get(peer)
        if delay <= 0 and (line is None or line.empty):
            self._deliver(peer, [msg for _, msg in frame])
            return
        if line is None:
            line = self._lines[peer] = _DelayLine(peer, self._deliver)
        self.counters["delayed"] += len(frame)
        line.push(asyncio.get_running_loop().time() + delay, frame)

    def _through(self, fault: LinkFault, frame: Frame) -> Frame:
        """The messages of ``frame`` that survive ``fault``, a duplicate after its original."""
        rng = self._rngs[fault.to]
        kept: Frame = []
        for sent in frame:
            if fault.drop and rng.random() < fault.drop:
                self.counters["dropped"] += 1
                continue
            kept.append(sent)
            if fault.duplicate and rng.random() < fault.duplicate:
                self.counters["duplicated"] += 1
                kept.append(sent)
        return kept

    def drop_message(self, trace_id: int) -> str | None:
        """Drop the message numbered ``trace_id`` in this node's trace while it waits in a delay
        line (a duplicate with it); the peer it was going to, or None once it has gone (or was
        never delayed)."""
        if trace_id <= 0:
            return None
        for peer, line in self._lines.items():
            dropped = line.drop(trace_id)
            if dropped:
                self.counters["dropped_by_hand"] += dropped
                return peer
        return None

    def forget(self, peer: str) -> None:
        """A former member: its fault and its frames in flight go with it."""
        self.clear(peer)
        line = self._lines.pop(peer, None)
        if line is not None:
            line.close()

    def close(self) -> None:
        for line in self._lines.values():
            line.close()
        self._lines.clear()
