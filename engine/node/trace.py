"""A node's trace of the Raft messages it sends and receives: a bounded ring of flat tuples.

Recording runs on the replication path for every message, watched or not, so it only takes the
message's numbers into a tuple (no formatting, no JSON); a reader pages through the ring with
``after``, as through the node log, and the tuples become the records of
engine/protocol/raft_trace.py only when asked for.  The ring's length is
``replication.traceMessages`` (0: nothing is recorded).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from engine.protocol.errors import invalid
from engine.protocol.raft_trace import DIRECTIONS
from engine.replication.messages import (
    AppendRequest,
    AppendResponse,
    Message,
    Removed,
    SnapshotRequest,
    TimeoutNow,
    VoteRequest,
    VoteResponse,
)

MAX_LIMIT = 2000  # records one page may hold
DEFAULT_LIMIT = 500

Record = tuple[Any, ...]


def _vote(m: Any) -> Record:
    return ("vote", m.frm, m.to, m.term, m.last_log_index, m.last_log_term, m.pre_vote, m.transfer)


def _vote_response(m: Any) -> Record:
    return ("vote_response", m.frm, m.to, m.term, m.granted, m.pre_vote)


def _append(m: Any) -> Record:
    return ("append", m.frm, m.to, m.term, m.prev_index, m.prev_term, len(m.entries), m.commit)


def _append_response(m: Any) -> Record:
    return ("append_response", m.frm, m.to, m.term, m.success, m.match_index, m.reject_hint)


def _snapshot(m: Any) -> Record:
    return ("snapshot", m.frm, m.to, m.term, m.snapshot.index, m.snapshot.term)


def _timeout_now(m: Any) -> Record:
    return ("timeout_now", m.frm, m.to, m.term)


def _removed(m: Any) -> Record:
    return ("removed", m.frm, m.to, m.term, m.index)


_TAKE: dict[type, Callable[[Any], Record]] = {
    VoteRequest: _vote,
    VoteResponse: _vote_response,
    AppendRequest: _append,
    AppendResponse: _append_response,
    SnapshotRequest: _snapshot,
    TimeoutNow: _timeout_now,
    Removed: _removed,
}


class MessageTrace:
    """The last ``capacity`` messages, numbered from 1 in the order they were recorded."""

    def __init__(self, node_id: str, capacity: int, clock: Callable[[], float] = time.time) -> None:
        if capacity < 0:
            raise ValueError("a trace holds 0 or more messages")
        self.node_id = node_id
        self.capacity = capacity
        self._clock = clock
        # (seq, time, dir, type, frm, to, term, *fields): a record of raft_trace, as a tuple.
        self._ring: deque[Record] = deque(maxlen=capacity or 1)
        self._seq = 0
        self.started_at = clock()

    @property
    def last_seq(self) -> int:
        return self._seq

    def __len__(self) -> int:
        return len(self._ring) if self.capacity else 0

    def sent(self, messages: Iterable[Message]) -> int:
        """Record ``messages`` as sent; the number of the first (the rest follow it), 0 when
        nothing is recorded."""
        return self._record("send", messages)

    def received(self, messages: Iterable[Message]) -> None:
        self._record("recv", messages)

    def _record(self, direction: str, messages: Iterable[Message]) -> int:
        if not self.capacity:
            return 0
        first = self._seq + 1
        now = self._clock()
        seq = self._seq
        append = self._ring.append
        for msg in messages:
            seq += 1
            append((seq, now, direction, *_TAKE[type(msg)](msg)))
        self._seq = seq
        return first

    def record(self, seq: int) -> Record | None:
        """The record numbered ``seq``, while the ring holds it."""
        if not self.capacity or not self._ring:
            return None
        at = seq - self._ring[0][0]
        return self._ring[at] if 0 <= at < len(self._ring) else None

    def page(
        self, after: int | None = None, limit: int = DEFAULT_LIMIT, direction: str | None = None
    ) -> dict[str, Any]:
        """Records past ``after``, oldest first, at most ``limit`` (only those of ``direction``,
        ``send`` or ``recv``, when given); with no ``after``, the newest ``limit``.  ``missed``
        counts records past ``after`` the ring no longer holds; ``until`` is the last sequence
        number the page covers (the next page starts after it)."""
        ring: deque[Record] | tuple[()] = self._ring if self.capacity else ()
        first = ring[0][0] if ring else self._seq + 1
        missed = 0
        if after is None:
            start = max(0, len(ring) - limit) if direction is None else 0
        else:
            missed = max(0, first - 1 - after)
            start = max(0, after + 1 - first)
        records: list[list[Any]] = []
        until = self._seq if after is None else max(after, first - 1)
        for i in range(start, len(ring)):
            record = ring[i]
            if direction is None or record[2] == direction:
                if len(records) == limit and after is not None:
                    break
                records.append(list(record))
            until = record[0]
        if after is None:
            records = records[-limit:]
        return {
            "node_id": self.node_id,
            "started_at": self.started_at,
            "last_seq": self._seq,
            "until": until,
            "missed": missed,
            "messages": records,
        }


def trace_page(
    trace: MessageTrace, after: Any, limit: Any, direction: Any = None
) -> dict[str, Any]:
    """A page of ``trace`` for the TCP op ``trace``; ``invalid_request`` naming a bad field."""
    if limit is None:
        limit = DEFAULT_LIMIT
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise invalid(f"limit must be a whole number from 1 to {MAX_LIMIT}", field="limit")
    if after is not None and (isinstance(after, bool) or not isinstance(after, int) or after < 0):
        raise invalid("after must be a whole number, at least 0", field="after")
    if direction is not None and direction not in DIRECTIONS:
        raise invalid(f"dir must be one of {', '.join(DIRECTIONS)}", field="dir")
    return trace.page(after, limit, direction)
