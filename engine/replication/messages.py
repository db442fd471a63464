"""Data types exchanged by the pure replication core and the I/O around it.

The core never touches a socket or a file: it takes messages and clock ticks and hands back a
:class:`Ready` naming what to persist, what to send (before or after persisting) and what to
apply.  Everything here is plain
data so it can be encoded on the wire (see :mod:`engine.replication.wire`) and compared in tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Role = Literal["follower", "candidate", "leader"]


@dataclass(frozen=True, slots=True)
class Entry:
    """One log entry. ``data`` is an opaque encoded command (empty bytes = no-op)."""

    index: int
    term: int
    data: bytes


@dataclass(frozen=True, slots=True)
class HardState:
    """What must be on disk (fsynced) before a node answers a vote or append request."""

    term: int = 0
    vote: str | None = None
    commit: int = 0


@dataclass(frozen=True, slots=True)
class Address:
    """Where a member listens: its HTTP API and its node TCP link.  The core only carries it
    (in the membership entries and snapshot markers), so every host and gateway learns a
    member added at run time from the log."""

    node_id: str
    http: tuple[str, int]
    tcp: tuple[str, int]


@dataclass(frozen=True, slots=True)
class Membership:
    """The replication group: ``voters`` elect leaders and make the write quorum; ``learners``
    (non-voting members) get entries and snapshots but count for neither."""

    voters: tuple[str, ...]
    learners: tuple[str, ...] = ()
    addresses: tuple[Address, ...] = ()

    @property
    def members(self) -> tuple[str, ...]:
        return self.voters + self.learners

    def address(self, node_id: str) -> Address | None:
        return next((a for a in self.addresses if a.node_id == node_id), None)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Where a compacted log starts: the last entry it replaced (index and term) and the
    membership then (voters, learners and their addresses).  The state machine's data at
    ``index`` travels beside it (the host's job: the core never sees it).  ``Snapshot()`` stands
    for a log never compacted."""

    index: int = 0
    term: int = 0
    voters: tuple[str, ...] = ()
    learners: tuple[str, ...] = ()
    addresses: tuple[Address, ...] = ()

    @property
    def membership(self) -> Membership:
        return Membership(self.voters, self.learners, self.addresses)

    @classmethod
    def of(cls, index: int, term: int, membership: Membership) -> Snapshot:
        return cls(index, term, membership.voters, membership.learners, membership.addresses)


@dataclass(frozen=True, slots=True)
class VoteRequest:
    """A vote request, or with ``pre_vote`` a pre-vote request (Raft thesis §9.6).

    A pre-vote asks at the term the candidate would campaign at, without the candidate or the
    voter changing term or vote.  ``transfer`` marks a real campaign started by ``TimeoutNow``:
    voters grant it even if they heard from the leader recently (the leader asked for it).
    ``recovering``: the candidate may have lost the end of its log in a power loss
    (``RaftNode.recovering``); votes go only between nodes alike in that.
    """

    term: int
    frm: str
    to: str
    last_log_index: int
    last_log_term: int
    pre_vote: bool = False
    transfer: bool = False
    recovering: bool = False


@dataclass(frozen=True, slots=True)
class VoteResponse:
    """A vote, or with ``pre_vote`` a pre-vote answer.

    A granted pre-vote carries the term it was asked for (one above the candidate's); a refusal
    carries the voter's own term, so a candidate behind on terms catches up.
    """

    term: int
    frm: str
    to: str
    granted: bool
    pre_vote: bool = False


@dataclass(frozen=True, slots=True)
class AppendRequest:
    term: int
    frm: str
    to: str
    prev_index: int
    prev_term: int
    entries: tuple[Entry, ...]
    commit: int


@dataclass(frozen=True, slots=True)
class AppendResponse:
    term: int
    frm: str
    to: str
    success: bool
    # On success: the highest index known to match the leader's log.
    # On rejection: a hint where the leader should retry (the follower's last index, or the
    # first index of the conflicting term), so repair takes a few round trips, not one per entry.
    match_index: int
    reject_hint: int = 0
    # A follower rebuilding damaged state (RaftNode.repairing) refuses appends and asks for a
    # snapshot of the leader's state machine, compacted or not.
    wants_snapshot: bool = False


@dataclass(frozen=True, slots=True)
class SnapshotRequest:
    """Leader -> follower that needs entries the leader compacted away: install the state
    machine at ``snapshot`` (Raft's InstallSnapshot, etcd's MsgSnap).

    The core names only the snapshot; the leader's host streams the stores' data at that index
    and hands the message to the follower's core once the data is there.  The follower answers
    with an ``AppendResponse``: success at the index its log now matches the leader's.
    """

    term: int
    frm: str
    to: str
    snapshot: Snapshot


@dataclass(frozen=True, slots=True)
class TimeoutNow:
    """Leader -> preferred follower: campaign now (leadership transfer)."""

    term: int
    frm: str
    to: str


@dataclass(frozen=True, slots=True)
class Removed:
    """The answer to any message from a node this one has removed: the membership this node
    applied up to ``index`` (the entry that removed it) excludes the sender, and no later one
    takes it back.  Its receiver stops campaigning for good, as etcd's transport answers a
    removed member with 410 Gone; it trusts the answer only from a member of its own
    membership at a term at or above its own, about an entry past its latest membership."""

    term: int
    frm: str
    to: str
    index: int


Message = (
    VoteRequest
    | VoteResponse
    | AppendRequest
    | AppendResponse
    | SnapshotRequest
    | TimeoutNow
    | Removed
)

NoteKind = Literal[
    "election",
    "vote",
    "leader",
    "follower",
    "term",
    "repair",
    "catch_up",
    "quorum",
    "snapshot",
    "member",
]
NoteLevel = Literal["info", "warning"]


@dataclass(frozen=True, slots=True)
class Note:
    """A decision of the core, in words, with its reason: an election started, a vote refused
    and why, a leader stepped down, a follower's log repaired.  The host keeps them in the
    node's log (docs/API.md, "Node log") from ``RaftNode.take_notes``, apart from ``Ready``:
    notes are no work to do, and the core's behaviour never depends on them."""

    kind: NoteKind
    text: str
    level: NoteLevel = "info"


@dataclass(slots=True)
class Ready:
    """A batch of work for the host, handed out by ``RaftNode.ready()``.

    The host carries it out in the order of :mod:`engine.replication.ready` (which both the node
    host and the simulator call): send ``early_messages``, apply ``committed``, persist
    ``hard_state`` and ``entries`` in one fsynced write when ``must_sync``, send ``messages``,
    then call ``RaftNode.advance(ready)``.  ``entries`` may start at or below the last stored
    index: everything from ``entries[0].index`` on is then replaced (log repair truncates a
    divergent suffix).  A ``snapshot`` replaces the whole log and the state machine: the host
    installs the state machine's data at its index and stores it as the log's new start, in the
    same write as ``entries`` (which then follow it) and before ``messages`` go.
    """

    hard_state: HardState | None = None
    entries: list[Entry] = field(default_factory=list)
    # Sent only once the write is durable: they assert its term, vote or entries.
    messages: list[Message] = field(default_factory=list)
    # May be sent before the write: a leader's appends and TimeoutNow (as etcd allows).
    early_messages: list[Message] = field(default_factory=list)
    # Already stable: may be applied before the write.
    committed: list[Entry] = field(default_factory=list)
    # The write must be fsynced before ``messages`` go (etcd's MustSync): entries, or a new term
    # or vote.  When False only the commit index moved, and nothing needs writing.
    must_sync: bool = False
    # A leader's snapshot this follower restored: installed before anything after it is applied.
    snapshot: Snapshot | None = None

    def __bool__(self) -> bool:
        return bool(
            self.hard_state
            or self.snapshot
            or self.entries
            or self.messages
            or self.early_messages
            or self.committed
        )


class NotLeader(Exception):
    """Raised by ``propose`` on a node that is not the leader; carries the known leader, if any."""

    def __init__(self, leader: str | None) -> None:
        super().__init__(f"not the leader (leader: {leader or 'unknown'})")
        self.leader = leader
