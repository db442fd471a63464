"""The node host carries out each Ready in the order the core's contract sets
(engine/replication/ready.py): a leader's appends before its write, answers only after it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from engine.config import load_config
from engine.node.host import RaftHost
from engine.replication.messages import (
    AppendRequest,
    AppendResponse,
    Entry,
    HardState,
    Message,
    VoteRequest,
    VoteResponse,
)
from tests.cluster_harness import cluster_config, write_config


def _host(tmp_path: Path, node_id: str) -> tuple[RaftHost, list[tuple[str, Any]]]:
    """A host of a 3-node group whose peers are not running: its writes and sends are logged."""
    raw = cluster_config(tmp_path, 3, extra={"security": {"clusterSecret": "test-secret"}})
    host = RaftHost(load_config(write_config(tmp_path, raw)), node_id)
    events: list[tuple[str, Any]] = []
    save = host.log_storage.save

    def logged_save(hard_state: HardState | None, entries: list[Entry], *rest: Any) -> None:
        save(hard_state, entries, *rest)
        events.append(("write", (hard_state, [e.index for e in entries])))

    def logged_send(messages: list[Message], *_: Any) -> None:
        events.extend(("send", m) for m in messages)

    host.log_storage.save = logged_save  # type: ignore[method-assign]
    host.peers.send = logged_send  # type: ignore[method-assign]
    host.peers.send_later = logged_send  # type: ignore[method-assign]
    return host, events


async def _until(events: list[tuple[str, Any]], kind: type, **fields: Any) -> int:
    """Position of the first message sent of ``kind`` with ``fields``, waiting up to 5 s."""
    async with asyncio.timeout(5):
        while True:
            for n, (what, msg) in enumerate(events):
                if (
                    what == "send"
                    and isinstance(msg, kind)
                    and all(getattr(msg, k) == v for k, v in fields.items())
                ):
                    return n
            await asyncio.sleep(0.01)


def _write_of(events: list[tuple[str, Any]], index: int) -> int:
    return next(n for n, (what, e) in enumerate(events) if what == "write" and index in e[1])


async def test_a_follower_answers_only_after_its_write(tmp_path: Path) -> None:
    host, events = _host(tmp_path, "node3")  # not preferred: holds back its first campaign
    await host.start()
    try:
        host.receive([VoteRequest(1, "node1", "node3", 0, 0)])
        vote = await _until(events, VoteResponse, granted=True)
        assert ("write", (HardState(1, "node1", 0), [])) in events[:vote]
        host.receive([AppendRequest(1, "node1", "node3", 0, 0, (Entry(1, 1, b""),), 0)])
        ack = await _until(events, AppendResponse, success=True, match_index=1)
        assert _write_of(events, 1) < ack
    finally:
        await host.stop()


async def test_a_leader_sends_its_appends_before_its_own_write(tmp_path: Path) -> None:
    host, events = _host(tmp_path, "node1")  # preferred: campaigns within a tick or two
    await host.start()
    try:
        await _until(events, VoteRequest, pre_vote=True, to="node2")
        host.receive([VoteResponse(1, "node2", "node1", True, pre_vote=True)])
        request = await _until(events, VoteRequest, pre_vote=False, to="node2")
        assert ("write", (HardState(1, "node1", 0), [])) in events[:request]
        host.receive([VoteResponse(1, "node2", "node1", True)])
        append = await _until(events, AppendRequest, to="node2")
        assert events[append][1].entries == (Entry(1, 1, b""),)  # the leader's no-op
        assert all(what != "write" for what, _ in events[request:append])
        async with asyncio.timeout(5):
            while not any(what == "write" and 1 in e[1] for what, e in events[append:]):
                await asyncio.sleep(0.01)
    finally:
        await host.stop()
