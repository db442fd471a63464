"""A node's log of why things happen: a bounded ring of recent structured lines.

The Raft core reports its decisions as notes (elections, votes and why they were refused,
term changes, log repair, catch-up, step-downs); the host adds its own (start, fatal stops).
Readers page through the ring with ``after`` (the last sequence number they saw); sequence
numbers start at 1 with each start of the node process, and ``started_at`` tells a reader
that the node restarted (docs/API.md, "Node log").
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from engine.protocol.errors import invalid

Level = Literal["info", "warning", "error"]
CAPACITY = 1000  # lines kept; older ones are dropped (a reader is told how many it missed)
MAX_LIMIT = 1000  # lines one page may hold
DEFAULT_LIMIT = 100


@dataclass(frozen=True, slots=True)
class LogLine:
    """One line of the node's log."""

    seq: int
    time: float  # seconds since the epoch
    level: Level
    kind: str
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "time": self.time,
            "level": self.level,
            "kind": self.kind,
            "text": self.text,
        }


class NodeLog:
    """The last ``capacity`` lines, numbered from 1 in the order they were added."""

    def __init__(
        self, node_id: str, capacity: int = CAPACITY, clock: Callable[[], float] = time.time
    ) -> None:
        if capacity < 1:
            raise ValueError("a node log holds at least one line")
        self.node_id = node_id
        self._clock = clock
        self._lines: deque[LogLine] = deque(maxlen=capacity)
        self._seq = 0
        self.started_at = clock()

    @property
    def last_seq(self) -> int:
        """The sequence number of the newest line (0 before the first)."""
        return self._seq

    def add(self, kind: str, text: str, level: Level = "info") -> LogLine:
        """Append a line, dropping the oldest when full."""
        self._seq += 1
        line = LogLine(self._seq, self._clock(), level, kind, text)
        self._lines.append(line)
        return line

    def page(self, after: int | None = None, limit: int = DEFAULT_LIMIT) -> dict[str, Any]:
        """Lines past sequence number ``after``, oldest first, at most ``limit`` of them; with
        no ``after``, the newest ``limit`` lines.  ``missed`` counts lines past ``after`` that
        the ring no longer holds; ``last_seq`` is the newest line's number."""
        if not 1 <= limit <= MAX_LIMIT:
            raise ValueError(f"limit must be from 1 to {MAX_LIMIT}")
        if after is not None and after < 0:
            raise ValueError("after must not be negative")
        first = self._lines[0].seq if self._lines else self._seq + 1
        if after is None:
            lines = list(self._lines)[-limit:]
            missed = 0
        else:
            missed = max(0, first - 1 - after)
            start = max(0, after + 1 - first)
            lines = [self._lines[i] for i in range(start, min(len(self._lines), start + limit))]
        return {
            "node_id": self.node_id,
            "started_at": self.started_at,
            "last_seq": self._seq,
            "missed": missed,
            "lines": [line.to_dict() for line in lines],
        }


def log_page(node_log: NodeLog, after: int | None, limit: Any) -> dict[str, Any]:
    """A page of ``node_log`` for a request; ``invalid_request`` naming a bad ``limit``."""
    if limit is None:
        limit = DEFAULT_LIMIT
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise invalid(f"limit must be a whole number from 1 to {MAX_LIMIT}", field="limit")
    if after is not None and after < 0:
        raise invalid("after must be a whole number, at least 0", field="after")
    return node_log.page(after, limit)
