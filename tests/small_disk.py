"""A small disk for tests of a full one: a tmpfs mounted for the test (root in a container)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

MB = 1024 * 1024


@contextmanager
def small_disk(directory: Path, size: int, *, read_only: bool = False) -> Iterator[Path]:
    """A tmpfs of ``size`` bytes mounted at ``directory`` (created), unmounted afterwards;
    ``read_only`` for a directory even root cannot write to (root ignores file modes)."""
    directory.mkdir(parents=True)
    options = f"ro,size={size}" if read_only else f"size={size}"
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(directory)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield directory
    finally:
        subprocess.run(["umount", "-l", str(directory)], check=True)


def resize(directory: Path, size: int) -> None:
    """Grow (or shrink) the tmpfs at ``directory``: space freed, or taken, at once."""
    subprocess.run(
        ["mount", "-o", f"remount,size={size}", str(directory)], check=True, capture_output=True
    )


def fill(directory: Path, leave: int) -> Path:
    """A filler file that leaves about ``leave`` bytes free on ``directory``'s file system."""
    stats = os.statvfs(directory)
    size = stats.f_bavail * stats.f_frsize - leave
    filler = directory / "filler"
    with open(filler, "wb") as out:
        chunk = b"\0" * MB
        while size > 0:
            size -= out.write(chunk[: min(size, MB)])
    return filler
