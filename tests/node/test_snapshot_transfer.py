"""Snapshot transfers (engine/node/snapshots.py): the follower's checks, a transfer cut off
that resumes where it stopped, and a node restarted in the middle of an install."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import sqlite3
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from engine.config import load_config
from engine.config_model import Endpoint
from engine.node.host import RaftHost
from engine.node.node_log import NodeLog
from engine.node.snapshots import CHUNK_BYTES, SnapshotReceiver, SnapshotSender, transfer_id
from engine.protocol.errors import GateError
from engine.protocol.framing import ServerConnection
from engine.replication.messages import Entry, HardState, Snapshot, SnapshotRequest
from engine.replication.wire import encode_message
from engine.storage.raft_log import SqliteLogStorage
from engine.storage.state_machine import StateMachine
from tests.cluster_harness import cluster_config, free_ports, write_config

SECRET = b"test-secret"
REQUEST = SnapshotRequest(3, "node1", "node2", Snapshot(40, 3, ("node1", "node2")))
TID = transfer_id(REQUEST)


def _offer(receiver: SnapshotReceiver, data: bytes, tid: str = TID) -> Any:
    sha = hashlib.sha256(data).hexdigest()
    files = [{"name": "s.db", "size": len(data), "sha256": sha}]
    return receiver.offer({"transfer": tid, "files": files})


def _chunk(data: bytes, offset: int, crc: int | None = None) -> dict[str, Any]:
    return {
        "transfer": TID,
        "name": "s.db",
        "offset": offset,
        "data": base64.b64encode(data).decode(),
        "crc32": zlib.crc32(data) if crc is None else crc,
    }


async def test_the_follower_checks_every_chunk_and_file_before_the_core_sees_the_request(
    tmp_path: Path,
) -> None:
    delivered: list[SnapshotRequest] = []
    receiver = SnapshotReceiver(tmp_path / "in", delivered.append)
    data = bytes(range(256)) * 40
    for bad in ("../x", ""):
        with pytest.raises(GateError, match="transfer id"):
            receiver.offer({"transfer": bad, "files": []})
    with pytest.raises(GateError, match="malformed snapshot file"):
        receiver.offer({"transfer": TID, "files": [{"name": "../s.db", "size": 1, "sha256": ""}]})
    assert _offer(receiver, data) == {"s.db": 0}
    with pytest.raises(GateError, match="CRC-32"):
        receiver.chunk(_chunk(data[:100], 0, crc=1))
    with pytest.raises(GateError, match="the file holds 0 bytes"):
        receiver.chunk(_chunk(data[100:200], 100))
    receiver.chunk(_chunk(data[:6000], 0))
    # Offered again (the leader reconnected): it resumes after what arrived.
    assert _offer(receiver, data) == {"s.db": 6000}
    receiver.chunk(_chunk(b"x" * (len(data) - 6000), 6000))  # corrupted, but its CRC matches
    with pytest.raises(GateError, match="does not match its size and SHA-256"):
        await receiver.install({"transfer": TID, "msg": encode_message(REQUEST)})
    assert delivered == []
    assert _offer(receiver, data) == {"s.db": 0}  # the bad file is sent again whole
    receiver.chunk(_chunk(data, 0))
    other = SnapshotRequest(3, "node1", "node2", Snapshot(41, 3, ()))
    with pytest.raises(GateError, match="does not match its transfer"):
        await receiver.install({"transfer": TID, "msg": encode_message(other)})
    await receiver.install({"transfer": TID, "msg": encode_message(REQUEST)})
    assert delivered == [REQUEST]
    # A new transfer begins before the host installed this one: the staged files stay.
    _offer(receiver, data, tid="node1-4-90")
    with pytest.raises(RuntimeError, match="not received"):
        receiver.take(other.snapshot)
    staged = receiver.take(REQUEST.snapshot)
    assert (staged / "s.db").read_bytes() == data
    staged.rename(tmp_path / "installed")  # what the host does with them
    # A new transfer drops what an abandoned one left.
    _offer(receiver, data, tid="node1-5-99")
    assert [p.name for p in (tmp_path / "in").iterdir()] == ["node1-5-99"]


class _Follower:
    """A follower's TCP end for snapshots only, which can drop the connection after a number
    of chunks (a link that breaks mid-transfer)."""

    def __init__(self, work_dir: Path, cut_after: int) -> None:
        self.delivered: list[SnapshotRequest] = []
        self.receiver = SnapshotReceiver(work_dir, self.delivered.append)
        self.chunks: list[tuple[int, int]] = []  # (offset, size) of each chunk taken
        self.cut_after = cut_after

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = ServerConnection(reader, writer, SECRET, 5.0)
        try:
            while True:
                msg = await conn.read()
                op, result = msg["op"], {}
                if op == "snapshot_offer":
                    result = self.receiver.offer(msg)
                elif op == "snapshot_chunk":
                    if len(self.chunks) == self.cut_after:
                        return  # the link breaks
                    self.receiver.chunk(msg)
                    self.chunks.append((msg["offset"], len(base64.b64decode(msg["data"]))))
                else:
                    await self.receiver.install(msg)
                conn.send({"id": msg["id"], "ok": True, "result": result})
        except asyncio.IncompleteReadError:
            pass
        finally:
            writer.close()


@contextlib.asynccontextmanager
async def _follower(tmp_path: Path, cut_after: int) -> AsyncIterator[tuple[_Follower, int]]:
    follower = _Follower(tmp_path / "in", cut_after)
    port = free_ports(1)[0]
    server = await asyncio.start_server(follower.serve, "127.0.0.1", port)
    try:
        yield follower, port
    finally:
        server.close()


async def test_a_transfer_cut_off_resumes_where_it_stopped(tmp_path: Path) -> None:
    stores = tmp_path / "stores"
    stores.mkdir()
    db = sqlite3.connect(stores / "reg_gh.db")
    db.execute("CREATE TABLE t (x BLOB)")
    db.executemany("INSERT INTO t VALUES (randomblob(4000))", [()] * 800)  # ~3.3 MB
    db.commit()
    db.close()
    node_log = NodeLog("node1")
    reported: list[tuple[str, Snapshot | None]] = []
    cut = {"node2"}  # an operator cut the link first
    counters = dict.fromkeys(("snapshots_sent", "snapshot_bytes_sent", "snapshot_failures"), 0)
    async with _follower(tmp_path, cut_after=2) as (follower, port):
        sender = SnapshotSender(
            node_id="node1",
            secret=SECRET,
            endpoints={"node2": Endpoint("127.0.0.1", port)},
            work_dir=tmp_path / "out",
            stores_dir=stores,
            snapshot_now=lambda: REQUEST.snapshot,
            first_index=lambda: 41,  # the log follows on from the snapshot: it may resume
            report=lambda peer, delivered: reported.append((peer, delivered)),
            link_cut=lambda peer: peer in cut,
            node_log=node_log,
            counters=counters,
            retry_delay=0.0,
        )
        asked = SnapshotRequest(3, "node1", "node2", Snapshot(30, 3, ()))
        sender.send(asked)
        await asyncio.wait_for(_until(lambda: reported == [("node2", None)]), 10)
        assert follower.chunks == []  # nothing crossed the cut link
        cut.clear()
        reported.clear()
        sender.send(asked)
        sender.send(asked)  # one transfer to a follower at a time
        await asyncio.wait_for(_until(lambda: reported == [("node2", None)]), 10)
        assert counters["snapshot_failures"] == 2
        assert follower.chunks == [(0, CHUNK_BYTES), (CHUNK_BYTES, CHUNK_BYTES)]
        follower.cut_after = -1  # the link holds from now on
        sender.send(asked)  # the core, told, asks again
        await asyncio.wait_for(_until(lambda: len(reported) == 2), 10)
        assert reported[1] == ("node2", REQUEST.snapshot)  # delivered: the core probes after it
        assert counters["snapshots_sent"] == 1
        await sender.close()
    # The second attempt sent only what the first had not.
    offsets = [offset for offset, _ in follower.chunks]
    assert offsets[:3] == [0, CHUNK_BYTES, 2 * CHUNK_BYTES]
    assert len(offsets) == len(set(offsets))
    size = (stores / "reg_gh.db").stat().st_size
    assert sum(n for _, n in follower.chunks) == size
    assert counters["snapshot_bytes_sent"] == size - 2 * CHUNK_BYTES
    assert follower.delivered == [REQUEST]
    staged = follower.receiver.take(REQUEST.snapshot)
    assert _rows(staged / "reg_gh.db") == _rows(stores / "reg_gh.db")  # a copy of the store
    texts = [line["text"] for line in node_log.page(limit=100)["lines"]]
    assert [t for t in texts if "failed" in t] == [  # logged once while it keeps failing
        "snapshot at index 40 to node2 failed: the link to node2 is cut; it resumes on the next "
        "attempt"
    ]
    assert any(t.startswith("snapshot sent to node2: 3.3 MB at index 40") for t in texts)


def _rows(path: Path) -> list[bytes]:
    db = sqlite3.connect(path)
    try:
        return [row[0] for row in db.execute("SELECT x FROM t ORDER BY rowid")]
    finally:
        db.close()


async def _until(condition: Any) -> None:
    while not condition():
        await asyncio.sleep(0.01)


async def test_a_node_restarted_between_installing_its_stores_and_its_log_starts_after_them(
    tmp_path: Path,
) -> None:
    raw = cluster_config(tmp_path, 3, extra={"security": {"clusterSecret": "test-secret"}})
    config = load_config(write_config(tmp_path, raw))
    node_dir = config.node_data_dir("node2")
    snapshot = Snapshot(50, 2, config.node_ids)
    staged = tmp_path / "staged"
    staged.mkdir()
    state = StateMachine(node_dir, "os")
    state.install(staged, snapshot)
    state.close()
    log = SqliteLogStorage(node_dir / "raft.db", "os")
    log.save(HardState(2, None, 3), [Entry(i, 1, b"") for i in range(1, 6)])
    log.close()  # the crash: the log never took the snapshot
    host = RaftHost(config, "node2")
    try:
        assert host.log_storage.snapshot() == snapshot
        assert (host.core.applied_index, host.core.last_index) == (50, 50)
        assert host.status()["log"] == {"first_index": 51, "last_index": 50}
    finally:
        await host.stop()
