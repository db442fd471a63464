"""The subscription tables of a store's database: definitions, checkpoints, parked events.

They live in the store's own SQLite file and change only through the log (the commands of
:mod:`engine.protocol.definitions`), applied by :meth:`EventStore.apply_batch` in its
transaction — so every node holds the same subscriptions and they survive restarts.

Writes come from the store's writer thread inside its open transaction; reads come from the
event loop through the store's read connection.  ``generation`` counts the definition changes
(put, delete) that are committed, so the leader's dispatchers notice them without re-reading.
"""

from __future__ import annotations

import builtins
import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import orjson

from engine.protocol import definitions
from engine.protocol.errors import GateError
from engine.protocol.patterns import json_equal

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS subscriptions (
        name TEXT PRIMARY KEY,
        definition TEXT NOT NULL,
        incarnation INTEGER NOT NULL,
        checkpoint INTEGER NOT NULL,
        created_epoch INTEGER NOT NULL,
        counters TEXT NOT NULL DEFAULT '{}'
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS parked (
        name TEXT NOT NULL,
        position INTEGER NOT NULL,
        event_id TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        reason TEXT NOT NULL,
        PRIMARY KEY (name, position)
    ) WITHOUT ROWID""",
)

Reading = Callable[[], AbstractContextManager[sqlite3.Connection]]


@dataclass(frozen=True)
class StoredSubscription:
    """One row of the subscriptions table, with its number of parked events."""

    name: str
    definition: dict[str, Any]
    incarnation: int  # log index of the subscription_put that created it
    checkpoint: int
    created_epoch: int
    parked: int
    counters: dict[str, int]  # delivered, acked, nacked: as of the last progress committed


@dataclass(frozen=True)
class ParkedEvent:
    position: int
    event_id: str
    attempts: int
    reason: str


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": GateError(code, message).to_dict()}


class SubscriptionTables:
    """Applies subscription commands to a store database and reads them back."""

    def __init__(self, writer: sqlite3.Connection, reading: Reading) -> None:
        for statement in _SCHEMA:
            writer.execute(statement)
        columns = {row[1] for row in writer.execute("PRAGMA table_info(subscriptions)")}
        if "counters" not in columns:  # a store created before counters were replicated
            writer.execute(
                "ALTER TABLE subscriptions ADD COLUMN counters TEXT NOT NULL DEFAULT '{}'"
            )
        self._writer = writer
        self._reading = reading
        self.generation = 0
        self._changed = False

    # ---- apply side (the store's writer thread, inside its transaction) ----

    def apply(self, index: int, cmd: dict[str, Any], last_position: int) -> dict[str, Any]:
        """Apply one subscription command at log ``index``; ``last_position`` is the store's."""
        op = cmd["op"]
        try:
            name = definitions.validate_name(cmd["name"])
            if op == definitions.PUT:
                return self._put(index, name, cmd, last_position)
            if op == definitions.DELETE:
                return self._delete(name)
            return self._progress(name, cmd)
        except GateError as err:  # a command that passed no validation (it never does)
            return {"error": err.to_dict()}

    def publish(self) -> None:
        """After the transaction committed: let readers see definition changes."""
        if self._changed:
            self._changed = False
            self.generation += 1

    def _put(
        self, index: int, name: str, cmd: dict[str, Any], last_position: int
    ) -> dict[str, Any]:
        definition = cmd["definition"]
        compiled = definitions.Definition.from_stored(name, index, definition)
        row = self._writer.execute(
            "SELECT definition FROM subscriptions WHERE name = ?", (name,)
        ).fetchone()
        if row is not None:
            if json_equal(orjson.loads(row[0]), definition):
                return {"name": name, "created": False}
            return _error(
                "subscription_exists",
                f"subscription {name!r} exists with a different definition; delete it first",
            )
        checkpoint = self._initial_checkpoint(compiled, last_position)
        self._writer.execute(
            "INSERT INTO subscriptions (name, definition, incarnation, checkpoint, created_epoch)"
            " VALUES (?, ?, ?, ?, ?)",
            (name, orjson.dumps(definition).decode(), index, checkpoint, int(cmd["created_epoch"])),
        )
        self._changed = True
        return {"name": name, "created": True}

    def _initial_checkpoint(self, definition: definitions.Definition, last_position: int) -> int:
        """The checkpoint before the first event to deliver (``start_from`` is inclusive)."""
        start = definition.start_from
        if start == "origin":
            return 0
        if start == "current" or not isinstance(start, int):
            return last_position
        stream = definition.selector.stream_id
        if stream is None:
            return start - 1
        row = self._writer.execute(
            "SELECT position FROM events WHERE stream_id = ? AND event_number = ?",
            (stream, start),
        ).fetchone()
        # Not written yet: it comes after everything there is (earlier numbers are filtered).
        return row[0] - 1 if row else last_position

    def _delete(self, name: str) -> dict[str, Any]:
        cursor = self._writer.execute("DELETE FROM subscriptions WHERE name = ?", (name,))
        if cursor.rowcount == 0:
            return _error("subscription_not_found", f"no subscription {name!r}")
        self._writer.execute("DELETE FROM parked WHERE name = ?", (name,))
        self._changed = True
        return {}

    def _progress(self, name: str, cmd: dict[str, Any]) -> dict[str, Any]:
        incarnation = int(cmd["incarnation"])
        checkpoint = int(cmd["checkpoint"])
        # Build every row first: a malformed command must fail before it writes anything.
        parks = [
            (name, int(p["position"]), str(p["event_id"]), int(p["attempts"]), str(p["reason"]))
            for p in cmd.get("park", ())
        ]
        unparks = [(name, int(position)) for position in cmd.get("unpark", ())]
        counters = {str(key): int(value) for key, value in (cmd.get("counters") or {}).items()}
        row = self._writer.execute(
            "SELECT incarnation, counters FROM subscriptions WHERE name = ?", (name,)
        ).fetchone()
        if row is None or row[0] != incarnation:
            return _error("subscription_not_found", f"subscription {name!r} was deleted")
        if counters:
            # Each the larger: a deposed leader's late progress cannot take counts back.
            merged = orjson.loads(row[1])
            for key, value in counters.items():
                merged[key] = max(int(merged.get(key, 0)), value)
            self._writer.execute(
                "UPDATE subscriptions SET counters = ? WHERE name = ?",
                (orjson.dumps(merged).decode(), name),
            )
        self._writer.executemany("DELETE FROM parked WHERE name = ? AND position = ?", unparks)
        self._writer.executemany(
            "INSERT OR REPLACE INTO parked (name, position, event_id, attempts, reason)"
            " VALUES (?, ?, ?, ?, ?)",
            parks,
        )
        # Never backwards: a deposed leader's late progress cannot undo a newer one.
        self._writer.execute(
            "UPDATE subscriptions SET checkpoint = max(checkpoint, ?) WHERE name = ?",
            (checkpoint, name),
        )
        return {}

    # ---- read side (event loop) ----

    def list(self) -> list[StoredSubscription]:
        """Every subscription of the store, by name."""
        with self._reading() as db:
            rows = db.execute(
                "SELECT s.name, s.definition, s.incarnation, s.checkpoint, s.created_epoch,"
                " (SELECT count(*) FROM parked p WHERE p.name = s.name), s.counters"
                " FROM subscriptions s ORDER BY s.name"
            ).fetchall()
        return [
            StoredSubscription(
                name, orjson.loads(defn), inc, checkpoint, epoch, parked, orjson.loads(counters)
            )
            for name, defn, inc, checkpoint, epoch, parked, counters in rows
        ]

    def get(self, name: str) -> StoredSubscription | None:
        """One subscription, or None."""
        return next((s for s in self.list() if s.name == name), None)

    # ``list`` here is the method above: the builtin is named in full.
    def parked(self, name: str, limit: int) -> builtins.list[ParkedEvent]:
        """Up to ``limit`` parked events of a subscription, by position."""
        with self._reading() as db:
            rows = db.execute(
                "SELECT position, event_id, attempts, reason FROM parked WHERE name = ?"
                " ORDER BY position LIMIT ?",
                (name, limit),
            ).fetchall()
        return [ParkedEvent(*row) for row in rows]
