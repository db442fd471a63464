"""Focused tests of the pure Raft core (plus its wire format and in-memory storage)."""

from __future__ import annotations

import dataclasses
import random

import orjson
import pytest

from bench.lib.memory_storage import MemoryLogStorage
from engine.config_model import ReplicationConfig
from engine.replication.core import LogDivergence, RaftConfig, RaftNode
from engine.replication.log_view import Compacted
from engine.replication.messages import (
    AppendRequest,
    AppendResponse,
    Entry,
    HardState,
    Message,
    NotLeader,
    Ready,
    Removed,
    Snapshot,
    SnapshotRequest,
    TimeoutNow,
    VoteRequest,
    VoteResponse,
)
from engine.replication.progress import SNAPSHOT_STALL_FACTOR
from engine.replication.wire import decode_message, encode_message

IDS = ("a", "b", "c")


def _storage(
    term: int = 0, terms: tuple[int, ...] = (), vote: str | None = None
) -> MemoryLogStorage:
    """A storage whose log holds one entry per term in ``terms``."""
    storage = MemoryLogStorage()
    entries = [Entry(i, t, b"e%d" % i) for i, t in enumerate(terms, start=1)]
    storage.save(HardState(term, vote, 0), entries)
    return storage


def _node(
    node_id: str = "b",
    storage: MemoryLogStorage | None = None,
    applied: int = 0,
    recovering: bool = False,
    **config: object,
) -> RaftNode:
    cfg = RaftConfig(node_id, IDS, **config)  # type: ignore[arg-type]
    rng = random.Random(node_id)
    return RaftNode(cfg, storage or MemoryLogStorage(), rng, applied, recovering=recovering)


def _persist(node: RaftNode, storage: MemoryLogStorage) -> Ready:
    """Play the host for one Ready: persist, then advance. Returns the Ready."""
    rd = node.ready()
    storage.save(rd.hard_state, rd.entries, rd.snapshot)
    node.advance(rd)
    return rd


def _campaign(node: RaftNode) -> None:
    """Tick ``node`` until it campaigns; a peer grants the pre-vote round it runs first."""
    peer = next((v for v in node.config.voters if v != node.node_id), None)
    while node.role == "follower":
        node.tick()
        if peer is not None:  # ignored unless a pre-vote round is running
            node.step(VoteResponse(node.term + 1, peer, node.node_id, True, pre_vote=True))


def _messages(node: RaftNode, storage: MemoryLogStorage) -> list[Message]:
    rd = _persist(node, storage)
    return rd.early_messages + rd.messages


class _Cluster:
    """Nodes on a perfect, instant network; ``cut`` nodes send and receive nothing."""

    def __init__(
        self, storages: dict[str, MemoryLogStorage] | None = None, seed: int = 0, **config: object
    ) -> None:
        self.storages = storages or {i: MemoryLogStorage() for i in IDS}
        self.nodes = {
            i: RaftNode(
                RaftConfig(i, IDS, **config),  # type: ignore[arg-type]
                self.storages[i],
                random.Random(f"{seed}-{i}"),
            )
            for i in IDS
        }
        self.applied: dict[str, list[Entry]] = {i: [] for i in IDS}
        self.cut: set[str] = set()
        self.sent: list[Message] = []

    def flush(self) -> list[Message]:
        out: list[Message] = []
        for node_id, node in self.nodes.items():
            while node.has_ready():
                rd = node.ready()
                self.storages[node_id].save(rd.hard_state, rd.entries, rd.snapshot)
                out.extend(rd.early_messages + rd.messages)
                self.applied[node_id].extend(rd.committed)
                node.advance(rd)
        return out

    def settle(self) -> None:
        for _ in range(200):
            msgs = self.flush()
            if not msgs:
                return
            for msg in msgs:
                self.sent.append(msg)
                if msg.frm not in self.cut and msg.to not in self.cut:
                    self.nodes[msg.to].step(msg)
        raise AssertionError("the cluster did not settle")

    def elect(self, node_id: str) -> RaftNode:
        """Tick ``node_id`` alone until it starts a (pre-)vote round, which it must win."""
        node = self.nodes[node_id]
        self.settle()
        while not node.has_ready():
            node.tick()
        self.settle()
        assert node.role == "leader"
        return node

    def tick_all(self, ticks: int, *, cut_too: bool = False) -> None:
        """Tick the nodes (``cut_too``: cut nodes too, as if partitioned rather than down)."""
        for _ in range(ticks):
            for node_id, node in self.nodes.items():
                if cut_too or node_id not in self.cut:
                    node.tick()
            self.settle()

    def restart(self, node_id: str) -> RaftNode:
        """Rebuild ``node_id`` from its storage, as after a crash (it knows no leader)."""
        node = self.nodes[node_id]
        self.nodes[node_id] = RaftNode(
            node.config, self.storages[node_id], random.Random(node_id), node.applied_index
        )
        return self.nodes[node_id]

    def terms(self) -> dict[str, int]:
        return {node_id: node.term for node_id, node in self.nodes.items()}

    def leaders(self) -> list[str]:
        return [node_id for node_id, node in self.nodes.items() if node.role == "leader"]


# ------------------------------------------------------------------------------ configuration


def test_config_rejects_inconsistent_settings() -> None:
    with pytest.raises(ValueError, match="at least one voter"):
        RaftConfig("x", ())
    with pytest.raises(ValueError, match="preferred"):
        RaftConfig("a", IDS, preferred="x")
    with pytest.raises(ValueError, match="heartbeat"):
        RaftConfig("a", IDS, election_ticks=3, heartbeat_ticks=3)


def test_restart_restores_hard_state_and_hands_out_unapplied_commits() -> None:
    storage = _storage(term=4, terms=(1, 1, 4), vote="c")
    storage.save(HardState(4, "c", 3), [])
    node = _node("b", storage, applied=1)
    assert (node.term, node.vote, node.commit_index, node.last_index) == (4, "c", 3, 3)
    rd = node.ready()
    assert [e.index for e in rd.committed] == [2, 3]
    assert rd.hard_state is None  # nothing changed since the last save
    with pytest.raises(ValueError, match="applied 7"):
        _node("b", storage, applied=7)


# ---------------------------------------------------------------------------------- elections


def test_single_node_elects_itself_and_commits_after_persisting() -> None:
    storage = MemoryLogStorage()
    node = RaftNode(RaftConfig("a", ("a",)), storage, random.Random(1))
    _campaign(node)
    assert node.role == "leader" and node.term == 1 and not node.serving
    rd = _persist(node, storage)
    assert rd.entries == [Entry(1, 1, b"")] and rd.committed == []
    assert node.serving
    assert _persist(node, storage).committed == [Entry(1, 1, b"")]
    entries = node.propose([b"x", b"y"])
    assert entries == [Entry(2, 1, b"x"), Entry(3, 1, b"y")]
    assert node.commit_index == 1  # not stable yet
    _persist(node, storage)
    assert node.commit_index == 3


def test_three_nodes_elect_a_leader_that_serves_once_its_noop_commits() -> None:
    cluster = _Cluster()
    a = cluster.nodes["a"]
    _campaign(a)
    rd = a.ready()
    assert rd.hard_state == HardState(1, "a", 0)  # persisted with the vote requests it sends
    assert {type(m) for m in rd.messages} == {VoteRequest}
    cluster.storages["a"].save(rd.hard_state, rd.entries)
    a.advance(rd)
    for msg in rd.messages:
        cluster.nodes[msg.to].step(msg)
    cluster.settle()
    assert a.role == "leader" and a.serving
    assert cluster.nodes["b"].leader_id == "a" and cluster.nodes["c"].role == "follower"
    for node_id in IDS:
        assert cluster.applied[node_id] == [Entry(1, 1, b"")]
    assert a.match_indexes() == {"b": 1, "c": 1}
    assert cluster.nodes["b"].match_indexes() == {}


def test_new_leader_appends_a_noop_of_its_term_and_is_not_serving_before_it_commits() -> None:
    node = _node("a", _storage(term=2, terms=(1, 2)))
    _campaign(node)
    node.step(VoteResponse(3, "b", "a", True))
    assert node.role == "leader" and node.term == 3
    assert node.ready().entries == [Entry(3, 3, b"")]
    assert not node.serving


def test_vote_is_handed_out_with_the_hard_state_that_records_it() -> None:
    node = _node("b")
    node.step(VoteRequest(1, "a", "b", 0, 0))
    rd = node.ready()
    assert rd.hard_state == HardState(1, "a", 0)
    assert rd.messages == [VoteResponse(1, "b", "a", True)]


def test_one_vote_per_term() -> None:
    node = _node("b")
    node.step(VoteRequest(1, "a", "b", 0, 0))
    node.step(VoteRequest(1, "c", "b", 0, 0))
    node.step(VoteRequest(1, "a", "b", 0, 0))  # a retry by the same candidate is granted again
    assert [m.granted for m in node.ready().messages] == [True, False, True]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("last_term", "last_index", "granted"),
    [(1, 9, False), (2, 1, False), (2, 2, True), (3, 1, True)],
)
def test_vote_only_for_a_log_at_least_as_up_to_date(
    last_term: int, last_index: int, granted: bool
) -> None:
    node = _node("b", _storage(term=2, terms=(1, 2)))
    node.step(VoteRequest(5, "a", "b", last_index, last_term))
    assert node.term == 5 and node.role == "follower"  # a higher term is adopted either way
    assert node.ready().messages == [VoteResponse(5, "b", "a", granted)]
    assert node.vote == ("a" if granted else None)


def test_candidate_wins_with_a_majority_and_gives_up_on_a_majority_of_refusals() -> None:
    node = _node("a", election_ticks=4)
    _campaign(node)
    node.step(VoteResponse(1, "b", "a", False))
    assert node.role == "candidate"
    node.step(VoteResponse(1, "c", "a", False))
    assert node.role == "follower" and node.term == 1
    _campaign(node)
    node.step(VoteResponse(2, "c", "a", True))
    assert node.role == "leader"


def test_preferred_node_wins_the_first_election_of_a_fresh_cluster() -> None:
    for seed in range(20):
        cluster = _Cluster(seed=seed, preferred="c")
        while not any(n.role == "leader" for n in cluster.nodes.values()):
            cluster.tick_all(1)
        assert cluster.nodes["c"].role == "leader" and cluster.nodes["c"].term == 1


_DEFAULTS = ReplicationConfig()
_TWO_SECONDS = 2000 // _DEFAULTS.tick_ms  # in ticks of the default clock


def _start_staggered(cluster: _Cluster, starts: dict[str, int], max_ticks: int) -> int:
    """Bring each node up at its tick in ``starts`` (absent: never) until all are up and led.

    A node that is not up neither ticks nor hears anything, like a process still importing.
    Returns how many ticks the first election took.
    """
    cluster.cut.update(IDS)
    elected = None
    for now in range(max_ticks):
        cluster.cut.difference_update(i for i, tick in starts.items() if tick <= now)
        cluster.tick_all(1)
        if cluster.leaders() and elected is None:
            elected = now + 1
        if elected is not None and now >= max(starts.values()):
            return elected
    raise AssertionError(f"no leader within {max_ticks} ticks of a fresh start at {starts}")


def test_preferred_node_wins_a_fresh_start_up_to_two_seconds_after_the_others() -> None:
    for seed in range(200):
        rng = random.Random(seed)
        starts = {"a": rng.randint(0, _TWO_SECONDS), "b": rng.randint(0, _TWO_SECONDS)}
        starts["c"] = rng.randint(0, min(starts.values()) + _TWO_SECONDS)
        cluster = _Cluster(seed=seed, preferred="c", election_ticks=_DEFAULTS.election_ticks)
        _start_staggered(cluster, starts, 10 * _TWO_SECONDS)
        assert cluster.leaders() == ["c"], (seed, starts)
        assert cluster.terms() == dict.fromkeys(IDS, 1), (seed, starts)  # no term inflation


def test_fresh_cluster_whose_preferred_node_is_down_elects_another_after_the_deferral() -> None:
    election_ticks = _DEFAULTS.election_ticks
    for seed in range(50):
        cluster = _Cluster(seed=seed, preferred="c", election_ticks=election_ticks)
        elected = _start_staggered(cluster, {"a": 0, "b": 0}, 20 * election_ticks)
        # The others held back their first campaign for 8 election timeouts; then one wins
        # (after a split vote or two when both time out on the same tick).
        assert 8 * election_ticks <= elected < 16 * election_ticks, seed
        assert cluster.leaders() in (["a"], ["b"]), seed


@pytest.mark.parametrize("pre_vote", [True, False])
def test_preferred_node_alone_at_a_fresh_start_does_not_inflate_the_term(pre_vote: bool) -> None:
    cluster = _Cluster(preferred="c", pre_vote=pre_vote)
    _start_staggered(cluster, {"c": 0, "a": _TWO_SECONDS, "b": _TWO_SECONDS}, 2 * _TWO_SECONDS)
    assert cluster.leaders() == ["c"]
    if pre_vote:
        assert cluster.nodes["c"].term == 1
    else:
        assert cluster.nodes["c"].term > 10  # campaigned every tick or two while alone


def test_fresh_non_preferred_node_defers_its_first_campaign_until_it_hears_a_leader() -> None:
    election_ticks = 4
    storage = MemoryLogStorage()
    deferred = _node("b", storage, preferred="a", election_ticks=election_ticks)
    for _ in range(8 * election_ticks - 1):
        deferred.tick()
    assert not deferred.has_ready()  # would have campaigned long ago without the deferral
    listening = _node("b", MemoryLogStorage(), preferred="a", election_ticks=election_ticks)
    listening.step(AppendRequest(1, "a", "b", 0, 0, (), 0))  # the leader of a running cluster
    _persist(listening, listening_storage := MemoryLogStorage())
    ticks = 0
    while not listening.has_ready():
        listening.tick()
        ticks += 1
    assert ticks < 2 * election_ticks  # the usual timeout, once a leader has spoken
    assert _messages(listening, listening_storage)[0] == VoteRequest(
        2, "b", "a", 0, 0, pre_vote=True
    )


def test_fresh_non_preferred_node_joining_a_running_cluster_never_campaigns() -> None:
    storages = {"a": _storage(term=3, terms=(1, 3)), "b": _storage(term=3, terms=(1, 3))}
    storages["c"] = MemoryLogStorage()  # a new machine, or one whose data was wiped
    cluster = _Cluster(storages, preferred="a")
    cluster.elect("b")
    cluster.tick_all(20 * 6)
    assert not any(isinstance(m, VoteRequest) for m in cluster.sent if m.frm == "c")
    assert cluster.leaders() == ["b"] and cluster.terms() == dict.fromkeys(IDS, 4)
    assert storages["c"].entries(1, 10) == storages["b"].entries(1, 10)


def test_preferred_node_has_no_head_start_once_the_cluster_has_a_history() -> None:
    node = _node("c", _storage(term=3), preferred="c", election_ticks=5)
    for _ in range(4):
        node.tick()
    assert node.role == "follower"


# ----------------------------------------------------------------------------------- pre-vote


def test_pre_vote_round_changes_no_term_or_vote_until_a_majority_grants() -> None:
    storage = MemoryLogStorage()
    a = _node("a", storage, election_ticks=4)
    while not a.has_ready():
        a.tick()
    rd = _persist(a, storage)
    assert rd.hard_state is None  # nothing to persist: neither term nor vote changed
    assert rd.messages == [
        VoteRequest(1, "a", "b", 0, 0, pre_vote=True),
        VoteRequest(1, "a", "c", 0, 0, pre_vote=True),
    ]
    assert (a.role, a.term, a.vote) == ("follower", 0, None)
    a.step(VoteResponse(0, "b", "a", False, pre_vote=True))
    assert a.term == 0 and not a.has_ready()
    a.step(VoteResponse(1, "c", "a", True, pre_vote=True))  # a grant repeats the term asked
    assert (a.role, a.term, a.vote) == ("candidate", 1, "a")
    rd = _persist(a, storage)
    assert rd.hard_state == HardState(1, "a", 0)
    assert rd.messages == [VoteRequest(1, "a", "b", 0, 0), VoteRequest(1, "a", "c", 0, 0)]


def test_pre_candidate_gives_up_on_a_majority_of_refusals_and_ignores_stale_grants() -> None:
    storage = _storage(term=3, terms=(1, 3))
    a = _node("a", storage, election_ticks=4)
    while not a.has_ready():
        a.tick()
    _persist(a, storage)
    a.step(VoteResponse(3, "b", "a", True, pre_vote=True))  # a grant from an earlier round
    a.step(VoteResponse(3, "b", "a", False, pre_vote=True))
    a.step(VoteResponse(3, "c", "a", False, pre_vote=True))
    assert (a.role, a.term) == ("follower", 3)
    a.step(VoteResponse(4, "c", "a", True, pre_vote=True))  # too late: the round is over
    assert (a.role, a.term, a.vote) == ("follower", 3, None)
    assert not a.has_ready()


def test_pre_vote_refusal_from_a_higher_term_brings_the_candidate_up_to_it() -> None:
    storage = MemoryLogStorage()
    a = _node("a", storage, election_ticks=4)
    while not a.has_ready():
        a.tick()
    _persist(a, storage)
    a.step(VoteResponse(6, "b", "a", False, pre_vote=True))
    assert (a.role, a.term, a.vote) == ("follower", 6, None)


_LEASE_CASES = {
    "as up to date": (2, 2, False, True),
    "longer": (2, 5, False, True),
    "older last term": (1, 5, False, False),
    "shorter": (2, 1, False, False),
    "heard from a leader lately": (2, 2, True, False),
}


@pytest.mark.parametrize(
    ("last_term", "last_index", "has_leader", "granted"),
    list(_LEASE_CASES.values()),
    ids=list(_LEASE_CASES),
)
def test_pre_vote_granted_only_to_an_up_to_date_log_outside_a_leader_lease(
    last_term: int, last_index: int, has_leader: bool, granted: bool
) -> None:
    storage = _storage(term=2, terms=(1, 2))
    b = _node("b", storage, election_ticks=4)
    if has_leader:
        b.step(AppendRequest(2, "a", "b", 2, 2, (), 0))
        _persist(b, storage)
    b.step(VoteRequest(3, "c", "b", last_index, last_term, pre_vote=True))
    rd = _persist(b, storage)
    assert rd.messages == [VoteResponse(3 if granted else 2, "b", "c", granted, pre_vote=True)]
    assert rd.hard_state is None and (b.term, b.vote) == (2, None)


def test_pre_vote_is_granted_again_once_the_leader_is_silent_for_an_election_timeout() -> None:
    storage = _storage(term=2, terms=(1, 2))
    b = _node("b", storage, election_ticks=10)
    b.step(AppendRequest(2, "a", "b", 2, 2, (), 0))
    _persist(b, storage)
    for _ in range(9):
        b.tick()
    b.step(VoteRequest(3, "c", "b", 2, 2, pre_vote=True))
    assert _messages(b, storage) == [VoteResponse(2, "b", "c", False, pre_vote=True)]
    b.tick()  # 10 ticks: the minimum election timeout, and b's own timeout has not fired
    assert b.leader_id == "a"
    b.step(VoteRequest(3, "c", "b", 2, 2, pre_vote=True))
    assert _messages(b, storage) == [VoteResponse(3, "b", "c", True, pre_vote=True)]


def test_pre_vote_messages_never_change_the_receivers_term() -> None:
    cluster = _Cluster()
    a = cluster.elect("a")
    cluster.flush()
    a.step(VoteRequest(9, "c", "a", 9, 8, pre_vote=True))
    assert (a.role, a.term) == ("leader", 1)
    assert a.ready().messages == [VoteResponse(1, "a", "c", False, pre_vote=True)]
    b = cluster.nodes["b"]
    b.step(VoteResponse(9, "c", "b", True, pre_vote=True))  # no round of b's: ignored
    b.step(VoteRequest(9, "c", "b", 0, 0, pre_vote=True))  # refused: c's log is behind
    assert (b.role, b.term, b.leader_id) == ("follower", 1, "a")
    assert b.ready().messages == [VoteResponse(1, "b", "c", False, pre_vote=True)]


def test_stale_pre_vote_is_refused_with_the_current_term() -> None:
    node = _node("b", _storage(term=5))
    node.step(VoteRequest(3, "c", "b", 0, 0, pre_vote=True))
    assert node.ready().messages == [VoteResponse(5, "b", "c", False, pre_vote=True)]


@pytest.mark.parametrize("pre_vote", [True, False])
def test_partitioned_follower_rejoins_without_bumping_the_term(pre_vote: bool) -> None:
    cluster = _Cluster(pre_vote=pre_vote, election_ticks=4)
    a = cluster.elect("a")
    cluster.cut.add("c")
    cluster.tick_all(40, cut_too=True)
    c = cluster.nodes["c"]
    assert (a.role, cluster.nodes["b"].term) == ("leader", 1)
    if not pre_vote:
        assert c.term > 5  # campaigns alone, and will depose the leader when it rejoins
        return
    assert (c.role, c.term, c.leader_id) == ("follower", 1, None)  # pre-votes alone
    cluster.cut.clear()
    a.propose([b"x"])
    cluster.tick_all(8)
    assert cluster.terms() == dict.fromkeys(IDS, 1) and cluster.leaders() == ["a"]
    assert c.leader_id == "a" and cluster.applied["c"][-1].data == b"x"


def test_restarted_follower_whose_timeout_fires_first_does_not_disrupt_the_leader() -> None:
    cluster = _Cluster(election_ticks=4)
    a = cluster.elect("a")
    cluster.tick_all(3)
    b = cluster.restart("b")
    while not b.has_ready():  # b's election timeout fires before it hears from a
        b.tick()
    cluster.settle()
    pre_votes = [m for m in cluster.sent if isinstance(m, VoteRequest) and m.frm == "b"]
    assert pre_votes and all(m.pre_vote and m.term == 2 for m in pre_votes)
    assert not any(isinstance(m, VoteResponse) and m.granted for m in cluster.sent[-2:])
    cluster.tick_all(10)
    assert cluster.terms() == dict.fromkeys(IDS, 1) and cluster.leaders() == ["a"]
    assert b.leader_id == "a" and a.serving


def test_leader_that_lost_its_quorum_steps_down_and_the_rest_elect_without_it() -> None:
    # check_quorum and pre-vote together: the majority side's lease on the old leader ends
    # within an election timeout, so one of them wins, at the next term only.
    cluster = _Cluster(election_ticks=4)
    a = cluster.elect("a")
    cluster.cut.add("a")
    cluster.tick_all(4 * 4, cut_too=True)
    assert a.role == "follower" and a.term == 1
    assert sorted(cluster.leaders()) in (["b"], ["c"])
    assert cluster.terms() == {"a": 1, "b": 2, "c": 2}
    cluster.cut.clear()
    cluster.tick_all(4)
    assert a.term == 2 and a.leader_id in ("b", "c")


def test_transferee_skips_the_pre_vote_and_wins_through_the_followers_lease() -> None:
    cluster = _Cluster()
    a = cluster.elect("a")
    cluster.cut.add("a")  # b can win only with c's vote, and c has just heard from a
    a.transfer_leadership("b")
    rd = a.ready()
    timeout_now = rd.early_messages  # the leader's term is durable: it may go before the write
    assert timeout_now == [TimeoutNow(1, "a", "b")] and not rd.messages
    cluster.nodes["b"].step(timeout_now[0])
    cluster.settle()
    votes = [m for m in cluster.sent if isinstance(m, VoteRequest) and m.frm == "b"]
    assert votes == [
        VoteRequest(2, "b", "a", 1, 1, transfer=True),  # lost: a is cut off
        VoteRequest(2, "b", "c", 1, 1, transfer=True),
    ]
    assert cluster.nodes["b"].role == "leader" and cluster.nodes["c"].leader_id == "b"


# ------------------------------------------------------------------------------------- terms


def test_stale_term_requests_are_refused_with_the_current_term() -> None:
    node = _node("b", _storage(term=5))
    node.step(AppendRequest(3, "a", "b", 0, 0, (), 0))
    node.step(VoteRequest(3, "c", "b", 9, 2))
    assert node.ready().messages == [
        AppendResponse(5, "b", "a", False, 0),
        VoteResponse(5, "b", "c", False),
    ]
    assert node.term == 5 and node.vote is None


def test_leader_steps_down_on_a_higher_term() -> None:
    cluster = _Cluster()
    a = cluster.elect("a")
    a.step(AppendResponse(7, "b", "a", False, 0))
    assert (a.role, a.term, a.leader_id) == ("follower", 7, None)
    with pytest.raises(NotLeader):
        a.propose([b"x"])


def test_higher_term_vote_request_deposes_a_leader_without_winning_its_vote() -> None:
    cluster = _Cluster(check_quorum=False)  # no leader lease
    a = cluster.elect("a")
    cluster.flush()
    a.step(VoteRequest(5, "c", "a", 0, 0))  # c's log is behind
    assert (a.role, a.term, a.vote) == ("follower", 5, None)
    assert a.ready().messages == [VoteResponse(5, "a", "c", False)]


@pytest.mark.parametrize("transfer", [False, True])
def test_leader_lease_drops_higher_term_votes_unless_the_leader_asked(transfer: bool) -> None:
    cluster = _Cluster()  # check_quorum: nodes that heard from a leader lately ignore votes
    cluster.elect("a")
    cluster.flush()
    up_to_date = cluster.nodes["a"].last_index
    for node_id in ("a", "c"):  # the leader, and a follower that hears it
        node = cluster.nodes[node_id]
        node.step(VoteRequest(5, "b", node_id, up_to_date, 1, transfer=transfer))
        if transfer:
            assert (node.role, node.term, node.vote) == ("follower", 5, "b")
            assert node.ready().messages == [VoteResponse(5, node_id, "b", True)]
        else:
            assert (node.term, node.vote) == (1, "a")
            assert not node.has_ready()
    assert cluster.nodes["a"].role == ("follower" if transfer else "leader")


@pytest.mark.parametrize(
    "msg",
    [
        AppendRequest(1, "a", "c", 0, 0, (), 0),  # addressed to someone else
        VoteRequest(1, "x", "b", 0, 0),  # a candidate not a voter here
        VoteRequest(1, "x", "b", 0, 0, pre_vote=True),
        AppendRequest(1, "b", "b", 0, 0, (), 0),  # from itself
        AppendRequest(0, "a", "b", 0, 0, (), 0),  # term 0
        AppendRequest(1, "a", "b", 0, 0, (Entry(2, 1, b"x"),), 0),  # not contiguous
        AppendRequest(1, "a", "b", 0, 0, (Entry(1, 2, b"x"),), 0),  # entry above its term
        AppendRequest(1, "a", "b", -1, 0, (), 0),
        VoteRequest(1, "a", "b", 0, 1),  # last log term not below the candidacy term
        VoteRequest(1, "a", "b", 0, 0, pre_vote=True, transfer=True),
        AppendResponse(1, "a", "b", True, -1),
        SnapshotRequest(1, "a", "b", Snapshot(0, 0)),  # an empty snapshot
        SnapshotRequest(1, "a", "b", Snapshot(4, 2)),  # its last entry above the leader's term
    ],
)
def test_misaddressed_or_malformed_messages_are_ignored(msg: Message) -> None:
    node = _node("b")
    node.step(msg)
    assert not node.has_ready()
    assert (node.term, node.leader_id) == (0, None)


# ------------------------------------------------------------------------------- replication


def test_repair_truncates_a_divergent_suffix_in_few_round_trips() -> None:
    storages = {
        "a": _storage(term=3, terms=(1, 1, 3)),
        "b": _storage(term=2, terms=(1, 1, 2, 2, 2, 2, 2, 2)),
        "c": _storage(term=3, terms=(1, 1, 3)),
    }
    cluster = _Cluster(storages)
    cluster.elect("a")
    b_log = storages["b"].entries(1, 100)
    assert [e.term for e in b_log] == [1, 1, 3, 4]
    assert b_log == storages["a"].entries(1, 100)
    appends_to_b = [m for m in cluster.sent if isinstance(m, AppendRequest) and m.to == "b"]
    assert len(appends_to_b) <= 4


def test_lagging_follower_catches_up_in_batches() -> None:
    cluster = _Cluster(max_entries_per_append=2)
    a = cluster.elect("a")
    cluster.cut.add("c")
    for i in range(9):
        a.propose([b"v%d" % i])
        cluster.settle()
    assert a.commit_index == 10 and cluster.storages["c"].last_index() == 1
    cluster.cut.clear()
    cluster.sent.clear()
    cluster.tick_all(3)  # within election_ticks // 2, a sees its appends were lost: probes
    assert cluster.storages["c"].entries(1, 100) == cluster.storages["a"].entries(1, 100)
    assert [e.data for e in cluster.applied["c"]][-1] == b"v8"
    batches = [len(m.entries) for m in cluster.sent if isinstance(m, AppendRequest)]
    assert max(batches) == 2


def test_pipelines_new_entries_to_followers_that_keep_up() -> None:
    cluster = _Cluster()
    a = cluster.elect("a")
    cluster.flush()
    a.propose([b"x", b"y"])
    a.propose([b"z"])
    appends = [m for m in a.ready().early_messages if isinstance(m, AppendRequest)]
    # Sent at once, back to back, without waiting for the first batch's ack.
    assert [(m.to, m.prev_index, len(m.entries)) for m in appends] == [
        ("b", 1, 2),
        ("c", 1, 2),
        ("b", 3, 1),
        ("c", 3, 1),
    ]


def test_only_current_term_entries_are_committed_by_counting_replicas() -> None:
    storage = _storage(term=2, terms=(1, 2))
    a = _node("a", storage)
    _campaign(a)
    a.step(VoteResponse(3, "b", "a", True))
    _persist(a, storage)  # a's no-op (index 3) is stable on a
    a.step(AppendResponse(3, "b", "a", True, 2))
    assert a.commit_index == 0  # index 2 is on a majority, but it is of term 2
    a.step(AppendResponse(3, "b", "a", True, 3))
    assert a.commit_index == 3 and a.serving


def test_leader_counts_its_own_entries_only_once_stable() -> None:
    cluster = _Cluster()
    a = cluster.elect("a")
    (entry,) = a.propose([b"x"])
    rd = a.ready()  # handed out for persistence, not yet persisted
    for msg in rd.early_messages:  # a leader's appends go before its own write
        cluster.nodes[msg.to].step(msg)
    for msg in cluster.flush():
        if msg.frm == "b":
            a.step(msg)
    assert a.commit_index == entry.index - 1
    cluster.storages["a"].save(rd.hard_state, rd.entries)
    a.advance(rd)
    assert a.commit_index == entry.index


def test_follower_applies_committed_entries_only_once_they_are_stable() -> None:
    storage = MemoryLogStorage()
    node = _node("b", storage)
    entries = (Entry(1, 1, b""), Entry(2, 1, b"x"))
    node.step(AppendRequest(1, "a", "b", 0, 0, entries, 2))
    assert node.commit_index == 2
    rd = node.ready()
    assert rd.entries == list(entries) and rd.committed == []
    assert rd.messages == [AppendResponse(1, "b", "a", True, 2)]
    storage.save(rd.hard_state, rd.entries)
    node.advance(rd)
    assert node.ready().committed == list(entries)
    assert node.applied_index == 2


def test_ready_must_sync_entries_terms_and_votes_not_a_commit_index() -> None:
    storage = MemoryLogStorage()
    node = _node("b", storage)
    node.step(VoteRequest(1, "a", "b", 0, 0))
    rd = _persist(node, storage)  # a new term and vote: on disk before the grant goes
    assert rd.must_sync and rd.hard_state == HardState(1, "a", 0)
    assert rd.messages == [VoteResponse(1, "b", "a", True)] and rd.early_messages == []
    node.step(AppendRequest(1, "a", "b", 0, 0, (Entry(1, 1, b""),), 0))
    rd = _persist(node, storage)  # entries: on disk before the ack goes
    assert rd.must_sync and rd.hard_state is None
    assert rd.messages == [AppendResponse(1, "b", "a", True, 1)]
    node.step(AppendRequest(1, "a", "b", 1, 1, (), 1))
    rd = node.ready()  # only the commit index moved: Raft keeps it in volatile state
    assert rd.hard_state == HardState(1, "a", 1) and rd.entries == []
    assert not rd.must_sync


def test_a_leaders_appends_may_go_before_its_write_its_answers_may_not() -> None:
    cluster = _Cluster()
    a = cluster.elect("a")
    cluster.flush()
    a.propose([b"x"])
    a.step(VoteRequest(1, "c", "a", 0, 0))  # refused: one vote per term
    rd = a.ready()
    assert rd.must_sync and [e.data for e in rd.entries] == [b"x"]
    assert {type(m) for m in rd.early_messages} == {AppendRequest}
    assert rd.messages == [VoteResponse(1, "a", "c", False)]


def test_follower_commit_is_capped_by_the_last_new_entry() -> None:
    node = _node("b")
    node.step(AppendRequest(1, "a", "b", 0, 0, (Entry(1, 1, b""),), 5))
    assert node.commit_index == 1


def test_ready_hands_everything_out_exactly_once() -> None:
    node = _node("b")
    node.step(VoteRequest(1, "a", "b", 0, 0))
    assert node.has_ready()
    assert node.ready()
    assert not node.has_ready()
    assert not node.ready()


def test_advance_ignores_entries_replaced_since_the_ready_was_handed_out() -> None:
    storage = MemoryLogStorage()
    node = _node("b", storage)
    node.step(AppendRequest(1, "a", "b", 0, 0, (Entry(1, 1, b""), Entry(2, 1, b"old")), 1))
    rd1 = node.ready()
    assert [e.index for e in rd1.entries] == [1, 2]
    # Before rd1 is persisted, a new leader replaces entry 2.
    node.step(AppendRequest(2, "c", "b", 1, 1, (Entry(2, 2, b"new"),), 0))
    storage.save(rd1.hard_state, rd1.entries)
    node.advance(rd1)
    rd2 = node.ready()
    assert rd2.entries == [Entry(2, 2, b"new")]  # still to persist, replacing the old entry 2
    assert rd2.committed == [Entry(1, 1, b"")]  # entry 1 was stable after rd1
    storage.save(rd2.hard_state, rd2.entries)
    node.advance(rd2)
    assert storage.entries(1, 10) == [Entry(1, 1, b""), Entry(2, 2, b"new")]
    assert not node.has_ready()


def test_duplicate_and_reordered_appends_are_harmless() -> None:
    storage = MemoryLogStorage()
    node = _node("b", storage)
    first = AppendRequest(1, "a", "b", 0, 0, (Entry(1, 1, b""), Entry(2, 1, b"x")), 0)
    second = AppendRequest(1, "a", "b", 2, 1, (Entry(3, 1, b"y"),), 3)
    node.step(second)  # arrives first: rejected, hinting at b's last index
    node.step(first)
    node.step(second)
    node.step(first)  # a late duplicate must not truncate entry 3
    rd = _persist(node, storage)
    assert rd.messages == [
        AppendResponse(1, "b", "a", False, 2, 0),
        AppendResponse(1, "b", "a", True, 2),
        AppendResponse(1, "b", "a", True, 3),
        # What the duplicate covered: a success proves no more (never "up to our commit").
        AppendResponse(1, "b", "a", True, 2),
    ]
    assert [e.index for e in storage.entries(1, 10)] == [1, 2, 3]


def test_overwriting_a_committed_entry_raises_log_divergence() -> None:
    # Only possible after a lossy failover with write_quorum "leader" (or through a bug).
    storage = _storage(term=1, terms=(1, 1))
    storage.save(HardState(1, None, 2), [])
    node = _node("b", storage)
    assert node.log.term(2) == 1
    with pytest.raises(LogDivergence, match="index 2"):
        node.step(AppendRequest(2, "a", "b", 1, 1, (Entry(2, 2, b"other"),), 2))


# ------------------------------------------------------------------------------------ quorums


@pytest.mark.parametrize("check_quorum", [True, False])
def test_leader_cut_off_from_a_quorum_steps_down_with_check_quorum(check_quorum: bool) -> None:
    cluster = _Cluster(check_quorum=check_quorum, election_ticks=4)
    a = cluster.elect("a")
    cluster.cut.update(("b", "c"))
    for _ in range(8):
        a.tick()
        cluster.settle()
    assert a.role == ("follower" if check_quorum else "leader")


def test_leader_with_a_quorum_stays() -> None:
    cluster = _Cluster(election_ticks=4)
    a = cluster.elect("a")
    cluster.cut.add("c")
    for _ in range(20):
        a.tick()
        cluster.settle()
    assert a.role == "leader"


def test_write_quorum_all_waits_for_every_voter() -> None:
    cluster = _Cluster(write_quorum="all")
    a = cluster.elect("a")
    cluster.cut.add("c")
    (entry,) = a.propose([b"x"])
    cluster.settle()
    assert a.commit_index < entry.index
    cluster.cut.clear()
    cluster.tick_all(3)
    assert a.commit_index == entry.index


def test_write_quorum_leader_commits_on_the_leaders_own_fsync() -> None:
    cluster = _Cluster(write_quorum="leader")
    a = cluster.elect("a")
    cluster.cut.update(("b", "c"))
    (entry,) = a.propose([b"x"])
    cluster.settle()
    assert a.commit_index == entry.index
    assert cluster.applied["a"][-1] == entry


# ------------------------------------------------------------------------- proposals, transfer


def test_propose_on_a_follower_raises_not_leader_naming_the_leader() -> None:
    cluster = _Cluster()
    cluster.elect("a")
    with pytest.raises(NotLeader) as info:
        cluster.nodes["b"].propose([b"x"])
    assert info.value.leader == "a"
    with pytest.raises(NotLeader) as info:
        _node("b").propose([b"x"])
    assert info.value.leader is None


def test_transfer_leadership_sends_timeout_now_once_the_target_caught_up() -> None:
    cluster = _Cluster()
    a = cluster.elect("a")
    a.transfer_leadership("a")  # to itself: nothing to do
    assert not a.has_ready()
    cluster.cut.add("b")
    a.propose([b"x"])
    cluster.settle()
    cluster.cut.clear()
    a.transfer_leadership("b")
    with pytest.raises(NotLeader) as info:
        a.propose([b"y"])  # proposals wait while leadership moves
    assert info.value.leader == "b"
    msgs = cluster.flush()
    assert [type(m) for m in msgs] == [AppendRequest]  # b is behind: catch it up first
    cluster.nodes["b"].step(msgs[0])
    cluster.settle()
    assert TimeoutNow(1, "a", "b") in cluster.sent
    assert cluster.nodes["b"].role == "leader" and cluster.nodes["b"].term == 2
    assert a.role == "follower" and a.leader_id == "b"


# ------------------------------------------------------------------- compaction and snapshots


def _compact(node: RaftNode, storage: MemoryLogStorage, index: int) -> Snapshot:
    """Play the host: compact the core, then its storage."""
    marker = node.compact(index)
    assert marker is not None
    storage.compact(marker)
    return marker


def _behind_a_compacted_leader(entries: int = 9) -> tuple[_Cluster, RaftNode]:
    """Leader a applied ``entries`` proposals c never got, and compacted its log up to them."""
    cluster = _Cluster()
    a = cluster.elect("a")
    cluster.cut.add("c")
    for i in range(entries):
        a.propose([b"v%d" % i])
        cluster.settle()
    assert a.applied_index == entries + 1 and cluster.storages["c"].last_index() == 1
    _compact(a, cluster.storages["a"], a.applied_index - 2)
    return cluster, a


def test_compact_forgets_applied_entries_and_keeps_the_marker() -> None:
    cluster = _Cluster()
    a = cluster.elect("a")
    a.propose([b"x", b"y", b"z"])
    cluster.settle()
    storage = cluster.storages["a"]
    assert a.applied_index == 4
    with pytest.raises(ValueError, match="only 4 is applied"):
        a.compact(5)
    marker = _compact(a, storage, 3)
    assert marker == Snapshot(3, 1, IDS)
    assert (a.log.first_index, a.log.term(3), storage.snapshot()) == (4, 1, marker)
    with pytest.raises(Compacted):
        a.log.term(2)
    with pytest.raises(Compacted):
        a.log.slice(2, 5)
    assert a.compact(3) is None and a.compact(1) is None  # already compacted
    assert [e.index for e in a.log.slice(4, 10)] == [4]
    # Compaction changes nothing for a follower that keeps up: appends follow the marker.
    a.propose([b"w"])
    cluster.settle()
    assert [e.data for e in storage.entries(4, 10)] == [b"z", b"w"]
    assert cluster.storages["b"].entries(4, 10) == storage.entries(4, 10)
    assert cluster.nodes["b"].applied_index == 5


def test_leader_sends_a_snapshot_to_a_follower_behind_its_log_start() -> None:
    cluster, a = _behind_a_compacted_leader()
    c, storage = cluster.nodes["c"], cluster.storages["c"]
    cluster.cut.clear()
    cluster.sent.clear()
    cluster.tick_all(3)  # a probes c, whose log ends before a's first index
    snapshots = [m for m in cluster.sent if isinstance(m, SnapshotRequest)]
    assert snapshots == [SnapshotRequest(1, "a", "c", Snapshot(10, 1, IDS))]
    # c restored it: its log starts after the snapshot, its state machine jumped to it, and it
    # got the entries after it from a's log as appends.
    assert storage.snapshot() == Snapshot(10, 1, IDS)
    assert c.applied_index == a.applied_index == 10
    a.propose([b"after"])
    cluster.settle()
    assert storage.entries(11, 20) == cluster.storages["a"].entries(11, 20)
    assert [e.data for e in cluster.applied["c"]] == [b"", b"after"]  # no-op, then after it
    assert a.match_indexes()["c"] == 11


def test_a_restored_snapshot_is_in_the_ready_before_its_ack_and_nothing_before_it_applies() -> None:
    storage = _storage(term=1, terms=(1, 1))
    b = _node("b", storage)
    b.step(AppendRequest(1, "a", "b", 2, 1, (), 2))
    rd = _persist(b, storage)
    assert [e.index for e in rd.committed] == [1, 2]
    b.step(SnapshotRequest(2, "a", "b", Snapshot(40, 2, IDS)))
    rd = b.ready()
    assert rd.snapshot == Snapshot(40, 2, IDS) and rd.must_sync
    assert rd.committed == [] and rd.early_messages == []
    assert rd.messages == [AppendResponse(2, "b", "a", True, 40)]  # after the write
    storage.save(rd.hard_state, rd.entries, rd.snapshot)
    b.advance(rd)
    assert (b.applied_index, b.commit_index, b.log.first_index, b.last_index) == (40, 40, 41, 40)
    assert storage.initial_state().commit == 40
    # A restart reads the marker back.
    again = _node("b", storage, applied=40)
    assert (again.log.first_index, again.last_index, again.log.last_term()) == (41, 40, 2)


def test_follower_answers_a_snapshot_it_does_not_need_with_its_commit_index() -> None:
    storage = _storage(term=1, terms=(1, 1, 1, 1))
    b = _node("b", storage)
    b.step(AppendRequest(1, "a", "b", 4, 1, (), 2))  # commit 2
    _persist(b, storage)
    # At or below the commit index: nothing to restore.
    b.step(SnapshotRequest(1, "a", "b", Snapshot(2, 1, IDS)))
    rd = _persist(b, storage)
    assert rd.snapshot is None and rd.messages == [AppendResponse(1, "b", "a", True, 2)]
    # The log holds the snapshot's last entry: commit up to it and apply from the log.
    b.step(SnapshotRequest(1, "a", "b", Snapshot(3, 1, IDS)))
    rd = _persist(b, storage)
    assert rd.snapshot is None and rd.messages == [AppendResponse(1, "b", "a", True, 3)]
    assert [e.index for e in rd.committed] == [3] and storage.last_index() == 4


def test_follower_drops_a_conflicting_log_for_a_snapshot() -> None:
    storage = _storage(term=2, terms=(1, 2, 2))
    b = _node("b", storage)
    b.step(SnapshotRequest(3, "a", "b", Snapshot(5, 3, IDS)))
    rd = _persist(b, storage)
    assert rd.snapshot == Snapshot(5, 3, IDS)
    assert (storage.last_index(), storage.snapshot().index, b.log.last_term()) == (5, 5, 3)
    b.step(AppendRequest(3, "a", "b", 5, 3, (Entry(6, 3, b"n"),), 6))
    _persist(b, storage)
    assert storage.entries(6, 10) == [Entry(6, 3, b"n")]
    assert [e.index for e in _persist(b, storage).committed] == [6]  # once stable


def test_a_follower_sent_a_snapshot_gets_nothing_until_it_answers_or_the_snapshot_is_lost() -> None:
    cluster, a = _behind_a_compacted_leader()  # everything to c is lost
    pr = a._progress["c"]
    cluster.sent.clear()
    cluster.tick_all(3)  # a's appends to c stall: the probe finds c needs a snapshot
    to_c = [m for m in cluster.sent if m.to == "c"]
    assert [m for m in to_c if isinstance(m, SnapshotRequest)] == [
        SnapshotRequest(1, "a", "c", Snapshot(10, 1, IDS))
    ]
    assert pr.pending_snapshot == 10
    cluster.sent.clear()
    a.propose([b"more"])
    cluster.tick_all(2)
    to_c = [m for m in cluster.sent if m.to == "c"]
    # Paused: only heartbeats, anchored at index 0 (c's match is below a's log start).
    assert to_c and all(isinstance(m, AppendRequest) and not m.entries for m in to_c)
    assert {m.prev_index for m in to_c} == {0}  # type: ignore[union-attr]
    # The host reports the transfer failed: the snapshot goes again at once.
    cluster.sent.clear()
    a.report_snapshot("c", None)
    cluster.settle()
    again = [m for m in cluster.sent if isinstance(m, SnapshotRequest)]
    assert [m.snapshot.index for m in again] == [11]
    # Lost without a report: after ten times the stall of an append (election_ticks // 2).
    cluster.sent.clear()
    cluster.tick_all(3 * SNAPSHOT_STALL_FACTOR - 1)
    assert not [m for m in cluster.sent if isinstance(m, SnapshotRequest)]
    cluster.tick_all(1)
    assert [m for m in cluster.sent if isinstance(m, SnapshotRequest)]
    cluster.cut.clear()
    a.report_snapshot("c", None)  # that one was lost too
    cluster.tick_all(2)
    assert cluster.storages["c"].snapshot().index == 11
    assert cluster.storages["c"].entries(12, 20) == cluster.storages["a"].entries(12, 20)
    assert pr.pending_snapshot == 0 and pr.replicating and pr.match == a.last_index


def test_a_snapshot_the_host_delivered_has_the_follower_probed_after_it() -> None:
    cluster, a = _behind_a_compacted_leader()
    cluster.tick_all(3)  # a snapshot goes to c (and is lost: c is cut)
    pr = a._progress["c"]
    assert pr.pending_snapshot == 10
    cluster.sent.clear()
    a.report_snapshot("b", None)  # b was sent none: nothing to do
    a.report_snapshot("c", Snapshot(10, 1, IDS))  # the host says it arrived
    cluster.settle()
    to_c = [m for m in cluster.sent if m.to == "c"]
    assert [(type(m).__name__, m.prev_index) for m in to_c] == [("AppendRequest", 10)]  # type: ignore[union-attr]
    assert pr.pending_snapshot == 0 and pr.next == 11


def test_restart_refuses_a_state_machine_behind_the_logs_start() -> None:
    storage = _storage(term=1, terms=(1, 1, 1, 1))
    storage.compact(Snapshot(3, 1, IDS))
    with pytest.raises(ValueError, match="starts after index 3"):
        _node("b", storage, applied=2)
    node = _node("b", storage, applied=3)
    assert (node.commit_index, node.log.first_index, node.last_index) == (3, 4, 4)


# ------------------------------------------------------------------- a full disk (accepting)


def test_a_follower_that_takes_no_entries_is_not_counted_but_answers_heartbeats() -> None:
    cluster = _Cluster()
    a = cluster.elect("a")
    b, c = cluster.nodes["b"], cluster.nodes["c"]
    b.accepting = False
    cluster.cut.add("c")
    a.propose([b"x"])
    cluster.settle()
    last = a.last_index
    assert b.last_index == last - 1 and a.commit_index == last - 1  # b dropped it: no quorum
    cluster.tick_all(20)  # heartbeats keep a in contact with b: no step-down, no election
    assert a.role == "leader" and a.term == 1 and b.leader_id == "a"
    assert a.commit_index == last - 1 and b.last_index == last - 1
    b.accepting = True  # space is back: the next probe lands, and x commits
    cluster.tick_all(4)
    assert b.last_index == last and a.commit_index == last
    cluster.cut.clear()
    cluster.tick_all(4)
    assert c.last_index == last


def test_a_follower_that_takes_no_entries_still_applies_the_ones_it_holds() -> None:
    cluster = _Cluster()
    a = cluster.elect("a")
    b = cluster.nodes["b"]
    cluster.cut.add("c")
    a.propose([b"x"])
    # b holds x, and learns that it is committed only from a later heartbeat.
    for msg in cluster.flush():
        if msg.to == "b":
            b.step(msg)
    b.accepting = False
    cluster.settle()
    cluster.tick_all(2)
    assert a.commit_index == a.last_index
    assert b.commit_index == a.last_index and cluster.applied["b"][-1].data == b"x"


def test_a_node_that_takes_no_entries_never_campaigns_nor_takes_a_hand_over() -> None:
    cluster = _Cluster()
    a = cluster.elect("a")
    b = cluster.nodes["b"]
    b.accepting = False
    cluster.cut.add("a")
    cluster.tick_all(40)  # a is gone (it does not tick): c is elected, b never stands
    c = cluster.nodes["c"]
    assert c.role == "leader" and c.term > a.term and b.leader_id == "c"
    assert not any(isinstance(m, VoteRequest) and m.frm == "b" for m in cluster.sent)
    b.step(TimeoutNow(c.term, "c", "b"))  # a hand-over: b ignores it
    cluster.settle()
    assert c.role == "leader" and b.role == "follower" and b.term == c.term


def test_a_follower_that_takes_no_entries_restores_no_snapshot_until_it_does() -> None:
    storage = _storage(term=2, terms=(1, 2, 2))
    b = _node("b", storage)
    b.accepting = False
    b.step(SnapshotRequest(3, "a", "b", Snapshot(5, 3, IDS)))
    rd = _persist(b, storage)
    assert rd.snapshot is None and rd.messages == [] and storage.last_index() == 3
    b.accepting = True
    b.step(SnapshotRequest(3, "a", "b", Snapshot(5, 3, IDS)))
    rd = _persist(b, storage)
    assert rd.snapshot == Snapshot(5, 3, IDS)
    assert rd.messages == [AppendResponse(3, "b", "a", True, 5)]


def test_a_leader_that_takes_no_entries_refuses_proposals() -> None:
    cluster = _Cluster()
    a = cluster.elect("a")
    a.accepting = False
    with pytest.raises(NotLeader) as info:
        a.propose([b"x"])
    assert info.value.leader is None
    a.transfer_leadership("b")
    cluster.settle()
    assert cluster.leaders() == ["b"]


# --------------------------------------------------------------------------------------- wire


@pytest.mark.parametrize(
    "msg",
    [
        VoteRequest(3, "a", "b", 10, 2),
        VoteRequest(3, "a", "b", 10, 2, pre_vote=True),
        VoteRequest(3, "a", "b", 10, 2, transfer=True),
        VoteResponse(3, "b", "a", True),
        VoteResponse(3, "b", "a", False, pre_vote=True),
        AppendRequest(4, "a", "b", 7, 3, (Entry(8, 3, b""), Entry(9, 4, '{"op":"é"}'.encode())), 6),
        AppendRequest(4, "a", "b", 7, 3, (), 6),
        AppendResponse(4, "b", "a", False, 7, 5),
        SnapshotRequest(6, "a", "b", Snapshot(120, 5, ("a", "b", "c"))),
        TimeoutNow(5, "a", "c"),
        Removed(5, "a", "d", 812),
    ],
)
def test_wire_round_trips_through_json(msg: Message) -> None:
    assert decode_message(orjson.loads(orjson.dumps(encode_message(msg)))) == msg


@pytest.mark.parametrize(
    "raw",
    [
        [],
        {"type": "vote", "term": 1, "frm": "a", "to": "b", "last_log_index": 0},
        {"type": "vote", "term": True, "frm": "a", "to": "b", "last_log_index": 0,
         "last_log_term": 0},
        {"type": "vote_response", "term": 1, "frm": "a", "to": "b", "granted": 1,
         "pre_vote": False},
        {"type": "vote_response", "term": 1, "frm": "a", "to": "b", "granted": True},
        {"type": "vote", "term": 1, "frm": "a", "to": "b", "last_log_index": 0,
         "last_log_term": 0, "pre_vote": 0, "transfer": False},
        {"type": "timeout_now", "term": -1, "frm": "a", "to": "b"},
        {"type": "timeout_now", "term": 1, "frm": 7, "to": "b"},
        {"type": "gossip", "term": 1, "frm": "a", "to": "b"},
        {"type": "removed", "term": 1, "frm": "a", "to": "b"},
        {"type": "removed", "term": 1, "frm": "a", "to": "b", "index": "812"},
        {"type": "append", "term": 1, "frm": "a", "to": "b", "prev_index": 0, "prev_term": 0,
         "commit": 0, "entries": [[1]]},
        {"type": "append", "term": 1, "frm": "a", "to": "b", "prev_index": 0, "prev_term": 0,
         "commit": 0, "entries": [[1, 2]]},
        {"type": "append", "term": 1, "frm": "a", "to": "b", "prev_index": 0, "prev_term": 0,
         "commit": 0, "entries": {}},
        {"type": "snapshot", "term": 2, "frm": "a", "to": "b", "index": 5, "snapshot_term": 1},
        {"type": "snapshot", "term": 2, "frm": "a", "to": "b", "index": 5, "snapshot_term": 1,
         "voters": "abc"},
        {"type": "snapshot", "term": 2, "frm": "a", "to": "b", "index": 5, "snapshot_term": 1,
         "voters": ["a", 2]},
        {"type": "snapshot", "term": 2, "frm": "a", "to": "b", "index": -5, "snapshot_term": 1,
         "voters": []},
    ],
)  # fmt: skip
def test_wire_rejects_malformed_messages(raw: object) -> None:
    with pytest.raises(ValueError):
        decode_message(raw)  # type: ignore[arg-type]


def test_wire_refuses_entry_data_that_is_not_utf8() -> None:
    msg = AppendRequest(1, "a", "b", 0, 0, (Entry(1, 1, b"\xff"),), 0)
    with pytest.raises(ValueError):
        encode_message(msg)


# ------------------------------------------------------------------------------ memory storage


def test_memory_storage_saves_replaces_and_refuses_gaps() -> None:
    storage = _storage(term=2, terms=(1, 1, 2))
    assert (storage.last_index(), storage.term(0), storage.term(3)) == (3, 0, 2)
    storage.save(HardState(3, "a", 1), [Entry(2, 3, b"n")])
    assert [e.term for e in storage.entries(1, 10)] == [1, 3]
    assert storage.entries(1, 10, max_count=1) == [Entry(1, 1, b"e1")]
    assert storage.initial_state() == HardState(3, "a", 1)
    with pytest.raises(IndexError):
        storage.term(3)
    with pytest.raises(ValueError, match="start at 5"):
        storage.save(None, [Entry(5, 3, b"")])


def test_memory_storage_compacts_to_a_marker_and_installs_snapshots() -> None:
    storage = _storage(term=2, terms=(1, 1, 2, 2))
    with pytest.raises(ValueError, match="not of term 2"):
        storage.compact(Snapshot(2, 2))
    storage.compact(Snapshot(2, 1, IDS))
    assert (storage.snapshot(), storage.last_index(), storage.term(2)) == (
        Snapshot(2, 1, IDS),
        4,
        1,
    )
    assert [e.index for e in storage.entries(3, 10)] == [3, 4]
    with pytest.raises(IndexError):
        storage.term(1)
    with pytest.raises(IndexError):
        storage.entries(2, 10)
    with pytest.raises(ValueError, match=r"holds 3\.\.4"):
        storage.compact(Snapshot(5, 2))
    with pytest.raises(ValueError, match=r"holds 3\.\.4"):
        storage.save(None, [Entry(2, 2, b"")])
    storage.save(HardState(3, None, 9), [Entry(10, 3, b"n")], Snapshot(9, 3, IDS))
    assert (storage.snapshot().index, storage.last_index(), storage.term(10)) == (9, 10, 3)


# -------------------------------------------------------------------- repair of damaged state


def _wiped(cluster: _Cluster, node_id: str, term: int = 0, vote: str | None = None) -> RaftNode:
    """``node_id`` restarted on an empty log (its data set aside), repairing."""
    cluster.storages[node_id] = _storage(term=term, vote=vote)
    node = RaftNode(
        cluster.nodes[node_id].config, cluster.storages[node_id], random.Random(node_id)
    )
    node.repairing = True
    cluster.nodes[node_id] = node
    return node


def test_a_repairing_node_asks_an_uncompacted_leader_for_a_snapshot_and_rejoins() -> None:
    cluster = _Cluster()
    a = cluster.elect("a")
    a.propose([b"x", b"y"])
    cluster.settle()
    assert a.log.first_index == 1  # never compacted
    c = _wiped(cluster, "c", term=a.term)
    cluster.sent.clear()
    cluster.tick_all(2)
    asks = [m for m in cluster.sent if isinstance(m, AppendResponse) and m.wants_snapshot]
    assert asks and all(m.frm == "c" and not m.success for m in asks)
    snapshots = [m for m in cluster.sent if isinstance(m, SnapshotRequest)]
    assert snapshots == [SnapshotRequest(a.term, "a", "c", Snapshot(3, a.term, IDS))]
    assert not c.repairing and c.vote == "a"  # the term's vote counts as given to its leader
    assert c.applied_index == 3 and cluster.storages["c"].snapshot().index == 3
    a.propose([b"after"])
    cluster.settle()
    assert a.match_indexes()["c"] == 4 and c.applied_index == 4


def test_a_repairing_node_counts_toward_no_commit_until_it_restored_the_snapshot() -> None:
    cluster = _Cluster()
    a = cluster.elect("a")
    a.propose([b"x"])
    cluster.settle()
    _wiped(cluster, "c", term=a.term)
    cluster.cut.add("b")
    cluster.nodes["c"].step(AppendRequest(a.term, "a", "c", 2, a.term, (), 2))
    a.step(next(m for m in cluster.flush() if isinstance(m, AppendResponse)))
    # c said it holds nothing: the leader no longer counts what c acknowledged before.
    assert a.match_indexes()["c"] == 0
    a.propose([b"unreplicated"])
    cluster.flush()  # c is sent a snapshot, not the entry, and b is cut off
    assert a.commit_index == 2


def test_a_repairing_node_neither_votes_nor_campaigns() -> None:
    storage = _storage(term=2)
    b = _node("b", storage)
    b.repairing = True
    b.step(VoteRequest(3, "a", "b", 0, 0))
    b.step(VoteRequest(3, "c", "b", 0, 0, pre_vote=True))
    answers = _messages(b, storage)
    assert [(m.granted, m.pre_vote) for m in answers if isinstance(m, VoteResponse)] == [
        (False, False),
        (False, True),
    ]
    for _ in range(40):
        b.tick()
    assert b.role == "follower" and not any(
        isinstance(m, VoteRequest) for m in _messages(b, storage)
    )
    b.step(TimeoutNow(3, "a", "b"))
    assert b.role == "follower"


def test_wants_snapshot_survives_the_wire() -> None:
    msg = AppendResponse(3, "c", "a", False, 7, wants_snapshot=True)
    assert decode_message(orjson.loads(orjson.dumps(encode_message(msg)))) == msg
    old = encode_message(AppendResponse(3, "c", "a", True, 7))
    del old["wants_snapshot"]  # from a node of an older version
    assert decode_message(old) == AppendResponse(3, "c", "a", True, 7)


# -- lost state: a power loss with fsync: os ---------------------------------------------------


def _granted(node: RaftNode, storage: MemoryLogStorage) -> list[bool]:
    return [m.granted for m in _persist(node, storage).messages if isinstance(m, VoteResponse)]


def test_votes_go_only_between_nodes_alike_in_having_lost_state() -> None:
    for voter_lost, candidate_lost, granted in [
        (True, False, False),  # it may have lost entries the candidate lacks
        (False, True, False),  # the candidate may have lost entries this voter holds
        (True, True, True),  # every node lost power: they still elect one of them
        (False, False, True),
    ]:
        storage = _storage(1, (1, 1))
        voter = _node("b", storage, recovering=voter_lost, pre_vote=False)
        request = VoteRequest(2, "c", "b", 2, 1, recovering=candidate_lost)
        voter.step(request)
        assert _granted(voter, storage) == [granted], (voter_lost, candidate_lost)
        storage = _storage(1, (1, 1))
        voter = _node("b", storage, recovering=voter_lost)
        voter.step(dataclasses.replace(request, pre_vote=True))
        assert _granted(voter, storage) == [granted], ("pre-vote", voter_lost, candidate_lost)


def test_nodes_that_all_lost_state_elect_a_leader_which_then_counts_as_intact() -> None:
    storages = {n: _storage(1, (1, 1)) for n in IDS}
    nodes = {n: _node(n, storages[n], recovering=True, pre_vote=False) for n in IDS}
    candidate = nodes["a"]
    candidate._campaign()
    requests = list(_persist(candidate, storages["a"]).messages)
    assert all(isinstance(m, VoteRequest) and m.recovering for m in requests)
    for request in requests:
        voter = nodes[request.to]
        voter.step(request)
        for answer in _persist(voter, storages[request.to]).messages:
            candidate.step(answer)
    assert candidate.role == "leader" and not candidate.recovering


def test_a_node_that_lost_state_votes_again_once_its_log_matches_the_leaders_commit() -> None:
    storage = _storage(1, (1, 1, 1))
    node = _node("b", storage, recovering=True)
    node.step(AppendRequest(2, "a", "b", 2, 1, (), 4))  # a heartbeat: proves up to 2 of 4
    _persist(node, storage)
    assert node.recovering
    node.step(AppendRequest(2, "a", "b", 3, 1, (Entry(4, 2, b""),), 4))
    _persist(node, storage)
    assert not node.recovering


def test_an_answer_below_the_commit_index_claims_only_what_the_append_covered() -> None:
    """A leader elected after a power loss may lack entries this node committed: an answer
    claiming them (past the leader's log) would be ignored, and the node never repaired."""
    storage = _storage(1, (1, 1, 1, 1))
    storage.save(HardState(1, None, 4), [])
    node = _node("b", storage, applied=4)
    node.step(AppendRequest(2, "a", "b", 0, 0, (), 2))  # a heartbeat anchored at 0
    answers = _persist(node, storage).messages
    assert answers == [AppendResponse(2, "b", "a", True, 0)]
    with pytest.raises(LogDivergence):  # the leader's no-op at index 3 replaces a commit
        node.step(AppendRequest(2, "a", "b", 2, 1, (Entry(3, 2, b""),), 2))


def test_retime_stretches_the_timeout_a_follower_is_counting_without_firing_it() -> None:
    node = _node(election_ticks=4)
    timeout = node._timeout
    for _ in range(timeout - 1):
        node.tick()
    node.retime(80, 20)  # tempo x20: the follower is as far along as it was, in slow motion
    assert node._timeout == timeout * 20
    assert node._election_elapsed == (timeout - 1) * 20
    for _ in range(19):
        node.tick()
    assert node.term == 0 and not node.has_ready()
    for _ in range(21):
        node.tick()
    assert _messages(node, MemoryLogStorage()), "the stretched timeout fires, a tick or so late"
    assert node.config.election_ticks == 80 and node.config.heartbeat_ticks == 20


def test_retime_back_to_a_fast_tempo_fires_no_election_that_was_not_due() -> None:
    node = _node(election_ticks=4)
    node.retime(80, 20)
    for _ in range(19):  # a leader's heartbeat is due every 20 ticks at that tempo
        node.tick()
    node.retime(4, 1)  # unscaled, 19 ticks would be past any timeout of 4..8
    for _ in range(3):
        node.tick()
    assert node.term == 0 and not node.has_ready()


def test_retime_refuses_what_the_config_refuses() -> None:
    node = _node()
    with pytest.raises(ValueError):
        node.retime(4, 4)
    with pytest.raises(ValueError):
        node.retime(1, 1)
    assert node.config.election_ticks == 6


# ------------------------------------------------------------------------ the inside, reported


def test_the_election_timer_counts_up_to_its_drawn_timeout_and_resets_on_a_heartbeat() -> None:
    cluster = _Cluster(election_ticks=5)
    a = cluster.elect("a")
    b = cluster.nodes["b"]
    assert b.election_timer[0] == 0 and 5 <= b.election_timer[1] < 10
    # Cut off from the leader, the follower's timer runs; its timeout stays put meanwhile.
    cluster.cut.add("b")
    timeout = b.election_timer[1]
    for elapsed in range(1, timeout):
        b.tick()
        assert b.election_timer == (elapsed, timeout)
    cluster.cut.clear()
    # A heartbeat from the leader sets it back to 0.
    a.tick()
    cluster.settle()
    assert b.role == "follower" and b.election_timer[0] == 0
    # On the leader: the period of its quorum check, electionTicks.
    assert a.election_timer == (1, 5)


def test_the_leader_reports_each_followers_match_next_and_state() -> None:
    cluster = _Cluster()
    a = cluster.elect("a")
    a.propose([b"x"])
    cluster.settle()
    assert {peer: tuple(pr) for peer, pr in a.progress_view().items()} == {
        "b": (2, 3, "replicate"),
        "c": (2, 3, "replicate"),
    }
    assert cluster.nodes["b"].progress_view() == {}
    # A follower cut off gets entries it does not answer: next runs ahead of match.
    cluster.cut.add("c")
    a.propose([b"y"])
    cluster.settle()
    assert tuple(a.progress_view()["c"]) == (2, 4, "replicate")
