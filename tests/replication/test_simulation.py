"""Thousands of seeded random schedules against RaftNode, and proof the checker can fail.

``GATE_SIM_SEED=N`` reruns one schedule; ``GATE_SIM_SCHEDULES=N`` runs N schedules instead of
the CI default.  ``bench/sim_schedules.py`` is the longer version.
"""

from __future__ import annotations

import os

import pytest

from engine.replication.core import RaftNode
from tests.replication.simulation import Violation, run_schedules

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
    assert stats.commits > 0 and stats.elections > 0


class _VotesWithoutUpToDateCheck(RaftNode):
    """Breaks rule 2: grants a vote whatever the candidate's log."""

    def _candidate_log_ok(self, last_term: int, last_index: int) -> bool:
        return True


class _CommitsOldTermsByCounting(RaftNode):
    """Breaks Raft §5.4.2: commits entries of earlier terms by counting replicas."""

    def _can_commit(self, index: int) -> bool:
        return True


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


def test_checker_catches_commits_of_old_terms_by_counting() -> None:
    violation = _first_violation(_CommitsOldTermsByCounting, range(20_000, 22_000))
    assert f"GATE_SIM_SEED={violation.seed} pytest" in str(violation)
