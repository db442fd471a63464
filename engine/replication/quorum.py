"""Quorum arithmetic, written once (etcd's ``quorum/majority.go``).

Who counts and when is the caller's business (the core counts stable entries and votes, the
host counts peers it heard from lately by its wall clock); how many make a quorum is decided
here only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

# The config's own type: the setting and the arithmetic cannot disagree on the modes.
from engine.config_model import WriteQuorum

VoteResult = Literal["won", "lost", "pending"]


def majority(voters: int) -> int:
    """How many of ``voters`` make a majority."""
    return voters // 2 + 1


def write_quorum_size(voters: int, mode: WriteQuorum) -> int:
    """How many of ``voters`` (the leader included) must hold an entry for it to commit."""
    if mode == "majority":
        return majority(voters)
    return voters if mode == "all" else 1


def has_quorum(count: int, voters: int, mode: WriteQuorum = "majority") -> bool:
    """Whether ``count`` of ``voters`` (reachable, or heard from) make a quorum of ``mode``."""
    return count >= write_quorum_size(voters, mode)


def committed_index(own: int, peers: Iterable[int], mode: WriteQuorum) -> int:
    """The highest index a write quorum holds, given the leader's ``own`` stable index and the
    indexes its peers acknowledged.

    With "leader" only the leader's own stable index counts: a peer may acknowledge entries the
    leader has not yet made durable (it ships them before its fsync).
    """
    if mode == "leader":
        return own
    acked = sorted([own, *peers], reverse=True)
    return acked[write_quorum_size(len(acked), mode) - 1]


def vote_result(votes: Mapping[str, bool], voters: int) -> VoteResult:
    """The outcome of an election (or pre-vote) among ``voters`` given the answers so far."""
    granted = sum(votes.values())
    needed = majority(voters)
    if granted >= needed:
        return "won"
    if len(votes) - granted > voters - needed:
        return "lost"
    return "pending"
