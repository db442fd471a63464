"""A deterministic cluster simulator for ``RaftNode``: seeded schedules of faults and invariants.

One seed fixes a whole schedule: the cluster (3 or 5 nodes, write quorum, timeouts, batch size,
pre-vote and check-quorum), staggered process starts, the network (loss, duplication, delay and so
reordering, partitions that come and heal, some of them one way: a node's messages to some peers
lost, or theirs to it), crashes and restarts, slow disks (a ``Ready`` whose persistence is still in
flight while the node keeps stepping messages), log compaction (each node now and then compacts its
log up to a few entries behind what it applied, so followers that fall behind are sent snapshots; a
snapshot delivered is reported to its sender, one lost in the network is reported as a failed
transfer half the time, as a host notices a broken connection), membership changes (a spare node is
started and added as a learner, which the leader promotes once caught up; a member other than the
leader is removed, and half the time keeps running, cut off from the log that removed it), power
losses of nodes with ``fsync: os`` (the node loses the end of its log and what its state machine
applied past it, never its term or vote, and restarts as ``recovering``; never more than a
minority of the nodes at once, the case in which no committed entry may be lost; in schedules
without membership changes), changes of tempo (the operator's ``POST /api/cluster/tempo``: every
node's election timeout range and heartbeat interval stretched by 1 to 3, reaching the nodes a
tick or two apart, and a node that restarts at its config's timing brought to the cluster's a
few ticks later; liveness is checked at the tempo reached, which the steadiness phase first
restores to 1, the leader first) and clients proposing unique values.  A host per node plays the
part of the real node host, in the same order (the functions of engine/replication/ready.py): it
sends a ``Ready``'s early messages, applies its committed entries to a simulated state machine,
persists it into a :class:`MemoryLogStorage` when it must, sends its other messages and calls
``advance``; a snapshot in a ``Ready`` is installed with its write (the simulated state machine
jumps to the snapshot's index).  A crash drops the ``RaftNode`` and any ``Ready`` not yet
persisted; a restart rebuilds the node from its storage with ``applied`` = what its state machine
had applied.

Invariants, checked as the schedule runs and at its end:

- election safety: at most one leader per term, ever;
- leader completeness: a new leader's log holds every entry any node has applied;
- state machine safety: every node applies one global sequence, in order, each index once, and
  only entries it has persisted; no value is applied twice; a snapshot installed holds exactly
  a prefix of that sequence (its last entry was applied somewhere) and lies past what the node
  applied (a state machine never goes back); a compacted log starts after an applied entry;
- persistence before answering: a vote grant, an append ack or any term is on disk when sent
  (a pre-vote asserts nothing durable: it asks about, or grants, the term after the sender's);
- log matching: logs with an entry of the same index and term agree up to it;
- membership (dissertation §4.1): a leader's log holds at most one uncommitted membership
  entry, holds one of its own term only once an entry of its term is committed, and each index
  it commits is stored by a majority of the voters of its latest membership;
- liveness: once the network heals and every node is back, a leader serves and a new proposal is
  applied on every member;
- steadiness (not a safety invariant, but what pre-vote and check-quorum are for): after that,
  while the network stays healthy, no member's term moves and the leader stays.

A violation raises :class:`Violation`, whose message names the seed and how to rerun it.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable
from dataclasses import dataclass, fields

from bench.lib.memory_storage import MemoryLogStorage
from engine.replication.core import ChangeInProgress, LogDivergence, RaftConfig, RaftNode
from engine.replication.membership import MembershipError, decode, is_membership
from engine.replication.messages import (
    AppendResponse,
    Entry,
    HardState,
    Message,
    NotLeader,
    Ready,
    Snapshot,
    SnapshotRequest,
    VoteRequest,
    VoteResponse,
)
from engine.replication.quorum import majority
from engine.replication.ready import Persist, finish_ready, start_ready

TEST_FILE = "tests/replication/test_simulation.py"
_MAX_ROUNDS = 200  # delivery rounds within one tick before the rest waits for the next tick


class Violation(AssertionError):
    """A broken invariant, reported with the seed that reproduces it."""

    def __init__(self, seed: int, what: str) -> None:
        super().__init__(
            f"Raft invariant violated in schedule seed {seed}: {what}\n"
            f"rerun it with: GATE_SIM_SEED={seed} pytest {TEST_FILE}"
        )
        self.seed = seed


@dataclass(frozen=True, slots=True)
class Schedule:
    """Everything a seed decides about one simulated run."""

    seed: int
    nodes: int
    write_quorum: str
    election_ticks: int
    heartbeat_ticks: int
    max_entries_per_append: int
    check_quorum: bool
    pre_vote: bool
    preferred: str | None
    starts: tuple[int, ...]  # the tick each node's process comes up at
    loss: float  # probability a message is dropped
    duplicate: float  # probability a message is delivered twice
    delayed: float  # probability a message waits 1..max_delay ticks (else same tick)
    max_delay: int
    crash: float  # per tick: probability one node crashes
    restart: float  # per tick and down node: probability it restarts
    partition: float  # per tick: probability the network splits
    heal: float  # per tick: probability a split network heals
    slow_disk: float  # probability a Ready's persistence is still in flight at a round
    propose: float  # per tick: probability a client proposes to a leader
    fault_ticks: int
    liveness_ticks: int
    steady_ticks: int
    compact: float  # per tick and running node: probability it compacts its log
    compact_keep: int  # entries a compaction keeps behind the applied index
    members: float  # per tick: probability of a membership change (add or remove)
    spares: int  # nodes outside the initial membership, which may be added
    power_loss: float  # per tick: probability a node loses power (fsync: os)
    tempo: float  # per tick: probability the operator changes the cluster's tempo


def draw_schedule(seed: int) -> Schedule:
    """The schedule of ``seed``: cluster shape, fault rates and length."""
    rng = random.Random(seed)
    nodes = 5 if rng.random() < 0.3 else 3
    election_ticks = rng.randint(4, 8)
    # Real processes come up seconds apart: the first election must cope with absent peers.
    stagger = rng.choice((0, 0, election_ticks, 3 * election_ticks))
    return Schedule(
        seed=seed,
        nodes=nodes,
        write_quorum="all" if rng.random() < 0.2 else "majority",
        election_ticks=election_ticks,
        heartbeat_ticks=1 if rng.random() < 0.7 else 2,
        max_entries_per_append=rng.choice((1, 2, 3, 64)),
        check_quorum=rng.random() < 0.7,
        pre_vote=rng.random() < 0.8,
        preferred=f"n{rng.randrange(nodes)}" if rng.random() < 0.5 else None,
        starts=tuple(rng.randint(0, stagger) for _ in range(nodes)),
        loss=rng.choice((0.0, 0.02, 0.1, 0.25)),
        duplicate=rng.choice((0.0, 0.0, 0.05, 0.2)),
        delayed=rng.choice((0.0, 0.2, 0.5)),
        max_delay=rng.randint(1, max(1, election_ticks // 3)),
        crash=rng.choice((0.0, 0.01, 0.04)),
        restart=rng.choice((0.05, 0.2)),
        partition=rng.choice((0.0, 0.03, 0.1)),
        heal=rng.choice((0.05, 0.2)),
        slow_disk=rng.choice((0.0, 0.1, 0.4)),
        propose=rng.choice((0.2, 0.5, 0.9)),
        fault_ticks=rng.randint(30, 90),
        liveness_ticks=40 * election_ticks,
        steady_ticks=4 * election_ticks,
        # Drawn last, so the faults of a seed are those it had before compaction existed.
        compact=rng.choice((0.0, 0.05, 0.2, 0.5)),
        compact_keep=rng.choice((0, 1, 4, 16)),
        members=(members := rng.choice((0.0, 0.05, 0.15))),
        spares=rng.choice((1, 2)) if members else 0,
        power_loss=rng.choice((0.0, 0.02, 0.05)),  # drawn last, for the same reason
        tempo=rng.choice((0.0, 0.0, 0.05, 0.2)),  # drawn last, for the same reason
    )


@dataclass(slots=True)
class SimStats:
    """What happened in one or more schedules."""

    schedules: int = 0
    ticks: int = 0
    messages: int = 0
    dropped: int = 0
    duplicated: int = 0
    partitions: int = 0
    crashes: int = 0
    power_losses: int = 0
    slow_disk_readies: int = 0
    elections: int = 0
    commits: int = 0
    pre_votes: int = 0  # pre-vote requests sent
    compactions: int = 0
    snapshots: int = 0  # snapshots installed
    members_added: int = 0
    members_removed: int = 0
    removed_told: int = 0  # removed nodes told so by a member (they stop campaigning)
    promotions: int = 0  # learners promoted to voter (by their leader)
    retimes: int = 0  # nodes given another timing while they ran (tempo changes)

    def add(self, other: SimStats) -> None:
        """Accumulate ``other`` into these totals."""
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    @property
    def faults(self) -> int:
        """Faults injected: dropped and duplicated messages, partitions, crashes, slow disks."""
        return (
            self.power_losses
            + self.dropped
            + self.duplicated
            + self.partitions
            + self.crashes
            + self.slow_disk_readies
        )


class _Host:
    """The simulated node host: durable storage and state machine, volatile RaftNode."""

    __slots__ = (
        "applied",
        "config",
        "node_id",
        "pending",
        "raft",
        "recovering",
        "rng",
        "storage",
    )

    def __init__(self, config: RaftConfig, rng: random.Random) -> None:
        self.node_id = config.node_id
        self.config = config
        self.rng = rng
        self.storage = MemoryLogStorage()
        self.applied = 0  # the state machine's last applied index (durable, like the stores)
        self.raft: RaftNode | None = None
        self.pending: Ready | None = None  # handed out, persistence in flight
        self.recovering = False  # lost power, not caught up yet (kept across a crash)


class Simulation:
    """Runs one schedule against ``node_cls`` (a RaftNode, or a deliberately broken subclass)."""

    def __init__(self, schedule: Schedule, node_cls: type[RaftNode] = RaftNode) -> None:
        self.schedule = schedule
        self.node_cls = node_cls
        self.rng = random.Random(schedule.seed ^ 0x5EED)
        self.stats = SimStats(schedules=1)
        ids = tuple(f"n{i}" for i in range(schedule.nodes))
        # The spares start, as a node the gateway launches, with the initial voters as their
        # bootstrap membership, which does not include them.
        spares = tuple(f"n{i}" for i in range(schedule.nodes, schedule.nodes + schedule.spares))
        self.hosts = [
            _Host(
                RaftConfig(
                    node_id=node_id,
                    voters=ids,
                    preferred=schedule.preferred,
                    election_ticks=schedule.election_ticks,
                    heartbeat_ticks=schedule.heartbeat_ticks,
                    write_quorum=schedule.write_quorum,  # type: ignore[arg-type]
                    max_entries_per_append=schedule.max_entries_per_append,
                    check_quorum=schedule.check_quorum,
                    pre_vote=schedule.pre_vote,
                ),
                random.Random(self.rng.getrandbits(64)),
            )
            for node_id in ids + spares
        ]
        self.by_id = {host.node_id: host for host in self.hosts}
        self.spares = set(spares)  # never started yet: added to the cluster to run
        self.side = dict.fromkeys(ids + spares, 0)  # partition side of each node
        self.one_way: set[tuple[str, str]] = set()  # (from, to): links cut one way only
        self.queue: dict[int, list[Message]] = {}  # tick -> messages due
        self.now = 0
        self.leaders: dict[int, str] = {}  # term -> the node that led it
        self.committed: list[Entry] = []  # everything any node applied, by index
        self.values: set[bytes] = set()
        self.next_value = 0
        # Fault rates; the liveness phase turns them off.
        self.loss = schedule.loss
        self.duplicate = schedule.duplicate
        self.slow_disk = schedule.slow_disk
        self.crash_on_message = schedule.crash / 10  # crashes between two messages, too
        # Its own stream, so a schedule that never compacts runs as it did before compaction.
        self.compact_rng = random.Random(schedule.seed ^ 0xC0C0)
        self.power_rng = random.Random(schedule.seed ^ 0xB0B)  # the same, for power losses
        # Snapshots delivered (True) or lost (False), to report to their senders.
        self.snapshot_reports: list[tuple[SnapshotRequest, bool]] = []
        # Its own stream too, so a schedule without membership changes runs as before.
        self.member_rng = random.Random(schedule.seed ^ 0x3E3B)
        # The commit index last seen on each leader, by (node, term).
        self.commits: dict[tuple[str, int], int] = {}
        self.voters = schedule.nodes  # voters in the last membership applied
        self.boots = dict(zip(ids, schedule.starts, strict=True))  # nodes not started yet
        # Its own stream too.  The cluster's tempo, and the tick each node takes it at.
        self.tempo_rng = random.Random(schedule.seed ^ 0x7E3B0)
        self.scale = 1
        self.retime_at: dict[str, int] = {}
        self._boot()

    def fail(self, what: str) -> Violation:
        """The violation to raise for ``what``."""
        return Violation(self.schedule.seed, what)

    # --------------------------------------------------------------------------------- run

    def run(self) -> SimStats:
        """Run the fault phase, then heal everything and check liveness and the final state."""
        for _ in range(self.schedule.fault_ticks):
            self._boot()
            self._inject_faults()
            self._change_tempo()
            self._step_clock()
            self._clients()
            self._change_members()
            self._settle()
            self._compact()
            self.now += 1
        self._heal()
        self._check_liveness()
        self._check_steady()
        self._drain()
        self._check_logs()
        self.stats.ticks = self.now
        self.stats.elections = len(self.leaders)
        self.stats.commits = len(self.committed)
        return self.stats

    def _change_tempo(self) -> None:
        """Now and then the operator picks another tempo, which the nodes then take."""
        rng = self.tempo_rng
        if self.schedule.tempo and rng.random() < self.schedule.tempo:
            self.scale = rng.choice([s for s in (1, 2, 3) if s != self.scale])
            self.retime_at.clear()
        self._roll_tempo_out()

    def _roll_tempo_out(self) -> None:
        """Each running node not at the cluster's tempo takes it a tick or two later (a
        restarted node starts at its config's timing, as a real one does)."""
        for host in self.hosts:
            raft = host.raft
            if raft is None or raft.config.election_ticks == self._timing(host)[0]:
                continue
            due = self.retime_at.setdefault(host.node_id, self.now + self.tempo_rng.randint(0, 2))
            if due <= self.now:
                self._retime(host)

    def _timing(self, host: _Host) -> tuple[int, int]:
        """(election ticks, heartbeat ticks) at the cluster's tempo."""
        return host.config.election_ticks * self.scale, host.config.heartbeat_ticks * self.scale

    def _retime(self, host: _Host) -> None:
        assert host.raft is not None
        host.raft.retime(*self._timing(host))
        self.retime_at.pop(host.node_id, None)
        self.stats.retimes += 1

    def _restore_tempo(self) -> None:
        """Back to tempo 1 on a healthy cluster, the leader first (it heartbeats at the new
        pace before a follower's shorter timeout can run out), the others a tick later."""
        if self.scale == 1:
            return
        self.scale = 1
        self.retime_at.clear()
        for host in self.hosts:
            if host.raft is not None and host.raft.role == "leader":
                self._retime(host)
            elif host.raft is not None:
                self.retime_at[host.node_id] = self.now + 1

    def _step_clock(self) -> None:
        for host in self.hosts:
            if host.raft is not None:
                host.raft.tick()
                self._check_leader(host)

    def _settle(self) -> None:
        """Deliver this tick's messages and process Readies until nothing moves."""
        now = self.now
        for _ in range(_MAX_ROUNDS):
            moved = self._report_snapshots()
            for host in self.hosts:
                if host.raft is not None and self._flush(host):
                    moved = True
            batch = self.queue.pop(now, None)
            if batch:
                moved = True
                for msg in batch:
                    self._deliver(msg)
            if not moved:
                return
        late = self.queue.pop(now, None)
        if late:
            self.queue.setdefault(now + 1, []).extend(late)

    def _drain(self) -> None:
        """Finish every pending Ready, so storage holds each node's whole log."""
        self.slow_disk = 0.0
        for host in self.hosts:
            while host.raft is not None and (host.pending is not None or host.raft.has_ready()):
                self._flush(host)

    # ------------------------------------------------------------------------------- faults

    def _inject_faults(self) -> None:
        rng, schedule = self.rng, self.schedule
        if rng.random() < schedule.crash:
            up = [host for host in self.hosts if host.raft is not None]
            if up:
                self._crash(rng.choice(up))
        # Only with a fixed membership: "a minority of the voters" is then one set.
        if (
            schedule.power_loss
            and not schedule.members
            and self.power_rng.random() < schedule.power_loss
        ):
            self._lose_power()
        for host in self.hosts:
            if (
                host.raft is None
                and host.node_id not in self.boots
                and host.node_id not in self.spares
                and rng.random() < schedule.restart
            ):
                self._start(host)
        if any(self.side.values()) or self.one_way:
            if rng.random() < schedule.heal:
                self.side = dict.fromkeys(self.side, 0)
                self.one_way.clear()
        elif rng.random() < schedule.partition:
            self.stats.partitions += 1
            leaders = [h.node_id for h in self.hosts if h.raft and h.raft.role == "leader"]
            if rng.random() < 0.25:
                # One way (isolate with a direction): a node mute to, or deaf to, some peers.
                node = rng.choice(leaders or list(self.side))
                peers = [p for p in self.side if p != node]
                cut = rng.sample(peers, rng.randint(1, len(peers)))
                mute = rng.random() < 0.5
                self.one_way = {(node, p) if mute else (p, node) for p in cut}
            elif leaders and rng.random() < 0.5:
                # Cut a leader off alone: it keeps taking proposals it cannot commit.
                isolated = rng.choice(leaders)
                self.side = {node_id: int(node_id == isolated) for node_id in self.side}
            else:
                self.side = {node_id: rng.randrange(2) for node_id in self.side}

    def _report_snapshots(self) -> bool:
        """The hosts tell their cores which snapshots were delivered, and which failed (half
        of the failures go unnoticed)."""
        reports, self.snapshot_reports = self.snapshot_reports, []
        reported = False
        for msg, delivered in reports:
            raft = self.by_id[msg.frm].raft
            if raft is None or raft.term != msg.term:
                continue
            if delivered:
                raft.report_snapshot(msg.to, msg.snapshot)
            elif self.compact_rng.random() < 0.5:
                raft.report_snapshot(msg.to, None)
            else:
                continue
            reported = True
        return reported

    def _compact(self) -> None:
        """Now and then a node compacts its log up to ``compact_keep`` entries behind what its
        state machine applied (the host's rule: only what the state machine holds)."""
        rng, schedule = self.compact_rng, self.schedule
        if not schedule.compact:
            return
        for host in self.hosts:
            if host.raft is None or rng.random() >= schedule.compact:
                continue
            marker = host.raft.compact(host.applied - schedule.compact_keep)
            if marker is not None:
                host.storage.compact(marker)
                self.stats.compactions += 1

    def _lose_power(self) -> None:
        """A node loses the end of its log (and what its state machine applied past it) and
        restarts recovering, if a minority of the nodes, it included, would then be so."""
        rng = self.power_rng
        for host in self.hosts:
            if host.raft is not None:
                host.recovering = host.raft.recovering
        up = [h for h in self.hosts if h.raft is not None and not h.recovering]
        recovering = sum(h.recovering for h in self.hosts)
        if not up or recovering + 1 > len(self.hosts) - (len(self.hosts) // 2 + 1):
            return
        host = rng.choice(up)
        storage = host.storage
        kept = rng.randint(storage.snapshot().index, storage.last_index())
        storage.lose_tail(kept)
        host.applied = min(host.applied, kept)
        host.raft = None
        host.pending = None
        host.recovering = True
        self.stats.power_losses += 1
        self._start(host)

    def _crash(self, host: _Host) -> None:
        assert host.raft is not None
        host.recovering = host.raft.recovering
        host.raft = None
        host.pending = None  # its persistence never finished
        self.stats.crashes += 1
        if self.rng.random() < 0.5:
            self._start(host)  # a quick reboot, while its peers remember it

    def _boot(self) -> None:
        """Start the nodes whose process comes up at this tick."""
        for node_id, tick in list(self.boots.items()):
            if tick <= self.now:
                del self.boots[node_id]
                self._start(self.by_id[node_id])

    def _heal(self) -> None:
        self.side = dict.fromkeys(self.side, 0)
        self.one_way.clear()
        self.loss = self.duplicate = self.crash_on_message = 0.0
        self.boots.clear()
        for host in self.hosts:
            if host.raft is None and host.node_id not in self.spares:
                self._start(host)

    def _start(self, host: _Host) -> None:
        host.raft = self.node_cls(
            host.config,
            host.storage,
            host.rng,
            applied=host.applied,
            recovering=host.recovering,
        )

    # ------------------------------------------------------------------------------ clients

    def _clients(self) -> None:
        rng = self.rng
        if rng.random() >= self.schedule.propose:
            return
        up = [host for host in self.hosts if host.raft is not None]
        leaders = [host for host in up if host.raft.role == "leader"]  # type: ignore[union-attr]
        if rng.random() < 0.1 and up:
            host = rng.choice(up)
            if host.raft.role != "leader":  # type: ignore[union-attr]
                self._expect_not_leader(host)
                return
        if not leaders:
            return
        raft = rng.choice(leaders).raft
        assert raft is not None
        if rng.random() < 0.02:
            raft.transfer_leadership(rng.choice(raft.membership.voters))
            return
        with contextlib.suppress(NotLeader):  # raised while handing leadership over
            self._propose(raft, rng.randint(1, 3))

    def _propose(self, raft: RaftNode, count: int) -> list[Entry]:
        datas = []
        for _ in range(count):
            datas.append(b"v%d" % self.next_value)
            self.next_value += 1
        entries = raft.propose(datas)
        last = raft.last_index
        if [e.data for e in entries] != datas or entries[-1].index != last:
            raise self.fail(f"propose returned {entries} for {datas} (last index {last})")
        if any(e.term != raft.term for e in entries):
            raise self.fail(f"proposed entries {entries} not of the leader's term {raft.term}")
        return entries

    def _change_members(self) -> None:
        """Now and then the operator adds a spare (started first, as the gateway launches it) or
        removes a member other than the leader (which half the time keeps running)."""
        rng = self.member_rng
        if not self.schedule.members or rng.random() >= self.schedule.members:
            return
        leaders = [h.raft for h in self.hosts if h.raft is not None and h.raft.role == "leader"]
        if not leaders:
            return
        raft = rng.choice(leaders)
        membership = raft.membership
        outside = [h.node_id for h in self.hosts if h.node_id not in membership.members]
        if outside and rng.random() < 0.5:
            kind, node_id = "add", rng.choice(outside)
        else:
            # Never below two voters, so a crash of one still leaves a cluster that can elect.
            candidates = [n for n in membership.members if n != raft.node_id]
            if len(membership.voters) <= 2:
                candidates = [n for n in candidates if n in membership.learners]
            if not candidates:
                return
            kind, node_id = "remove", rng.choice(candidates)
        try:
            raft.propose_membership(kind, node_id)  # type: ignore[arg-type]
        except (ChangeInProgress, MembershipError, NotLeader):
            return
        self._check_membership(raft)
        host = self.by_id[node_id]
        if kind == "add":
            self.stats.members_added += 1
            self.spares.discard(node_id)
            if host.raft is None:
                self._start(host)
        else:
            self.stats.members_removed += 1
            if rng.random() < 0.5 and host.raft is not None:
                host.raft = None  # the operator stops it (a managed node is stopped)
                host.pending = None

    def _members(self) -> set[str]:
        """The members as the serving leader sees them (all nodes when none serves)."""
        leader = next((h.raft for h in self.hosts if h.raft is not None and h.raft.serving), None)
        if leader is None:
            return {h.node_id for h in self.hosts if h.raft is not None}
        return set(leader.membership.members)

    def _check_membership(self, raft: RaftNode) -> None:
        """A leader holds at most one uncommitted membership entry, one of its own term only
        once an entry of its term is committed, and what it commits is on a voter majority."""
        log, commit, term = raft.log, raft.commit_index, raft.term
        pending = [e for e in log.slice(commit + 1, log.last_index + 1) if is_membership(e.data)]
        if len(pending) > 1:
            raise self.fail(
                f"membership: {raft.node_id} (term {term}) holds uncommitted membership "
                f"entries {[e.index for e in pending]}"
            )
        # Terms never decrease along a log: its commit index is of its term once it committed
        # an entry of its term.
        if any(e.term == term for e in pending) and log.term(commit) != term:
            raise self.fail(
                f"membership: {raft.node_id} proposed a change at {pending[0].index} before "
                f"committing an entry of its term {term} (commit {commit})"
            )
        # What it committed before it led was committed by an earlier leader.
        seen = self.commits.setdefault((raft.node_id, term), commit)
        if commit > seen:
            self.commits[raft.node_id, term] = commit
            self._check_commit_quorum(raft, commit)

    def _check_removed(self, node_id: str, by: str, index: int) -> None:
        """A node stops campaigning only once a membership that excludes it is committed (its
        teller holds it at ``index``, committed, and no later membership names it again)."""
        self.stats.removed_told += 1
        teller = self.by_id[by].raft
        if teller is None:
            return  # crashed since it answered: its word was checked when it was sent
        if index > teller.commit_index or node_id in teller.membership_at(index).members:
            raise self.fail(
                f"membership: {node_id} stopped campaigning on {by}'s word that index {index} "
                f"removed it (commit {teller.commit_index}, membership there "
                f"{teller.membership_at(index)})"
            )

    def _check_commit_quorum(self, raft: RaftNode, commit: int) -> None:
        voters = raft.membership.voters
        term = raft.log.term(commit)
        # A node that lost power may have lost what it acknowledged (fsync: os): it counts.
        holders = [
            v
            for v in voters
            if self._holds(self.by_id[v], commit, term) or self.by_id[v].recovering
        ]
        if len(holders) < majority(len(voters)):
            raise self.fail(
                f"membership: {raft.node_id} committed index {commit} held only by {holders}, "
                f"not by a majority of the voters {voters}"
            )

    @staticmethod
    def _holds(host: _Host, index: int, term: int) -> bool:
        storage = host.storage
        marker = storage.snapshot()
        if index <= marker.index:
            return True  # compacted: applied, so held
        return storage.last_index() >= index and storage.term(index) == term

    def _expect_not_leader(self, host: _Host) -> None:
        assert host.raft is not None
        try:
            host.raft.propose([b"never"])
        except NotLeader:
            return
        raise self.fail(f"{host.node_id} ({host.raft.role}) accepted a proposal")

    # ------------------------------------------------------------------------------ network

    def _send(self, msg: Message) -> None:
        rng = self.rng
        self.stats.messages += 1
        if isinstance(msg, VoteRequest) and msg.pre_vote:
            self.stats.pre_votes += 1
        if self.loss and rng.random() < self.loss:
            self.stats.dropped += 1
            if isinstance(msg, SnapshotRequest):
                self.snapshot_reports.append((msg, False))
            return
        delay = (
            rng.randint(1, self.schedule.max_delay) if rng.random() < self.schedule.delayed else 0
        )
        self.queue.setdefault(self.now + delay, []).append(msg)
        if self.duplicate and rng.random() < self.duplicate:
            self.stats.duplicated += 1
            later = self.now + rng.randint(0, self.schedule.max_delay + 2)
            self.queue.setdefault(later, []).append(msg)

    def _deliver(self, msg: Message) -> None:
        host = self.by_id[msg.to]
        if host.raft is None or self.side[msg.frm] != self.side[msg.to]:
            if isinstance(msg, SnapshotRequest):
                self.snapshot_reports.append((msg, False))
            return
        if (msg.frm, msg.to) in self.one_way:
            return
        told = host.raft.removed
        try:
            host.raft.step(msg)
        except LogDivergence as exc:
            raise self.fail(
                f"{host.node_id} was asked to overwrite a committed entry: {exc}"
            ) from None
        if told is None and host.raft.removed is not None:
            self._check_removed(host.node_id, *host.raft.removed)
        self._check_leader(host)
        if isinstance(msg, SnapshotRequest):
            self.snapshot_reports.append((msg, True))
        if self.crash_on_message and self.rng.random() < self.crash_on_message:
            self._crash(host)

    # ------------------------------------------------------------------------------- host

    def _flush(self, host: _Host) -> bool:
        """One host round: finish the Ready in flight, or take a new one. True if it moved.

        The round runs in the production order (engine/replication/ready.py); a slow disk
        leaves it between the steps before the write and the write itself.
        """
        raft = host.raft
        assert raft is not None
        if host.pending is not None:
            if self.slow_disk and self.rng.random() < self.slow_disk:
                return False
            rd, host.pending = host.pending, None
            finish_ready(raft, rd, persist=self._persister(host), send=self._sender(host))
            self._check_leader(host)  # a leader commits in advance, once its entries are stable
            return True
        if not raft.has_ready():
            return False
        rd = raft.ready()
        start_ready(rd, send=self._sender(host), apply=lambda entries: self._apply(host, entries))
        if self.slow_disk and self.rng.random() < self.slow_disk:
            host.pending = rd
            self.stats.slow_disk_readies += 1
            return True
        finish_ready(raft, rd, persist=self._persister(host), send=self._sender(host))
        self._check_leader(host)
        return True

    def _persister(self, host: _Host) -> Persist:
        def persist(
            hard_state: HardState | None, entries: list[Entry], snapshot: Snapshot | None
        ) -> None:
            if snapshot is not None:
                self._install(host, snapshot)
            host.storage.save(hard_state, entries, snapshot)

        return persist

    def _install(self, host: _Host, snapshot: Snapshot) -> None:
        """The state machine takes a leader's snapshot: the applied sequence up to its index."""
        index = snapshot.index
        if index <= host.applied:
            raise self.fail(
                f"{host.node_id} restored a snapshot at index {index}, behind what its state "
                f"machine applied ({host.applied})"
            )
        if not self._is_applied(index, snapshot.term):
            raise self.fail(f"{host.node_id} restored {snapshot}, not a prefix of what was applied")
        host.applied = index
        self.stats.snapshots += 1

    def _is_applied(self, index: int, term: int) -> bool:
        """Entry ``index`` of term ``term`` was applied somewhere (so the prefix up to it)."""
        committed = self.committed
        return index <= len(committed) and committed[index - 1].term == term

    def _sender(self, host: _Host) -> Callable[[list[Message]], None]:
        def send(messages: list[Message]) -> None:
            for msg in messages:
                self._check_persisted(host, msg)
                self._send(msg)

        return send

    def _check_persisted(self, host: _Host, msg: Message) -> None:
        """Rule 1: what a message asserts is on disk before it is sent."""
        hard_state = host.storage.initial_state()
        if isinstance(msg, VoteResponse) and msg.pre_vote and msg.granted:
            return  # it repeats the term asked about, which the granter need not be at
        # A pre-vote request asks about the term after its sender's.
        term = msg.term - 1 if isinstance(msg, VoteRequest) and msg.pre_vote else msg.term
        if term > hard_state.term:
            raise self.fail(f"{host.node_id} sent {msg} before persisting term {term}")
        if term < hard_state.term:
            return  # the node has moved on: a later term supersedes what this one asserted
        if isinstance(msg, VoteResponse) and msg.granted and hard_state.vote != msg.to:
            raise self.fail(f"{host.node_id} granted {msg} before persisting the vote")
        if (
            isinstance(msg, AppendResponse)
            and msg.success
            and host.storage.last_index() < msg.match_index
        ):
            raise self.fail(f"{host.node_id} acked {msg} before persisting the entries")

    def _apply(self, host: _Host, entries: list[Entry]) -> None:
        for entry in entries:
            self._apply_one(host, entry)

    def _apply_one(self, host: _Host, entry: Entry) -> None:
        index = entry.index
        if index != host.applied + 1:
            raise self.fail(f"{host.node_id} applied {index} after {host.applied}")
        storage = host.storage
        if storage.last_index() < index or storage.term(index) != entry.term:
            raise self.fail(f"{host.node_id} applied {entry} before persisting it")
        host.applied = index
        committed = self.committed
        if index <= len(committed):
            if committed[index - 1] != entry:
                raise self.fail(
                    f"state machine safety: {host.node_id} applied {entry}, "
                    f"another node applied {committed[index - 1]}"
                )
            return
        committed.append(entry)
        if is_membership(entry.data):
            voters = len(decode(entry.data).voters)
            self.stats.promotions += voters > self.voters
            self.voters = voters
            return
        if entry.data:
            if entry.data in self.values:
                raise self.fail(f"value {entry.data!r} applied twice (again at index {index})")
            self.values.add(entry.data)

    # ---------------------------------------------------------------------------- checks

    def _check_leader(self, host: _Host) -> None:
        raft = host.raft
        assert raft is not None
        if raft.role != "leader":
            return
        self._check_membership(raft)
        term = raft.term
        holder = self.leaders.get(term)
        if holder is not None:
            if holder != host.node_id:
                raise self.fail(
                    f"election safety: {holder} and {host.node_id} both led term {term}"
                )
            return
        newest = max(self.leaders, default=0)
        self.leaders[term] = host.node_id
        if term > newest and self.committed:
            # Leader completeness: everything applied so far was committed in an earlier term,
            # so this leader holds it; with log matching (checked at the end), holding the last
            # applied entry means holding all of them.
            last = self.committed[-1]
            try:
                held = raft.log.term(last.index)
            except IndexError:
                held = -1
            if held != last.term:
                raise self.fail(
                    f"leader completeness: {host.node_id} leads term {term} without the "
                    f"applied entry {last}"
                )

    def _check_liveness(self) -> None:
        target: Entry | None = None
        deadline = self.now + self.schedule.liveness_ticks * self.scale
        while self.now < deadline:
            self._roll_tempo_out()
            self._step_clock()
            self._settle()
            self.now += 1
            if target is not None and self._applied_everywhere(target):
                return
            leader = next(
                (h.raft for h in self.hosts if h.raft is not None and h.raft.serving), None
            )
            if leader is not None and (target is None or target.term < leader.term):
                with contextlib.suppress(NotLeader):  # raised while handing leadership over
                    target = self._propose(leader, 1)[0]
        raise self.fail(
            f"liveness: no proposal applied on every node within "
            f"{self.schedule.liveness_ticks * self.scale} ticks of healing "
            f"(last proposal {target}, "
            f"roles {[(h.node_id, h.raft.role, h.raft.term) for h in self.hosts if h.raft]})"
        )

    def _check_steady(self) -> None:
        """While the network and disks stay healthy, no term moves and the leader stays."""
        self.slow_disk = 0.0  # a Ready held back for ticks delays heartbeats past a timeout
        before = self._terms_and_leader()
        self._restore_tempo()  # a tempo change is no reason for an election either
        for _ in range(self.schedule.steady_ticks):
            self._roll_tempo_out()
            self._step_clock()
            self._settle()
            self.now += 1
            now = self._terms_and_leader()
            if now != before:
                raise self.fail(
                    f"steadiness: on a healthy network (terms, leader) went from {before} to "
                    f"{now} by tick {self.now}"
                )

    def _terms_and_leader(self) -> tuple[list[int], list[str]]:
        """Every running node's term, and the leaders."""
        members = self._members()
        rafts = [h.raft for h in self.hosts if h.raft is not None and h.node_id in members]
        return [r.term for r in rafts], [r.node_id for r in rafts if r.role == "leader"]

    def _applied_everywhere(self, target: Entry) -> bool:
        index = target.index
        if len(self.committed) < index or self.committed[index - 1] != target:
            return False
        members = self._members()
        return all(host.applied >= index for host in self.hosts if host.node_id in members)

    def _check_logs(self) -> None:
        """Log matching across every node's stored log, and committed prefixes agree."""
        seen: dict[tuple[int, int], int] = {}
        prefix = [0]  # prefix[i]: the chain of the first i applied entries
        for entry in self.committed:
            prefix.append(hash((prefix[-1], entry.term, entry.data)))
        for host in self.hosts:
            storage = host.storage
            marker = storage.snapshot()
            if marker.index and not self._is_applied(marker.index, marker.term):
                raise self.fail(f"{host.node_id}'s log starts after {marker}, never applied")
            chain = prefix[marker.index]
            for entry in storage.entries(marker.index + 1, storage.last_index() + 1):
                chain = hash((chain, entry.term, entry.data))
                key = (entry.index, entry.term)
                if seen.setdefault(key, chain) != chain:
                    raise self.fail(
                        f"log matching: {host.node_id} holds {entry} on a different prefix"
                    )
            commit = min(storage.initial_state().commit, len(self.committed))
            if commit > marker.index and storage.term(commit) != self.committed[commit - 1].term:
                raise self.fail(f"{host.node_id}'s committed entry {commit} was changed")


def run_schedules(seeds: range | list[int], node_cls: type[RaftNode] = RaftNode) -> SimStats:
    """Run the schedules of ``seeds``; raises :class:`Violation` at the first broken invariant."""
    total = SimStats()
    for seed in seeds:
        total.add(Simulation(draw_schedule(seed), node_cls).run())
    return total
