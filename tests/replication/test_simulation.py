"""Thousands of seeded random schedules against RaftNode, and proof the checker can fail.

``GATE_SIM_SEED=N`` reruns one schedule; ``GATE_SIM_SCHEDULES=N`` runs N schedules instead of
the CI default.  ``bench/sim_schedules.py`` is the longer version.
"""

from __future__ import annotations

import dataclasses
import os

import pytest

from bench.lib.simulation import SimStats, Simulation, Violation, draw_schedule, run_schedules
from engine.replication.core import RaftNode
from engine.replication.messages import (
    AppendRequest,
    HardState,
    Membership,
    Message,
    Ready,
    Snapshot,
    VoteRequest,
)
from engine.replication.progress import Progress
from engine.replication.quorum import majority

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
    if not _SEED:
        assert stats.compactions > 0 and stats.snapshots > 0 and stats.power_losses > 0
        assert stats.members_added > 0 and stats.promotions > 0 and stats.members_removed > 0
        assert stats.removed_told > 0
        assert stats.retimes > 0


def test_timing_changed_mid_run_keeps_the_invariants() -> None:
    """Every schedule changes the tempo often (timeouts and heartbeats stretched 1-3x, the nodes
    taking it ticks apart), under its faults; then liveness at the tempo reached, and steadiness
    through the restore to 1."""
    seeds = [int(_SEED)] if _SEED else range(90_000, 90_000 + max(1, _SCHEDULES // 8))
    total = SimStats()
    for seed in seeds:
        schedule = dataclasses.replace(draw_schedule(seed), tempo=0.3)
        total.add(Simulation(schedule).run())
    assert total.retimes > len(seeds) and total.elections > 0 and total.commits > 0


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


class _SnapshotsPastTheApplyPoint(RaftNode):
    """Breaks the snapshot rule: offers its whole log, committed or not, as the snapshot."""

    def _snapshot_to_send(self) -> Snapshot:
        return Snapshot(self.log.last_index, self.log.last_term(), self.config.voters)


class _RestoresEverySnapshot(RaftNode):
    """Breaks the restore rule: restores a snapshot even at or below its commit index."""

    def _should_restore(self, snapshot: Snapshot) -> bool:
        return True


class _AppendsInsteadOfSnapshots(RaftNode):
    """Breaks the leader's rule: a follower behind the log's start gets appends from it."""

    def _send_snapshot(self, peer: str, pr: Progress, why: str) -> None:
        self._send_append_from(peer, pr, self.log.first_index)


class _VotesAfterAPowerLoss(RaftNode):
    """Breaks the lost-state rule: a node that lost the end of its log votes as any other."""

    def _same_kind(self, m: VoteRequest) -> bool:
        return True


class _ChangesWithoutWaiting(RaftNode):
    """Breaks the one-change-at-a-time rule: proposes a change while another is uncommitted."""

    def _may_change_membership(self) -> bool:
        return self.serving


class _ChangesBeforeCommittingItsTerm(RaftNode):
    """Breaks the rule of dissertation §4.1.1's fix: a new leader proposes a change before an
    entry of its own term is committed."""

    def _may_change_membership(self) -> bool:
        return not self.membership_pending


class _LearnersCountForCommit(RaftNode):
    """Breaks the learner rule: a learner's log counts toward the write quorum as a voter's."""

    def _maybe_commit(self) -> None:
        acked = sorted(
            [self.log.stable_index, *(pr.match for pr in self._progress.values())], reverse=True
        )
        candidate = acked[majority(self._voters) - 1]
        if candidate > self.commit_index and self._can_commit(candidate):
            self.commit_index = candidate


class _UsesCommittedMembership(RaftNode):
    """Breaks the latest-membership rule: a node goes by the last committed membership."""

    def _membership_in_force(self) -> Membership:
        return self._confs.at(self.commit_index)

    def _maybe_promote(self) -> None:
        pass  # its learners are not the log's: removals alone show the bug


class _TellsOfUncommittedRemovals(RaftNode):
    """Breaks the removed-node rule: a node says a node was removed as soon as a removal is in
    its log, committed or not (a leader's may never commit)."""

    def removal_of(self, node_id: str) -> int | None:
        return self._confs.removed_at(node_id, self.log.last_index, self.config.voters)


def _first_violation(node_cls: type[RaftNode], seeds: range, naming: str = "") -> Violation:
    """The first violation in ``seeds`` whose message contains ``naming``."""
    for seed in seeds:
        try:
            run_schedules([seed], node_cls)
        except Violation as violation:
            if naming in str(violation):
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


def test_checker_catches_snapshots_of_uncommitted_entries() -> None:
    violation = _first_violation(_SnapshotsPastTheApplyPoint, range(50_000, 50_200))
    assert "not a prefix of what was applied" in str(violation)


def test_checker_catches_a_state_machine_rolled_back_by_an_old_snapshot() -> None:
    # A rolled-back follower also trips other checks in some schedules (it answers for entries
    # its log no longer holds); the restore check must name the bug itself.
    _first_violation(_RestoresEverySnapshot, range(60_000, 60_200), "behind what its state machine")


def test_checker_catches_followers_left_behind_a_compacted_log() -> None:
    violation = _first_violation(_AppendsInsteadOfSnapshots, range(70_000, 70_200))
    assert "liveness" in str(violation)


def test_checker_catches_votes_of_nodes_that_lost_the_end_of_their_log() -> None:
    violation = _first_violation(_VotesAfterAPowerLoss, range(80_000, 81_000))
    assert "leader completeness" in str(violation)


def test_checker_catches_overlapping_membership_changes() -> None:
    violation = _first_violation(_ChangesWithoutWaiting, range(80_000, 80_400))
    assert "uncommitted membership entries" in str(violation)


def test_checker_catches_a_change_before_the_leader_committed_its_term() -> None:
    violation = _first_violation(_ChangesBeforeCommittingItsTerm, range(90_000, 90_400))
    assert "before committing an entry of its term" in str(violation)


def test_checker_catches_learners_counted_in_the_write_quorum() -> None:
    violation = _first_violation(_LearnersCountForCommit, range(100_000, 100_400))
    assert "not by a majority of the voters" in str(violation)


def test_checker_catches_a_node_going_by_its_committed_membership() -> None:
    violation = _first_violation(_UsesCommittedMembership, range(110_000, 110_400))
    # It commits on a minority of the latest voters, lets a removed node campaign, or wins alone
    # in a stale one-voter membership: whichever invariant trips first names the seed.
    assert f"GATE_SIM_SEED={violation.seed} pytest" in str(violation)


def test_checker_catches_a_node_told_of_a_removal_not_committed() -> None:
    violation = _first_violation(_TellsOfUncommittedRemovals, range(120_000, 120_400))
    assert "stopped campaigning on" in str(violation)
