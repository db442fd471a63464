"""``RaftNode``: the pure Raft state machine, shaped like etcd's raft library.

It does no I/O.  The host feeds it messages (:meth:`RaftNode.step`) and clock ticks
(:meth:`RaftNode.tick`), proposes commands (:meth:`RaftNode.propose`) and drains work with
:meth:`RaftNode.ready` / :meth:`RaftNode.advance` (see :class:`~engine.replication.messages.Ready`).
The policy is split as etcd splits it: the log and the rules that read only the log in
:mod:`~engine.replication.log_view` (stable entries read synchronously through
:class:`LogStorage`, the unstable tail in memory until the host stored it and called
``advance``); a leader's view of each follower in :mod:`~engine.replication.progress`; every
count of votes, replicas or live peers in :mod:`~engine.replication.quorum`; the roles and their
transitions here.

Safety rules (docs/ARCHITECTURE.md, "Replication") and where they live:

- persist before answering: every vote, vote request and answer to an append is handed out in
  ``Ready.messages`` of the same or a later ``Ready`` than the hard state and entries it depends
  on, which the host persists before sending them (:mod:`engine.replication.ready`); only a
  leader's appends and ``TimeoutNow`` may go before (``Ready.early_messages``);
- votes: one per term, only for a candidate whose log is at least as up to date
  (:meth:`RaftNode._candidate_log_ok`), won with a majority of voters;
- a new leader appends a no-op of its term and is ``serving`` once it is committed; only entries
  of the current term are committed by counting replicas (:meth:`RaftNode._can_commit`);
- a leader counts its own entries toward the write quorum only once they are stable, and
  committed entries are handed out for apply only up to the local stable index;
- membership (Raft dissertation §4.1, single-server changes; :mod:`~engine.replication.membership`):
  a node uses the latest membership in its log, committed or not (a truncation falls back to
  the one before); a leader proposes a change only once an entry of its term is committed and
  no earlier change is uncommitted, and never its own removal (it hands leadership over
  first); only voters campaign, vote counts and the write quorum count voters only, and votes
  are asked of voters only; learners get entries and snapshots and are promoted by the leader
  once their log is within ``promote_lag`` entries of its own (:meth:`RaftNode._maybe_promote`);
- a removed node (etcd's 410 Gone): a node answers any message from a node whose removal it
  applied, and that no later membership takes back, with :class:`Removed` instead of
  handling it; the removed node, told so by a member of its own membership at a term at or
  above its own about an entry past its latest membership, never campaigns again
  (:attr:`RaftNode.removed`).  A node cut off or down when it was removed would otherwise time
  out and pre-vote forever;
- compaction and snapshots (as etcd's raft): the host compacts the log up to an index its state
  machine applied (:meth:`RaftNode.compact`); a leader that no longer holds the entries a
  follower needs sends a :class:`SnapshotRequest` of its state machine at its applied (so
  committed) index and pauses that follower until it answers; a follower restores a snapshot
  only past its commit index, dropping its log, and the host installs it
  (``Ready.snapshot``) before applying anything after it or answering;
- lost state (``recovering``): a node whose host says it may have lost the end of its log (a
  power loss with ``fsync: os``) votes, for itself as for others, only for candidates that may
  have lost theirs too, and a node that did not only for candidates that did not, until its log
  matches that of a leader elected since up to an entry of the leader's term that the leader
  committed (or it leads: :meth:`RaftNode._caught_up`).  Its lost entries may be committed ones
  the others still hold: a vote for a candidate that lacks them could elect a leader without
  them.  Votes stay within one kind, so when a majority lost power (every
  node, after a power cut) those nodes still elect a leader among themselves.

Steadiness rules (they keep terms and leaders stable; safety does not depend on them):

- pre-vote (Raft thesis §9.6, as in etcd): with ``pre_vote`` a node whose election timeout fires
  first asks whether it could win at ``term + 1``, changing neither term nor vote, and campaigns
  only with a majority of pre-votes.  Peers grant one only to an up-to-date log and only when
  they have not heard from a leader within the minimum election timeout (the leader lease), so a
  node that restarts or comes back from a partition neither inflates the term nor deposes a
  healthy leader.  A pre-candidate's ``role`` stays "follower".  Leadership transfer skips it;
- check quorum: a leader that did not hear from a quorum within an election timeout steps down,
  and with it a node in lease drops higher-term vote requests (except a transfer's);
- rule 7, preferred leader: on a fresh cluster (term 0, empty log) the preferred node times out
  within a tick or two, and the others hold back their first campaign for
  ``_FRESH_DEFER_TIMEOUTS`` election timeouts unless a leader speaks to them first.

Timing is an input like the ticks: :meth:`RaftNode.retime` changes the election timeout range
and the heartbeat interval (in ticks) while the node runs (the gateway's tempo, docs/API.md),
scaling every clock the node is counting so that each stands as far along as it was.  Timing
never touches safety; the simulator changes it mid-run on random nodes at random ticks.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, replace

from engine.config_model import WriteQuorum
from engine.replication.log_storage import LogStorage
from engine.replication.log_view import RaftLog
from engine.replication.membership import (
    ChangeKind,
    MembershipError,
    MembershipLog,
    change,
    encode,
)
from engine.replication.messages import (
    Address,
    AppendRequest,
    AppendResponse,
    Entry,
    HardState,
    Membership,
    Message,
    Note,
    NoteKind,
    NoteLevel,
    NotLeader,
    Ready,
    Removed,
    Role,
    Snapshot,
    SnapshotRequest,
    TimeoutNow,
    VoteRequest,
    VoteResponse,
)
from engine.replication.progress import FollowerProgress, Progress
from engine.replication.quorum import (
    committed_index,
    has_quorum,
    majority,
    vote_result,
)

# Append batches a leader keeps in flight to a follower that keeps up (pipelining).
_MAX_INFLIGHT_BATCHES = 8
# Committed entries handed out per Ready, so a restart far behind applies in bounded steps.
_MAX_APPLY_BATCH = 4096
# Rule 7: on a fresh cluster the non-preferred nodes hold back their first campaign for this many
# election timeouts, so a preferred node whose process starts seconds after theirs still wins.
_FRESH_DEFER_TIMEOUTS = 8
# A follower whose probe lands this far behind is "catching up" in the notes even if no append
# was refused first (a short lag after an election is routine and not worth a line).
_CATCH_UP_NOTE = 64
_MAX_NOTES = 256
# Entries read at a time when a restarted node looks for membership entries in its log.
_SCAN_CHUNK = 4096


class ChangeInProgress(Exception):
    """A membership change cannot be proposed yet: an earlier one is not committed, or the leader
    has not committed an entry of its own term (dissertation §4.1, the fix of §4.1.1)."""


class LogDivergence(RuntimeError):
    """A leader's log contradicts an entry this node has already committed.

    With ``write_quorum`` "majority" or "all" this cannot happen (it would be a bug).  With
    "leader" it is the documented cost of that mode: a leader that failed before replicating its
    acknowledged writes comes back holding entries the cluster never had.  The host should stop
    the node: its state machine has applied writes that the cluster lost and must be rebuilt.
    """


@dataclass(frozen=True, slots=True)
class RaftConfig:
    """Static settings of one node of the replication group."""

    node_id: str
    # The membership a log that holds none starts with (the YAML's nodes); a node joining at run
    # time is not among them, and learns its membership from the leader's log.
    voters: tuple[str, ...]
    preferred: str | None = None  # wins the first election on a fresh cluster
    election_ticks: int = 6  # election timeout randomized in [election_ticks, 2*election_ticks)
    heartbeat_ticks: int = 1
    write_quorum: WriteQuorum = "majority"
    max_entries_per_append: int = 1024
    check_quorum: bool = True
    pre_vote: bool = True  # campaign only after a majority says it could win (§9.6)
    # A learner is promoted once its log is within this many entries of the leader's.
    promote_lag: int = 64

    def __post_init__(self) -> None:
        if not self.voters:
            raise ValueError("need at least one voter")
        if len(set(self.voters)) != len(self.voters):
            raise ValueError(f"duplicate voters in {self.voters}")
        if self.preferred is not None and self.preferred not in self.voters:
            raise ValueError(f"preferred node {self.preferred!r} is not a voter")
        if self.election_ticks < 2 or not 1 <= self.heartbeat_ticks < self.election_ticks:
            raise ValueError("need election_ticks >= 2 and 1 <= heartbeat_ticks < election_ticks")
        if self.write_quorum not in ("majority", "all", "leader"):
            raise ValueError(f"unknown write quorum {self.write_quorum!r}")
        if self.max_entries_per_append < 1:
            raise ValueError("max_entries_per_append must be at least 1")


class RaftNode:
    """One node's Raft state machine. See the module docstring for the contract."""

    def __init__(
        self,
        config: RaftConfig,
        storage: LogStorage,
        rng: random.Random,
        applied: int = 0,
        *,
        committed: int = 0,
        recovering: bool = False,
    ) -> None:
        """``applied``: where the state machine's replay starts; ``committed``: an index its
        state machine is known to hold (so committed), at most the log's last; ``recovering``:
        the storage may have lost entries this node acknowledged (see the module docstring)."""
        self.config = config
        self.node_id = config.node_id
        self._rng = rng
        self.log = RaftLog(storage)  # read it, never change it: the core owns it
        self._confs = self._read_memberships()
        self._in_force = self._confs.current
        self._peers: tuple[str, ...] = ()  # every other member
        self._voter_peers: tuple[str, ...] = ()  # the other voters
        self._voters = 0
        self._progress: dict[str, Progress] = {}
        self._transferee: str | None = None
        hard_state = storage.initial_state()
        last = self.log.last_index
        if max(applied, committed, hard_state.commit) > last:
            raise ValueError(
                f"storage ends at index {last} but commit is {hard_state.commit} and the state "
                f"machine applied {max(applied, committed)}"
            )
        marker = self.log.snapshot.index
        if applied < marker:
            raise ValueError(
                f"the log starts after index {marker} but the state machine applied only {applied}"
            )
        self.term = hard_state.term
        self.vote = hard_state.vote
        self.commit_index = max(hard_state.commit, applied, committed)
        self.recovering = recovering
        # The entries a recovering node may have lost were acknowledged in this term or before.
        self._lost_term = hard_state.term
        self.applied_index = applied
        self.role: Role = "follower"
        # (by whom, the index of the entry that removed it): told it was removed, it never
        # campaigns again, unless a later membership in its own log takes it back.
        self.removed: tuple[str, int] | None = None
        self._set_membership()
        self.leader_id: str | None = None
        self._prev_hard_state = hard_state
        self._msgs: list[Message] = []  # sent once the Ready's write is durable
        self._early: list[Message] = []  # may be sent before it (Ready.early_messages)
        self._heard_leader = False  # for the notes: the current leader_id has been noted
        # Bounded: a host that never takes them (tests, the simulator) keeps only the latest.
        self._notes: deque[Note] = deque(maxlen=_MAX_NOTES)
        self._refused_append = False  # for the notes: the last append from the leader was refused
        self._votes: dict[str, bool] = {}  # answers to this node's (pre-)vote requests
        self._pre_candidate = False  # running a pre-vote round (its role stays "follower")
        self._term_start = 0  # index of this leader's no-op
        self._transfer_campaign = False  # the current campaign was started by TimeoutNow
        # This node's leadership was handed to it (TimeoutNow), rather than won in a failover.
        self.won_by_transfer = False
        self._transfer_elapsed = 0
        # Set by the host, False while its disk is nearly full.  Then a follower drops appends
        # that bring entries it does not hold, and snapshots it would restore (its leader
        # counts it toward no commit), but still
        # answers heartbeats and applies what it holds; it neither campaigns nor takes a
        # hand-over; a leader refuses proposals (the host hands leadership over).
        self.accepting = True
        # Set by the host while it rebuilds damaged state (engine/node/repair.py): the node
        # holds nothing it acknowledged, so it neither votes nor campaigns, and it answers
        # appends by asking the leader for a snapshot; restoring one ends the repair.
        self.repairing = False
        self._election_elapsed = 0
        self._heartbeat_elapsed = 0
        # Rule 7: on a fresh cluster the preferred node times out first, and keeps a short
        # timeout until it hears from any peer (peers may start later than it does).  The others
        # defer their first campaign until a leader speaks to them or it times out, long enough
        # for a preferred node that starts later to come up and win.
        fresh = hard_state.term == 0 and self.log.last_index == 0
        self._fresh_preferred = fresh and config.preferred == config.node_id
        self._fresh_deferred = fresh and config.preferred not in (None, config.node_id)
        self._timeout = 0
        self._reset_timeout()

    # ----------------------------------------------------------------------------- properties

    @property
    def last_index(self) -> int:
        """Index of the last log entry, including entries not yet persisted."""
        return self.log.last_index

    @property
    def serving(self) -> bool:
        """True on a leader once an entry of its own term is committed (rule 3)."""
        return self.role == "leader" and self.commit_index >= self._term_start

    @property
    def transferring_to(self) -> str | None:
        """On a leader handing leadership over: the node it hands over to."""
        return self._transferee

    @property
    def membership(self) -> Membership:
        """The latest membership in this node's log, committed or not (the one in force)."""
        return self._in_force

    @property
    def membership_pending(self) -> bool:
        """The latest membership entry is not committed yet."""
        return self._confs.index > self.commit_index

    @property
    def voter(self) -> bool:
        return self.node_id in self._in_force.voters

    def removal_of(self, node_id: str) -> int | None:
        """The index of the membership entry, applied here, that removed ``node_id`` from
        the cluster (a node the config lists counts as a member of the log's first membership),
        if no membership in the log since takes it back; else None."""
        return self._confs.removed_at(node_id, self.applied_index, self.config.voters)

    def membership_at(self, index: int) -> Membership:
        """The membership once the log up to ``index`` is applied (a snapshot's at ``index``)."""
        return self._confs.at(index)

    def match_indexes(self) -> dict[str, int]:
        """On a leader: the highest index known to be replicated on each peer; else {}."""
        if self.role != "leader":
            return {}
        return {peer: pr.match for peer, pr in self._progress.items()}

    def progress_view(self) -> dict[str, FollowerProgress]:
        """On a leader: each peer's match and next index and its replication state; else {}."""
        if self.role != "leader":
            return {}
        return {
            peer: FollowerProgress(pr.match, pr.next, pr.state)
            for peer, pr in self._progress.items()
        }

    @property
    def election_timer(self) -> tuple[int, int]:
        """``(elapsed, timeout)`` in ticks: a follower or candidate campaigns when elapsed
        reaches timeout (randomized at each reset); on a leader, the period after which it
        checks that it still hears a quorum."""
        if self.role == "leader":
            return self._election_elapsed, self.config.election_ticks
        return self._election_elapsed, self._timeout

    # ------------------------------------------------------------------------------- inputs

    def retime(self, election_ticks: int, heartbeat_ticks: int) -> None:
        """Take a new election timeout range and heartbeat interval, in ticks, from now on.

        The clocks under way (election, heartbeat, transfer, each follower's stall count) are
        scaled by the same factor, so a follower half-way to its timeout stays half-way: slowing
        down fires no election early, and speeding up fires none that had not been due either
        (a follower that heard its leader one slow heartbeat ago is one fast heartbeat in).
        Raises ValueError for the timings :class:`RaftConfig` refuses.
        """
        old = self.config.election_ticks
        config = replace(
            self.config, election_ticks=election_ticks, heartbeat_ticks=heartbeat_ticks
        )
        if election_ticks == old and heartbeat_ticks == self.config.heartbeat_ticks:
            return
        self.config = config

        def scaled(ticks: int) -> int:
            return ticks * election_ticks // old

        self._election_elapsed = scaled(self._election_elapsed)
        self._heartbeat_elapsed = min(scaled(self._heartbeat_elapsed), heartbeat_ticks - 1)
        self._transfer_elapsed = scaled(self._transfer_elapsed)
        if not self._fresh_preferred:  # its first timeout is a tick or two whatever the range
            self._timeout = max(1, scaled(self._timeout))
        for pr in self._progress.values():
            pr.stall = scaled(pr.stall)

    def tick(self) -> None:
        """Advance the logical clock by one tick."""
        if self.role == "leader":
            self._tick_leader()
            return
        self._election_elapsed += 1
        if self._election_elapsed >= self._timeout and (not self.voter or self.removed):
            # A learner, or a node removed (or told it was) or not yet added: it never
            # campaigns.
            self._election_elapsed = 0
            self._reset_timeout()
        elif self._election_elapsed >= self._timeout and (self.repairing or not self.accepting):
            # A leader elected here could take no entry, or would lead without the entries it
            # lost: leave the election to the others.
            self.leader_id = None
            self._election_elapsed = 0
            self._reset_timeout()
        elif self._election_elapsed >= self._timeout:
            heard = f"leader {self.leader_id}" if self.leader_id else "a leader"
            self._note(
                "election", f"election timeout: no word from {heard} in {self._timeout} ticks"
            )
            if self.config.pre_vote and self._voter_peers:
                self._pre_campaign()
            else:
                self._campaign()

    def propose(self, datas: list[bytes]) -> list[Entry]:
        """Append commands to the leader's log; returns the new entries (index and term).

        Raises :class:`NotLeader` on a non-leader, on a leader handing leadership over, and on
        a leader that takes no entries (``accepting`` False).
        """
        if self.role != "leader":
            raise NotLeader(self.leader_id)
        if self._transferee is not None or not self.accepting:
            raise NotLeader(self._transferee)
        if not datas:
            return []
        first = self.log.last_index + 1
        term = self.term
        entries = [Entry(first + i, term, data) for i, data in enumerate(datas)]
        self._append_own(entries)
        return entries

    def _append_own(self, entries: list[Entry]) -> None:
        """Append a leader's own entries and ship them to the followers that keep up."""
        self.log.append(entries)
        if self._confs.appended(entries):
            self._set_membership()
        for peer, pr in self._progress.items():
            if pr.replicating:
                self._send_append(peer, pr)

    def propose_membership(
        self, kind: ChangeKind, node_id: str, address: Address | None = None
    ) -> Entry:
        """On the leader: append one membership change (add a learner, promote a learner,
        remove a member); it is in force at once, here and on each node that appends it.

        Raises :class:`NotLeader` as :meth:`propose` does, :class:`ChangeInProgress` while an
        earlier change is uncommitted or before an entry of this leader's term is committed,
        and :class:`MembershipError` for a change that does not apply (an unknown node, an
        existing one, or the leader's own removal: it hands leadership over first).
        """
        if self.role != "leader":
            raise NotLeader(self.leader_id)
        if self._transferee is not None or not self.accepting:
            raise NotLeader(self._transferee)
        if kind == "remove" and node_id == self.node_id:
            raise MembershipError(
                f"{node_id} leads: it hands leadership over before it can be removed"
            )
        if not self._may_change_membership():
            raise ChangeInProgress(
                f"membership entry {self._confs.index} is not committed yet"
                if self.membership_pending
                else f"leader {self.node_id} has not committed an entry of term {self.term} yet"
            )
        new = change(self._confs.current, kind, node_id, address)
        entry = Entry(self.log.last_index + 1, self.term, encode(new))
        self._note("member", f"proposing {_describe_change(kind, node_id)} at index {entry.index}")
        self._append_own([entry])
        return entry

    def transfer_leadership(self, to: str) -> None:
        """Hand leadership to ``to``: it gets TimeoutNow as soon as its log is caught up."""
        if self.role != "leader":
            raise NotLeader(self.leader_id)
        if to == self.node_id:
            return
        if to not in self._progress:
            raise ValueError(f"unknown node {to!r}")
        if to not in self._in_force.voters:
            raise ValueError(f"{to} is a learner: it cannot lead")
        self._transferee = to
        self._transfer_elapsed = 0
        pr = self._progress[to]
        if pr.match == self.log.last_index:
            self._note("leader", f"handing leadership over to {to}: its log is up to date")
            self._send(TimeoutNow(self.term, self.node_id, to))
            return
        self._note(
            "leader",
            f"handing leadership over to {to} once it holds index {self.log.last_index} "
            f"(it holds {pr.match}); new writes wait",
        )
        # Probe from its match index, so appends lost earlier do not hold the transfer up (a
        # snapshot in flight is waited for: the probe would only send it again).
        if not pr.pending_snapshot:
            pr.become_probe()
        self._send_append(to, pr)

    def report_snapshot(self, peer: str, delivered: Snapshot | None) -> None:
        """The host delivered the snapshot sent to ``peer`` (``delivered``: the one it sent, at
        or past the core's) or could not (None), as etcd's ``ReportSnapshot``.  Either way the
        follower is probed: after the snapshot, or again from its match (which sends a snapshot
        again if it still needs one)."""
        pr = self._progress.get(peer) if self.role == "leader" else None
        if pr is None or not pr.pending_snapshot:
            return
        if delivered is None:
            self._note(
                "repair", f"the snapshot at index {pr.pending_snapshot} did not reach {peer}"
            )
            pr.become_probe()
        else:
            pr.become_probe(delivered.index + 1)
        self._send_append(peer, pr)

    def step(self, msg: Message) -> None:
        """Handle one message from a peer. Misaddressed or malformed messages are ignored."""
        if msg.to != self.node_id or msg.frm == self.node_id or msg.term <= 0:
            return
        if not _well_formed(msg):
            return
        if isinstance(msg, Removed):
            self._handle_removed(msg)
            return
        if msg.frm not in self._in_force.members and not _from_current_leader(msg, self.term):
            removed = self.removal_of(msg.frm)
            if removed is not None:
                # Whatever it sent, it acts on a membership it is no longer in: tell it.  (A
                # leader of a current term is followed whoever it is: one removed and added
                # back since leads with a log this node has not caught up with.)
                self._note(
                    "member",
                    f"{_describe(msg)} from {msg.frm}, removed at index {removed}: told it "
                    "was removed",
                )
                self._send(Removed(self.term, self.node_id, msg.frm, removed))
                return
        if isinstance(msg, VoteRequest) and msg.frm not in self._in_force.voters:
            # A node not a voter in our log (removed, or not yet promoted here) cannot disrupt
            # the cluster with its terms; refusing a vote is always safe.
            return
        self._fresh_preferred = False
        if msg.term > self.term:
            if isinstance(msg, VoteRequest) and self._ignores_vote(msg):
                self._note(
                    "vote",
                    f"ignored {msg.frm}'s vote request for term {msg.term}: leader "
                    f"{self.leader_id} was heard within the election timeout",
                )
                return
            if not _pre_vote_message(msg):
                leader = (
                    msg.frm
                    if isinstance(msg, AppendRequest | SnapshotRequest | TimeoutNow)
                    else None
                )
                was = "leader, stepping down" if self.role == "leader" else self.role
                self._note(
                    "term",
                    f"term {self.term} → {msg.term}: {_describe(msg)} from {msg.frm} (was {was})",
                    "warning" if self.role == "leader" else "info",
                )
                self._become_follower(msg.term, leader)
        elif msg.term < self.term:
            # Answer stale requests with our term so their sender steps down (or, for a
            # pre-vote, campaigns next at a term that can win).
            if isinstance(msg, VoteRequest):
                self._send(VoteResponse(self.term, self.node_id, msg.frm, False, msg.pre_vote))
            elif isinstance(msg, AppendRequest):
                self._send(AppendResponse(self.term, self.node_id, msg.frm, False, msg.prev_index))
            elif isinstance(msg, SnapshotRequest):
                self._send(
                    AppendResponse(self.term, self.node_id, msg.frm, False, msg.snapshot.index)
                )
            return

        if isinstance(msg, AppendRequest | SnapshotRequest):
            if self.role == "leader":
                return  # cannot happen: one leader per term
            if self._fresh_deferred:
                self._fresh_deferred = False  # a leader is up: no first election to wait for
                self._reset_timeout()
            if self.role == "candidate" or self._pre_candidate:
                self._become_follower(msg.term, msg.frm)
            if self.leader_id != msg.frm or not self._heard_leader:
                self._note("follower", f"following leader {msg.frm} (term {msg.term})")
                self._heard_leader = True
            self.leader_id = msg.frm
            self._election_elapsed = 0
            if isinstance(msg, AppendRequest):
                self._handle_append(msg)
            else:
                self._handle_snapshot(msg)
        elif isinstance(msg, AppendResponse):
            if self.role == "leader":
                self._handle_append_response(msg)
        elif isinstance(msg, VoteRequest):
            if msg.pre_vote:
                self._handle_pre_vote_request(msg)
            else:
                self._handle_vote_request(msg)
        elif isinstance(msg, VoteResponse):
            if msg.pre_vote:
                # A grant carries the term asked for; an older round's grant carries less.
                if self._pre_candidate and (not msg.granted or msg.term == self.term + 1):
                    self._handle_vote_response(msg)
            elif self.role == "candidate":
                self._handle_vote_response(msg)
        elif (
            self.role != "leader"
            and self.accepting
            and self.voter
            and not self.repairing
            and not self.removed
        ):
            self._campaign(transfer=True)

    # -------------------------------------------------------------------------------- ready

    def has_ready(self) -> bool:
        """Whether :meth:`ready` has anything to hand out."""
        return (
            bool(self._msgs)
            or bool(self._early)
            or self.log.pending_snapshot is not None
            or self.log.has_unpersisted()
            or self._apply_limit() > self.applied_index
            or self._hard_state() != self._prev_hard_state
        )

    def ready(self) -> Ready:
        """Hand out everything pending, exactly once (see :class:`Ready` for the host's duties)."""
        rd = Ready()
        hard_state, prev = self._hard_state(), self._prev_hard_state
        if hard_state != prev:
            rd.hard_state = hard_state
            self._prev_hard_state = hard_state
        rd.snapshot = self.log.take_snapshot()
        if rd.snapshot is not None:
            # Installed by the host in this round, before anything after it is applied.
            self.applied_index = rd.snapshot.index
        rd.entries = self.log.take_unpersisted()
        new_vote = (hard_state.term, hard_state.vote) != (prev.term, prev.vote)
        # A commit index alone need not be durable.
        rd.must_sync = bool(rd.entries) or new_vote or rd.snapshot is not None
        rd.messages, self._msgs = self._msgs, []
        rd.early_messages, self._early = self._early, []
        limit = self._apply_limit()
        if limit > self.applied_index:
            rd.committed = self.log.slice(self.applied_index + 1, limit + 1)
            self.applied_index = limit
        return rd

    def take_notes(self) -> list[Note]:
        """The decisions taken since the last call, in words (see :class:`Note`)."""
        notes = list(self._notes)
        self._notes.clear()
        return notes

    def advance(self, ready: Ready) -> None:
        """The host has persisted, sent and applied ``ready``: mark its entries stable."""
        entries = ready.entries
        if not entries:
            return
        # Entries from persist_from on were replaced since (and will be handed out again).
        first = entries[0].index
        last = min(entries[-1].index, self.log.persist_from - 1)
        if last >= first:
            self.log.stable_to(last, entries[last - first].term)
        if self.role == "leader":
            self._maybe_commit()

    def compact(self, index: int) -> Snapshot | None:
        """Forget the log up to ``index``, which the state machine has applied; returns the
        marker the host must store (``LogStorage.compact``) at once, or None if the log already
        starts past ``index``.  Raises ValueError past the applied or stable index."""
        if index <= self.log.snapshot.index:
            return None
        if index > self.applied_index:
            raise ValueError(f"cannot compact to {index}: only {self.applied_index} is applied")
        snapshot = Snapshot.of(index, self.log.term(index), self._confs.at(index))
        self.log.compact(snapshot)
        self._confs.compacted(index)
        return snapshot

    # ----------------------------------------------------------------------- overridable rules

    def _candidate_log_ok(self, last_term: int, last_index: int) -> bool:
        """Rule 2: the candidate's log is at least as up to date as ours."""
        return self.log.is_up_to_date(last_term, last_index)

    def _same_kind(self, m: VoteRequest) -> bool:
        """Lost state: votes go only between nodes that both may, or both cannot, have lost
        the end of their log (see the module docstring)."""
        if m.recovering == self.recovering:
            return True
        if self._fresh_deferred:
            # Rule 7 waits for the preferred node to win; refused here, it cannot.
            self._fresh_deferred = False
            self._reset_timeout()
        return False

    def _can_commit(self, index: int) -> bool:
        """Raft §5.4.2: only entries of the current term are committed by counting replicas."""
        return self.log.term(index) == self.term

    def _membership_in_force(self) -> Membership:
        """Dissertation §4.1: the latest membership in the log, committed or not."""
        return self._confs.current

    def _snapshot_to_send(self) -> Snapshot:
        """The snapshot a leader offers: its state machine at its applied index, which is
        committed, and at or past where its log starts."""
        index = self.applied_index
        return Snapshot.of(index, self.log.term(index), self._confs.at(index))

    def _should_restore(self, snapshot: Snapshot) -> bool:
        """Restore a snapshot only past our commit index (never roll the state machine back)
        and only if our log does not already hold its last entry (etcd's ``restore``)."""
        return snapshot.index > self.commit_index and not self.log.matches(
            snapshot.index, snapshot.term
        )

    # ----------------------------------------------------------------------------- internals

    def _may_change_membership(self) -> bool:
        """Dissertation §4.1: one change at a time, and only once this leader committed an entry
        of its term (else a change of a deposed leader's, never committed, could overlap)."""
        return self.serving and not self.membership_pending

    def _read_memberships(self) -> MembershipLog:
        """The memberships of the log as stored: the marker's (or the bootstrap one), then
        each membership entry after it."""
        marker = self.log.snapshot
        if marker.voters:
            confs = MembershipLog(marker.index, marker.membership)
        else:
            confs = MembershipLog(marker.index, Membership(self.config.voters))
        index, last = self.log.first_index, self.log.last_index
        while index <= last:
            chunk = self.log.slice(index, last + 1, _SCAN_CHUNK)
            confs.appended(chunk)
            index += len(chunk)
        return confs

    def _set_membership(self) -> None:
        """Take the membership in force: who to send to, who votes, who counts."""
        m = self._in_force = self._membership_in_force()
        if self.removed and self._confs.index > self.removed[1] and self.node_id in m.members:
            self.removed = None  # added back: a later membership names it again
        self._peers = tuple(n for n in m.members if n != self.node_id)
        self._voter_peers = tuple(n for n in m.voters if n != self.node_id)
        self._voters = len(m.voters)
        if self.role != "leader":
            return
        for gone in set(self._progress) - set(self._peers):
            del self._progress[gone]
        for peer in self._peers:
            if peer not in self._progress:
                self._progress[peer] = Progress(self.log.last_index + 1)
                self._send_append(peer, self._progress[peer])
        if self._transferee not in self._voter_peers:
            self._transferee = None

    def _hard_state(self) -> HardState:
        return HardState(self.term, self.vote, self.commit_index)

    def _apply_limit(self) -> int:
        return min(self.commit_index, self.log.stable_index, self.applied_index + _MAX_APPLY_BATCH)

    def _send(self, msg: Message) -> None:
        # Only a leader sends these, and its term is durable since it campaigned: they may go
        # before the Ready's write.  Every other message asserts what that write makes durable.
        if isinstance(msg, AppendRequest | SnapshotRequest | TimeoutNow):
            self._early.append(msg)
        else:
            self._msgs.append(msg)

    def _note(self, kind: NoteKind, text: str, level: NoteLevel = "info") -> None:
        self._notes.append(Note(kind, text, level))

    def _reset_timeout(self) -> None:
        ticks = self.config.election_ticks
        if self._fresh_preferred:
            self._timeout = 1 + self._rng.randrange(2)
        elif self._fresh_deferred:
            self._timeout = _FRESH_DEFER_TIMEOUTS * ticks + self._rng.randrange(ticks)
        else:
            self._timeout = ticks + self._rng.randrange(ticks)

    def _in_lease(self) -> bool:
        """Heard from a leader within the minimum election timeout (thesis §4.2.3).

        A leader's own clock restarts every election timeout, so a leader is always in lease.
        """
        return self.leader_id is not None and self._election_elapsed < self.config.election_ticks

    def _ignores_vote(self, m: VoteRequest) -> bool:
        """Whether a real vote request of a higher term is dropped without adopting its term.

        With ``check_quorum`` (as in etcd) a node in lease does, so a disruptive candidate cannot
        depose a healthy leader: check_quorum makes a leader that lost its quorum step down
        within that same timeout.  A campaign started by leadership transfer (``TimeoutNow``)
        bypasses the lease: the leader asked for it.  Pre-votes are refused later, never dropped.
        """
        return not (m.pre_vote or m.transfer) and self.config.check_quorum and self._in_lease()

    def _caught_up(self, m: AppendRequest, proven: int) -> bool:
        """A recovering node holds every entry it may have lost once its log matches, up to an
        entry of the leader's term that the leader committed, a leader elected after the terms
        it lost entries in: that entry follows every entry committed before it (Raft's leader
        completeness).  A commit index of an older leader may lag entries this node acknowledged
        and lost, which that leader committed since."""
        commit = m.commit
        return (
            m.term > self._lost_term
            and proven >= commit > self.log.snapshot.index
            and self.log.term(commit) == m.term
        )

    def _recovered(self, why: str) -> None:
        self.recovering = False
        self._note("vote", f"caught up after a power loss ({why}): votes as any node again")

    def _become_follower(self, term: int, leader: str | None) -> None:
        if term != self.term:
            self.term = term
            self.vote = None
        self.role = "follower"
        self.leader_id = leader
        self._heard_leader = False
        self._pre_candidate = False
        self._votes = {}
        self._progress = {}
        self._transferee = None
        self._election_elapsed = 0
        self._reset_timeout()

    def _pre_campaign(self) -> None:
        """Ask the peers whether we could win at ``term + 1``; term and vote stay as they are."""
        self.role = "follower"  # a candidate whose election timed out pre-votes again
        self.leader_id = None
        self._pre_candidate = True
        self._fresh_deferred = False
        self._votes = {self.node_id: True}
        self._election_elapsed = 0
        self._reset_timeout()
        last_index = self.log.last_index
        last_term = self.log.last_term()
        term = self.term + 1
        self._note(
            "election",
            f"asking for pre-votes: could it win term {term}? (its log ends at index "
            f"{last_index}, term {last_term})",
        )
        for peer in self._voter_peers:
            self._send(
                VoteRequest(
                    term,
                    self.node_id,
                    peer,
                    last_index,
                    last_term,
                    pre_vote=True,
                    recovering=self.recovering,
                )
            )

    def _campaign(self, transfer: bool = False) -> None:
        self._transfer_campaign = transfer
        self.term += 1
        self.vote = self.node_id
        self.role = "candidate"
        self.leader_id = None
        self._pre_candidate = False
        self._fresh_deferred = False
        self._votes = {self.node_id: True}
        self._election_elapsed = 0
        self._reset_timeout()
        why = "leadership handed over to it" if transfer else "a candidate"
        self._note("election", f"campaigning for term {self.term} ({why}), voting for itself")
        if vote_result(self._votes, self._voters) == "won":  # the only voter
            self._become_leader()
            return
        last_index = self.log.last_index
        last_term = self.log.last_term()
        for peer in self._voter_peers:
            self._send(
                VoteRequest(
                    self.term,
                    self.node_id,
                    peer,
                    last_index,
                    last_term,
                    False,
                    transfer,
                    self.recovering,
                )
            )

    def _become_leader(self) -> None:
        if self.recovering:
            self._recovered("it leads: its log is the cluster's from now on")
        self.won_by_transfer = self._transfer_campaign
        self.role = "leader"
        self.leader_id = self.node_id
        self._fresh_preferred = False
        self._votes = {}
        self._election_elapsed = 0
        self._heartbeat_elapsed = 0
        self._transferee = None
        last = self.log.last_index
        self._progress = {peer: Progress(last + 1) for peer in self._peers}
        self._term_start = last + 1
        self._note(
            "leader",
            f"became leader for term {self.term}; serves once its no-op at index {last + 1} "
            "is committed",
        )
        self.log.append([Entry(last + 1, self.term, b"")])  # rule 3: commit own term first
        for peer, pr in self._progress.items():
            self._send_append(peer, pr)

    def _handle_vote_request(self, m: VoteRequest) -> None:
        can_vote = not self.repairing and (
            self.vote == m.frm or (self.vote is None and self.leader_id is None)
        )
        log_ok = self._candidate_log_ok(m.last_log_term, m.last_log_index) and self._same_kind(m)
        granted = can_vote and log_ok
        if granted:
            self.vote = m.frm
            self._election_elapsed = 0
            self._note("vote", f"voted for {m.frm} in term {self.term}")
        else:
            why = self._refusal(m, can_vote)
            self._note("vote", f"refused its vote to {m.frm} for term {m.term}: {why}")
        self._send(VoteResponse(self.term, self.node_id, m.frm, granted))

    def _refusal(self, m: VoteRequest, can_vote: bool) -> str:
        """Why a (pre-)vote request is refused, in words."""
        if self.repairing:
            return "it is rebuilding its damaged state and holds nothing it acknowledged"
        if can_vote and not self._same_kind(m):
            if self.recovering:
                return "it lost power and votes only for nodes that did too until it caught up"
            return "the candidate lost power and has not caught up with a leader"
        if not can_vote:
            if self.vote is not None and self.vote != m.frm:
                return f"already voted for {self.vote} in term {self.term}"
            return f"it follows leader {self.leader_id}"
        if self._in_lease() and m.pre_vote:
            return f"leader {self.leader_id} was heard within the election timeout"
        if m.term < self.term:
            return f"its term {m.term} is behind ours ({self.term})"
        return (
            f"its log (index {m.last_log_index}, term {m.last_log_term}) is behind ours "
            f"(index {self.log.last_index}, term {self.log.last_term()})"
        )

    def _handle_pre_vote_request(self, m: VoteRequest) -> None:
        # Records nothing: a pre-vote only tells the candidate it could win.  Refusals carry our
        # term, so a candidate behind on terms catches up.
        can_vote = not self.repairing and (
            m.term > self.term
            or self.vote == m.frm
            or (self.vote is None and self.leader_id is None)
        )
        if (
            can_vote
            and not self._in_lease()
            and self._candidate_log_ok(m.last_log_term, m.last_log_index)
            and self._same_kind(m)
        ):
            self._note("vote", f"pre-vote granted to {m.frm} for term {m.term}")
            self._send(VoteResponse(m.term, self.node_id, m.frm, True, True))
        else:
            why = self._refusal(m, can_vote)
            self._note("vote", f"pre-vote refused to {m.frm} for term {m.term}: {why}")
            self._send(VoteResponse(self.term, self.node_id, m.frm, False, True))

    def _handle_vote_response(self, m: VoteResponse) -> None:
        """Count a vote (or pre-vote): on a majority campaign (or lead); give up on a lost one."""
        if m.frm not in self._voter_peers:
            return  # only voters' answers count
        self._votes[m.frm] = m.granted
        result = vote_result(self._votes, self._voters)
        granted = sum(self._votes.values())
        what = "pre-vote" if m.pre_vote else "vote"
        answer = "granted" if m.granted else "refused"
        needed = majority(self._voters)
        votes = f"{granted} vote{'s' if granted != 1 else ''}"
        self._note("vote", f"{m.frm} {answer} its {what} ({votes}, {needed} needed)")
        if result == "won":
            if self._pre_candidate:
                self._campaign()
            else:
                self._become_leader()
        elif result == "lost":
            refused = ", ".join(sorted(p for p, ok in self._votes.items() if not ok))
            self._note(
                "election", f"lost the {what} for term {m.term}: refused by {refused}", "warning"
            )
            self._become_follower(self.term, None)  # lost: wait for the winner or time out

    def _handle_append(self, m: AppendRequest) -> None:
        if self.repairing:
            self._send(
                AppendResponse(
                    self.term, self.node_id, m.frm, False, m.prev_index, wants_snapshot=True
                )
            )
            return
        log = self.log
        prev, prev_term, entries = m.prev_index, m.prev_term, m.entries
        # What a success proves: our log matches the leader's up to here.  Not up to our own
        # commit index, which the skip below assumes every leader holds: after a power loss
        # (fsync: os) a leader may lack entries this node committed, and an answer claiming
        # them would be ignored by it, leaving this node unprobed and unrepaired.
        proven = m.prev_index + len(m.entries)
        commit = self.commit_index
        if prev < commit:
            # Entries up to our commit index are committed, so they are in every later leader's
            # log: skip them, after checking the last one we skip against the leader's term.
            skipped = min(commit - prev, len(entries))
            index, term = prev, prev_term
            if skipped:
                index, term = prev + skipped, entries[skipped - 1].term
            # An entry compacted here was applied, so checked when it was appended.
            if index >= log.snapshot.index and log.term(index) != term:
                raise LogDivergence(
                    f"{self.node_id}: leader {m.frm} (term {m.term}) has term {term} at index "
                    f"{index}, committed here with term {log.term(index)}"
                )
            entries = entries[commit - prev :]
            prev, prev_term = commit, log.term(commit)
        if not log.matches(prev, prev_term):
            hint = log.reject_hint(prev, prev_term, self.commit_index)
            if prev > log.last_index:
                why = f"its log ends at index {log.last_index}, the leader's entries start past it"
            else:
                why = f"entry {prev} has term {log.term(prev)} here, {prev_term} on the leader"
            self._note("repair", f"refused an append from {m.frm} at index {prev}: {why}")
            self._refused_append = True
            self._send(AppendResponse(self.term, self.node_id, m.frm, False, m.prev_index, hint))
            return
        conflict = log.find_conflict(entries) if entries else 0
        if entries:
            if conflict and not self.accepting:
                # No answer: the leader counts this node toward no commit, and probes again
                # once its appends stall; heartbeats still get their answer (and apply).
                return
            if conflict and conflict <= log.last_index:
                self._note(
                    "repair",
                    f"removed entries {conflict}..{log.last_index}: leader {m.frm} has "
                    "another history there (never committed)",
                    "warning",
                )
        log.append_new(entries)
        if conflict and self._confs.appended(entries[conflict - entries[0].index :]):
            self._set_membership()
            self._note_membership()
        last_new = prev + len(entries)
        if self._refused_append:
            self._refused_append = False
            self._note("repair", f"log matches leader {m.frm} again up to index {last_new}")
        new_commit = min(m.commit, last_new)
        if new_commit > self.commit_index:
            self.commit_index = new_commit
        if self.recovering and self._caught_up(m, proven):
            self._recovered(f"its log matches leader {m.frm}'s up to its commit index {m.commit}")
        self._send(AppendResponse(self.term, self.node_id, m.frm, True, min(last_new, proven)))

    def _handle_snapshot(self, m: SnapshotRequest) -> None:
        snapshot = m.snapshot
        if self.repairing and self.accepting:
            self._end_repair(m)
        if not self._should_restore(snapshot):
            if snapshot.index > self.commit_index:
                # Our log holds the snapshot's last entry, so the leader's log up to it: commit
                # up to it and apply from our own log.
                self.commit_index = snapshot.index
            self._note(
                "snapshot",
                f"ignored {m.frm}'s snapshot at index {snapshot.index}: its log already holds "
                f"it (commit {self.commit_index})",
            )
            self._send(AppendResponse(self.term, self.node_id, m.frm, True, self.commit_index))
            return
        if not self.accepting:
            return  # a restore writes the whole state: unanswered, like new entries
        self._note(
            "snapshot",
            f"restoring {m.frm}'s snapshot at index {snapshot.index} (term {snapshot.term}): "
            f"its log ({self.log.first_index}..{self.log.last_index}, commit "
            f"{self.commit_index}) is replaced",
            "warning",
        )
        self.log.restore(snapshot)
        self._confs.restored(snapshot.index, snapshot.membership)
        self._set_membership()
        self.commit_index = snapshot.index
        self._send(AppendResponse(self.term, self.node_id, m.frm, True, snapshot.index))

    def _end_repair(self, m: SnapshotRequest) -> None:
        """A repairing follower takes the leader's snapshot: from it on, it holds every entry
        committed so far.  Its vote in this term may have been lost with its files: it counts
        as given to the leader, who won the term (so it is never given to another)."""
        self.repairing = False
        if self.vote is None:
            self.vote = m.frm
        self._note(
            "repair",
            f"repaired from {m.frm}'s snapshot at index {m.snapshot.index} (term {m.term}): "
            "it votes and counts toward commits again",
        )

    def _handle_removed(self, m: Removed) -> None:
        """Another node says this one was removed: believe it only from a member, at a term
        at or above ours, about an entry past our latest membership (so no stale or forged
        claim stops a member from campaigning)."""
        if self.removed is not None:
            return
        if m.frm not in self._in_force.members or m.term < self.term:
            why = (
                f"its term {m.term} is behind ours ({self.term})"
                if m.term < self.term
                else f"{m.frm} is not a member here"
            )
        elif m.index <= self._confs.index:
            why = f"our membership is from index {self._confs.index}, later than that"
        else:
            self.removed = (m.frm, m.index)
            if self.role != "follower" or self._pre_candidate:
                self._become_follower(self.term, None)
            self.leader_id = None
            self._note(
                "member",
                f"removed from the cluster by {m.frm} at index {m.index}: no longer campaigns",
                "warning",
            )
            return
        self._note(
            "member", f"ignored {m.frm}'s word that it was removed at index {m.index}: {why}"
        )

    def _note_membership(self) -> None:
        m = self._in_force
        learners = f", learners {', '.join(m.learners)}" if m.learners else ""
        self._note(
            "member",
            f"membership from index {self._confs.index}: voters {', '.join(m.voters)}{learners}",
        )

    def _handle_append_response(self, m: AppendResponse) -> None:
        pr = self._progress.get(m.frm)
        if pr is None:
            return  # not (or no longer) a member
        pr.active = True
        if m.wants_snapshot:
            if not pr.pending_snapshot:
                # It holds nothing it acknowledged: count it toward no commit until it does.
                pr.match = 0
                self._send_snapshot(m.frm, pr, f"{m.frm} is rebuilding its damaged state")
            return
        if m.match_index > self.log.last_index:
            return  # not something this leader sent
        if not m.success:
            if pr.on_rejected(m.match_index, m.reject_hint):
                pr.repairing = True
                self._note(
                    "repair",
                    f"{m.frm} refused entries after index {m.match_index}: probing from {pr.next}",
                )
                self._send_append(m.frm, pr)
            return
        probing, held = not pr.replicating, pr.next - 1  # where a probe finds the logs agree
        progressed = pr.on_accepted(m.match_index)
        if pr.snapshot_landed(self.log.first_index):
            self._note(
                "snapshot",
                f"{m.frm} follows on from the snapshot: it holds the log up to index {pr.match}",
            )
        elif probing and pr.replicating:
            self._note_probe_landed(m.frm, pr, held)
        if pr.catching_up and pr.match >= self.log.last_index:
            pr.catching_up = False
            self._note("catch_up", f"{m.frm} caught up at index {pr.match}")
        if progressed:
            self._maybe_commit()
        if self._transferee == m.frm and pr.match == self.log.last_index:
            self._send(TimeoutNow(self.term, self.node_id, m.frm))
        self._send_append(m.frm, pr)
        self._send_commit(m.frm, pr)

    def _note_probe_landed(self, peer: str, pr: Progress, held: int) -> None:
        """Say where a follower that was repaired, or far behind, now stands."""
        behind = self.log.last_index - pr.match
        if pr.repairing or pr.match - held + behind >= _CATCH_UP_NOTE:
            if behind:
                pr.catching_up = True
                self._note(
                    "catch_up",
                    f"{peer} matches up to index {pr.match}: sending the {behind} entries it lacks",
                )
            else:
                self._note(
                    "catch_up", f"{peer} caught up at index {pr.match} (it held up to {held})"
                )
        pr.repairing = False

    def _send_append(self, peer: str, pr: Progress) -> None:
        if pr.pending_snapshot:
            return  # paused until the follower answers the snapshot
        first = self.log.first_index
        if not pr.replicating:
            if pr.take_probe():
                if pr.next < first:
                    self._send_snapshot(peer, pr, self._needs_compacted(peer, pr))
                else:
                    self._send_append_from(peer, pr, pr.next)
            return
        last = self.log.last_index
        window = self.config.max_entries_per_append * _MAX_INFLIGHT_BATCHES
        while pr.next <= last and pr.in_flight() < window:
            if pr.next < first:
                self._send_snapshot(peer, pr, self._needs_compacted(peer, pr))
                return
            pr.next += self._send_append_from(peer, pr, pr.next)

    def _needs_compacted(self, peer: str, pr: Progress) -> str:
        first = self.log.first_index
        return f"{peer} needs entries from index {pr.next} but the log starts at {first}"

    def _send_snapshot(self, peer: str, pr: Progress, why: str) -> None:
        """Send the follower a snapshot: it needs entries this leader compacted away, or it
        rebuilds damaged state."""
        snapshot = self._snapshot_to_send()
        self._note("snapshot", f"{why}: sending it a snapshot at index {snapshot.index}")
        pr.become_snapshot(snapshot.index)
        self._send(SnapshotRequest(self.term, self.node_id, peer, snapshot))

    def _send_append_from(self, peer: str, pr: Progress, next_index: int) -> int:
        log = self.log
        prev = next_index - 1
        batch = log.slice(next_index, log.last_index + 1, self.config.max_entries_per_append)
        commit = self.commit_index
        self._send(
            AppendRequest(self.term, self.node_id, peer, prev, log.term(prev), tuple(batch), commit)
        )
        # A follower commits up to min(commit, last new entry) on success.
        pr.sent(min(commit, prev + len(batch)))
        return len(batch)

    def _send_commit(self, peer: str, pr: Progress) -> None:
        """A heartbeat if the follower holds committed entries it has not been told about."""
        if pr.needs_commit_notice(self.commit_index):
            self._send_heartbeat(peer, pr)

    def _send_heartbeat(self, peer: str, pr: Progress) -> None:
        # Anchored at the match index, which the follower is known to hold, so a heartbeat
        # never overtakes in-flight appends into a spurious rejection.  Below a compacted log's
        # start, at index 0, which every log holds (the follower answers with its commit).
        anchor = pr.match if pr.match >= self.log.snapshot.index else 0
        self._send(
            AppendRequest(
                self.term,
                self.node_id,
                peer,
                anchor,
                self.log.term(anchor),
                (),
                self.commit_index,
            )
        )
        pr.sent(min(self.commit_index, anchor))

    def _maybe_commit(self) -> None:
        progress = self._progress
        candidate = committed_index(
            self.log.stable_index,
            (progress[peer].match for peer in self._voter_peers),
            self.config.write_quorum,
        )
        if candidate <= self.commit_index or not self._can_commit(candidate):
            return
        self.commit_index = candidate
        # Tell followers now rather than at the next heartbeat, so they apply promptly.
        for peer, pr in self._progress.items():
            self._send_append(peer, pr)
            self._send_commit(peer, pr)

    def _tick_leader(self) -> None:
        config = self.config
        self._election_elapsed += 1
        if self._election_elapsed >= config.election_ticks:
            self._election_elapsed = 0
            active = 1 + sum(self._progress[peer].active for peer in self._voter_peers)
            for pr in self._progress.values():
                pr.active = False
            if config.check_quorum and not has_quorum(active, self._voters):
                self._note(
                    "quorum",
                    f"stepped down: heard from {active} of {self._voters} nodes within an "
                    f"election timeout, needs {majority(self._voters)}",
                    "warning",
                )
                self._become_follower(self.term, None)  # rule 4: cut off from a quorum
                return
        if self._transferee is not None:
            self._transfer_elapsed += 1
            if self._transfer_elapsed >= config.election_ticks:
                self._note(
                    "leader",
                    f"leadership transfer to {self._transferee} abandoned: it did not take over "
                    f"within {config.election_ticks} ticks; leading on",
                    "warning",
                )
                self._transferee = None  # the transfer did not happen in time: lead on
        stall_ticks = max(2, config.election_ticks // 2)
        for peer, pr in self._progress.items():
            snapshot = pr.pending_snapshot
            if pr.tick(stall_ticks):  # entries or a snapshot in flight were lost: probing again
                if snapshot:
                    what = f"the snapshot at index {snapshot}"
                else:
                    what = f"entries after index {pr.match}"
                self._note("repair", f"no answer from {peer} for {what}: probing again")
                pr.repairing = True
                self._send_append(peer, pr)
        self._heartbeat_elapsed += 1
        if self._heartbeat_elapsed >= config.heartbeat_ticks:
            self._heartbeat_elapsed = 0
            for peer, pr in self._progress.items():
                self._send_heartbeat(peer, pr)
        self._maybe_promote()

    def _maybe_promote(self) -> None:
        """Promote the first learner whose log is within ``promote_lag`` entries of this
        leader's (and that is not waiting for a snapshot), when a change may be proposed."""
        learners = self._in_force.learners
        if not learners or self._transferee is not None or not self.accepting:
            return
        if not self._may_change_membership():
            return
        for learner in learners:
            pr = self._progress[learner]
            lag = self.log.last_index - pr.match
            if pr.replicating and lag <= self.config.promote_lag:
                self._note("member", f"{learner} is {lag} entries behind: promoting it to voter")
                self.propose_membership("promote", learner)
                return


def _describe(msg: Message) -> str:
    """What a message is, for the notes."""
    if isinstance(msg, VoteRequest):
        return "a leadership-transfer vote request" if msg.transfer else "a vote request"
    if isinstance(msg, VoteResponse):
        return "a vote answer"
    if isinstance(msg, AppendRequest):
        return "an append"
    if isinstance(msg, AppendResponse):
        return "an append answer"
    if isinstance(msg, SnapshotRequest):
        return "a snapshot"
    if isinstance(msg, Removed):
        return "a removal notice"
    return "a hand-over"


def _describe_change(kind: ChangeKind, node_id: str) -> str:
    if kind == "add":
        return f"adding {node_id} as a learner"
    if kind == "promote":
        return f"promoting {node_id} to voter"
    return f"removing {node_id}"


def _from_current_leader(msg: Message, term: int) -> bool:
    """A leader's message (append, snapshot, hand-over) of our term or a later one."""
    return isinstance(msg, AppendRequest | SnapshotRequest | TimeoutNow) and msg.term >= term


def _pre_vote_message(msg: Message) -> bool:
    """A pre-vote request, or a grant: their term is one asked about, adopted by no one."""
    if isinstance(msg, VoteRequest):
        return msg.pre_vote
    return isinstance(msg, VoteResponse) and msg.pre_vote and msg.granted


def _well_formed(msg: Message) -> bool:
    """Structural checks the core relies on (the wire decoder checks types)."""
    if isinstance(msg, AppendRequest):
        prev = msg.prev_index
        if prev < 0 or msg.commit < 0 or not 0 <= msg.prev_term <= msg.term:
            return False
        if prev == 0 and msg.prev_term != 0:
            return False
        term = msg.prev_term
        for offset, entry in enumerate(msg.entries, start=1):
            if entry.index != prev + offset or not term <= entry.term <= msg.term:
                return False
            term = entry.term
        return True
    if isinstance(msg, VoteRequest):
        if msg.pre_vote and msg.transfer:
            return False  # a transfer skips the pre-vote round
        return msg.last_log_index >= 0 and 0 <= msg.last_log_term < msg.term
    if isinstance(msg, AppendResponse):
        return msg.match_index >= 0 and msg.reject_hint >= 0
    if isinstance(msg, SnapshotRequest):
        snapshot = msg.snapshot
        return snapshot.index >= 1 and 1 <= snapshot.term <= msg.term and bool(snapshot.voters)
    if isinstance(msg, Removed):
        return msg.index >= 1
    return True
