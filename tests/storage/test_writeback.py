"""A store's commits start their way to the disk before the durable point fsyncs them."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from engine.storage import writeback
from engine.storage.writeback import EarlyWriteback
from tests.storage.test_event_store import Harness
from tests.storage.test_state_machine import FakeClock

# Elsewhere there is no early write-out to test: the stores leave all writing to the fsync.
linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"),
    reason="the early write-out uses Linux's sync_file_range and /proc/vmstat",
)
MB = 1 << 20


def _pages_written() -> int:
    """Pages the kernel has written back to disk since boot (all files)."""
    with open("/proc/vmstat") as stats:
        for line in stats:
            key, value = line.split()
            if key == "nr_written":
                return int(value)
    raise AssertionError("no nr_written in /proc/vmstat")


@linux_only
def test_dirty_pages_go_to_disk_without_an_fsync(tmp_path: Path) -> None:
    path = tmp_path / "store.db-wal"
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    try:
        # Blocks allocated and clean first: rewriting them later leaves nothing for the
        # filesystem's journal to force out, so only the early write-out can move them.
        os.pwrite(fd, bytes(16 * MB), 0)
        os.fsync(fd)
        before = _pages_written()
        os.pwrite(fd, os.urandom(16 * MB), 0)
        early = EarlyWriteback(path)
        early.written()
        deadline = time.monotonic() + 5.0
        while _pages_written() - before < 16 * MB // 4096 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _pages_written() - before >= 16 * MB // 4096
        assert early.calls == 1
        early.close()
    finally:
        os.close(fd)


def test_write_outs_are_started_at_most_once_an_interval(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x")
    clock = FakeClock()
    early = EarlyWriteback(path, interval=0.02, clock=clock)
    expected = 1 if writeback.available() else 0
    early.written()
    early.written()
    assert early.calls == expected
    clock.now = 0.019
    early.written()
    assert early.calls == expected
    clock.now = 0.02
    early.written()
    assert early.calls == 2 * expected
    early.close()
    early.close()  # twice is harmless


def test_a_missing_file_is_left_to_the_fsync(tmp_path: Path) -> None:
    clock = FakeClock()
    early = EarlyWriteback(tmp_path / "not-yet", interval=0.02, clock=clock)
    early.written()
    assert early.calls == 0
    (tmp_path / "not-yet").write_bytes(b"x")
    clock.now = 1.0
    early.written()
    assert early.calls == (1 if writeback.available() else 0)
    early.close()


@linux_only
def test_a_store_starts_writing_out_its_commits(tmp_path: Path) -> None:
    h = Harness(tmp_path / "s.db")
    assert h.store.writeback.calls == 0
    h.apply(h.append_cmd("a", "e1"))
    assert h.store.writeback.calls == 1
    h.store.close()
