"""``EventStore``: one store's SQLite database (``<node_dir>/stores/<store_id>.db``).

Writes come through :meth:`EventStore.apply_batch`: several commands in one transaction, with the
index of the last log entry applied written in that same transaction, so a restart re-applies
exactly the entries the store has not seen.  Reads use a second, read-only connection.  Both run
on the node's event-loop thread.

Commits are not fsynced (``synchronous=NORMAL``): the replicated log is what makes a write durable,
and the store is rebuilt from it.  A commit survives a crash of the process; against power loss,
the node fsyncs :attr:`EventStore.wal_path` before it records the log index replay starts from
(engine/storage/durability.py), which also checkpoints the WAL (engine/storage/wal.py).

Stream versions and the last position are cached in memory and updated only after a commit.
Reads bound their queries by those cached values, so a read never shows an event that is newer
than the version or position it reports.
"""

from __future__ import annotations

import logging
import sqlite3
import time
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import orjson

from engine.protocol.definitions import COMMANDS as SUBSCRIPTION_COMMANDS
from engine.protocol.errors import GateError
from engine.storage.subscription_tables import SubscriptionTables
from engine.storage.wal import finish, no_autocheckpoint
from engine.storage.writeback import EarlyWriteback

Direction = Literal["forward", "backward"]
log = logging.getLogger("gate.storage")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    position INTEGER PRIMARY KEY,
    stream_id TEXT NOT NULL,
    event_number INTEGER NOT NULL,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    data TEXT NOT NULL,
    metadata TEXT NOT NULL,
    created_epoch INTEGER NOT NULL,
    crc INTEGER,
    UNIQUE (stream_id, event_number),
    UNIQUE (stream_id, event_id)
);
CREATE TABLE IF NOT EXISTS streams (
    stream_id TEXT PRIMARY KEY,
    version INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS snapshots (
    source_uuid TEXT NOT NULL,
    stream_uuid TEXT NOT NULL,
    source_version INTEGER NOT NULL,
    source_type TEXT,
    data TEXT NOT NULL,
    metadata TEXT NOT NULL,
    created_epoch INTEGER NOT NULL,
    crc INTEGER,
    PRIMARY KEY (source_uuid, stream_uuid, source_version)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
"""

_EVENT_COLUMNS = (
    "position, stream_id, event_number, event_id, event_type, data, metadata, created_epoch"
)
_ROW_COLUMNS = f"{_EVENT_COLUMNS}, crc"
_SNAPSHOT_COLUMNS = (
    "source_uuid, stream_uuid, source_version, source_type, data, metadata, created_epoch, crc"
)
SYNCHRONOUS = "NORMAL"  # commits are not fsynced; checkpoints are
_ID_LOOKUP_CHUNK = 500  # ids or positions per query: well under SQLite's bound-parameter limit


# What a command's content can raise while it is applied: the same on every node, so it becomes
# that command's error result.  Anything else (a full disk, an I/O error: sqlite3's
# OperationalError, OSError) is this node's own fault and stops it (engine/node/host.py).
CONTENT_ERRORS: tuple[type[BaseException], ...] = (
    ArithmeticError,
    LookupError,
    TypeError,
    ValueError,
    AttributeError,
    RecursionError,
    sqlite3.IntegrityError,
    sqlite3.DataError,
    sqlite3.InterfaceError,
    sqlite3.ProgrammingError,
)


def damage_marker(path: Path) -> Path:
    """The file that records why the store at ``path`` was found damaged (absent when sound)."""
    return Path(f"{path}.damaged")


class IncompleteStoreError(Exception):
    """A store database whose creation never committed (a crash during ``create``)."""


def iso_utc(epoch_us: int) -> str:
    """Microseconds since the epoch as ISO-8601 UTC with microseconds and 'Z'."""
    seconds, micros = divmod(epoch_us, 1_000_000)
    return f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(seconds))}.{micros:06d}Z"


def error_result(code: str, message: str, **details: Any) -> dict[str, Any]:
    """A command's error result: ``{"error": {"code", "message", ...}}``."""
    return {"error": GateError(code, message, **details).to_dict()}


class EventStore:
    """One store: events, streams, snapshots and the applied log index."""

    def __init__(self, path: Path) -> None:
        """Open an existing store database (see :meth:`create` for a new one)."""
        if not path.exists():
            raise FileNotFoundError(path)
        self.store_id = path.stem
        self.path = path
        self._closed = False
        # A store found damaged stays so across restarts, until it is deleted or rebuilt.
        marker = damage_marker(path)
        self._damaged: str | None = (
            marker.read_text(errors="replace").strip() or "found damaged before"
            if marker.exists()
            else None
        )
        self._writer = self._connect(path)
        has_meta = self._writer.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
        ).fetchone()
        meta = dict(self._writer.execute("SELECT key, value FROM meta")) if has_meta else {}
        if "applied_index" not in meta:
            self._writer.close()
            raise IncompleteStoreError(path)
        for table in ("events", "snapshots"):
            columns = {row[1] for row in self._writer.execute(f"PRAGMA table_info({table})")}
            if "crc" not in columns:
                # A store written before checksums: its rows keep a NULL checksum (unchecked on
                # read: a checksum computed now would vouch for bytes it never saw written).
                self._writer.execute(f"ALTER TABLE {table} ADD COLUMN crc INTEGER")
        self._applied_index: int = meta["applied_index"]
        self.config: dict[str, Any] = orjson.loads(meta["config"])
        self.created_epoch: int = meta["created_epoch"]
        self._versions: dict[str, int] = dict(
            self._writer.execute("SELECT stream_id, version FROM streams").fetchall()
        )
        self._last_position: int = self._writer.execute(
            "SELECT coalesce(max(position), 0) FROM events"
        ).fetchone()[0]
        # Persistent subscriptions' definitions, checkpoints and parked events (same file).
        self.subscriptions = SubscriptionTables(self._writer, self._reading)
        self._reader = self._connect(path)
        self._reader.execute("PRAGMA query_only=ON")
        # Commits are fsynced only at durable points; start writing them out before that.
        self.writeback = EarlyWriteback(self.wal_path)

    @classmethod
    def create(
        cls,
        path: Path,
        *,
        config: dict[str, Any],
        created_epoch: int,
        applied_index: int,
    ) -> EventStore:
        """Create a new store database; schema and meta commit in one transaction."""
        path.parent.mkdir(parents=True, exist_ok=True)
        db = cls._connect(path)
        try:
            db.execute("BEGIN IMMEDIATE")
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            db.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?)",
                [
                    ("config", orjson.dumps(config).decode()),
                    ("created_epoch", created_epoch),
                    ("applied_index", applied_index),
                ],
            )
            db.execute("COMMIT")
        finally:
            db.close()
        return cls(path)

    @staticmethod
    def _connect(path: Path) -> sqlite3.Connection:
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={SYNCHRONOUS}")
        no_autocheckpoint(db)
        return db

    # ---- apply side ----

    @property
    def applied_index(self) -> int:
        """Index of the last log entry applied to this store."""
        return self._applied_index

    def apply_batch(self, items: list[tuple[int, dict[str, Any]]]) -> list[dict[str, Any]]:
        """Apply commands ``(log index, command)`` in ONE transaction; one result per command.

        Commands at or below the applied index (a replay after restart) are skipped and get ``{}``.
        An error result (``{"error": {...}}``) changes nothing.  An I/O error rolls the whole batch
        back, leaves the caches untouched, and propagates.
        """
        if self._closed:
            raise GateError("store_not_found", f"store {self.store_id!r} is closed")
        if all(index <= self._applied_index for index, _ in items):
            return [{} for _ in items]
        versions: dict[str, int] = {}  # staged stream versions, published after COMMIT
        position = self._last_position
        applied = self._applied_index
        results: list[dict[str, Any]] = []
        db = self._writer
        db.execute("BEGIN IMMEDIATE")
        try:
            for index, cmd in items:
                if index <= applied:
                    results.append({})
                    continue
                applied = index
                op = cmd.get("op")
                # Each command in a savepoint: one that fails on its content (checked commands
                # should not, but no entry may ever stop a node) is undone alone and becomes
                # its error result, the same on every node.  A one-event append writes one row
                # in one statement, which SQLite undoes by itself when it fails: it needs none
                # (two statements fewer per single append, bench/JOURNAL.md).
                savepoint = not _one_row(op, cmd)
                if savepoint:
                    db.execute("SAVEPOINT command")
                try:
                    if op == "append":
                        result, position = self._append(cmd, versions, position)
                    elif op == "snapshot_put":
                        result = self._snapshot_put(cmd)
                    elif op == "snapshot_delete":
                        result = self._snapshot_delete(cmd)
                    elif op in SUBSCRIPTION_COMMANDS:
                        result = self.subscriptions.apply(index, cmd, position)
                    else:
                        result = error_result("invalid_request", f"unknown store command {op!r}")
                    if savepoint:
                        db.execute("RELEASE command")
                except CONTENT_ERRORS as exc:
                    if savepoint:
                        db.execute("ROLLBACK TO command")
                        db.execute("RELEASE command")
                    result = error_result("invalid_request", f"{op} cannot be applied: {exc}")
                results.append(result)
            if versions:
                db.executemany(
                    "INSERT INTO streams (stream_id, version) VALUES (?, ?)"
                    " ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version",
                    list(versions.items()),
                )
            db.execute("UPDATE meta SET value = ? WHERE key = 'applied_index'", (applied,))
            db.execute("COMMIT")
        except BaseException:
            # A full disk makes SQLite roll back by itself: a second ROLLBACK would fail with
            # "no transaction is active" and hide the real error.
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        self._versions.update(versions)
        self._last_position = position
        self._applied_index = applied
        self.subscriptions.publish()
        self.writeback.written()
        return results

    def _append(
        self, cmd: dict[str, Any], versions: dict[str, int], position: int
    ) -> tuple[dict[str, Any], int]:
        stream: str = cmd["stream"]
        events: list[dict[str, Any]] = cmd["events"]
        expected = cmd["expected_version"]
        current = versions.get(stream)
        if current is None:
            current = self._versions.get(stream, -1)
        event_ids = [e["event_id"] for e in events]
        if not events or len(set(event_ids)) != len(event_ids):
            raise ValueError("events must be a non-empty list with distinct event ids")
        found = self._find_event_ids(stream, event_ids) if current >= 0 else {}
        if found:
            return self._retry_result(stream, events, expected, current, found), position
        if not expected_matches(expected, current):
            message = f"stream {stream!r} is at version {current}, expected {expected}"
            return error_result(
                "wrong_expected_version", message, current_version=current
            ), position
        dumps = orjson.dumps
        rows = []
        for k, e in enumerate(events):
            row = (
                position + k + 1,
                stream,
                current + k + 1,
                e["event_id"],
                e["event_type"],
                dumps(e["data"]).decode(),
                dumps(e["metadata"]).decode(),
                e["created_epoch"],
            )
            rows.append((*row, event_crc(row)))
        self._writer.executemany(
            f"INSERT INTO events ({_ROW_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
        )
        version = current + len(events)
        position += len(events)
        versions[stream] = version
        return {"version": version, "position": position}, position

    def _find_event_ids(self, stream: str, event_ids: list[str]) -> dict[str, tuple[int, int]]:
        """Which of ``event_ids`` are in ``stream``: event_id -> (event_number, position)."""
        found: dict[str, tuple[int, int]] = {}
        for i in range(0, len(event_ids), _ID_LOOKUP_CHUNK):
            chunk = event_ids[i : i + _ID_LOOKUP_CHUNK]
            marks = ",".join("?" * len(chunk))
            for event_id, number, pos in self._writer.execute(
                "SELECT event_id, event_number, position FROM events"
                f" WHERE stream_id = ? AND event_id IN ({marks})",
                (stream, *chunk),
            ):
                found[event_id] = (number, pos)
        return found

    @staticmethod
    def _retry_result(
        stream: str,
        events: list[dict[str, Any]],
        expected: Any,
        current: int,
        found: dict[str, tuple[int, int]],
    ) -> dict[str, Any]:
        """An append whose event ids are already stored: a retry to confirm, or a conflict."""
        numbers = [found[e["event_id"]][0] if e["event_id"] in found else None for e in events]
        first = numbers[0]
        is_retry = first is not None and all(n == first + k for k, n in enumerate(numbers))
        if is_retry and isinstance(expected, int) and first != expected + 1:
            is_retry = False
        if is_retry and expected == "no_stream" and first != 0:
            is_retry = False
        if not is_retry:
            message = (
                f"event ids conflict with events already in stream {stream!r}"
                f" (not a retry of the same events after version {expected})"
            )
            return error_result("wrong_expected_version", message, current_version=current)
        last = found[events[-1]["event_id"]]
        return {"version": last[0], "position": last[1]}

    def _snapshot_put(self, cmd: dict[str, Any]) -> dict[str, Any]:
        row = (
            cmd["source_uuid"],
            cmd["stream_uuid"],
            cmd["version"],
            cmd.get("source_type"),
            orjson.dumps(cmd["data"]).decode(),
            orjson.dumps(cmd.get("metadata", {})).decode(),
            cmd["created_epoch"],
        )
        self._writer.execute(
            f"INSERT OR REPLACE INTO snapshots ({_SNAPSHOT_COLUMNS})"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (*row, snapshot_crc(row)),
        )
        return {}

    def _snapshot_delete(self, cmd: dict[str, Any]) -> dict[str, Any]:
        self._writer.execute(
            "DELETE FROM snapshots"
            " WHERE source_uuid = ? AND stream_uuid = ? AND source_version = ?",
            (cmd["source_uuid"], cmd["stream_uuid"], cmd["version"]),
        )
        return {}

    # ---- read side ----

    @property
    def damaged(self) -> str | None:
        """Why this store refuses reads (``store_damaged``), or None while it is sound."""
        return self._damaged

    def _damage(self, reason: str) -> GateError:
        """Flag the store damaged, for good: its file cannot be trusted for any later read."""
        if self._damaged is None:
            self._damaged = reason
            try:
                damage_marker(self.path).write_text(reason + "\n")
            except OSError as exc:  # the flag in memory still holds until a restart
                log.error("store %s: cannot record its damage: %s", self.store_id, exc)
        return self._damaged_error()

    def _damaged_error(self) -> GateError:
        return GateError(
            "store_damaged",
            f"store {self.store_id!r} is damaged: {self._damaged}",
            store=self.store_id,
        )

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        if self._closed:
            raise GateError("store_not_found", f"store {self.store_id!r} not found")
        if self._damaged is not None:
            raise self._damaged_error()
        try:
            yield self._reader
        except sqlite3.DatabaseError as exc:
            name = getattr(exc, "sqlite_errorname", "")
            if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):  # contention, not damage
                raise GateError("unavailable", f"store {self.store_id!r} is busy") from exc
            # Not the text SQLite could not decode: garbage, and a client's data.
            what = str(exc).split(" with text ", 1)[0]
            raise self._damage(f"SQLite: {what} ({name or type(exc).__name__})") from exc

    @property
    def last_position(self) -> int:
        """Position of the last event (0 when empty); also the number of events."""
        return self._last_position

    def stream_version(self, stream: str) -> int:
        """The stream's version (last event number), -1 when it does not exist."""
        return self._versions.get(stream, -1)

    def list_streams(self) -> list[dict[str, Any]]:
        """All streams with their versions, by stream id."""
        return [{"stream_id": s, "version": v} for s, v in sorted(self._versions.items())]

    def info(self) -> dict[str, Any]:
        """The store as ``GET /api/stores/{store}`` shows it."""
        return {
            "store_id": self.store_id,
            "status": "running",
            "config": self.config,
            "streams": len(self._versions),
            "events": self._last_position,
            "last_position": self._last_position,
        }

    def read_stream(
        self,
        stream: str,
        start: int | None = None,
        count: int = 100,
        direction: Direction = "forward",
    ) -> dict[str, Any]:
        """Up to ``count`` events of ``stream`` from event number ``start`` on, in ``direction``.

        Forward starts at 0 by default; backward at the last event.  A missing stream gives
        version -1 and no events.
        """
        with self._reading():
            version = self._versions.get(stream, -1)
        if version < 0:
            return {"stream_id": stream, "version": -1, "events": []}
        if direction == "forward":
            first = start or 0
            sql = (
                f"SELECT {_ROW_COLUMNS} FROM events WHERE stream_id = ?"
                " AND event_number >= ? AND event_number <= ? ORDER BY event_number LIMIT ?"
            )
            args: tuple[object, ...] = (stream, first, version, count)
            numbers = range(first, min(first + count, version + 1))
        else:
            top = version if start is None else min(start, version)
            sql = (
                f"SELECT {_ROW_COLUMNS} FROM events WHERE stream_id = ?"
                " AND event_number <= ? ORDER BY event_number DESC LIMIT ?"
            )
            args = (stream, top, count)
            numbers = range(top, max(top - count, -1), -1)
        with self._reading() as db:
            rows = db.execute(sql, args).fetchall()
        events = self._records(rows)
        self._expect_stream(events, stream, numbers)
        return {"stream_id": stream, "version": version, "events": events}

    def read_all(
        self, from_position: int = 0, count: int = 100, direction: Direction = "forward"
    ) -> dict[str, Any]:
        """Up to ``count`` events in global order, ``from_position`` exclusive.

        Forward: events with position > from_position.  Backward: events with position <
        from_position, or from the last event when from_position is 0.
        """
        last = self._last_position
        if direction == "forward":
            sql = (
                f"SELECT {_ROW_COLUMNS} FROM events WHERE position > ? AND position <= ?"
                " ORDER BY position LIMIT ?"
            )
            args: tuple[object, ...] = (from_position, last, count)
            positions = range(from_position + 1, min(from_position + count, last) + 1)
        else:
            top = last if from_position == 0 else min(from_position - 1, last)
            sql = (
                f"SELECT {_ROW_COLUMNS} FROM events WHERE position <= ?"
                " ORDER BY position DESC LIMIT ?"
            )
            args = (top, count)
            positions = range(top, max(top - count, 0), -1)
        with self._reading() as db:
            rows = db.execute(sql, args).fetchall()
        events = self._records(rows)
        self._expect_positions(events, positions)
        return {"events": events}

    def read_past(
        self, position: int, count: int, *, stream: str | None = None
    ) -> tuple[list[dict[str, Any]], int]:
        """Up to ``count`` events past ``position`` in global order, of one ``stream`` if given,
        and the position read up to: every event at or below it has been returned or is not in
        ``stream``.  A stream is read through its index, whatever the size of the store."""
        last = self._last_position
        if stream is None:
            events = self.read_all(position, count)["events"]
        else:
            first = self._first_number_past(stream, position)
            sql = (
                f"SELECT {_ROW_COLUMNS} FROM events WHERE stream_id = ?"
                " AND event_number >= ? AND position <= ? ORDER BY event_number LIMIT ?"
            )
            with self._reading() as db:
                rows = db.execute(sql, (stream, first, last, count)).fetchall()
            events = self._records(rows)
            version = self._versions.get(stream, -1)
            self._expect_stream(events, stream, range(first, min(first + count, version + 1)))
        return events, events[-1]["position"] if len(events) == count else last

    def read_positions(self, positions: list[int]) -> list[dict[str, Any]]:
        """The events at these positions (those that exist), by position."""
        wanted = sorted(set(positions))
        events: list[dict[str, Any]] = []
        with self._reading() as db:
            for i in range(0, len(wanted), _ID_LOOKUP_CHUNK):
                chunk = wanted[i : i + _ID_LOOKUP_CHUNK]
                marks = ",".join("?" * len(chunk))
                sql = f"SELECT {_ROW_COLUMNS} FROM events WHERE position IN ({marks})"
                events += self._records(db.execute(sql, chunk).fetchall())
        events.sort(key=lambda e: e["position"])
        # Positions run from 1 to the last without a gap: every one in that range exists.
        self._expect_positions(events, [p for p in wanted if 0 < p <= self._last_position])
        return events

    def _first_number_past(self, stream: str, position: int) -> int:
        """The first event number of ``stream`` whose position is above ``position``: a binary
        search, since positions grow with event numbers within a stream."""
        low, high = 0, self._versions.get(stream, -1) + 1
        with self._reading() as db:
            while low < high:
                middle = (low + high) // 2
                row = db.execute(
                    "SELECT position FROM events WHERE stream_id = ? AND event_number = ?",
                    (stream, middle),
                ).fetchone()
                if row is None:
                    raise self._damage(f"event {middle} of stream {stream!r} is missing")
                if row[0] > position:
                    high = middle
                else:
                    low = middle + 1
        return low

    def _records(self, rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
        """Event records of rows of ``_ROW_COLUMNS``, each checked against its checksum."""
        for row in rows:
            crc = row[8]
            # NULL: an event stored before checksums existed (docs/ARCHITECTURE.md).
            if crc is not None and crc != event_crc(row):
                raise self._damage(f"checksum mismatch at position {row[0]}")
        try:
            return _event_records(rows)
        except (TypeError, ValueError) as exc:  # an unchecked row whose bytes do not decode
            raise self._damage(f"an event does not decode: {exc}") from exc

    def _expect_stream(self, events: list[dict[str, Any]], stream: str, numbers: range) -> None:
        """Event numbers have no gaps: a page that is not exactly ``numbers`` of ``stream``
        came through a damaged index."""
        got = [e["event_number"] for e in events]
        if got != list(numbers) or any(e["stream_id"] != stream for e in events):
            raise self._damage(
                f"stream {stream!r}: read event numbers {_span(got)}, expected {_span(numbers)}"
            )

    def _expect_positions(self, events: list[dict[str, Any]], positions: Sequence[int]) -> None:
        """Positions have no gaps: a page that is not exactly ``positions`` is damaged."""
        got = [e["position"] for e in events]
        if got != list(positions):
            raise self._damage(f"read positions {_span(got)}, expected {_span(positions)}")

    def get_snapshot(self, source_uuid: str, stream_uuid: str, version: int) -> dict[str, Any]:
        """One snapshot record; raises ``snapshot_not_found``."""
        with self._reading() as db:
            row = db.execute(
                f"SELECT {_SNAPSHOT_COLUMNS} FROM snapshots"
                " WHERE source_uuid = ? AND stream_uuid = ? AND source_version = ?",
                (source_uuid, stream_uuid, version),
            ).fetchone()
        if row is None:
            raise GateError(
                "snapshot_not_found",
                f"no snapshot {source_uuid}/{stream_uuid}/{version} in store {self.store_id!r}",
            )
        (record,) = self._snapshot_records([row])
        if (record["source_uuid"], record["stream_uuid"], record["source_version"]) != (
            source_uuid,
            stream_uuid,
            version,
        ):
            raise self._damage(f"snapshot {source_uuid}/{stream_uuid}/{version} read another")
        return record

    def list_snapshots(
        self, source_uuid: str | None = None, stream_uuid: str | None = None
    ) -> list[dict[str, Any]]:
        """Snapshot records, optionally filtered, ordered by source, stream and version."""
        where = []
        args = []
        if source_uuid is not None:
            where.append("source_uuid = ?")
            args.append(source_uuid)
        if stream_uuid is not None:
            where.append("stream_uuid = ?")
            args.append(stream_uuid)
        sql = f"SELECT {_SNAPSHOT_COLUMNS} FROM snapshots"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY source_uuid, stream_uuid, source_version"
        with self._reading() as db:
            rows = db.execute(sql, args).fetchall()
        return self._snapshot_records(rows)

    def _snapshot_records(self, rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
        """Snapshot records of rows of ``_SNAPSHOT_COLUMNS``, each checked like an event."""
        for row in rows:
            crc = row[7]
            if crc is not None and crc != snapshot_crc(row):
                raise self._damage(f"checksum mismatch in snapshot {row[0]}/{row[1]}/{row[2]}")
        try:
            return [_snapshot_record(row) for row in rows]
        except (TypeError, ValueError) as exc:  # an unchecked row whose bytes do not decode
            raise self._damage(f"a snapshot does not decode: {exc}") from exc

    @property
    def wal_path(self) -> Path:
        """The write-ahead log: fsyncing it makes every commit so far durable.

        A NORMAL commit is written to the WAL without an fsync; a checkpoint fsyncs the WAL before
        copying it into the database and the database after, so what is not in the WAL is in the
        synced database.
        """
        return Path(f"{self.path}-wal")

    def finish_checkpoint(self) -> None:
        """Copy what a durable point's checkpoint left in the WAL (engine/storage/wal.py)."""
        if not self._closed:
            finish(self._writer)

    def close(self) -> None:
        """Close both connections; later reads raise ``store_not_found``."""
        if self._closed:
            return
        self._closed = True
        self.writeback.close()
        self._reader.close()
        self._writer.close()


def _one_row(op: Any, cmd: dict[str, Any]) -> bool:
    """Whether ``cmd`` writes at most one row with one statement: an append of one event."""
    events = cmd.get("events")
    return op == "append" and isinstance(events, list) and len(events) == 1


def expected_matches(expected: Any, current: int) -> bool:
    if expected == "any":
        return True
    if expected == "no_stream":
        return current == -1
    if expected == "stream_exists":
        return current >= 0
    return isinstance(expected, int) and not isinstance(expected, bool) and current == expected


def event_crc(row: Sequence[Any]) -> int:
    """The checksum of an event row (the first eight of ``_ROW_COLUMNS``): CRC-32 of its
    fields, the position included, so a row read back under another position fails too."""
    position, stream_id, number, event_id, event_type, data, metadata, epoch = row[:8]
    text = (
        f"{position}\0{stream_id}\0{number}\0{event_id}\0{event_type}\0{data}\0{metadata}\0{epoch}"
    )
    return zlib.crc32(text.encode())


def snapshot_crc(row: Sequence[Any]) -> int:
    """The checksum of a snapshot row (the first seven of ``_SNAPSHOT_COLUMNS``), as
    :func:`event_crc`."""
    source_uuid, stream_uuid, version, source_type, data, metadata, epoch = row[:7]
    text = f"{source_uuid}\0{stream_uuid}\0{version}\0{source_type}\0{data}\0{metadata}\0{epoch}"
    return zlib.crc32(text.encode())


def _span(numbers: Sequence[int]) -> str:
    """A run of numbers in one short phrase for an error message."""
    if not numbers:
        return "none"
    return f"{numbers[0]}..{numbers[-1]} ({len(numbers)})"


def _event_records(rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """Event records (docs/API.md) from rows of ``_ROW_COLUMNS``."""
    loads = orjson.loads
    gmtime = time.gmtime
    strftime = time.strftime
    records = []
    last_second = -1
    prefix = ""
    # Events of one batch share a timestamp: format each second once.
    for position, stream_id, number, event_id, event_type, data, metadata, epoch, _ in rows:
        second, micros = divmod(epoch, 1_000_000)
        if second != last_second:
            last_second = second
            prefix = strftime("%Y-%m-%dT%H:%M:%S", gmtime(second))
        records.append(
            {
                "event_id": event_id,
                "event_type": event_type,
                "stream_id": stream_id,
                "event_number": number,
                "position": position,
                "data": loads(data),
                "metadata": loads(metadata),
                "created": f"{prefix}.{micros:06d}Z",
                "created_epoch": epoch,
            }
        )
    return records


def _snapshot_record(row: tuple[Any, ...]) -> dict[str, Any]:
    source_uuid, stream_uuid, version, source_type, data, metadata, epoch, _ = row
    return {
        "source_uuid": source_uuid,
        "stream_uuid": stream_uuid,
        "source_version": version,
        "source_type": source_type,
        "data": orjson.loads(data),
        "metadata": orjson.loads(metadata),
        "created_at": iso_utc(epoch),
        "created_epoch": epoch,
    }
