"""Thousands of seeded random schedules against RaftNode, and proof the checker can fail.

``GATE_SIM_SEED=N`` reruns one schedule; ``GATE_SIM_SCHEDULES=N`` runs N schedules instead of
the CI default.  ``bench/sim_schedules.py`` is the longer version.
"""

from __future__ import annotations

import os

import pytest

from bench.lib.simulation import Violation, run_schedules
from engine.replication.core import RaftNode
from engine.replication.messages import AppendRequest, HardState, Message, Ready

_CHUNKS = 8
_SCHEDULES = int(os.environ.get("GATE_SIM_SCHEDULES", "2000"))
_SEED = os.environ.get("GATE_SIM_SEED")


def _chunk_seeds(chunk: int) -> range:
    size = -(-_SCHEDULES // _CHUNKS)
    return range(chunk * size, min(_SCHEDULES, (chunk + 1) * size))


@pytest.mark.parametrize("chunk", [0] if _SEED else range(_CHUNKS))
def test_random_schedules_keep_the_invariants(chunk: int) -> None:
    seeds = [int(_SEED)] if _SEED else _chunk_seeds(chunk)
    stats = run_schedules(seeds)
    assert stats.schedules == len(seeds)
    assert stats.commits > 0 and stats.elections > 0 and stats.pre_votes > 0


class _VotesWithoutUpToDateCheck(RaftNode):
    """Breaks rule 2: grants a vote whatever the candidate's log."""

    def _candidate_log_ok(self, last_term: int, last_index: int) -> bool:
        return True


class _PersistsHardStateLate(RaftNode):
    """Breaks rule 1: hands out each hard state one Ready after the messages that depend on it."""

    _late: HardState | None = None

    def ready(self) -> Ready:
        rd = super().ready()
        rd.hard_state, self._late = self._late, rd.hard_state
        return rd


class _AnswersBeforeTheWrite(RaftNode):
    """Breaks rule 1 in the Ready contract: hands every message out as one that may go before
    the write (as if votes and acks were a leader's appends)."""

    def ready(self) -> Ready:
        rd = super().ready()
        rd.early_messages, rd.messages = rd.early_messages + rd.messages, []
        return rd


class _HeartbeatsDoNotHoldElectionsOff(RaftNode):
    """Breaks steadiness: only appends with entries restart a follower's election timer."""

    def step(self, msg: Message) -> None:
        elapsed = self._election_elapsed
        super().step(msg)
        if isinstance(msg, AppendRequest) and not msg.entries and self.role == "follower":
            self._election_elapsed = elapsed


def _first_violation(node_cls: type[RaftNode], seeds: range) -> Violation:
    for seed in seeds:
        try:
            run_schedules([seed], node_cls)
        except Violation as violation:
            return violation
    pytest.fail(f"no schedule in {seeds} caught the bug injected by {node_cls.__name__}")


def test_checker_catches_votes_for_stale_logs() -> None:
    violation = _first_violation(_VotesWithoutUpToDateCheck, range(10_000, 10_400))
    assert f"GATE_SIM_SEED={violation.seed} pytest" in str(violation)


def test_checker_catches_answers_sent_before_the_state_they_depend_on_is_persisted() -> None:
    violation = _first_violation(_PersistsHardStateLate, range(20_000, 20_100))
    assert "before persisting" in str(violation)


def test_checker_catches_answers_the_ready_lets_go_before_the_write() -> None:
    violation = _first_violation(_AnswersBeforeTheWrite, range(40_000, 40_100))
    assert "before persisting" in str(violation)


def test_checker_catches_elections_on_a_healthy_network() -> None:
    violation = _first_violation(_HeartbeatsDoNotHoldElectionsOff, range(30_000, 30_020))
    assert "steadiness" in str(violation)
