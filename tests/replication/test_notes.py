"""The core's notes: its decisions in words, with their reasons, for the node's log."""

from __future__ import annotations

from engine.replication.core import RaftNode
from engine.replication.messages import VoteRequest, VoteResponse
from tests.replication.test_core import IDS, _Cluster, _node, _storage


def _texts(node: RaftNode) -> list[str]:
    return [note.text for note in node.take_notes()]


def test_an_election_in_words_on_the_candidate_and_a_voter() -> None:
    cluster = _Cluster()
    cluster.elect("a")
    a = _texts(cluster.nodes["a"])
    assert a[0].startswith("election timeout: no word from a leader in ")
    assert a[1] == "asking for pre-votes: could it win term 1? (its log ends at index 0, term 0)"
    assert "campaigning for term 1 (a candidate), voting for itself" in a
    assert "b granted its pre-vote (2 votes, 2 needed)" in a
    assert "b granted its vote (2 votes, 2 needed)" in a
    assert "became leader for term 1; serves once its no-op at index 1 is committed" in a
    b = _texts(cluster.nodes["b"])
    assert b[:3] == [
        "pre-vote granted to a for term 1",
        "term 0 → 1: a vote request from a (was follower)",
        "voted for a in term 1",
    ]
    assert "following leader a (term 1)" in b
    assert not cluster.nodes["b"].take_notes()  # taken once


def test_a_candidate_counts_its_votes_in_words() -> None:
    """Votes counted so far (its own among them), and how many it needs."""
    candidate = _Cluster().nodes["a"]
    while not candidate.has_ready():
        candidate.tick()
    candidate.step(VoteResponse(1, "b", "a", True, True))
    candidate.step(VoteResponse(1, "c", "a", False, False))
    assert _texts(candidate)[2:] == [
        "b granted its pre-vote (2 votes, 2 needed)",
        "campaigning for term 1 (a candidate), voting for itself",
        "c refused its vote (1 vote, 2 needed)",
    ]


def test_a_refused_vote_says_why() -> None:
    behind = _node("b", _storage(term=3, terms=(1, 3)))
    behind.step(VoteRequest(4, "c", "b", 1, 1))
    voted = _node("b", _storage(term=4, terms=(1,), vote="a"))
    voted.step(VoteRequest(4, "c", "b", 1, 1))
    assert _texts(behind)[-1] == (
        "refused its vote to c for term 4: its log (index 1, term 1) is behind ours "
        "(index 2, term 3)"
    )
    assert _texts(voted) == ["refused its vote to c for term 4: already voted for a in term 4"]


def test_a_follower_back_from_a_partition_is_repaired_and_caught_up_in_words() -> None:
    cluster = _Cluster()
    leader = cluster.elect("a")
    cluster.cut.add("c")
    for _ in range(10):
        leader.propose([b"x"] * 10)
        cluster.settle()
    cluster.tick_all(6)  # c's appends went nowhere: the leader probes it again
    leader.take_notes()
    cluster.nodes["c"].take_notes()
    cluster.cut.clear()
    cluster.tick_all(3)
    notes = _texts(leader)
    last = leader.last_index
    assert notes[0] == "c matches up to index 1: sending the 100 entries it lacks"
    assert f"c caught up at index {last}" in notes
    assert cluster.nodes["c"].last_index == last


def test_a_follower_far_behind_caught_up_by_one_append_in_words() -> None:
    storages = {i: _storage(term=1, terms=(1,) * (50 if i != "c" else 10)) for i in IDS}
    cluster = _Cluster(storages)
    cluster.cut.add("c")
    leader = cluster.elect("a")
    leader.take_notes()
    cluster.cut.clear()
    cluster.tick_all(2)
    notes = _texts(leader)
    assert notes[0] == "c refused entries after index 50: probing from 11"
    assert notes[1] == "c caught up at index 51 (it held up to 10)"
    assert cluster.nodes["c"].last_index == 51


def test_a_stalled_follower_is_probed_again_in_words() -> None:
    cluster = _Cluster()
    leader = cluster.elect("a")
    cluster.cut.add("c")
    leader.propose([b"x"])
    cluster.settle()
    leader.take_notes()
    cluster.tick_all(6)
    assert "no answer from c for entries after index 1: probing again" in _texts(leader)


def test_notes_nobody_takes_stay_bounded() -> None:
    lonely = _node("a", election_ticks=2)
    for _ in range(5000):
        lonely.tick()
        lonely.ready()
    notes = lonely.take_notes()
    assert 0 < len(notes) <= 256
    assert notes[-1].kind == "election"


def test_a_leadership_transfer_in_words_when_done_and_when_abandoned() -> None:
    cluster = _Cluster(election_ticks=4)
    leader = cluster.elect("a")
    cluster.cut.add("c")
    leader.propose([b"x"] * 3)
    cluster.settle()
    leader.take_notes()
    leader.transfer_leadership("c")  # c lacks the 3 entries and hears nothing: abandoned
    assert leader.transferring_to == "c"
    cluster.tick_all(4)
    notes = _texts(leader)
    assert (
        notes[0]
        == "handing leadership over to c once it holds index 4 (it holds 1); new writes wait"
    )
    assert (
        "leadership transfer to c abandoned: it did not take over within 4 ticks; leading on"
        in notes
    )
    assert leader.role == "leader" and leader.transferring_to is None
    leader.transfer_leadership("b")
    assert _texts(leader)[0] == "handing leadership over to b: its log is up to date"
    cluster.settle()
    assert cluster.nodes["b"].role == "leader" and leader.role == "follower"
    assert cluster.nodes["b"].won_by_transfer and not leader.won_by_transfer
