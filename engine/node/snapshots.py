"""Snapshot transfers between nodes: a leader's stores to a follower that needs entries the
leader compacted away (Raft's InstallSnapshot; the core decides when, engine/replication).

The leader's core hands out a ``SnapshotRequest``; :class:`SnapshotSender` turns it into a
transfer on a connection of its own to the follower's TCP endpoint (the node framing, signed
under the cluster secret):

1. it copies the stores (engine/storage/snapshot_files.py) in a worker thread, at or past the
   state machine's applied index ``S`` read first, which becomes the snapshot's index;
2. ``snapshot_offer`` names the transfer and its files (sizes, SHA-256); the follower answers
   how many bytes of each it already holds from an earlier attempt at the same transfer, so a
   transfer cut off resumes where it stopped (the leader keeps the copy of a failed transfer
   while its log still holds the entries after ``S``);
3. ``snapshot_chunk`` frames carry the rest, 1 MiB each, with a CRC-32, appended in order;
4. ``snapshot_install`` carries the ``SnapshotRequest``: the follower checks every file's size
   and SHA-256, fsyncs them, and only then steps the request into its core
   (:class:`SnapshotReceiver`); its answer goes back over Raft as usual.

A follower's core that restores the snapshot hands it out in a ``Ready``; the host then installs
the received files (``StateMachine.install``) before it stores the log's new start.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import shutil
import sqlite3
import ssl
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.config_model import Endpoint
from engine.node.node_log import NodeLog
from engine.protocol.errors import GateError, invalid
from engine.protocol.framing import FrameError, FrameSession, open_session, read_frame
from engine.replication.messages import Snapshot, SnapshotRequest
from engine.replication.wire import decode_message, encode_message
from engine.storage.snapshot_files import (
    STORE_FILE,
    SnapshotFile,
    backup_stores,
    file_sha256,
    seal,
)

log = logging.getLogger("gate.node.snapshots")

CHUNK_BYTES = 1 << 20
TRANSFER_TIMEOUT = 30.0  # seconds for any one step of a transfer (connect, a chunk, install)
RETRY_DELAY = 1.0  # seconds between a failed transfer and its report (so its retry)


def transfer_id(request: SnapshotRequest) -> str:
    """Names one transfer: the same leader, term and snapshot index resume one another."""
    return f"{request.frm}-{request.term}-{request.snapshot.index}"


@dataclass(slots=True)
class _Outgoing:
    request: SnapshotRequest
    directory: Path
    files: list[SnapshotFile]


class SnapshotSender:
    """The leader's side: at most one transfer per follower at a time."""

    def __init__(
        self,
        *,
        node_id: str,
        secret: bytes,
        endpoints: dict[str, Endpoint],
        work_dir: Path,
        stores_dir: Path,
        snapshot_now: Callable[[], Snapshot],
        first_index: Callable[[], int],
        report: Callable[[str, Snapshot | None], None],
        link_cut: Callable[[str], bool],
        node_log: NodeLog,
        counters: dict[str, int],
        retry_delay: float = RETRY_DELAY,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self._node_id = node_id
        self._secret = secret
        self._tls = tls  # security.tls: the peer's certificate must be signed by the CA
        self._endpoints = endpoints
        self._work_dir = work_dir
        self._stores_dir = stores_dir
        self._snapshot_now = snapshot_now
        self._first_index = first_index
        self._report = report
        self._link_cut = link_cut  # an operator's partition (isolate) cuts transfers too
        self._node_log = node_log
        self._counters = counters
        self._retry_delay = retry_delay
        self._running: dict[str, asyncio.Task[None]] = {}
        self._failing: set[str] = set()  # followers whose last transfer failed (logged once)
        self._kept: dict[str, _Outgoing] = {}  # a failed transfer's copy, to resume
        self._holds: dict[str, int] = {}  # snapshot index of each transfer in progress
        shutil.rmtree(work_dir, ignore_errors=True)  # copies of a previous process

    def send(self, request: SnapshotRequest) -> None:
        """Start a transfer for ``request`` unless one to that follower is under way."""
        peer = request.to
        if peer in self._running or peer not in self._endpoints:
            return
        task = asyncio.create_task(self._transfer(request), name=f"snapshot-to-{peer}")
        self._running[peer] = task

    def compaction_floor(self) -> int | None:
        """The lowest snapshot index a transfer is sending (the log must keep what follows)."""
        return min(self._holds.values(), default=None)

    async def close(self) -> None:
        for task in list(self._running.values()):
            task.cancel()
        for task in list(self._running.values()):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        shutil.rmtree(self._work_dir, ignore_errors=True)

    async def _transfer(self, asked: SnapshotRequest) -> None:
        peer = asked.to
        try:
            outcome = await self._attempt(asked)
            if isinstance(outcome, Snapshot):
                self._failing.discard(peer)
            else:
                self._counters["snapshot_failures"] += 1
                if peer not in self._failing:  # once, not at every retry while the link is down
                    self._failing.add(peer)
                    self._node_log.add("snapshot", outcome, "warning")
                await asyncio.sleep(self._retry_delay)
        finally:
            del self._running[peer]
        # Delivered: the core probes after it.  Failed: the core sends the snapshot again (a kept
        # copy resumes where this attempt stopped).
        self._report(peer, outcome if isinstance(outcome, Snapshot) else None)

    async def _attempt(self, asked: SnapshotRequest) -> Snapshot | str:
        """One transfer: the snapshot delivered, or what went wrong."""
        peer = asked.to
        began = time.monotonic()
        try:
            outgoing = await self._prepare(asked)
        except (OSError, sqlite3.Error) as exc:
            return f"cannot copy the stores for a snapshot to {peer}: {exc}"
        self._holds[peer] = outgoing.request.snapshot.index
        try:
            sent = await self._stream(outgoing)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, FrameError, GateError) as exc:
            self._kept[peer] = outgoing  # the next attempt resumes where this one stopped
            return (
                f"snapshot at index {outgoing.request.snapshot.index} to {peer} failed: "
                f"{exc or type(exc).__name__}; it resumes on the next attempt"
            )
        finally:
            self._holds.pop(peer, None)
        shutil.rmtree(outgoing.directory, ignore_errors=True)
        size = sum(f.size for f in outgoing.files)
        self._counters["snapshots_sent"] += 1
        self._counters["snapshot_bytes_sent"] += sent
        self._node_log.add(
            "snapshot",
            f"snapshot sent to {peer}: {_megabytes(size)} at index "
            f"{outgoing.request.snapshot.index} in {time.monotonic() - began:.1f} s",
        )
        return outgoing.request.snapshot

    async def _prepare(self, asked: SnapshotRequest) -> _Outgoing:
        """The copy to send: a kept one the log can still follow on from, or a fresh one."""
        peer = asked.to
        kept = self._kept.pop(peer, None)
        if kept is not None:
            if kept.request.snapshot.index + 1 >= self._first_index():
                return _Outgoing(
                    SnapshotRequest(asked.term, asked.frm, peer, kept.request.snapshot),
                    kept.directory,
                    kept.files,
                )
            shutil.rmtree(kept.directory, ignore_errors=True)
        snapshot = self._snapshot_now()  # read before the copies: each copy is at or past it
        directory = self._work_dir / f"{peer}-{snapshot.index}"
        shutil.rmtree(directory, ignore_errors=True)
        files = await asyncio.to_thread(backup_stores, self._stores_dir, directory)
        return _Outgoing(SnapshotRequest(asked.term, asked.frm, peer, snapshot), directory, files)

    async def _stream(self, outgoing: _Outgoing) -> int:
        """Send the files the follower lacks, then the request; the bytes sent."""
        peer = outgoing.request.to
        endpoint = self._endpoints[peer]
        self._check_link(peer)
        async with asyncio.timeout(TRANSFER_TIMEOUT):
            reader, writer = await asyncio.open_connection(
                endpoint.connect_host,
                endpoint.port,
                ssl=self._tls,
                server_hostname=endpoint.connect_host if self._tls else None,
            )
        try:
            async with asyncio.timeout(TRANSFER_TIMEOUT):
                session = await open_session(reader, writer, self._secret)
            rpc = _Rpc(reader, writer, session)
            tid = transfer_id(outgoing.request)
            have = await rpc.call(
                {
                    "op": "snapshot_offer",
                    "transfer": tid,
                    "files": [
                        {"name": f.name, "size": f.size, "sha256": f.sha256} for f in outgoing.files
                    ],
                }
            )
            sent = 0
            for f in outgoing.files:
                offset = have.get(f.name, 0) if isinstance(have, dict) else 0
                with (outgoing.directory / f.name).open("rb") as stream:
                    stream.seek(offset)
                    while offset < f.size:
                        self._check_link(peer)
                        data = stream.read(CHUNK_BYTES)
                        await rpc.call(
                            {
                                "op": "snapshot_chunk",
                                "transfer": tid,
                                "name": f.name,
                                "offset": offset,
                                "data": base64.b64encode(data).decode(),
                                "crc32": zlib.crc32(data),
                            }
                        )
                        offset += len(data)
                        sent += len(data)
            request = encode_message(outgoing.request)
            await rpc.call({"op": "snapshot_install", "transfer": tid, "msg": request})
            return sent
        finally:
            writer.close()

    def _check_link(self, peer: str) -> None:
        if self._link_cut(peer):
            raise ConnectionError(f"the link to {peer} is cut")


class _Rpc:
    """Requests answered in turn on one signed connection."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, session: FrameSession
    ) -> None:
        self._reader, self._writer, self._session = reader, writer, session
        self._next_id = 0

    async def call(self, request: dict[str, Any]) -> Any:
        self._next_id += 1
        self._writer.write(self._session.encode({"id": self._next_id, **request}))
        async with asyncio.timeout(TRANSFER_TIMEOUT):
            answer = await read_frame(self._reader, self._session)
        if not answer.get("ok"):
            raise GateError.from_dict(answer.get("error") or {"code": "internal"})
        return answer.get("result")


@dataclass(slots=True)
class _Incoming:
    transfer: str
    directory: Path
    files: dict[str, tuple[int, str]]  # name -> (size, sha256)


class SnapshotReceiver:
    """The follower's side: one transfer at a time, staged under ``work_dir``."""

    def __init__(self, work_dir: Path, deliver: Callable[[SnapshotRequest], None]) -> None:
        self._work_dir = work_dir
        self._deliver = deliver
        self._incoming: _Incoming | None = None
        self._staged: dict[Snapshot, Path] = {}  # checked, handed to the core
        # A transfer's files are kept across restarts of the node, so it resumes; only what
        # was staged for the core is not (the core asks again after a restart).
        work_dir.mkdir(parents=True, exist_ok=True)

    def offer(self, msg: dict[str, Any]) -> dict[str, int]:
        """A transfer begins (or resumes): the bytes already held of each of its files."""
        tid = msg.get("transfer")
        if not isinstance(tid, str) or not STORE_FILE.fullmatch(f"{tid}.db"):
            raise invalid("snapshot_offer needs a transfer id")
        raw = msg.get("files")
        if not isinstance(raw, list):
            raise invalid("snapshot_offer needs a list of files")
        files: dict[str, tuple[int, str]] = {}
        for item in raw:
            if not isinstance(item, dict):
                raise invalid("a snapshot file must be an object")
            name, size, sha = item.get("name"), item.get("size"), item.get("sha256")
            if (
                not isinstance(name, str)
                or not STORE_FILE.fullmatch(name)
                or type(size) is not int
                or size < 0
                or not isinstance(sha, str)
            ):
                raise invalid(f"malformed snapshot file {item!r}")
            files[name] = (size, sha)
        directory = self._work_dir / tid
        for other in self._work_dir.iterdir():
            # An abandoned transfer goes; one checked and handed to the core stays until the
            # host installs one.
            if other != directory and other not in self._staged.values():
                shutil.rmtree(other, ignore_errors=True)
        directory.mkdir(exist_ok=True)
        self._incoming = _Incoming(tid, directory, files)
        have = {}
        for name, (size, _) in files.items():
            path = directory / name
            held = path.stat().st_size if path.exists() else 0
            if held > size:
                path.unlink()
                held = 0
            have[name] = held
        return have

    def chunk(self, msg: dict[str, Any]) -> None:
        """Append one chunk to its file (at exactly the offset the file has reached)."""
        incoming = self._current(msg)
        name, offset, data, crc = (
            msg.get("name"),
            msg.get("offset"),
            msg.get("data"),
            msg.get("crc32"),
        )
        if not isinstance(name, str) or name not in incoming.files:
            raise invalid(f"no file {name!r} in this snapshot")
        if not isinstance(data, str) or type(offset) is not int or type(crc) is not int:
            raise invalid("snapshot_chunk needs name, offset, data and crc32")
        try:
            raw = base64.b64decode(data, validate=True)
        except ValueError:
            raise invalid("snapshot_chunk data is not base64") from None
        if zlib.crc32(raw) != crc:
            raise invalid(f"chunk of {name} at offset {offset} fails its CRC-32")
        path = incoming.directory / name
        held = path.stat().st_size if path.exists() else 0
        if offset != held or offset + len(raw) > incoming.files[name][0]:
            raise invalid(f"chunk of {name} at offset {offset}, the file holds {held} bytes")
        with path.open("ab") as f:
            f.write(raw)

    async def install(self, msg: dict[str, Any]) -> None:
        """Check every file, make them durable, and hand the request to the core."""
        incoming = self._current(msg)
        try:
            request = decode_message(msg.get("msg"))  # type: ignore[arg-type]
        except (ValueError, TypeError, KeyError) as exc:
            raise invalid(f"malformed snapshot request: {exc}") from None
        if not isinstance(request, SnapshotRequest) or transfer_id(request) != incoming.transfer:
            raise invalid("the snapshot request does not match its transfer")
        # Hashing and syncing a large snapshot takes seconds: not on the event loop.
        await asyncio.to_thread(_check_and_seal, incoming)
        if self._incoming is not incoming:
            raise GateError("invalid_request", "the transfer was replaced meanwhile")
        self._staged[request.snapshot] = incoming.directory
        self._incoming = None
        self._deliver(request)

    def take(self, snapshot: Snapshot) -> Path:
        """The checked files of ``snapshot``, which the core restored, for the host to install
        (those of any other snapshot handed to the core are dropped: the core took this one)."""
        path = self._staged.pop(snapshot, None)
        if path is None:
            raise RuntimeError(f"the core restored {snapshot}, whose files were not received")
        for other in self._staged.values():
            shutil.rmtree(other, ignore_errors=True)
        self._staged.clear()
        return path

    def _current(self, msg: dict[str, Any]) -> _Incoming:
        incoming = self._incoming
        if incoming is None or msg.get("transfer") != incoming.transfer:
            raise GateError("invalid_request", "no such snapshot transfer under way")
        return incoming


def _check_and_seal(incoming: _Incoming) -> None:
    for name, (size, sha) in incoming.files.items():
        path = incoming.directory / name
        if not path.exists() or path.stat().st_size != size or file_sha256(path) != sha:
            path.unlink(missing_ok=True)  # sent again whole next time
            raise invalid(f"snapshot file {name} does not match its size and SHA-256")
    seal(incoming.directory)


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size / 1e3:.0f} kB"
