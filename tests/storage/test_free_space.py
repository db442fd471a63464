"""The free-space check, with an injected statvfs and clock."""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

import pytest

from engine.storage.free_space import MB, DiskSpace, FreeSpace, out_of_space


class _Disk:
    """A file system whose free space the test sets; counts the statvfs calls."""

    def __init__(self, free: int, block: int = 4096) -> None:
        self.free = free
        self.block = block
        self.calls = 0

    def statvfs(self, path: Path) -> os.statvfs_result:
        self.calls += 1
        blocks = self.free // self.block
        # (bsize, frsize, blocks, bfree, bavail, files, ffree, favail, flag, namemax)
        return os.statvfs_result(
            (self.block, self.block, 10**6, blocks + 50, blocks, 0, 0, 0, 0, 255)
        )


def test_below_the_minimum_is_full_and_says_how_much_is_free() -> None:
    disk = _Disk(12 * MB)
    space = FreeSpace(Path("data/node2"), 64 * MB, statvfs=disk.statvfs).check()
    assert space == DiskSpace(Path("data/node2"), 12 * MB, 64 * MB)
    assert space.full
    assert space.describe() == "disk full (data/node2: 12 MB free)"
    assert DiskSpace(Path("d"), 300 * 1024, MB).describe() == "disk full (d: 300 KB free)"


def test_at_or_above_the_minimum_is_not_full_and_zero_never_is() -> None:
    assert not FreeSpace(Path("d"), 64 * MB, statvfs=_Disk(64 * MB).statvfs).check().full
    assert not FreeSpace(Path("d"), 0, statvfs=_Disk(0).statvfs).check().full


def test_counts_only_the_blocks_an_unprivileged_writer_may_use() -> None:
    disk = _Disk(10 * 4096)  # bfree is 50 blocks more: root's reserve
    assert FreeSpace(Path("d"), 0, statvfs=disk.statvfs).check().free_bytes == 10 * 4096


def test_asks_the_file_system_at_most_once_per_interval() -> None:
    disk = _Disk(100 * MB)
    now = [0.0]
    free = FreeSpace(Path("d"), 64 * MB, statvfs=disk.statvfs, clock=lambda: now[0], interval=0.2)
    assert not free.check().full
    disk.free = 10 * MB
    now[0] = 0.19
    assert not free.check().full and disk.calls == 1  # the last look stands
    now[0] = 0.2
    assert free.check().full and disk.calls == 2
    disk.free = 65 * MB
    assert not free.check(fresh=True).full and disk.calls == 3  # asked at once
    disk.free = 70 * MB
    now[0] = 0.5
    assert not free.check().full and disk.calls == 4


def test_a_failing_statvfs_raises() -> None:
    def gone(path: Path) -> os.statvfs_result:
        raise FileNotFoundError(2, "No such file or directory", str(path))

    with pytest.raises(FileNotFoundError):
        FreeSpace(Path("d"), MB, statvfs=gone).check()


def test_the_real_statvfs_of_a_directory(tmp_path: Path) -> None:
    space = FreeSpace(tmp_path, 0).check()
    stats = os.statvfs(tmp_path)
    assert space.free_bytes > 0 and space.free_bytes <= stats.f_blocks * stats.f_frsize


def test_out_of_space_knows_enospc_and_sqlite_full_even_as_a_cause() -> None:
    enospc = OSError(errno.ENOSPC, "No space left on device")
    full = sqlite3.OperationalError("database or disk is full")
    assert out_of_space(enospc) and out_of_space(full)
    wrapped = RuntimeError("entries 5..9 cannot be applied")
    wrapped.__cause__ = full
    assert out_of_space(wrapped)
    assert not out_of_space(OSError(errno.EIO, "Input/output error"))
    assert not out_of_space(sqlite3.OperationalError("database is locked"))
    assert not out_of_space(None)
