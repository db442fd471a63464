"""A directory that loses every write not fsynced when a test cuts the power (tests/powercut/fs.py).

``with power_cut_fs(tmp_path) as fs:`` mounts the layer at ``fs.mount`` (its files live in
``tmp_path/backing``); ``fs.cut()``, once every process writing there is dead, drops what was
not fsynced and mounts the layer again, so nothing the kernel cached survives either.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

MOUNT_TIMEOUT = 10.0


@dataclass
class PowerCutFS:
    root: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def mount(self) -> Path:
        return self.root / "mnt"

    @property
    def backing(self) -> Path:
        return self.root / "backing"

    @property
    def _control(self) -> Path:
        return self.root / "control.sock"

    def start(self) -> None:
        self.mount.mkdir(parents=True, exist_ok=True)
        self.backing.mkdir(parents=True, exist_ok=True)
        self._control.unlink(missing_ok=True)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.powercut.fs",
                str(self.backing),
                str(self.mount),
                str(self._control),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + MOUNT_TIMEOUT
        while not (os.path.ismount(self.mount) and self._control.exists()):
            if self.process.poll() is not None:
                error = self.process.stderr.read().decode() if self.process.stderr else ""
                raise RuntimeError(f"the power-cut file system did not mount: {error.strip()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.mount} not mounted within {MOUNT_TIMEOUT} s")
            time.sleep(0.02)

    def cut(self) -> dict[str, Any]:
        """Drop every unsynced write (the writers must be dead), then mount afresh."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.connect(str(self._control))
            conn.sendall(b"cut\n")
            report: dict[str, Any] = json.loads(conn.makefile("r").readline())
        self.stop()
        self.start()
        return report

    def stop(self) -> None:
        if self.process is None:
            return
        subprocess.run(["umount", str(self.mount)], check=False, capture_output=True)
        try:
            self.process.wait(timeout=MOUNT_TIMEOUT)
        except subprocess.TimeoutExpired:
            subprocess.run(["umount", "-l", str(self.mount)], check=False, capture_output=True)
            self.process.kill()
            self.process.wait()
        if self.process.stderr is not None:
            self.process.stderr.close()
        self.process = None


@contextmanager
def power_cut_fs(root: Path) -> Iterator[PowerCutFS]:
    """The layer mounted under ``root`` for the test, unmounted afterwards."""
    if not os.path.exists("/dev/fuse") or os.geteuid() != 0:
        pytest.skip("the power-cut file system needs /dev/fuse and root")
    fs = PowerCutFS(root)
    fs.start()
    try:
        yield fs
    finally:
        fs.stop()
