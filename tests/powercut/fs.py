"""A FUSE file system that loses, when told to, every write not fsynced: a power cut.

It passes every operation through to a backing directory and remembers, per file, what was
written since that file's last fsync (``fsync`` and ``fdatasync`` alike): the size the file had
then, and the bytes each later write or truncation overwrote below that size.  A *cut* (a
``cut`` line on the control socket) puts every such file back as it was at its last fsync; a
file created since and neither fsynced nor made durable by an fsync of its directory vanishes.
What a power loss does to the page cache, as LazyFS does, with one simplification: unlinks,
renames and new directories are durable at once (a journaling file system commits them
in order), only the data of files and the names of files never synced are lost.

Run as ``python -m tests.powercut.fs BACKING MOUNTPOINT CONTROL_SOCKET`` (root, /dev/fuse);
``tests/powercut/__init__.py`` mounts it for a test and cuts.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fuse import FUSE, FuseOSError, Operations


@dataclass
class _Unsynced:
    """A file's changes since its last fsync."""

    synced_size: int | None  # None: created since, its name not durable yet
    undo: list[tuple[int, bytes]] = field(default_factory=list)  # (offset, bytes overwritten)


class PowerCutOps(Operations):  # type: ignore[misc]
    """Pass-through operations on ``backing`` that remember what a power cut would lose."""

    use_ns = True

    def __init__(self, backing: Path) -> None:
        self.backing = backing
        self._lock = threading.Lock()
        self._files: dict[str, _Unsynced] = {}  # by path inside the mount
        self.cuts = 0

    def _real(self, path: str) -> str:
        return os.path.join(self.backing, path.lstrip("/"))

    # -- what a cut loses ----------------------------------------------------------------------

    def _track(self, path: str) -> _Unsynced:
        state = self._files.get(path)
        if state is None:
            state = _Unsynced(os.stat(self._real(path)).st_size)
            self._files[path] = state
        return state

    def _overwrite(self, path: str, offset: int, end: int) -> None:
        """Remember the synced bytes in [offset, end) before they change."""
        state = self._track(path)
        if state.synced_size is None:
            return
        end = min(end, state.synced_size)
        if offset >= end:
            return
        fd = os.open(self._real(path), os.O_RDONLY)  # the writer's may be write-only
        try:
            state.undo.append((offset, os.pread(fd, end - offset, offset)))
        finally:
            os.close(fd)

    def cut(self) -> dict[str, Any]:
        """Put every file back as it was at its last fsync; forget the rest."""
        with self._lock:
            restored, vanished, lost = 0, [], 0
            for path, state in self._files.items():
                real = self._real(path)
                if state.synced_size is None:
                    if os.path.lexists(real):
                        lost += os.stat(real).st_size
                        os.unlink(real)
                        vanished.append(path)
                    continue
                try:
                    fd = os.open(real, os.O_WRONLY)
                except FileNotFoundError:
                    continue  # unlinked meanwhile: durable at once
                try:
                    lost += max(0, os.fstat(fd).st_size - state.synced_size)
                    for offset, data in reversed(state.undo):
                        os.pwrite(fd, data, offset)
                        lost += len(data)
                    os.ftruncate(fd, state.synced_size)
                finally:
                    os.close(fd)
                restored += 1
            self._files.clear()
            self.cuts += 1
            return {"restored": restored, "vanished": sorted(vanished), "lost_bytes": lost}

    # -- files ---------------------------------------------------------------------------------

    def getattr(self, path: str, fh: int | None = None) -> dict[str, Any]:
        st = os.lstat(self._real(path))
        keys = ("st_mode", "st_nlink", "st_uid", "st_gid", "st_size", "st_blocks")
        attrs: dict[str, Any] = {key: getattr(st, key) for key in keys}
        attrs.update(st_atime=st.st_atime_ns, st_mtime=st.st_mtime_ns, st_ctime=st.st_ctime_ns)
        return attrs

    def access(self, path: str, amode: int) -> int:
        if not os.access(self._real(path), amode):
            raise FuseOSError(errno.EACCES)
        return 0

    def open(self, path: str, fi: Any) -> int:
        with self._lock:
            if fi.flags & os.O_TRUNC:
                self._record_truncate(path, 0)
            fi.fh = os.open(self._real(path), fi.flags)
        return 0

    def create(self, path: str, mode: int, fi: Any) -> int:
        with self._lock:
            real = self._real(path)
            if not os.path.lexists(real):
                self._files[path] = _Unsynced(None)
            elif fi.flags & os.O_TRUNC:
                self._record_truncate(path, 0)
            fi.fh = os.open(real, fi.flags | os.O_CREAT, mode)
        return 0

    def read(self, path: str, size: int, offset: int, fi: Any) -> bytes:
        return os.pread(fi.fh, size, offset)

    def write(self, path: str, data: bytes, offset: int, fi: Any) -> int:
        with self._lock:
            self._overwrite(path, offset, offset + len(data))
            return os.pwrite(fi.fh, data, offset)

    def _record_truncate(self, path: str, length: int) -> None:
        real = self._real(path)
        if os.path.exists(real):
            self._overwrite(path, length, os.stat(real).st_size)

    def truncate(self, path: str, length: int, fi: Any = None) -> int:
        with self._lock:
            self._record_truncate(path, length)
            os.truncate(self._real(path), length)
        return 0

    def fsync(self, path: str, datasync: int, fi: Any) -> int:
        with self._lock:
            self._files.pop(path, None)  # everything written so far is on the disk now
        return 0

    def flush(self, path: str, fi: Any) -> int:
        return 0

    def release(self, path: str, fi: Any) -> int:
        os.close(fi.fh)
        return 0

    def unlink(self, path: str) -> int:
        with self._lock:
            os.unlink(self._real(path))
            self._files.pop(path, None)
        return 0

    def rename(self, old: str, new: str) -> int:
        with self._lock:
            os.rename(self._real(old), self._real(new))
            prefix = old.rstrip("/") + "/"
            moved = {
                path: state
                for path, state in self._files.items()
                if path == old or path.startswith(prefix)
            }
            gone = new.rstrip("/") + "/"
            for path in [p for p in self._files if p == new or p.startswith(gone)]:
                del self._files[path]
            for path, state in moved.items():
                del self._files[path]
                self._files[new + path[len(old) :]] = state
        return 0

    def link(self, target: str, source: str) -> int:
        os.link(self._real(source), self._real(target))
        return 0

    def symlink(self, target: str, source: str) -> int:
        os.symlink(source, self._real(target))
        return 0

    def readlink(self, path: str) -> str:
        return os.readlink(self._real(path))

    def chmod(self, path: str, mode: int) -> int:
        os.chmod(self._real(path), mode)
        return 0

    def chown(self, path: str, uid: int, gid: int) -> int:
        os.chown(self._real(path), uid, gid)
        return 0

    def utimens(self, path: str, times: tuple[int, int] | None = None) -> int:
        os.utime(self._real(path), ns=times)
        return 0

    def statfs(self, path: str) -> dict[str, int]:
        st = os.statvfs(self._real(path))
        keys = ("f_bavail", "f_bfree", "f_blocks", "f_bsize", "f_favail", "f_ffree", "f_files")
        stats = {key: getattr(st, key) for key in keys}
        stats.update(f_flag=st.f_flag, f_frsize=st.f_frsize, f_namemax=st.f_namemax)
        return stats

    # -- directories ---------------------------------------------------------------------------

    def mkdir(self, path: str, mode: int) -> int:
        os.mkdir(self._real(path), mode)
        return 0

    def rmdir(self, path: str) -> int:
        os.rmdir(self._real(path))
        return 0

    def readdir(self, path: str, fh: Any) -> list[str]:
        return [".", "..", *os.listdir(self._real(path))]

    def fsyncdir(self, path: str, datasync: int, fi: Any) -> int:
        """The names in the directory are durable: a new file stays, empty if never fsynced."""
        with self._lock:
            parent = path.rstrip("/")
            for name, state in self._files.items():
                if state.synced_size is None and os.path.dirname(name) == (parent or "/"):
                    state.synced_size = 0
                    state.undo.clear()
        return 0


def _serve_control(ops: PowerCutOps, sock_path: str) -> None:
    """One line per connection: ``cut`` answers the cut's report as JSON."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(sock_path)
    server.listen(4)
    while True:
        conn, _ = server.accept()
        with conn:
            command = conn.makefile("r").readline().strip()
            answer = ops.cut() if command == "cut" else {"error": f"unknown {command!r}"}
            conn.sendall((json.dumps(answer) + "\n").encode())


def main(argv: list[str]) -> int:
    backing, mountpoint, control = argv
    ops = PowerCutOps(Path(backing))
    threading.Thread(target=_serve_control, args=(ops, control), daemon=True).start()
    FUSE(ops, mountpoint, raw_fi=True, foreground=True, nothreads=False, big_writes=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
