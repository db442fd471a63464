"""Is a node's data whole?  The checks a node runs on its files before it opens them, and the
names of the failures that mean a file is damaged rather than busy, full or unreadable.

A node that finds damage rebuilds its data from the leader (engine/node/repair.py); these
checks only say what is wrong and where.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from engine.storage.event_store import damage_marker

# SQLite's names for a file whose content is not what it wrote (not a full disk, a lock or an
# I/O error, which are the disk's state, not the file's).
_DAMAGE_ERRORS = ("SQLITE_CORRUPT", "SQLITE_NOTADB")


@dataclass(frozen=True, slots=True)
class Damage:
    """A damaged file of a node: which, and why in a few words."""

    path: Path
    reason: str

    def describe(self) -> str:
        """e.g. ``stores/reg_gh.db: database disk image is malformed``."""
        return f"{self.where}: {self.reason}"

    @property
    def where(self) -> str:
        return (
            "/".join(self.path.parts[-2:])
            if self.path.parent.name == "stores"
            else (self.path.name)
        )


def is_damage(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) says a database file is damaged."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, sqlite3.DatabaseError):
            name = getattr(seen, "sqlite_errorname", "")
            if name.startswith(_DAMAGE_ERRORS):
                return True
            if not isinstance(seen, sqlite3.OperationalError) and not name:
                return True  # "file is not a database", "database disk image is malformed"
        seen = seen.__cause__ or seen.__context__
    return False


def quick_check(path: Path) -> str | None:
    """SQLite's ``quick_check`` of the database at ``path`` (its WAL included): None when it is
    sound (or absent), else the first problem it names."""
    if not path.exists():
        return None
    try:
        db = sqlite3.connect(f"file:{path}?mode=rw", uri=True)
    except sqlite3.Error as exc:
        return str(exc)
    try:
        rows = db.execute("PRAGMA quick_check(1)").fetchall()
    except sqlite3.DatabaseError as exc:
        if not is_damage(exc):
            raise
        return str(exc)
    finally:
        db.close()
    first = str(rows[0][0]) if rows else "no answer"
    return None if first == "ok" else first


def find_damage(node_dir: Path) -> Damage | None:
    """The first damaged file of a node's data: its log, its replay point, a store that failed
    ``quick_check`` or that was found damaged while it ran (``<store>.db.damaged``)."""
    stores = sorted((node_dir / "stores").glob("*.db"))
    for store in stores:
        marker = damage_marker(store)
        if marker.exists():
            return Damage(store, marker.read_text(errors="replace").strip() or "found damaged")
    for path in (node_dir / "raft.db", node_dir / "state.db", *stores):
        problem = quick_check(path)
        if problem is not None:
            return Damage(path, problem)
    return None
