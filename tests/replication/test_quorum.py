"""The quorum arithmetic every count of votes, replicas and live peers goes through."""

from __future__ import annotations

import pytest

from engine.replication.quorum import (
    committed_index,
    has_quorum,
    majority,
    vote_result,
    write_quorum_size,
)


@pytest.mark.parametrize(("voters", "needed"), [(1, 1), (2, 2), (3, 2), (4, 3), (5, 3)])
def test_majority(voters: int, needed: int) -> None:
    assert majority(voters) == needed
    assert write_quorum_size(voters, "majority") == needed


def test_write_quorum_sizes_of_the_other_modes() -> None:
    assert write_quorum_size(5, "all") == 5
    assert write_quorum_size(5, "leader") == 1


def test_has_quorum_counts_against_the_mode() -> None:
    assert has_quorum(2, 3) and not has_quorum(1, 3)
    assert not has_quorum(2, 3, "all") and has_quorum(3, 3, "all")
    assert has_quorum(1, 3, "leader")


def test_committed_index_is_what_a_write_quorum_holds() -> None:
    assert committed_index(7, [5, 3], "majority") == 5
    assert committed_index(4, [9, 8, 1, 0], "majority") == 4
    assert committed_index(7, [5, 3], "all") == 3
    # A peer may hold entries the leader has not made durable yet: they do not count.
    assert committed_index(2, [9, 9], "leader") == 2


def test_vote_result_wins_loses_or_waits() -> None:
    assert vote_result({"a": True}, 1) == "won"
    assert vote_result({"a": True}, 3) == "pending"
    assert vote_result({"a": True, "b": True}, 3) == "won"
    assert vote_result({"a": True, "b": False}, 3) == "pending"
    assert vote_result({"a": True, "b": False, "c": False}, 3) == "lost"
    assert vote_result({"a": True, "b": False, "c": False}, 5) == "pending"
    assert vote_result({"a": True, "b": False, "c": False, "d": False}, 5) == "lost"
