"""Free space under a node's data directory, checked before the node takes more entries.

A node that runs its disk full fails in the middle of a write (SQLite's ``database or disk is
full``) and must stop.  Stopping earlier, while ``storage.minFreeBytes`` are still free, leaves
room for what is already under way (the entries it holds but has not applied, a checkpoint, the
hard state) and lets it resume by itself once space is back (docs/ENGINE.md, "A full disk").

The check is pure apart from ``statvfs``, which is injected; one ``statvfs`` costs a few
microseconds, and :class:`FreeSpace` asks at most once per ``interval``.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

CHECK_INTERVAL = 0.2  # seconds between two statvfs calls at most
MB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class DiskSpace:
    """One look at the free space of the file system holding ``path``."""

    path: Path
    free_bytes: int
    min_free_bytes: int

    @property
    def full(self) -> bool:
        """Below ``storage.minFreeBytes``: take no more entries."""
        return self.free_bytes < self.min_free_bytes

    def describe(self) -> str:
        """E.g. ``disk full (data/node2: 12 MB free)``."""
        return f"disk full ({self.path}: {_mb(self.free_bytes)} free)"


def _mb(size: int) -> str:
    return f"{size / MB:.0f} MB" if size >= MB else f"{size // 1024} KB"


def out_of_space(exc: BaseException | None) -> bool:
    """Whether ``exc``, or an error it was raised from, is a write that found no space."""
    while exc is not None:
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
            return True
        if isinstance(exc, sqlite3.Error) and (
            getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
            or "database or disk is full" in str(exc)
        ):
            return True
        exc = exc.__cause__
    return False


class FreeSpace:
    """The free space under ``path``, looked up at most every ``interval`` seconds."""

    def __init__(
        self,
        path: Path,
        min_free_bytes: int,
        *,
        statvfs: Callable[[Path], os.statvfs_result] = os.statvfs,
        clock: Callable[[], float] = time.monotonic,
        interval: float = CHECK_INTERVAL,
    ) -> None:
        self._path = path
        self._min_free = min_free_bytes
        self._statvfs = statvfs
        self._clock = clock
        self._interval = interval
        self._checked_at: float | None = None
        self._last: DiskSpace | None = None

    def check(self, *, fresh: bool = False) -> DiskSpace:
        """The space now, or as seen less than ``interval`` ago (unless ``fresh``).  Raises
        ``OSError`` from ``statvfs`` (the directory is gone, the file system unmounted)."""
        now = self._clock()
        last, checked_at = self._last, self._checked_at
        recent = checked_at is not None and now - checked_at < self._interval
        if last is not None and recent and not fresh:
            return last
        stats = self._statvfs(self._path)
        # f_bavail: what an unprivileged writer may still use (root's reserve excluded).
        free = stats.f_bavail * stats.f_frsize
        self._last = DiskSpace(self._path, free, self._min_free)
        self._checked_at = now
        return self._last
