"""``SqliteLogStorage``: a node's replicated log and hard state in ``<node_dir>/raft.db``.

Tables: ``log(idx, term, data)``, ``hard_state(term, vote, commit_idx)`` (one row) and
``snapshot(idx, term, voters)`` (at most one row): the marker a compacted log starts after, the
last entry compaction (or a leader's snapshot) replaced.  Compacting deletes the entries up to
the marker and writes it in one transaction, so a crash leaves either the old log or the new
one; SQLite reuses the freed pages, so the file stops growing once compaction keeps pace.  The
database is in ``auto_vacuum=INCREMENTAL`` mode, and when more than half of the file is free
pages (after a log grew while compaction waited, or the first compaction of a log that was never
compacted) compaction hands some back to the file system, so the file also shrinks.

Everything runs on the node's event-loop thread, except WAL checkpoints (engine/storage/wal.py).
The terms of all entries and the most recent entries live in memory, so only ``save`` (one
transaction, one fsync) and the rare read of old entries (a follower far behind) touch the disk.
``save`` updates the in-memory view after its transaction committed, so the view never describes
a log that is not on disk.

A new term or vote is fsynced whatever ``storage.fsync`` says: with ``os`` a power loss may cost
the end of the log, never a vote (a node that forgot its vote could vote twice in one term, and
elect two leaders).  That is one fsync per term or vote, not per write.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from engine.config_model import FsyncMode
from engine.replication import membership
from engine.replication.log_storage import check_compaction
from engine.replication.messages import Entry, HardState, Snapshot
from engine.storage.wal import CHECKPOINT_INTERVAL, WalCheckpoints, no_autocheckpoint

CACHE_MAX_ENTRIES = 4096
CACHE_MAX_BYTES = 32 * 1024 * 1024
# Free pages handed back per compaction at most (4 KiB pages: 4 MiB, about 0.1 s on a loaded
# machine), so that one step never holds the event loop long; the next compactions do the rest.
RECLAIM_MAX_PAGES = 1024

_SCHEMA = """
CREATE TABLE IF NOT EXISTS log (idx INTEGER PRIMARY KEY, term INTEGER NOT NULL, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS hard_state (
    id INTEGER PRIMARY KEY CHECK (id = 0),
    term INTEGER NOT NULL,
    vote TEXT,
    commit_idx INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS snapshot (
    id INTEGER PRIMARY KEY CHECK (id = 0),
    idx INTEGER NOT NULL,
    term INTEGER NOT NULL,
    voters TEXT NOT NULL
);
"""


def synchronous_pragma(fsync: FsyncMode) -> str:
    """The SQLite ``synchronous`` level for a ``storage.fsync`` setting."""
    return "FULL" if fsync == "always" else "NORMAL"


class SqliteLogStorage:
    """The ``LogStorage`` of a real node (see :mod:`engine.replication.log_storage`)."""

    def __init__(
        self,
        path: Path,
        fsync: FsyncMode,
        *,
        cache_max_entries: int = CACHE_MAX_ENTRIES,
        cache_max_bytes: int = CACHE_MAX_BYTES,
        checkpoint_interval: float = CHECKPOINT_INTERVAL,
    ) -> None:
        """Open (or create) the log at ``path``; the cache keeps the newest entries in RAM."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self._cache_max_entries = cache_max_entries
        self._cache_max_bytes = cache_max_bytes
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        # Takes effect on a new database (before its first table); an older one is converted
        # below, once it is mostly free pages, so that the conversion copies little.
        self._db.execute("PRAGMA auto_vacuum=INCREMENTAL")
        self._db.execute("PRAGMA journal_mode=WAL")
        self._synchronous = synchronous_pragma(fsync)
        self._db.execute(f"PRAGMA synchronous={self._synchronous}")
        no_autocheckpoint(self._db)
        self._checkpoints = WalCheckpoints(
            path, self._db, synchronous_pragma(fsync), interval=checkpoint_interval
        )
        self._db.executescript(_SCHEMA)
        if self._pragma("auto_vacuum") != 2 and self._mostly_free():
            self._db.execute("VACUUM")  # rewrites the database with auto_vacuum=INCREMENTAL
        row = self._db.execute("SELECT term, vote, commit_idx FROM hard_state").fetchone()
        self._hard_state = HardState(*row) if row else HardState()
        row = self._db.execute("SELECT idx, term, voters FROM snapshot").fetchone()
        self._marker = (
            Snapshot.of(row[0], row[1], membership.from_json(json.loads(row[2])))
            if row
            else Snapshot()
        )
        # _terms[k] is the term of entry marker.index + k; _terms[0] is the marker's (0 for the
        # empty prefix of a log never compacted).
        self._terms = [self._marker.term]
        for idx, term in self._db.execute("SELECT idx, term FROM log ORDER BY idx"):
            if idx != self.last_index() + 1:
                raise RuntimeError(f"{path}: log has a gap before index {idx}")
            self._terms.append(term)
        # The newest entries, contiguous: _cache[k] is entry _cache_lo + k.
        self._cache: list[Entry] = []
        self._cache_bytes = 0
        self._cache_lo = self.last_index() + 1
        rows = self._db.execute(
            "SELECT idx, term, data FROM log ORDER BY idx DESC LIMIT ?", (cache_max_entries,)
        ).fetchall()
        self._extend_cache([Entry(i, t, bytes(d)) for i, t, d in reversed(rows)])

    def initial_state(self) -> HardState:
        """The hard state last saved (term, vote, commit)."""
        return self._hard_state

    def snapshot(self) -> Snapshot:
        """The marker the log starts after (``Snapshot()`` if it was never compacted)."""
        return self._marker

    def last_index(self) -> int:
        """Index of the last stored entry; the marker's index for a log without entries."""
        return self._marker.index + len(self._terms) - 1

    def term(self, index: int) -> int:
        """Term of the entry at ``index`` (the marker's at its index, 0 for index 0).

        Raises IndexError past the end and below the marker (compacted).
        """
        base = self._marker.index
        if index < base or index > self.last_index():
            raise IndexError(f"no log entry at index {index} (the log holds {base}..)")
        return self._terms[index - base]

    def entries(self, lo: int, hi: int, max_count: int | None = None) -> list[Entry]:
        """Stored entries with ``lo <= index < hi``, at most ``max_count`` of them."""
        base = self._marker.index
        if lo <= base and base:
            raise IndexError(f"entries from {lo} are compacted (the log starts after {base})")
        lo = max(lo, base + 1)
        hi = min(hi, self.last_index() + 1)
        if max_count is not None:
            hi = min(hi, lo + max_count)
        if lo >= hi:
            return []
        if lo >= self._cache_lo:
            return self._cache[lo - self._cache_lo : hi - self._cache_lo]
        rows = self._db.execute(
            "SELECT idx, term, data FROM log WHERE idx >= ? AND idx < ? ORDER BY idx", (lo, hi)
        ).fetchall()
        return [Entry(i, t, bytes(d)) for i, t, d in rows]

    def save(
        self,
        hard_state: HardState | None,
        entries: list[Entry],
        snapshot: Snapshot | None = None,
    ) -> None:
        """Durably store ``hard_state`` and ``entries`` in one transaction (one fsync).

        The log is replaced from ``entries[0].index`` on; entries must be contiguous and must not
        leave a gap after the current last index.  With ``snapshot`` the whole log is first
        replaced by that marker, and ``entries`` must follow it.
        """
        if hard_state is None and not entries and snapshot is None:
            return
        base, last = self._marker.index, self.last_index()
        if snapshot is not None:
            base = last = snapshot.index
        if entries:
            first = entries[0].index
            if first <= base or first > last + 1:
                raise ValueError(
                    f"entries start at {first}, after a gap or before the log's start ({base + 1})"
                )
            for k, entry in enumerate(entries):
                if entry.index != first + k:
                    raise ValueError(f"entries are not contiguous at index {entry.index}")
        new_vote = hard_state is not None and (hard_state.term, hard_state.vote) != (
            self._hard_state.term,
            self._hard_state.vote,
        )
        durable = new_vote and self._synchronous != "FULL"
        if durable:
            self._db.execute("PRAGMA synchronous=FULL")  # this commit fsyncs the WAL
        self._db.execute("BEGIN IMMEDIATE")
        try:
            if hard_state is not None:
                self._db.execute(
                    "INSERT OR REPLACE INTO hard_state (id, term, vote, commit_idx)"
                    " VALUES (0, ?, ?, ?)",
                    (hard_state.term, hard_state.vote, hard_state.commit),
                )
            if snapshot is not None:
                self._db.execute("DELETE FROM log")
                self._write_marker(snapshot)
            if entries:
                if entries[0].index <= last:  # a conflicting suffix goes first
                    self._db.execute("DELETE FROM log WHERE idx >= ?", (entries[0].index,))
                self._db.executemany(
                    "INSERT INTO log (idx, term, data) VALUES (?, ?, ?)",
                    [(e.index, e.term, e.data) for e in entries],
                )
            self._db.execute("COMMIT")
        except BaseException:
            # SQLite rolls back by itself after some errors (a full disk): a ROLLBACK then
            # fails with "no transaction is active" and would hide the real error.
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise
        finally:
            if durable:
                self._db.execute(f"PRAGMA synchronous={self._synchronous}")
        if hard_state is not None:
            self._hard_state = hard_state
        if snapshot is not None:
            self._marker = snapshot
            self._terms = [snapshot.term]
            self._cache.clear()
            self._cache_bytes = 0
            self._cache_lo = snapshot.index + 1
        if entries:
            self._replace_suffix(entries)
        self._checkpoints.written()

    def compact(self, snapshot: Snapshot) -> None:
        """Durably drop the entries up to ``snapshot.index``, which becomes the marker."""
        check_compaction(self, snapshot)
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.execute("DELETE FROM log WHERE idx <= ?", (snapshot.index,))
            self._write_marker(snapshot)
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:  # not after SQLite's own rollback (see save)
                self._db.execute("ROLLBACK")
            raise
        del self._terms[: snapshot.index - self._marker.index]
        self._marker = snapshot
        if self._cache_lo <= snapshot.index:
            dropped = self._cache[: snapshot.index + 1 - self._cache_lo]
            self._cache_bytes -= sum(len(e.data) for e in dropped)
            del self._cache[: len(dropped)]
            self._cache_lo = snapshot.index + 1
        self._reclaim()
        self._checkpoints.written()

    def _pragma(self, name: str) -> int:
        return int(self._db.execute(f"PRAGMA {name}").fetchone()[0])

    def _mostly_free(self) -> bool:
        return self._pragma("freelist_count") * 2 > self._pragma("page_count")

    def _reclaim(self) -> None:
        """Hand free pages back to the file system once they are most of the file.

        Pages freed by a compaction are refilled by the next entries, so under a steady load
        (about a third of the file free after each compaction) nothing is done; the file keeps
        half of its used size as free pages for that.
        """
        if self._pragma("auto_vacuum") != 2 or not self._mostly_free():
            return
        free, total = self._pragma("freelist_count"), self._pragma("page_count")
        surplus = free - (total - free) // 2
        # executescript steps the pragma to its end; execute would free a single page.
        self._db.executescript(f"PRAGMA incremental_vacuum({min(surplus, RECLAIM_MAX_PAGES)})")

    def _write_marker(self, snapshot: Snapshot) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO snapshot (id, idx, term, voters) VALUES (0, ?, ?, ?)",
            (snapshot.index, snapshot.term, json.dumps(membership.to_json(snapshot.membership))),
        )

    def close(self) -> None:
        """Finish the checkpoint in progress, then close the database."""
        try:
            self._checkpoints.close()
        finally:
            self._db.close()

    def _replace_suffix(self, entries: list[Entry]) -> None:
        first = entries[0].index
        del self._terms[first - self._marker.index :]
        self._terms.extend(e.term for e in entries)
        if first < self._cache_lo:
            # The cache's contiguity would break: restart it from the new entries.
            self._cache.clear()
            self._cache_bytes = 0
            self._cache_lo = first
        else:
            dropped = self._cache[first - self._cache_lo :]
            self._cache_bytes -= sum(len(e.data) for e in dropped)
            del self._cache[first - self._cache_lo :]
        self._extend_cache(entries)

    def _extend_cache(self, entries: list[Entry]) -> None:
        if not self._cache:
            self._cache_lo = entries[0].index if entries else self.last_index() + 1
        self._cache.extend(entries)
        self._cache_bytes += sum(len(e.data) for e in entries)
        excess = 0
        budget = self._cache_bytes
        while len(self._cache) - excess > 1 and (
            len(self._cache) - excess > self._cache_max_entries or budget > self._cache_max_bytes
        ):
            budget -= len(self._cache[excess].data)
            excess += 1
        if excess:
            del self._cache[:excess]
            self._cache_bytes = budget
            self._cache_lo += excess
