"""``MemoryLogStorage``: an in-memory :class:`~engine.replication.log_storage.LogStorage`.

It backs the deterministic simulation tests, where "durable" means "survives dropping the
``RaftNode``": a simulated crash keeps the storage object and loses everything else.
"""

from __future__ import annotations

from engine.replication.messages import Entry, HardState


class MemoryLogStorage:
    """A log and hard state held in a Python list; entry ``i`` sits at position ``i - 1``."""

    __slots__ = ("_entries", "_hard_state")

    def __init__(self) -> None:
        self._entries: list[Entry] = []
        self._hard_state = HardState()

    def initial_state(self) -> HardState:
        """The hard state last saved."""
        return self._hard_state

    def last_index(self) -> int:
        """Index of the last stored entry; 0 for an empty log."""
        return len(self._entries)

    def term(self, index: int) -> int:
        """Term of the entry at ``index``; 0 for index 0. Raises IndexError outside the log."""
        if index == 0:
            return 0
        if index < 0:
            raise IndexError(index)
        return self._entries[index - 1].term

    def entries(self, lo: int, hi: int, max_count: int | None = None) -> list[Entry]:
        """Stored entries with ``lo <= index < hi``, at most ``max_count`` of them."""
        if max_count is not None:
            hi = min(hi, lo + max_count)
        return self._entries[max(lo, 1) - 1 : max(hi, 1) - 1]

    def save(self, hard_state: HardState | None, entries: list[Entry]) -> None:
        """Store ``hard_state`` and ``entries``, replacing the log from ``entries[0].index`` on."""
        if entries:
            first = entries[0].index
            if not 1 <= first <= len(self._entries) + 1:
                raise ValueError(f"entries start at {first}, the log ends at {len(self._entries)}")
            del self._entries[first - 1 :]
            self._entries.extend(entries)
        if hard_state is not None:
            self._hard_state = hard_state
