"""Counts the transactions an ``EventStore`` commits, for the group-commit tests.

SQLite reports every statement its connection runs (``set_trace_callback``): the count is
what the store really did, not a figure it keeps about itself.
"""

from __future__ import annotations

from engine.storage.event_store import EventStore


class CommitCounter:
    """The COMMITs run on ``store``'s writing connection since this counter was attached."""

    def __init__(self, store: EventStore) -> None:
        self.count = 0
        # The writing connection is the store's own; a test reaches into it to watch it.
        store._writer.set_trace_callback(self._trace)

    def _trace(self, statement: str) -> None:
        if statement.strip().upper() == "COMMIT":
            self.count += 1
