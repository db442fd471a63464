"""The files of a snapshot: consistent copies of a node's stores, and their checks.

A leader sends a follower that needs entries it compacted away its stores instead (Raft's
InstallSnapshot; engine/node/snapshots.py moves the files).  :func:`backup_stores` copies each
store database with SQLite's backup API in one step, so each copy is a consistent image even
while the node goes on applying (in WAL mode a reader is never blocked): every copy holds at
least what the state machine had applied when the snapshot's index was read, and records
itself how far it got (``EventStore.applied_index``), so replaying the entries after the
snapshot's index skips what a copy already holds, as a replay after a crash does.  A store
deleted meanwhile is left out: the follower replays its deletion.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from engine.storage.durability import fsync_path

# A store's file name (engine/protocol's store ids are safe file names).
STORE_FILE = re.compile(r"[A-Za-z0-9_-]{1,64}\.db")


@dataclass(frozen=True, slots=True)
class SnapshotFile:
    """One store database of a snapshot: its name, size and SHA-256 (hex)."""

    name: str
    size: int
    sha256: str


def file_sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def backup_stores(stores_dir: Path, out_dir: Path) -> list[SnapshotFile]:
    """Copy every store database under ``stores_dir`` into ``out_dir`` (created; must not
    exist), each a consistent image; their names, sizes and checksums."""
    out_dir.mkdir(parents=True)
    files = []
    for db_path in sorted(stores_dir.glob("*.db")):
        target = out_dir / db_path.name
        try:
            # mode=rw: a store deleted since the glob must not be created again, empty.
            src = sqlite3.connect(f"file:{db_path}?mode=rw", uri=True)
        except sqlite3.OperationalError:
            continue
        try:
            dst = sqlite3.connect(target)
            try:
                src.backup(dst)  # all pages in one step: one read transaction, one image
                # A single file with no WAL beside it, whatever the source's journal mode.
                dst.execute("PRAGMA journal_mode=DELETE")
            finally:
                dst.close()
        except sqlite3.OperationalError:
            target.unlink(missing_ok=True)  # deleted while it was copied
            continue
        finally:
            src.close()
        files.append(SnapshotFile(db_path.name, target.stat().st_size, file_sha256(target)))
    return files


def seal(directory: Path) -> None:
    """fsync every file in ``directory`` and the directory itself: it survives a power loss."""
    for path in directory.iterdir():
        fsync_path(path)
    fsync_path(directory)


def replace_directory(target: Path, new: Path) -> None:
    """Put directory ``new`` in the place of ``target``, each step atomic and durable.

    ``target`` is renamed aside to ``<target>.old`` first; :func:`recover_directory` finishes
    or undoes a replacement a crash interrupted.
    """
    old = target.with_name(target.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    os.rename(target, old)
    os.rename(new, target)
    fsync_path(target.parent)
    shutil.rmtree(old)


def recover_directory(target: Path) -> None:
    """After a crash in :func:`replace_directory`: the new directory is in place (drop the old
    one) or it never got there (put the old one back)."""
    old = target.with_name(target.name + ".old")
    if not old.exists():
        return
    if target.exists():
        shutil.rmtree(old)
    else:
        os.rename(old, target)
        fsync_path(target.parent)
