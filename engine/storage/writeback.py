"""Early write-out of a file that is fsynced only now and then (a store's WAL).

A store commits without an fsync, and a durable point fsyncs its WAL once a second
(engine/storage/durability.py).  By then a second of commits is dirty in the page cache, 4.5 MB at
200 single-event appends/s, and the fsync writes it all at once: 5 ms during which every node's
log fsync, on the same disk, waited 2-4 ms instead of 0.3.  So after its commits a store asks the
kernel to start writing the new pages out (Linux ``sync_file_range`` with
``SYNC_FILE_RANGE_WRITE``: it neither waits for the disk nor flushes its cache), and the durable
point's fsync finds little left to write.  Nothing here is needed for correctness: where the call
is missing (not Linux) or fails, the fsync does all the work as before.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

WRITEBACK_INTERVAL = 0.02  # seconds: at most 50 calls a second per file
_SYNC_FILE_RANGE_WRITE = 2  # <linux/fs.h>


def _load_sync_file_range() -> Callable[[int, int, int, int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        function = libc.sync_file_range
    except (OSError, AttributeError):
        return None
    function.argtypes = (ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint)
    function.restype = ctypes.c_int
    return function


_sync_file_range = _load_sync_file_range()


def available() -> bool:
    """Whether this platform can start a write-out early (Linux)."""
    return _sync_file_range is not None


class EarlyWriteback:
    """Starts the write-out of ``path``'s dirty pages after writes, at most every ``interval``."""

    def __init__(
        self,
        path: Path,
        *,
        interval: float = WRITEBACK_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._path = path
        self._interval = interval
        self._clock = clock
        self._fd: int | None = None
        self._last = float("-inf")
        self.calls = 0  # write-outs started

    def written(self) -> None:
        """Called after a write to the file: start writing out what is dirty, if it is time."""
        if _sync_file_range is None:
            return
        now = self._clock()
        if now - self._last < self._interval:
            return
        self._last = now
        if self._fd is None:
            try:
                self._fd = os.open(self._path, os.O_RDONLY)
            except OSError:
                return  # not there yet, or gone: the fsync will do it
        # Offset 0, length 0: the whole file; pages already clean or being written are skipped.
        if _sync_file_range(self._fd, 0, 0, _SYNC_FILE_RANGE_WRITE) == 0:
            self.calls += 1

    def close(self) -> None:
        """Release the file."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
