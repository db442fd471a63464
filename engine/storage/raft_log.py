"""``SqliteLogStorage``: a node's replicated log and hard state in ``<node_dir>/raft.db``.

Tables: ``log(idx, term, data)`` and ``hard_state(term, vote, commit_idx)`` (one row).

Everything runs on the node's event-loop thread, except WAL checkpoints (engine/storage/wal.py).
The terms of all entries and the most recent entries live in memory, so only ``save`` (one
transaction, one fsync) and the rare read of old entries (a follower far behind) touch the disk.
``save`` updates the in-memory view after its transaction committed, so the view never describes
a log that is not on disk.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from engine.config_model import FsyncMode
from engine.replication.messages import Entry, HardState
from engine.storage.wal import CHECKPOINT_INTERVAL, WalCheckpoints, no_autocheckpoint

CACHE_MAX_ENTRIES = 4096
CACHE_MAX_BYTES = 32 * 1024 * 1024

_SCHEMA = """
CREATE TABLE IF NOT EXISTS log (idx INTEGER PRIMARY KEY, term INTEGER NOT NULL, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS hard_state (
    id INTEGER PRIMARY KEY CHECK (id = 0),
    term INTEGER NOT NULL,
    vote TEXT,
    commit_idx INTEGER NOT NULL
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
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={synchronous_pragma(fsync)}")
        no_autocheckpoint(self._db)
        self._checkpoints = WalCheckpoints(
            path, self._db, synchronous_pragma(fsync), interval=checkpoint_interval
        )
        self._db.executescript(_SCHEMA)
        row = self._db.execute("SELECT term, vote, commit_idx FROM hard_state").fetchone()
        self._hard_state = HardState(*row) if row else HardState()
        # _terms[i] is the term of entry i; _terms[0] = 0 stands for the empty prefix.
        self._terms = [0]
        for idx, term in self._db.execute("SELECT idx, term FROM log ORDER BY idx"):
            if idx != len(self._terms):
                raise RuntimeError(f"{path}: log has a gap before index {idx}")
            self._terms.append(term)
        # The newest entries, contiguous: _cache[k] is entry _cache_lo + k.
        self._cache: list[Entry] = []
        self._cache_bytes = 0
        self._cache_lo = len(self._terms)
        rows = self._db.execute(
            "SELECT idx, term, data FROM log ORDER BY idx DESC LIMIT ?", (cache_max_entries,)
        ).fetchall()
        self._extend_cache([Entry(i, t, bytes(d)) for i, t, d in reversed(rows)])

    def initial_state(self) -> HardState:
        """The hard state last saved (term, vote, commit)."""
        return self._hard_state

    def last_index(self) -> int:
        """Index of the last stored entry; 0 for an empty log."""
        return len(self._terms) - 1

    def term(self, index: int) -> int:
        """Term of the entry at ``index``; 0 for index 0. Raises IndexError past the end."""
        if index < 0 or index >= len(self._terms):
            raise IndexError(f"no log entry at index {index}")
        return self._terms[index]

    def entries(self, lo: int, hi: int, max_count: int | None = None) -> list[Entry]:
        """Stored entries with ``lo <= index < hi``, at most ``max_count`` of them."""
        lo = max(lo, 1)
        hi = min(hi, len(self._terms))
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

    def save(self, hard_state: HardState | None, entries: list[Entry]) -> None:
        """Durably store ``hard_state`` and ``entries`` in one transaction (one fsync).

        The log is replaced from ``entries[0].index`` on; entries must be contiguous and must not
        leave a gap after the current last index.
        """
        if hard_state is None and not entries:
            return
        if entries:
            first = entries[0].index
            if first < 1 or first > self.last_index() + 1:
                raise ValueError(f"entries start at {first}, after a gap or before index 1")
            for k, entry in enumerate(entries):
                if entry.index != first + k:
                    raise ValueError(f"entries are not contiguous at index {entry.index}")
        self._db.execute("BEGIN IMMEDIATE")
        try:
            if hard_state is not None:
                self._db.execute(
                    "INSERT OR REPLACE INTO hard_state (id, term, vote, commit_idx)"
                    " VALUES (0, ?, ?, ?)",
                    (hard_state.term, hard_state.vote, hard_state.commit),
                )
            if entries:
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
        if hard_state is not None:
            self._hard_state = hard_state
        if entries:
            self._replace_suffix(entries)
        self._checkpoints.written()

    def close(self) -> None:
        """Finish the checkpoint in progress, then close the database."""
        try:
            self._checkpoints.close()
        finally:
            self._db.close()

    def _replace_suffix(self, entries: list[Entry]) -> None:
        first = entries[0].index
        del self._terms[first:]
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
            self._cache_lo = entries[0].index if entries else len(self._terms)
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
