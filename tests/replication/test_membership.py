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
    HardState,
    Membership,
    Message,
    NotLeader,
    Removed,
    Snapshot,
    VoteRequest,
)

IDS = ("a", "b", "c")
D = Address("d", ("127.0.0.1", 9004), ("127.0.0.1", 9104))


class _Net:
    """Nodes a, b, c (the bootstrap voters) and d (a spare that starts with the same bootstrap
    membership, as a node the gateway launches) on a perfect network; ``down`` nodes get
    nothing."""

    def __init__(self, voters: tuple[str, ...] = IDS, **config: object) -> None:
        """``voters``: the bootstrap voters (IDS, or with d a cluster of four)."""
        self.storages = {i: MemoryLogStorage() for i in (*IDS, "d")}
        self.nodes = {
            i: RaftNode(
                RaftConfig(i, voters, **config),  # type: ignore[arg-type]
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


# ------------------------------------------------------------------ a removed node is told so


def _removed_while_down() -> tuple[_Net, RaftNode, int, list[Message]]:
    """Four voters; d is removed while down, then comes back with its old log.  Returns the
    network, the leader, the removal's index and every message d sends from then on."""
    net = _Net(voters=(*IDS, "d"))
    leader = net.elect("a")
    leader.propose([b"x1", b"x2"])
    net.settle()
    net.down.add("d")
    entry = leader.propose_membership("remove", "d")
    net.settle()
    assert leader.commit_index >= entry.index
    sent: list[Message] = []
    net.drop = lambda m: m.frm == "d" and sent.append(m) is not None
    net.down.clear()
    return net, leader, entry.index, sent


def test_a_node_removed_while_down_is_told_so_and_never_campaigns_again() -> None:
    net, leader, removed_at, sent = _removed_while_down()
    d = net.nodes["d"]
    assert d.voter and d.membership.voters == (*IDS, "d"), "its log never got the removal"
    for node_id in IDS:
        assert net.nodes[node_id].removal_of("d") == removed_at
    term = leader.term
    net.tick(4 * d.config.election_ticks)  # it times out, pre-votes, and is answered
    assert d.removed is not None and d.removed[1] == removed_at and d.removed[0] in IDS
    notes = [n.text for n in d.take_notes() if n.kind == "member"]
    by = d.removed[0]
    assert f"removed from the cluster by {by} at index {removed_at}: no longer campaigns" in notes
    told = len(sent)
    assert all(isinstance(m, VoteRequest) and m.pre_vote for m in sent)
    net.tick(20 * d.config.election_ticks)
    assert len(sent) == told, "not one more message from the removed node"
    assert d.role == "follower" and d.term <= term
    # The cluster never moved: same leader, same term, and it still commits.
    assert leader.role == "leader" and leader.term == term
    last = leader.propose([b"after"])[0]
    net.settle()
    assert all(net.nodes[i].commit_index >= last.index for i in IDS)


def test_a_removed_node_at_a_higher_term_is_not_believed_and_pre_votes_on() -> None:
    """An answer at a term below its own may be stale: it never stops a node's campaigns."""
    net, leader, removed_at, sent = _removed_while_down()
    # d restarts with a term past the cluster's (as if it had campaigned while cut off).
    storage = net.storages["d"]
    storage.save(HardState(leader.term + 1, None, 0), [], None)
    d = net.nodes["d"] = RaftNode(RaftConfig("d", (*IDS, "d")), storage, random.Random(7))
    net.tick(6 * d.config.election_ticks)
    assert d.removed is None and sent, "answered at a lower term: not believed"
    assert any(
        n.text.startswith(f"ignored {i}'s word that it was removed at index {removed_at}")
        for n in d.take_notes()
        for i in IDS
    )
    assert leader.role == "leader" and leader.term == d.term - 1, "and it disrupts nothing"


def test_no_false_removal_for_a_member_a_learner_or_a_stranger() -> None:
    net = _Net()
    net.elect("a").propose_membership("add", "d", D)
    net.settle()
    net.nodes["a"].transfer_leadership("b")  # a second term, so a claim can be stale
    net.settle()
    leader = net.nodes["b"]
    assert leader.role == "leader" and leader.term == 2
    for node_id in IDS:
        node = net.nodes[node_id]
        assert node.removal_of("d") is None, "a learner is no removed node"
        assert node.removal_of("e") is None, "nor is a node never a member"
        assert node.removal_of("b") is None
    # A learner's vote request and a stranger's are dropped, unanswered, as before; a
    # learner's append answers are taken.
    c = net.nodes["c"]
    c.step(VoteRequest(c.term + 5, "d", "c", 100, c.term))
    c.step(VoteRequest(c.term + 5, "e", "c", 100, c.term))
    assert not c.has_ready()
    leader.propose([b"y"])
    net.settle()
    assert net.nodes["d"].commit_index == leader.commit_index
    # Claims a member must not believe: from a stranger, at a stale term, about an entry not
    # past its latest membership.
    c.step(Removed(c.term + 1, "e", "c", 99))
    c.step(Removed(c.term - 1, "b", "c", 99))
    c.step(Removed(c.term, "b", "c", 2))
    assert c.removed is None
    ignored = [n.text for n in c.take_notes() if n.text.startswith("ignored")]
    assert [t.split(": ", 1)[1] for t in ignored] == [
        "e is not a member here",
        f"its term {c.term - 1} is behind ours ({c.term})",
        "our membership is from index 2, later than that",
    ]
    # And a learner told so by a stranger stays a learner that follows.
    net.nodes["d"].step(Removed(c.term, "e", "d", 99))
    assert net.nodes["d"].removed is None
    # So the member still campaigns when its leader goes.
    net.down.add("b")
    net.tick(4 * c.config.election_ticks)
    assert any(net.nodes[i].role == "leader" and net.nodes[i].term > 2 for i in ("a", "c"))


def test_a_removed_node_added_back_campaigns_again() -> None:
    net, leader, _, _ = _removed_while_down()
    net.drop = None
    d = net.nodes["d"]
    net.tick(4 * d.config.election_ticks)
    assert d.removed is not None
    leader.propose_membership("add", "d", D)
    net.settle()
    net.tick(3)  # caught up: promoted
    assert d.removed is None and d.voter
    assert leader.membership.voters == (*IDS, "d")
