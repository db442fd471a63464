"""``Progress``: a leader's view of one follower, with its own transitions (etcd's
``tracker/progress.go``).

A follower is in one of three states.  In "probe" the leader keeps one append in flight until
the follower's answer shows where the logs agree; in "replicate" it pipelines appends
optimistically; in "snapshot" the follower needs entries the leader compacted away: it was sent
a snapshot and gets nothing more until it answers (its log then follows on from the leader's
first index) or the snapshot is given up for lost.  A rejection, entries lost in flight, a lost
snapshot or a leadership transfer send it back to probing (:meth:`Progress.become_probe`, the
one place that does).
"""

from __future__ import annotations

from typing import Literal, NamedTuple

# A snapshot takes far longer than an append, and its host reports a failed transfer at once
# (``RaftNode.report_snapshot``): the stall only catches a request lost without a report.
SNAPSHOT_STALL_FACTOR = 10

ProgressState = Literal["probe", "replicate", "snapshot"]


class FollowerProgress(NamedTuple):
    """What a leader reports of one follower (its status): match and next index, and state."""

    match: int
    next: int
    state: ProgressState


class Progress:
    """What a leader knows of one follower's log, and what it has sent it."""

    __slots__ = (
        "active",
        "catching_up",
        "match",
        "next",
        "pending_snapshot",
        "probe_sent",
        "repairing",
        "replicating",
        "stall",
        "told",
    )

    def __init__(self, next_index: int) -> None:
        self.match = 0  # the highest index known to be replicated on the follower
        self.next = next_index  # the next index to send
        self.replicating = False  # "replicate" state; else "probe"
        self.probe_sent = False  # probe state: an append is in flight
        self.pending_snapshot = 0  # "snapshot" state: the index of the snapshot sent; else 0
        self.active = False  # heard from since the last quorum check
        self.stall = 0  # ticks with entries in flight and no progress
        self.told = 0  # the highest commit index this follower has been sent a way to reach
        # For the notes only: an append was refused (or stalled) since the last probe landed,
        # and the follower is being sent a backlog it has not yet acknowledged in full.
        self.repairing = False
        self.catching_up = False

    @property
    def state(self) -> ProgressState:
        """The follower's state as etcd names it."""
        if self.pending_snapshot:
            return "snapshot"
        return "replicate" if self.replicating else "probe"

    def become_probe(self, next_index: int = 0) -> None:
        """Probe again from ``next_index`` (never below what is known to match)."""
        self.replicating = False
        self.probe_sent = False
        self.pending_snapshot = 0
        self.next = max(self.match + 1, next_index)
        self.stall = 0

    def become_snapshot(self, index: int) -> None:
        """A snapshot at ``index`` was sent: pause until the follower answers."""
        self.replicating = False
        self.probe_sent = False
        self.pending_snapshot = index
        self.stall = 0

    def snapshot_landed(self, first_index: int) -> bool:
        """In "snapshot" state: whether the follower's log now follows on from the leader's
        ``first_index`` (whatever snapshot it installed); if so it replicates from its match."""
        if not self.pending_snapshot or self.match + 1 < first_index:
            return False
        self.pending_snapshot = 0
        self.replicating = True
        self.next = self.match + 1
        return True

    def take_probe(self) -> bool:
        """In probe state: whether a probe may be sent now (none in flight); marks it sent."""
        if self.probe_sent or self.pending_snapshot:
            return False
        self.probe_sent = True
        return True

    def in_flight(self) -> int:
        """Entries sent and not yet acknowledged."""
        return self.next - 1 - self.match

    def on_accepted(self, match_index: int) -> bool:
        """The follower holds the leader's log up to ``match_index``; True if that is news."""
        progressed = match_index > self.match
        if progressed:
            self.match = match_index
            self.stall = 0
        if self.pending_snapshot:
            return progressed  # paused: snapshot_landed decides when it replicates again
        if self.replicating:
            self.next = max(self.next, self.match + 1)
        elif match_index >= self.next - 1:
            self.replicating = True  # the probe landed: logs agree up to match
            self.next = self.match + 1
        else:
            self.probe_sent = False  # an answer to a heartbeat: probe again
        return progressed

    def on_rejected(self, rejected: int, hint: int) -> bool:
        """The follower rejected an append at previous index ``rejected`` and hinted it holds
        the leader's log at most up to ``hint``; False if the rejection is stale."""
        if self.pending_snapshot:
            return False  # an answer to an append sent before the snapshot
        if rejected == self.match > hint:
            # A heartbeat at the match index refused: the follower lost entries it had
            # acknowledged (a power loss with fsync: os, wiped data).  Whatever is in flight
            # (a probe lost on the way included), probe below.
            self.match = hint
            self.become_probe(hint + 1)
            return True
        if self.replicating:
            # Below the match index, or at it by a follower that still holds it, the index is
            # known to match.  A rejection of a heartbeat (anchored at the match index) saying
            # it holds less is no stale answer: an idle leader has no other way to learn that
            # a follower's data was wiped.
            if rejected < self.match or (rejected == self.match and hint >= rejected):
                return False
        elif rejected != self.next - 1:
            return False  # not the probe in flight
        if rejected >= self.match > hint:
            # It holds less than it acknowledged: its data was wiped (or a conflicting run of
            # terms reaches back past it).  Believe it, or it is probed at match + 1 for ever.
            self.match = hint
        self.become_probe(min(rejected, hint + 1))
        return True

    def tick(self, stall_ticks: int) -> bool:
        """One tick: True once entries in flight made no progress for ``stall_ticks`` ticks.

        They were lost (the last append of a burst has no successor whose rejection would
        reveal the gap): the follower is then probed again.  So is a follower sent a snapshot
        that has not answered in ``SNAPSHOT_STALL_FACTOR`` times as long: the probe finds
        whether it still needs one.
        """
        if self.pending_snapshot:
            stall_ticks *= SNAPSHOT_STALL_FACTOR
        elif not self.replicating or self.in_flight() <= 0:
            return False
        self.stall += 1
        if self.stall < stall_ticks:
            return False
        self.become_probe()
        return True

    def sent(self, index: int) -> None:
        """The follower was sent a way to reach commit index ``index``."""
        self.told = max(self.told, index)

    def needs_commit_notice(self, commit: int) -> bool:
        """It holds committed entries it has not been told are committed (a follower sent a
        snapshot learns the commit index with the appends that follow it)."""
        return not self.pending_snapshot and min(commit, self.match) > self.told
