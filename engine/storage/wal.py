"""WAL checkpoints off the event loop.

SQLite copies a WAL back into its database (a *checkpoint*) by itself every 1,000 pages, inside
the commit that crosses the line.  On a node that commit runs on the event loop, and a checkpoint
copies 4 MB and fsyncs twice: about once a second at 200 appends/s, a save of the log took
5-6.5 ms at the median and up to 16 ms instead of 0.5 ms, while the loop waited
(``bench/wal_checkpoints.py``).  The stores' commits did the same.

So every connection that writes on the loop turns the automatic checkpoint off
(:func:`no_autocheckpoint`), and a worker thread checkpoints instead, with a connection of its
own: the log's through :class:`WalCheckpoints` at most every ``interval`` seconds while it is
written, the stores' at each durable point (engine/storage/durability.py).  A PASSIVE checkpoint
never waits for the writer, and the writer never waits for it; once the checkpoint has copied
every frame, the writer's next commit starts the WAL over from its beginning.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

CHECKPOINT_INTERVAL = 1.0  # seconds between checkpoints of a database being written


def no_autocheckpoint(db: sqlite3.Connection) -> None:
    """Leave the checkpoints of ``db``'s WAL to a worker thread (:func:`checkpoint`)."""
    db.execute("PRAGMA wal_autocheckpoint=0")


def checkpoint(db_path: Path, synchronous: str) -> None:
    """Copy the WAL of ``db_path`` into the database, without blocking its writer.

    ``synchronous`` is the database's level: at NORMAL or FULL SQLite fsyncs the WAL before
    copying and the database after.  A database removed meanwhile needs nothing.
    """
    try:
        db = sqlite3.connect(f"{db_path.absolute().as_uri()}?mode=rw", uri=True)
    except sqlite3.OperationalError:
        return  # removed: its store was deleted
    try:
        db.execute(f"PRAGMA synchronous={synchronous}")
        db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    finally:
        db.close()


class WalCheckpoints:
    """Checkpoints one database from a worker thread while it is being written."""

    def __init__(
        self,
        db_path: Path,
        synchronous: str,
        *,
        interval: float = CHECKPOINT_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._path = db_path
        self._synchronous = synchronous
        self._interval = interval
        self._clock = clock
        self._last = clock()
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="wal-checkpoint")
        self._pending: Future[None] | None = None
        self.count = 0  # checkpoints started

    def written(self) -> None:
        """Note a commit; start a checkpoint if the last one is done and ``interval`` has passed.

        Raises the error of the previous checkpoint, if it failed (an fsync that fails must
        stop the node, as for durable points).
        """
        if self._pending is not None:
            if not self._pending.done():
                return
            self._pending.result()
            self._pending = None
        now = self._clock()
        if now - self._last < self._interval:
            return
        self._last = now
        self.count += 1
        self._pending = self._worker.submit(checkpoint, self._path, self._synchronous)

    def close(self) -> None:
        """Wait for the checkpoint in progress, if any, and stop the worker."""
        try:
            if self._pending is not None:
                self._pending.result()
        finally:
            self._worker.shutdown(wait=True)
