"""Self-repair of a node whose files are damaged: set them aside, rebuild from the leader.

A node that finds its data damaged (a store or its log fails SQLite's checks, a checksum does
not match, its log ends before what its stores applied, or diverges below its commit index)
does not go on with it, and does not stop for an operator either (``storage.repair: auto``):

1. :func:`set_aside` moves everything in ``<dataDir>/<node>/`` into
   ``damaged-<UTC time>/`` beside it (only the latest such copy is kept: nothing is destroyed
   silently, and the disk does not fill with copies) and writes ``repair.json``, which says
   why and keeps the term and vote the old log held, if it could be read;
2. the node starts again on the empty directory with ``RaftNode.repairing`` set: it neither
   votes nor campaigns, and answers the leader's appends by asking for a snapshot, which the
   leader sends even if it never compacted (engine/node/snapshots.py carries it);
3. once the snapshot is installed the node follows the leader as any follower, and
   ``repair.json`` goes.

A crash or restart during the repair finds ``repair.json`` and goes on with step 2.  With
``storage.repair: manual`` (or when no leader answers within :data:`REPAIR_DEADLINE`) the node
refuses instead, with one line naming the damaged file and the command that repairs it, and
exits with :data:`DAMAGED`.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.storage.durability import fsync_path

# gate-node's exit status when it will not run on damaged data (docs/ENGINE.md, "Self-repair").
DAMAGED = 76
# How long a repairing node waits for a leader's snapshot before it gives up (exit DAMAGED; a
# supervisor with restart: on-failure starts it again later, and the repair goes on).
REPAIR_DEADLINE = 60.0
MARKER = "repair.json"
_ASIDE_PREFIX = "damaged-"


class RepairNeeded(Exception):
    """This node's data is damaged: ``file`` (relative to the node's directory) and why."""

    def __init__(self, file: str, reason: str) -> None:
        reason = " ".join(reason.split())  # SQLite's reports span lines: one line of them
        super().__init__(f"{file}: {reason}")
        self.file = file
        self.reason = reason


@dataclass(frozen=True, slots=True)
class RepairState:
    """What ``repair.json`` records: why, since when, and the term and vote to keep."""

    reason: str
    since: float  # epoch seconds
    term: int
    vote: str | None
    aside: str | None  # the directory the damaged files went to

    def to_json(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "since": self.since,
            "term": self.term,
            "vote": self.vote,
            "aside": self.aside,
        }


def read_marker(node_dir: Path) -> RepairState | None:
    """The repair under way in ``node_dir``, or None."""
    path = node_dir / MARKER
    try:
        raw = json.loads(path.read_text())
        vote = raw.get("vote")
        aside = raw.get("aside")
        return RepairState(
            reason=str(raw["reason"]),
            since=float(raw["since"]),
            term=int(raw["term"]),
            vote=vote if isinstance(vote, str) else None,
            aside=aside if isinstance(aside, str) else None,
        )
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError, OSError):
        # A marker cut short by a crash: the repair it began still has to happen.
        return RepairState("an earlier repair was interrupted", time.time(), 0, None, None)


def clear_marker(node_dir: Path) -> None:
    """The repair is done: the node's data is whole again."""
    (node_dir / MARKER).unlink(missing_ok=True)
    fsync_path(node_dir)


def set_aside(node_dir: Path, reason: str) -> RepairState:
    """Move the node's data into ``damaged-<time>/`` and record the repair (see the module)."""
    node_dir.mkdir(parents=True, exist_ok=True)
    earlier = read_marker(node_dir)
    term, vote = _hard_state(node_dir / "raft.db")
    if earlier is not None and earlier.term > term:
        term, vote = earlier.term, earlier.vote  # this directory is an unfinished repair's
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    aside = node_dir / f"{_ASIDE_PREFIX}{stamp}"
    parts = [p for p in node_dir.iterdir() if p.name != MARKER and not _is_aside(p)]
    if parts:
        for old in node_dir.iterdir():
            if _is_aside(old):
                shutil.rmtree(old, ignore_errors=True)  # bounded: only the latest copy stays
        aside.mkdir()
        for part in parts:
            os.rename(part, aside / part.name)
    state = RepairState(
        reason=reason,
        since=earlier.since if earlier is not None else time.time(),
        term=term,
        vote=vote,
        aside=aside.name if parts else (earlier.aside if earlier else None),
    )
    tmp = node_dir / f"{MARKER}.tmp"
    tmp.write_text(json.dumps(state.to_json()))
    fsync_path(tmp)
    os.rename(tmp, node_dir / MARKER)
    fsync_path(node_dir)
    return state


def _is_aside(path: Path) -> bool:
    return path.is_dir() and path.name.startswith(_ASIDE_PREFIX)


def _hard_state(raft_db: Path) -> tuple[int, str | None]:
    """The term and vote of a damaged log, if they can still be read; else (0, None)."""
    if not raft_db.exists():
        return 0, None
    try:
        db = sqlite3.connect(f"file:{raft_db}?mode=ro", uri=True)
        try:
            row = db.execute("SELECT term, vote FROM hard_state").fetchone()
        finally:
            db.close()
    except sqlite3.Error:
        return 0, None
    if row is None or not isinstance(row[0], int):
        return 0, None
    return row[0], row[1] if isinstance(row[1], str) else None


def refusal(node_id: str, config_source: str, damage: str, why: str) -> str:
    """The one line a node that will not repair itself ends with."""
    return (
        f"{node_id}: {damage}; {why}. Repair it from the leader with: "
        f"gate-node --config {config_source} --node {node_id} --repair "
        "(or start it with storage.repair: auto)"
    )
