"""WAL checkpoints, with the copying off the event loop.

SQLite copies a WAL back into its database (a *checkpoint*) by itself every 1,000 pages, inside
the commit that crosses the line.  On a node that commit runs on the event loop, and a checkpoint
copies 4 MB and fsyncs twice: about once a second at 200 appends/s, a save of the log took
5-6.5 ms at the median and up to 16 ms instead of 0.5 ms, while the loop waited
(``bench/wal_checkpoints.py``).  The stores' commits did the same.

So every connection that writes on the loop turns the automatic checkpoint off
(:func:`no_autocheckpoint`), and a worker thread copies the WAL with a connection of its own and
PASSIVE checkpoints, which never block the writer: the log's through :class:`WalCheckpoints` at
most once a second while it is written, the stores' at each durable point
(engine/storage/durability.py).  But the WAL starts over from its beginning only if every frame
was copied when the writer begins its next commit, and a writer that commits while the worker
copies always leaves some behind: under steady writes the WAL grew without end (1.2 GB in 30 s at
12,000 events/s).  So once the worker is done, the loop itself checkpoints what was written
meanwhile (:func:`finish`), between two of its own commits: a few frames and the syncs.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

CHECKPOINT_INTERVAL = 1.0  # seconds between checkpoints of a database being written
# SQLite keeps a WAL file at the largest size it ever reached and reuses it; a burst between two
# checkpoints on a loaded machine left 20 MB per node for good.  Starting over truncates it here.
WAL_KEEP_BYTES = 4 * 1024 * 1024
# A pass copies the frames there were when it started; the writer may add more meanwhile, and
# the WAL starts over only once every frame is copied. Later passes copy just those, quickly.
MAX_PASSES = 3


def no_autocheckpoint(db: sqlite3.Connection) -> None:
    """Leave the checkpoints of ``db``'s WAL to a worker thread (:func:`checkpoint`)."""
    db.execute("PRAGMA wal_autocheckpoint=0")
    db.execute(f"PRAGMA journal_size_limit={WAL_KEEP_BYTES}")


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
        for _ in range(MAX_PASSES):
            _busy, frames, copied = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            if copied >= frames:
                break  # everything copied: the writer's next commit starts the WAL over
    finally:
        db.close()


def finish(writer: sqlite3.Connection) -> None:
    """On the writer's own connection, between its commits: copy the frames the worker's
    checkpoint left (those written meanwhile), so the next commit starts the WAL over."""
    writer.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()


class WalCheckpoints:
    """Checkpoints one database from a worker thread while it is being written."""

    def __init__(
        self,
        db_path: Path,
        writer: sqlite3.Connection,
        synchronous: str,
        *,
        interval: float = CHECKPOINT_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._path = db_path
        self._writer = writer
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
            finish(self._writer)
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
