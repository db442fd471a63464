"""A real ``gate-console --connect URL`` on a pseudo-terminal, as in a terminal window.

The benchmarks measure the console's own process: it is forked on a pty of a given size, its
screen is read as a terminal would read it (the last 64 kB kept, so a marker can be waited
for), keys are typed into it, and Ctrl+Q ends it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import select
import signal
import struct
import sys
import termios
import threading
import time
from pathlib import Path

from bench.lib.machine import process_cpu_seconds

_ROOT = Path(__file__).resolve().parents[2]
_KEEP = 1 << 16


class ConsoleOnPty:
    """One ``gate-console --connect url`` process on a ``columns`` x ``rows`` pty."""

    def __init__(self, url: str, columns: int, rows: int) -> None:
        pid, fd = pty.fork()
        if pid == 0:
            os.environ["TERM"] = "xterm-256color"
            path = os.environ.get("PYTHONPATH")
            os.environ["PYTHONPATH"] = f"{_ROOT}{os.pathsep}{path}" if path else str(_ROOT)
            argv = [sys.executable, "-m", "console.tui.main", "--connect", url]
            os.execv(sys.executable, argv)
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        self.pid, self.fd = pid, fd
        self.seen = bytearray()  # the newest screen output, for markers
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.fd], [], [], 0.05)
            if ready:
                try:
                    data = os.read(self.fd, _KEEP)
                except OSError:
                    return
                with self._lock:
                    self.seen.extend(data)
                    del self.seen[: max(0, len(self.seen) - _KEEP)]

    def forget(self) -> None:
        """Drop what was seen so far: the next wait looks at new output only."""
        with self._lock:
            self.seen.clear()

    def showed(self, marker: bytes) -> bool:
        with self._lock:
            return marker in self.seen

    def wait_for(self, marker: bytes, timeout: float) -> bool:
        """Whether ``marker`` arrived on the screen within ``timeout`` seconds (blocking)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.showed(marker):
                return True
            time.sleep(0.05)
        return False

    def press(self, keys: bytes) -> None:
        os.write(self.fd, keys)

    def cpu_seconds(self) -> float:
        return process_cpu_seconds(self.pid)

    def end(self) -> None:
        """Quit the console (Ctrl+Q), killed if it takes longer than 5 s (blocking)."""
        with contextlib.suppress(OSError):
            os.write(self.fd, b"\x11")
        for _ in range(50):
            if os.waitpid(self.pid, os.WNOHANG)[0]:
                break
            time.sleep(0.1)
        else:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        self._stop.set()
        self._reader.join()
        os.close(self.fd)
