"""``MemoryLogStorage``: an in-memory :class:`~engine.replication.log_storage.LogStorage`.

It backs the deterministic simulation tests, where "durable" means "survives dropping the
``RaftNode``": a simulated crash keeps the storage object and loses everything else.
"""

from __future__ import annotations

from engine.replication.log_storage import check_compaction
from engine.replication.messages import Entry, HardState, Snapshot


class MemoryLogStorage:
    """A log and hard state held in a Python list: entry ``i`` sits at position
    ``i - marker.index - 1``, after the snapshot marker the log was compacted to."""

    __slots__ = ("_entries", "_hard_state", "_marker")

    def __init__(self) -> None:
        self._entries: list[Entry] = []
        self._hard_state = HardState()
        self._marker = Snapshot()

    def initial_state(self) -> HardState:
        """The hard state last saved."""
        return self._hard_state

    def snapshot(self) -> Snapshot:
        """The marker the log starts after."""
        return self._marker

    def last_index(self) -> int:
        """Index of the last stored entry; the marker's index for a log without entries."""
        return self._marker.index + len(self._entries)

    def term(self, index: int) -> int:
        """Term of the entry at ``index`` (the marker's at its index); IndexError outside."""
        base = self._marker.index
        if index == base:
            return self._marker.term
        if index < base or index > self.last_index():
            raise IndexError(index)
        return self._entries[index - base - 1].term

    def entries(self, lo: int, hi: int, max_count: int | None = None) -> list[Entry]:
        """Stored entries with ``lo <= index < hi``, at most ``max_count`` of them."""
        base = self._marker.index
        if lo <= base and base:
            raise IndexError(f"entries from {lo} are compacted (the log starts after {base})")
        lo = max(lo, base + 1)
        if max_count is not None:
            hi = min(hi, lo + max_count)
        return self._entries[lo - base - 1 : max(hi - base - 1, 0)]

    def save(
        self,
        hard_state: HardState | None,
        entries: list[Entry],
        snapshot: Snapshot | None = None,
    ) -> None:
        """Store ``hard_state`` and ``entries``, replacing the log from ``entries[0].index`` on;
        a ``snapshot`` first replaces the whole log."""
        if snapshot is not None:
            self._marker = snapshot
            self._entries = []
        if entries:
            first = entries[0].index
            base = self._marker.index
            if not base < first <= self.last_index() + 1:
                raise ValueError(
                    f"entries start at {first}, the log holds {base + 1}..{self.last_index()}"
                )
            del self._entries[first - base - 1 :]
            self._entries.extend(entries)
        if hard_state is not None:
            self._hard_state = hard_state

    def lose_tail(self, last: int) -> None:
        """A power loss with ``fsync: os``: the entries after ``last`` were never fsynced (nor
        a commit index past it); term and vote are fsynced whatever the setting."""
        if last < self._marker.index:
            raise ValueError(f"the log starts after {self._marker.index}: cannot end at {last}")
        del self._entries[last - self._marker.index :]
        hard_state = self._hard_state
        self._hard_state = HardState(hard_state.term, hard_state.vote, min(hard_state.commit, last))

    def compact(self, snapshot: Snapshot) -> None:
        """Drop the entries up to ``snapshot.index``, which becomes the marker."""
        check_compaction(self, snapshot)
        del self._entries[: snapshot.index - self._marker.index]
        self._marker = snapshot
