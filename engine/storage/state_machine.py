"""``StateMachine``: all the stores of a node, fed with committed log entries in batches.

Replay after a restart is exact because of two applied indexes:

- each store database records the last entry applied to it, in the same transaction as the
  writes (``EventStore.applied_index``), and skips entries at or below it;
- ``<node_dir>/state.db`` records the node-level index replay starts from: every entry up to it
  is applied to every store, durably.  Store commits are not fsynced (the replicated log holds
  the writes durably, and an fsync per commit would sit on every append's path), so this index is
  written only at a *durable point* (engine/storage/durability.py): at most once a second while
  entries are applied, and at close, after the stores written since the last point are fsynced.
  A restart replays the entries after it (about a second's worth), which the stores skip as far
  as they got.

Store lifecycle on replay: ``create_store`` at index i is skipped when the store exists with an
applied index >= i (it was created then, or later); ``delete_store`` at j is skipped when the
store's applied index is >= j (the store was re-created after j).  A store created at i and
deleted at j therefore ends deleted, and a re-created one survives.  A store database whose
creation never committed is removed at startup; replay then creates it again.

A snapshot from the leader (engine/storage/snapshot_files.py) replaces every store at once
(:meth:`StateMachine.install`): its directory, complete and fsynced, takes the place of
``stores/`` by renames, then ``state.db`` records the snapshot's index as the replay point.

Everything runs on the node's event-loop thread.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.config_model import FsyncMode
from engine.protocol.commands import decode_command
from engine.protocol.errors import GateError
from engine.replication.membership import is_membership
from engine.replication.messages import Snapshot
from engine.storage.check import check_entry
from engine.storage.durability import DurablePoints
from engine.storage.event_store import (
    CONTENT_ERRORS,
    SYNCHRONOUS,
    EventStore,
    IncompleteStoreError,
    error_result,
)
from engine.storage.reads import execute_read
from engine.storage.snapshot_files import recover_directory, replace_directory

_LIFECYCLE_OPS = ("create_store", "delete_store")
DURABLE_INTERVAL = 1.0  # seconds between durable points while entries are applied


def remove_store_files(db_path: Path) -> None:
    """Remove a store database; WAL, shared memory and damage marker first, so none of them
    outlives its db."""
    for suffix in ("-wal", "-shm", ".damaged", ""):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)


class StateMachine:
    """The stores of one node under ``<node_dir>/stores/``."""

    def __init__(
        self,
        node_dir: Path,
        fsync: FsyncMode,
        *,
        clock: Callable[[], float] = time.monotonic,
        durable_interval: float = DURABLE_INTERVAL,
        log_wal: Path | None = None,
    ) -> None:
        """``log_wal``: the node log's WAL, which durable points fsync first with ``fsync: os``
        (engine/storage/durability.py)."""
        self._clock = clock
        self._durable_interval = durable_interval
        self._stores_dir = node_dir / "stores"
        recover_directory(self._stores_dir)  # a snapshot install a crash cut short
        self._stores_dir.mkdir(parents=True, exist_ok=True)
        self._points = DurablePoints(node_dir / "state.db", fsync, log_wal=log_wal)
        self._applied_index = self._points.recorded
        self._last_point = clock()
        self._written: set[str] = set()  # stores committed to since the last durable point
        self._lifecycle_changed = False  # a store was created or deleted since then
        self._unfinished: list[EventStore] = []  # checkpointed by the point in progress
        self._stores: dict[str, EventStore] = {}
        self._open_stores()

    def _open_stores(self) -> None:
        for suffix in ("-wal", ".damaged"):
            for left in self._stores_dir.glob(f"*.db{suffix}"):
                if not Path(str(left).removesuffix(suffix)).exists():
                    left.unlink()
        for db_path in sorted(self._stores_dir.glob("*.db")):
            try:
                store = EventStore(db_path)
            except IncompleteStoreError:
                remove_store_files(db_path)
                continue
            self._stores[store.store_id] = store

    @property
    def applied_index(self) -> int:
        """Every log entry up to this index is applied to every store."""
        return self._applied_index

    @property
    def held_index(self) -> int:
        """The last log entry some store holds: applied, so committed (a store may be past
        :attr:`applied_index`, which only the durable points move at a restart)."""
        return max((s.applied_index for s in self._stores.values()), default=self._applied_index)

    @property
    def durable_index(self) -> int:
        """The index of the last durable point: a restart replays the entries after it."""
        return self._points.recorded

    @property
    def stores_dir(self) -> Path:
        return self._stores_dir

    @property
    def installed_snapshot(self) -> Snapshot | None:
        """The last snapshot installed (None if never)."""
        return self._points.snapshot

    def install(self, staged: Path, snapshot: Snapshot) -> None:
        """Replace every store by the snapshot's copies in directory ``staged`` (complete and
        fsynced; it is moved, not copied): the state machine is then at ``snapshot.index``."""
        self._points.wait()
        for store in self._stores.values():
            store.close()
        self._stores.clear()
        self._written.clear()
        self._unfinished = []
        self._lifecycle_changed = False
        replace_directory(self._stores_dir, staged)
        self._points.record_snapshot(snapshot)
        self._applied_index = snapshot.index
        self._open_stores()

    def discard(self) -> None:
        """Drop every store: the state machine starts over, empty, at index 0."""
        empty = self._stores_dir.with_name(self._stores_dir.name + ".empty")
        if empty.exists():
            shutil.rmtree(empty)
        empty.mkdir()
        self.install(empty, Snapshot())

    def apply(self, entries: list[tuple[int, bytes]]) -> list[dict[str, Any] | None]:
        """Apply committed entries ``(index, data)`` in order; one result per entry.

        A store's commands between two lifecycle commands go in one transaction.  The result is
        None for a no-op and for an entry already applied before a restart.
        """
        results: list[dict[str, Any] | None] = [None] * len(entries)
        pending: dict[str, list[tuple[int, int, dict[str, Any]]]] = {}
        for slot, (index, data) in enumerate(entries):
            if index <= self._applied_index:
                continue
            if is_membership(data):
                continue  # the Raft core's, already in force on this node
            try:
                cmd = decode_command(data)
                if cmd is None:
                    continue
                # Every entry is untrusted: what fails the check is an error result, the same
                # on every node, and never reaches a store.
                check_entry(cmd)
            except ValueError as exc:
                results[slot] = error_result("invalid_request", f"undecodable command: {exc}")
                continue
            except GateError as err:
                results[slot] = {"error": err.to_dict()}
                continue
            store_id: str = cmd["store"]
            op = cmd["op"]
            if op in _LIFECYCLE_OPS:
                self._flush(store_id, pending.pop(store_id, []), results)
                if op == "create_store":
                    results[slot] = self._create(index, store_id, cmd)
                else:
                    results[slot] = self._delete(index, store_id)
            else:
                pending.setdefault(store_id, []).append((slot, index, cmd))
        for store_id, items in pending.items():
            self._flush(store_id, items, results)
        if entries and entries[-1][0] > self._applied_index:
            self._applied_index = entries[-1][0]
        return results

    def maintain(self) -> None:
        """The disk work that applying leaves: finish the last durable point's checkpoints and
        start the next point once one is due (every ``durable_interval`` while entries come).

        Finishing copies WAL frames and syncs on this thread, so the node calls this after a
        round's writers have their answers (engine/node/host.py), not inside :meth:`apply`.
        """
        self._finish_checkpoints()
        if self._clock() - self._last_point >= self._durable_interval and not self._points.busy:
            self.take_durable_point()

    def _finish_checkpoints(self) -> None:
        """Once a point's checkpoints are done, copy what the stores got meanwhile (wal.py)."""
        if self._unfinished and not self._points.busy:
            stores, self._unfinished = self._unfinished, []
            for store in stores:
                store.finish_checkpoint()

    def take_durable_point(self) -> None:
        """Start a durable point for everything applied so far (it completes in the background)."""
        self._last_point = self._clock()
        if self._applied_index == self._points.recorded and not self._written:
            return
        self._finish_checkpoints()
        stores = [self._stores[s] for s in sorted(self._written) if s in self._stores]
        files = [store.wal_path for store in stores]
        # The directory entries of created and removed stores: whatever the setting, a store
        # the point counts must still be there after a power loss.
        directories = [self._stores_dir] if self._lifecycle_changed else []
        self._written.clear()
        self._lifecycle_changed = False
        # The point's worker also checkpoints those stores; the loop finishes them (wal.py).
        self._unfinished = stores
        self._points.take(
            self._applied_index,
            files,
            directories=directories,
            checkpoints=[store.path for store in stores],
            synchronous=SYNCHRONOUS,
        )

    def _flush(
        self,
        store_id: str,
        items: list[tuple[int, int, dict[str, Any]]],
        results: list[dict[str, Any] | None],
    ) -> None:
        if not items:
            return
        store = self._stores.get(store_id)
        if store is None:
            for slot, _, _ in items:
                results[slot] = error_result("store_not_found", f"store {store_id!r} not found")
            return
        batch = store.apply_batch([(index, cmd) for _, index, cmd in items])
        self._written.add(store_id)
        for (slot, _, _), result in zip(items, batch, strict=True):
            results[slot] = result

    def _create(self, index: int, store_id: str, cmd: dict[str, Any]) -> dict[str, Any]:
        existing = self._stores.get(store_id)
        if existing is not None:
            if existing.applied_index >= index:
                return {"store_id": store_id}  # replay of this very creation
            return error_result("store_exists", f"store {store_id!r} already exists")
        path = self._stores_dir / f"{store_id}.db"  # the checked id is a safe file name
        try:
            store = EventStore.create(
                path, config=cmd["config"], created_epoch=cmd["created_epoch"], applied_index=index
            )
        except CONTENT_ERRORS as exc:
            remove_store_files(path)
            return error_result("invalid_request", f"store {store_id!r} not created: {exc}")
        except BaseException:
            remove_store_files(path)
            raise
        self._stores[store_id] = store
        self._lifecycle_changed = True
        return {"store_id": store_id}

    def _delete(self, index: int, store_id: str) -> dict[str, Any]:
        store = self._stores.get(store_id)
        if store is None:
            return error_result("store_not_found", f"store {store_id!r} not found")
        if store.applied_index >= index:
            return {}  # replay: this store was created again after the deletion
        del self._stores[store_id]
        store.close()
        # A point in progress may be checkpointing this store with a connection of its own.
        self._points.wait()
        remove_store_files(store.path)
        self._lifecycle_changed = True
        return {}

    def store(self, store_id: str) -> EventStore:
        """The store for reads; raises ``store_not_found``."""
        store = self._stores.get(store_id)
        if store is None:
            raise GateError("store_not_found", f"store {store_id!r} not found")
        return store

    def stores(self) -> list[str]:
        """The ids of the node's stores, sorted."""
        return sorted(self._stores)

    def damaged(self) -> dict[str, str]:
        """The stores that refuse reads (``store_damaged``), each with why."""
        return {
            store_id: store.damaged
            for store_id, store in sorted(self._stores.items())
            if store.damaged is not None
        }

    def read(self, query: dict[str, Any]) -> Any:
        """Validate and execute a read query (docs/ENGINE.md, "Read queries") on local state."""
        return execute_read(self, query)

    def close_now(self) -> None:
        """Close every store and the node database without a new durable point (the node's
        data is damaged and being set aside: nothing of it must be vouched for)."""
        try:
            self._points.close()
        finally:
            for store in self._stores.values():
                store.close()
            self._stores.clear()

    def close(self) -> None:
        """Make what was applied durable, then close every store and the node database."""
        self._points.wait()
        self.take_durable_point()
        self._points.close()
        for store in self._stores.values():
            store.close()
        self._stores.clear()
