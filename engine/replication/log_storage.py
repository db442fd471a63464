"""The read side of a replicated log, as the pure core sees it.

The core reads entries and terms synchronously through this protocol (as etcd's raft reads its
``Storage``); it never writes: writes come back to the host in a ``Ready``, and the host calls
``save`` once they are durable.  ``engine.storage.raft_log.SqliteLogStorage`` serves real
nodes; an in-memory one in bench/lib/memory_storage.py serves the simulation tests.
"""

from __future__ import annotations

from typing import Protocol

from engine.replication.messages import Entry, HardState


class LogStorage(Protocol):
    def initial_state(self) -> HardState:
        """The hard state last saved (term, vote, commit)."""
        ...

    def last_index(self) -> int:
        """Index of the last stored entry; 0 for an empty log."""
        ...

    def term(self, index: int) -> int:
        """Term of the entry at ``index``; 0 for index 0. Raises IndexError past the end."""
        ...

    def entries(self, lo: int, hi: int, max_count: int | None = None) -> list[Entry]:
        """Stored entries with ``lo <= index < hi``, at most ``max_count`` of them."""
        ...

    def save(self, hard_state: HardState | None, entries: list[Entry]) -> None:
        """Durably store ``hard_state`` and ``entries``, replacing the log from entries[0]."""
        ...
