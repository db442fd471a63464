"""The read side of a replicated log, as the pure core sees it.

The core reads entries and terms synchronously through this protocol (as etcd's raft reads its
``Storage``); it never writes: writes come back to the host in a ``Ready``, and the host calls
``save`` once they are durable.  A compacted log starts after a snapshot marker: entries up to
``snapshot().index`` are gone, and the marker keeps the term of the last one.
``engine.storage.raft_log.SqliteLogStorage`` serves real nodes; an in-memory one in
bench/lib/memory_storage.py serves the simulation tests.
"""

from __future__ import annotations

from typing import Protocol

from engine.replication.messages import Entry, HardState, Snapshot


class LogStorage(Protocol):
    def initial_state(self) -> HardState:
        """The hard state last saved (term, vote, commit)."""
        ...

    def snapshot(self) -> Snapshot:
        """The marker the log starts after (``Snapshot()`` if it was never compacted)."""
        ...

    def last_index(self) -> int:
        """Index of the last stored entry; the marker's index for a log without entries."""
        ...

    def term(self, index: int) -> int:
        """Term of the entry at ``index`` (the marker's at its index, 0 for index 0).

        Raises IndexError past the end and below the marker (compacted).
        """
        ...

    def entries(self, lo: int, hi: int, max_count: int | None = None) -> list[Entry]:
        """Stored entries with ``lo <= index < hi``, at most ``max_count`` of them
        (``lo`` past the marker)."""
        ...

    def save(
        self,
        hard_state: HardState | None,
        entries: list[Entry],
        snapshot: Snapshot | None = None,
    ) -> None:
        """Durably store ``hard_state`` and ``entries``, replacing the log from entries[0]; with
        ``snapshot``, the whole log is first replaced by that marker (entries then follow it)."""
        ...

    def compact(self, snapshot: Snapshot) -> None:
        """Durably drop the entries up to ``snapshot.index``, which becomes the marker."""
        ...


def check_compaction(storage: LogStorage, snapshot: Snapshot) -> None:
    """Raise ValueError unless the log can be compacted to ``snapshot``: an entry past the
    current marker and held, of the snapshot's term (every storage checks the same)."""
    base = storage.snapshot().index
    if not base < snapshot.index <= storage.last_index():
        raise ValueError(
            f"cannot compact to {snapshot.index}: the log holds {base + 1}..{storage.last_index()}"
        )
    if storage.term(snapshot.index) != snapshot.term:
        raise ValueError(f"entry {snapshot.index} is not of term {snapshot.term}")
