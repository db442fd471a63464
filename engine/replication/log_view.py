"""``RaftLog``: one node's log as the core sees it (etcd's ``raftLog``, ``log.go``).

The stable log lives in :class:`~engine.replication.log_storage.LogStorage` (indexes below
``offset``); entries not yet persisted live in an in-memory unstable tail until the host has
stored them and called ``RaftNode.advance``.  The rules that only need the log live here too:
whether a leader's append matches (``matches``, ``find_conflict``), where a rejected leader
should retry (``reject_hint``), and whether a candidate's log is up to date (``is_up_to_date``).

A compacted log starts after a snapshot marker (``snapshot``: the index and term of the last
entry it replaced); ``first_index`` is the first entry still held.  A follower that restores a
leader's snapshot drops its whole log for that marker, handed to the host once
(``take_snapshot``, etcd's unstable snapshot) to be stored with the entries that follow it.
"""

from __future__ import annotations

from engine.replication.log_storage import LogStorage
from engine.replication.messages import Entry, Snapshot


class Compacted(IndexError):
    """An entry below the log's snapshot marker: it was compacted away."""


class RaftLog:
    """The stable log in storage (indexes below ``offset``) plus the unstable tail.

    Entries at or above ``offset`` come from ``unstable`` even if storage holds older versions of
    them (a truncation replaced them).  ``persist_from`` is the first unstable index not yet
    handed out for persistence (etcd's ``offsetInProgress``).
    """

    __slots__ = ("offset", "pending_snapshot", "persist_from", "snapshot", "storage", "unstable")

    def __init__(self, storage: LogStorage) -> None:
        self.storage = storage
        self.snapshot = storage.snapshot()
        self.offset = storage.last_index() + 1
        self.unstable: list[Entry] = []
        self.persist_from = self.offset
        self.pending_snapshot: Snapshot | None = None  # restored, not yet handed to the host

    @property
    def first_index(self) -> int:
        """The first index whose entry the log still holds (or will hold)."""
        return self.snapshot.index + 1

    @property
    def last_index(self) -> int:
        return self.offset + len(self.unstable) - 1

    @property
    def stable_index(self) -> int:
        return self.offset - 1

    def term(self, index: int) -> int:
        """Term of the entry at ``index`` (0 for index 0, the marker's at its index);
        IndexError past the end, :class:`Compacted` below the marker."""
        if index >= self.offset:
            return self.unstable[index - self.offset].term
        marker = self.snapshot
        if index <= marker.index:
            if index == marker.index:
                return marker.term
            if index == 0:
                return 0  # every log agrees on the empty prefix
            raise Compacted(f"entry {index} is compacted (the log starts after {marker.index})")
        return self.storage.term(index)

    def last_term(self) -> int:
        return self.term(self.last_index)

    def matches(self, index: int, term: int) -> bool:
        return index <= self.last_index and self.term(index) == term

    def is_up_to_date(self, last_term: int, last_index: int) -> bool:
        """Rule 2: a log ending at (``last_term``, ``last_index``) is at least as up to date."""
        our_term = self.last_term()
        return last_term > our_term or (last_term == our_term and last_index >= self.last_index)

    def slice(self, lo: int, hi: int, max_count: int | None = None) -> list[Entry]:
        """Entries with ``lo <= index < hi``, at most ``max_count`` of them."""
        if max_count is not None:
            hi = min(hi, lo + max_count)
        hi = min(hi, self.last_index + 1)
        if lo >= hi:
            return []
        if lo < self.first_index:
            raise Compacted(
                f"entries from {lo} are compacted (the log starts at {self.first_index})"
            )
        offset = self.offset
        if lo >= offset:
            return self.unstable[lo - offset : hi - offset]
        stored = self.storage.entries(lo, min(hi, offset))
        if hi <= offset:
            return stored
        return stored + self.unstable[: hi - offset]

    def find_conflict(self, entries: tuple[Entry, ...]) -> int:
        """Index of the first entry that is new or disagrees with the log; 0 if none."""
        last = self.last_index
        for entry in entries:
            if entry.index > last or self.term(entry.index) != entry.term:
                return entry.index
        return 0

    def append_new(self, entries: tuple[Entry, ...]) -> None:
        """Append a leader's ``entries`` (contiguous, matching up to the first one's previous
        index): those already held are kept, the log is replaced from the first conflict on."""
        if entries:
            conflict = self.find_conflict(entries)
            if conflict:
                self.append(entries[conflict - entries[0].index :])

    def reject_hint(self, prev: int, prev_term: int, commit: int) -> int:
        """The index a leader should retry as ``prev_index`` after a rejection at ``prev``.

        ``commit`` is this node's commit index: entries up to it match every leader's log.
        """
        if prev > self.last_index:
            return self.last_index
        # Our entry at prev has another term. Entries with a term above the leader's term at prev
        # cannot match, nor can the rest of our conflicting term's run: skip both in one go.
        conflict_term = self.term(prev)
        index = prev
        while index - 1 > commit:
            term = self.term(index - 1)
            if term != conflict_term and term <= prev_term:
                break
            index -= 1
        return index - 1

    def append(self, entries: list[Entry] | tuple[Entry, ...]) -> None:
        """Append contiguous ``entries``, replacing the log from ``entries[0].index`` on."""
        first = entries[0].index
        end = self.offset + len(self.unstable)
        if first == end:
            self.unstable.extend(entries)
        elif first > self.offset:
            del self.unstable[first - self.offset :]
            self.unstable.extend(entries)
            self.persist_from = min(self.persist_from, first)
        else:
            # Truncating below the stable prefix: storage still holds the old entries, but from
            # now on everything at or above `first` is read from the unstable tail.
            self.offset = first
            self.unstable = list(entries)
            self.persist_from = first

    def restore(self, snapshot: Snapshot) -> None:
        """Replace the whole log by a leader's ``snapshot`` (our entries disagree or are gone)."""
        self.snapshot = snapshot
        self.pending_snapshot = snapshot
        self.offset = self.persist_from = snapshot.index + 1
        self.unstable = []

    def take_snapshot(self) -> Snapshot | None:
        """The restored snapshot not yet handed out for persistence; marks it handed out."""
        snapshot, self.pending_snapshot = self.pending_snapshot, None
        return snapshot

    def compact(self, snapshot: Snapshot) -> None:
        """Forget the stable entries up to ``snapshot.index`` (the host drops them from storage)."""
        if not self.snapshot.index < snapshot.index <= self.stable_index:
            raise ValueError(
                f"cannot compact to {snapshot.index}: the stable log holds "
                f"{self.first_index}..{self.stable_index}"
            )
        self.snapshot = snapshot

    def take_unpersisted(self) -> list[Entry]:
        """The unstable entries not yet handed out for persistence; marks them handed out."""
        start = self.persist_from - self.offset
        if start >= len(self.unstable):
            return []
        self.persist_from = self.last_index + 1
        return self.unstable[start:]

    def has_unpersisted(self) -> bool:
        return self.persist_from <= self.last_index

    def stable_to(self, index: int, term: int) -> None:
        """Mark entries up to ``index`` stable if the tail still holds that entry.

        The tail may have been truncated and replaced since it was handed out: then the entry
        at ``index`` has another term (or is gone) and nothing is marked.
        """
        if index < self.offset or index >= self.persist_from or index > self.last_index:
            return
        if self.unstable[index - self.offset].term != term:
            return
        del self.unstable[: index + 1 - self.offset]
        self.offset = index + 1
