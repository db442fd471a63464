"""Durable points of a node's stores, taken in a background thread (``state.db``).

Store databases commit without an fsync (engine/storage/state_machine.py explains why), so after a
power loss a store may have lost its last commits.  ``state.db`` records the log index replay
starts from, and it must never run ahead of what the stores kept.  A durable point therefore
fsyncs the write-ahead log of every store written since the previous point (and the stores
directory after a store was created or deleted), and only then writes the index.

With ``fsync: os`` the log is not fsynced at each write either, and a store must never keep
through a power loss entries its node's log lost (the node could not tell them from entries a
new leader replaced): so a point fsyncs the log's WAL before it checkpoints the stores, and
``state.db`` commits with an fsync whatever the setting (one a second at most).  A store can
still get a few entries past the log (those applied while the point runs); the node finds them
at its next start (``StateMachine.held_index``) and starts over from the leader then.

The fsyncs and the index write run in one worker thread, so the event loop that applies entries
never waits for them; points are taken one at a time and in order.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from engine.config_model import FsyncMode
from engine.replication import membership
from engine.replication.messages import Snapshot
from engine.storage.wal import checkpoint


def fsync_path(path: Path) -> None:
    """fsync a file or directory; a file removed meanwhile needs nothing (its store is gone)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class DurablePoints:
    """Writes the replay index to ``state.db``, after making the stores' commits durable."""

    def __init__(self, path: Path, fsync: FsyncMode, *, log_wal: Path | None = None) -> None:
        """``log_wal``: the log's WAL file, fsynced first at each point with ``fsync: os``."""
        self._fsync = fsync
        self._log_wal = log_wal
        # Opened here, then used by the worker thread only (one at a time, never concurrently).
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value)")
        row = self._db.execute("SELECT value FROM meta WHERE key = 'applied_index'").fetchone()
        self.recorded: int = row[0] if row else 0  # the index last written (by the worker)
        row = self._db.execute("SELECT value FROM meta WHERE key = 'snapshot'").fetchone()
        # The last snapshot installed: a restart finishes its install in the log if need be.
        self.snapshot: Snapshot | None = None
        if row:
            index, term, members = json.loads(row[0])
            self.snapshot = Snapshot.of(index, term, membership.from_json(members))
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="durable-points")
        self._pending: Future[None] | None = None

    @property
    def busy(self) -> bool:
        """A point is still being taken."""
        return self._pending is not None and not self._pending.done()

    def take(
        self,
        index: int,
        files: Sequence[Path],
        *,
        directories: Sequence[Path] = (),
        checkpoints: Sequence[Path] = (),
        synchronous: str = "NORMAL",
    ) -> None:
        """Start a point: fsync ``files`` (with ``fsync: always``) and ``directories`` (their
        entries: stores created or removed), then record ``index``.

        Every commit up to ``index`` must already be written to those files.  The databases
        ``checkpoints`` (at level ``synchronous``) have their WAL checkpointed afterwards.
        Raises the error of the previous point, if it failed (a disk that fails an fsync must
        stop the node).
        """
        if self._pending is not None:
            self._pending.result()
        self._pending = self._worker.submit(
            self._take, index, tuple(files), tuple(directories), tuple(checkpoints), synchronous
        )

    def _take(
        self,
        index: int,
        files: tuple[Path, ...],
        directories: tuple[Path, ...],
        checkpoints: tuple[Path, ...],
        synchronous: str,
    ) -> None:
        if self._fsync == "always":
            for path in files:
                fsync_path(path)
        elif self._log_wal is not None:
            fsync_path(self._log_wal)
        for path in directories:
            fsync_path(path)
        for db_path in checkpoints:
            checkpoint(db_path, synchronous)
        self._db.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('applied_index', ?)", (index,)
        )
        self.recorded = index

    def record_snapshot(self, snapshot: Snapshot) -> None:
        """Record, durably and before returning, that the stores now hold ``snapshot``."""
        self.wait()
        self._worker.submit(self._record_snapshot, snapshot).result()

    def _record_snapshot(self, snapshot: Snapshot) -> None:
        meta = json.dumps([snapshot.index, snapshot.term, membership.to_json(snapshot.membership)])
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.executemany(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                (("applied_index", snapshot.index), ("snapshot", meta)),
            )
            self._db.execute("COMMIT")
        except BaseException:
            # SQLite rolls back by itself on a full disk: a second ROLLBACK would hide why.
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise
        self.recorded = snapshot.index
        self.snapshot = snapshot

    def wait(self) -> None:
        """Wait for the point being taken, if any (raises what it raised)."""
        if self._pending is not None:
            self._pending.result()

    def close(self) -> None:
        """Wait for the last point, stop the worker and close ``state.db``."""
        try:
            self.wait()
        finally:
            self._worker.shutdown(wait=True)
            self._db.close()
