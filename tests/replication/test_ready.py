"""The order a host carries out a Ready in (engine/replication/ready.py), shared by the node
host and the simulator."""

from __future__ import annotations

import random

from bench.lib.memory_storage import MemoryLogStorage
from engine.replication.core import RaftConfig, RaftNode
from engine.replication.messages import (
    AppendRequest,
    AppendResponse,
    Entry,
    HardState,
    Message,
    Snapshot,
    VoteRequest,
    VoteResponse,
)
from engine.replication.ready import finish_ready, run_ready, start_ready


class _Recorder:
    """A host that writes down each step; its disk is a MemoryLogStorage."""

    def __init__(self) -> None:
        self.storage = MemoryLogStorage()
        self.steps: list[tuple[str, object]] = []

    def send(self, messages: list[Message]) -> None:
        self.steps.append(("send", [type(m).__name__ for m in messages]))

    def apply(self, entries: list[Entry]) -> None:
        self.steps.append(("apply", [e.index for e in entries]))

    def persist(
        self, hard_state: HardState | None, entries: list[Entry], snapshot: Snapshot | None
    ) -> None:
        self.storage.save(hard_state, entries, snapshot)
        self.steps.append(("persist", [e.index for e in entries]))


def _leader(host: _Recorder) -> RaftNode:
    """Leader of a 3-node group at term 1, its no-op stable and committed by b."""
    node = RaftNode(RaftConfig("a", ("a", "b", "c")), host.storage, random.Random(1))
    while node.role == "follower":
        node.tick()
        node.step(VoteResponse(node.term + 1, "b", "a", True, pre_vote=True))
    _run(node, host)
    node.step(VoteResponse(1, "b", "a", True))
    _run(node, host)
    host.steps.clear()
    return node


def _run(node: RaftNode, host: _Recorder) -> None:
    while node.has_ready():
        run_ready(node, send=host.send, apply=host.apply, persist=host.persist)


def test_early_messages_then_apply_then_write_then_answers() -> None:
    host = _Recorder()
    node = _leader(host)
    node.step(AppendResponse(1, "b", "a", True, 1))  # the no-op committed
    node.propose([b"x"])
    node.step(VoteRequest(1, "c", "a", 0, 0))  # refused, after the write
    run_ready(node, send=host.send, apply=host.apply, persist=host.persist)
    assert host.steps == [
        ("send", ["AppendRequest", "AppendRequest"]),  # to b: the commit, then x
        ("apply", [1]),
        ("persist", [2]),
        ("send", ["VoteResponse"]),
    ]
    assert node.commit_index == 1  # entry 2 is stable now; b and c have not acked it yet
    assert host.storage.last_index() == 2


def test_a_commit_index_alone_is_not_written() -> None:
    host = _Recorder()
    node = RaftNode(RaftConfig("b", ("a", "b", "c")), host.storage, random.Random(1))
    node.step(AppendRequest(1, "a", "b", 0, 0, (Entry(1, 1, b""),), 0))
    _run(node, host)
    assert ("persist", [1]) in host.steps
    host.steps.clear()
    node.step(AppendRequest(1, "a", "b", 1, 1, (), 1))
    _run(node, host)
    assert host.steps == [("apply", [1]), ("send", ["AppendResponse"])]
    assert host.storage.initial_state() == HardState(1, None, 0)  # the commit rides along later


def test_a_split_round_sends_answers_only_once_the_write_is_done() -> None:
    host = _Recorder()
    node = RaftNode(RaftConfig("b", ("a", "b", "c")), host.storage, random.Random(1))
    node.step(VoteRequest(1, "a", "b", 0, 0))
    rd = node.ready()
    start_ready(rd, send=host.send, apply=host.apply)
    assert host.steps == []  # nothing may go before the vote is on disk
    finish_ready(node, rd, persist=host.persist, send=host.send)
    assert host.steps == [("persist", []), ("send", ["VoteResponse"])]
    assert host.storage.initial_state() == HardState(1, "a", 0)
