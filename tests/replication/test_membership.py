"""Membership changes in the pure core (docs/ENGINE.md, "Membership changes")."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from bench.lib.memory_storage import MemoryLogStorage
from engine.replication import membership
from engine.replication.core import ChangeInProgress, RaftConfig, RaftNode
from engine.replication.membership import MembershipError, MembershipLog
from engine.replication.messages import (
    Address,
    AppendResponse,
    Entry,
    Membership,
    Message,
    NotLeader,
    Snapshot,
    VoteRequest,
)

IDS = ("a", "b", "c")
D = Address("d", ("127.0.0.1", 9004), ("127.0.0.1", 9104))


class _Net:
    """Nodes a, b, c (the bootstrap voters) and d (a spare that starts with the same bootstrap
    membership, as a node the gateway launches) on a perfect network; ``down`` nodes get
    nothing."""

    def __init__(self, **config: object) -> None:
        self.storages = {i: MemoryLogStorage() for i in (*IDS, "d")}
        self.nodes = {
            i: RaftNode(
                RaftConfig(i, IDS, **config),  # type: ignore[arg-type]
                self.storages[i],
                random.Random(i),
            )
            for i in (*IDS, "d")
        }
        self.applied: dict[str, list[Entry]] = {i: [] for i in self.nodes}
        self.down: set[str] = set()
        self.drop: Callable[[Message], bool] | None = None  # messages lost on the way

    def settle(self) -> None:
        for _ in range(500):
            out: list[Message] = []
            for node_id, node in self.nodes.items():
                while node.has_ready():
                    rd = node.ready()
                    self.storages[node_id].save(rd.hard_state, rd.entries, rd.snapshot)
                    out.extend(rd.early_messages + rd.messages)
                    self.applied[node_id].extend(rd.committed)
                    node.advance(rd)
            if not out:
                return
            for msg in out:
                if self.drop is not None and self.drop(msg):
                    continue
                if msg.to not in self.down and msg.frm not in self.down:
                    self.nodes[msg.to].step(msg)
        raise AssertionError("the network did not settle")

    def elect(self, node_id: str) -> RaftNode:
        node = self.nodes[node_id]
        while node.role != "leader":
            node.tick()
            self.settle()
        return node

    def tick(self, ticks: int = 1) -> None:
        for _ in range(ticks):
            for node_id, node in self.nodes.items():
                if node_id not in self.down:
                    node.tick()
            self.settle()


def test_a_learner_gets_the_log_counts_for_nothing_and_is_promoted_once_caught_up() -> None:
    net = _Net()
    leader = net.elect("a")
    leader.propose([b"x%d" % i for i in range(10)])
    net.settle()
    net.down.add("d")
    entry = leader.propose_membership("add", "d", D)
    assert leader.membership == Membership(IDS, ("d",), (D,))  # in force once appended
    net.settle()
    assert leader.commit_index == entry.index, "a learner that is down holds no commit back"
    assert not leader.membership_pending
    # Down, it is not promoted; back, it catches up and the leader promotes it.
    net.tick(3)
    assert leader.membership.learners == ("d",)
    net.down.clear()
    net.tick(3)
    assert leader.membership.voters == (*IDS, "d") and not leader.membership.learners
    assert net.nodes["d"].voter and net.nodes["d"].membership == leader.membership
    assert [e.data for e in net.applied["d"] if e.data.startswith(b"x")] == [
        b"x%d" % i for i in range(10)
    ]


def test_a_learner_never_campaigns_and_a_non_voter_s_votes_are_dropped() -> None:
    net = _Net()
    leader = net.elect("a")
    leader.propose_membership("add", "d", D)
    net.settle()
    net.down.update(IDS)  # d hears no leader any more
    learner = net.nodes["d"]
    for _ in range(100):
        learner.tick()
    assert learner.role == "follower" and not learner.has_ready()
    # Its vote request (were it to send one) is dropped by a voter, term and all.
    b = net.nodes["b"]
    term = b.term
    b.step(VoteRequest(term + 5, "d", "b", 100, term))
    assert b.term == term and not b.has_ready()


def test_one_change_at_a_time_and_only_after_the_leader_committed_its_term() -> None:
    net = _Net()
    leader = net.elect("a")
    net.down.update({"b", "c"})
    assert leader.serving
    leader.propose_membership("add", "d", D)  # b and c are down: it stays uncommitted
    with pytest.raises(ChangeInProgress, match="not committed"):
        leader.propose_membership("remove", "c")
    with pytest.raises(MembershipError, match="hands leadership over"):
        leader.propose_membership("remove", "a")
    with pytest.raises(NotLeader):
        net.nodes["b"].propose_membership("remove", "c")


def test_a_new_leader_proposes_no_change_before_its_no_op_commits() -> None:
    net = _Net()
    a = net.elect("a")
    # b takes over, but the answers to its no-op are lost: it is not serving yet.
    net.drop = lambda m: isinstance(m, AppendResponse) and m.to == "b"
    a.transfer_leadership("b")
    net.settle()
    b = net.nodes["b"]
    assert b.role == "leader" and not b.serving
    with pytest.raises(ChangeInProgress, match="has not committed an entry of term"):
        b.propose_membership("add", "d", D)
    net.drop = None
    net.tick()
    assert b.serving
    b.propose_membership("add", "d", D)


def test_a_truncated_membership_entry_gives_way_to_the_one_before() -> None:
    net = _Net()
    leader = net.elect("a")
    net.settle()
    net.down.update({"b", "c"})
    leader.propose_membership("add", "d", D)  # only a holds it: never committed
    net.settle()
    assert leader.membership.learners == ("d",)
    net.down = {"a"}
    while not any(net.nodes[n].serving for n in ("b", "c")):
        net.tick()
    b = next(net.nodes[n] for n in ("b", "c") if net.nodes[n].serving)
    b.propose([b"y"])
    net.settle()
    net.down.clear()
    b.propose([b"z"])
    net.tick(2)
    a = net.nodes["a"]
    assert a.role == "follower" and a.membership == Membership(IDS)


def test_the_marker_carries_the_membership_and_a_restart_reads_it_from_the_log() -> None:
    net = _Net()
    leader = net.elect("a")
    leader.propose_membership("add", "d", D)
    net.tick(4)
    assert leader.membership.voters == (*IDS, "d")
    leader.propose([b"x"])
    net.settle()
    marker = leader.compact(leader.applied_index)
    assert marker is not None and marker.membership == leader.membership
    assert marker.addresses == (D,)
    net.storages["a"].compact(marker)
    again = RaftNode(leader.config, net.storages["a"], random.Random(1), leader.applied_index)
    assert again.membership == leader.membership
    # Before compaction: read back from the membership entries in the stored log.
    b = net.nodes["b"]
    restarted = RaftNode(b.config, net.storages["b"], random.Random(2), b.applied_index)
    assert restarted.membership == leader.membership


def test_membership_entries_and_markers_encode_and_decode() -> None:
    m = Membership(("a", "b"), ("d",), (D,))
    data = membership.encode(m)
    assert membership.is_membership(data) and not membership.is_membership(b'{"op":1}')
    assert membership.decode(data) == m
    assert membership.from_json(membership.to_json(m)) == m
    assert membership.from_json(["a", "b"]) == Membership(("a", "b"))  # a marker stored earlier
    with pytest.raises(ValueError, match="addresses"):
        membership.from_json({"voters": ["a"], "learners": [], "addresses": "x"})
    snapshot = Snapshot.of(9, 2, m)
    assert snapshot.voters == ("a", "b") and snapshot.membership == m


def test_changes_that_do_not_apply_are_refused() -> None:
    m = Membership(("a",), ("d",))
    with pytest.raises(MembershipError, match="already a member"):
        membership.change(m, "add", "d")
    with pytest.raises(MembershipError, match="not a learner"):
        membership.change(m, "promote", "a")
    with pytest.raises(MembershipError, match="not a member"):
        membership.change(m, "remove", "x")
    with pytest.raises(MembershipError, match="last voter"):
        membership.change(m, "remove", "a")
    confs = MembershipLog(0, Membership(IDS))
    added = Entry(5, 1, membership.encode(membership.change(Membership(IDS), "add", "d", D)))
    assert confs.appended([added]) and confs.index == 5
    assert confs.at(4) == Membership(IDS)
    assert confs.appended([Entry(5, 2, b"")]) and confs.current == Membership(IDS)
