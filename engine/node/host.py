"""The I/O around the pure Raft core on one node: disk, clock, network, state machine.

One task drives the core: it batches the proposals that arrived since the last round into one
``propose`` call, ships new entries to the followers, applies the committed entries to the stores
and resolves the waiting proposals, persists the round with one fsync, and sends the remaining
messages: the order of the core's ``Ready`` contract (engine/replication/ready.py), the one the
simulator's schedules test.  Requests that arrive meanwhile wait in the socket buffers and make
up the next round: that is the group commit.

The disk work runs on the event loop itself, not in worker threads: an fsync costs 0.3 ms here,
while a hand-off to a thread and back costs 0.3-0.4 ms at the median and 2-3 ms at the 99th
percentile once the thread has gone idle (bench/JOURNAL.md, "Latency").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import sqlite3
import ssl
import time
from pathlib import Path
from typing import Any

from engine.cluster_secret import cluster_key
from engine.config_model import ClusterConfig, Endpoint
from engine.node.leadership import LeadershipFeed
from engine.node.node_log import NodeLog
from engine.node.peers import PeerTransport
from engine.node.repair import (
    DAMAGED,
    REPAIR_DEADLINE,
    RepairNeeded,
    RepairState,
    clear_marker,
    read_marker,
    refusal,
)
from engine.node.snapshots import SnapshotReceiver, SnapshotSender
from engine.node.subscriptions import SubscriptionService
from engine.node.trace import MessageTrace
from engine.protocol.commands import encode_command
from engine.protocol.errors import GateError, invalid
from engine.protocol.link_faults import LinkFault
from engine.protocol.tempo import Tempo, message_delay
from engine.replication import membership as membership_codec
from engine.replication.core import ChangeInProgress, LogDivergence, RaftConfig, RaftNode
from engine.replication.membership import ChangeKind, MembershipError
from engine.replication.messages import (
    Address,
    AppendRequest,
    Entry,
    HardState,
    Membership,
    Message,
    NotLeader,
    Removed,
    Snapshot,
    SnapshotRequest,
)
from engine.replication.preferred import LeadershipReturn
from engine.replication.quorum import has_quorum, write_quorum_size
from engine.replication.ready import run_ready
from engine.storage.durability import fsync_path
from engine.storage.free_space import DiskSpace, FreeSpace, out_of_space
from engine.storage.integrity import find_damage, is_damage
from engine.storage.raft_log import SqliteLogStorage
from engine.storage.reads import Answer, plan_read
from engine.storage.state_machine import StateMachine

log = logging.getLogger("gate.node")

# How long a leader holds back the empty appends that only carry the commit index (and the
# heartbeats). A follower that hears of a commit applies it, 0.3-0.5 ms of CPU; at once, that
# competes for the two cores with the writer's answer on its way through the gateway
# (bench/JOURNAL.md, "Commit notices"). Followers' reads wait for what they have not applied.
COMMIT_NOTICE_DELAY = 0.002
# How long a read waits for this node to catch up with the reader's last write before it answers
# ``stale`` (the gateway then asks the leader; docs/ENGINE.md, "Read-your-writes").
FRESH_WAIT = 0.25


# replication.preferredLeader "return": the preferred node must have been in steady contact this
# many election timeouts before the leader hands over to it, and a hand-over that failed is tried
# again after this many (engine/replication/preferred.py).
RETURN_SETTLE_TIMEOUTS = 4
RETURN_RETRY_TIMEOUTS = 10

# Why a node stops for good, as the exit status gate-node ends with (its supervisor sees it).
APPLY_FAILED = 70  # a committed entry cannot be applied (an I/O fault: content never fails)
LOG_FAILED = 74  # the log cannot be written
DIVERGED = 75  # its stores are ahead of the cluster (writeQuorum: leader lost writes)

# Present while the node runs: found at a start, the last run ended without a clean stop.
RUNNING_MARKER = "running"
# DAMAGED (76, engine/node/repair.py): its files are damaged and it may not repair them.


class _ApplyFailed(Exception):
    """Ends the ready loop: nothing past an entry that could not be applied may run."""


class RaftHost:
    """Runs one node's replication: owns the core, its log, its stores and its peer links."""

    def __init__(
        self,
        config: ClusterConfig,
        node_id: str,
        *,
        rng: random.Random | None = None,
        peer_hints: dict[str, Endpoint] | None = None,
        link_tls: ssl.SSLContext | None = None,
    ) -> None:
        """``peer_hints``: the TCP endpoints of members the config does not list, for a node
        joining at run time whose leader may be one of them (gate-node ``--peer``); once its log
        holds a membership, the addresses in it rule. ``link_tls``: the client context of the
        links to peers (``security.tls``)."""
        self.config = config
        self.node_id = node_id
        self.secret = cluster_key(config)  # first: a node never runs without one
        node_dir = config.node_data_dir(node_id)
        node_dir.mkdir(parents=True, exist_ok=True)
        self.node_dir = node_dir
        self._running = node_dir / RUNNING_MARKER
        # Said in the node log once it exists: stores rebuilt from the log after a power loss.
        self._rebuilt: str | None = None
        # A rebuild from the leader under way (engine/node/repair.py), or None.
        self.repair: RepairState | None = read_marker(node_dir)
        self.core = self._open_data(node_dir, rng or random.Random())
        self.core.repairing = self.repair is not None
        self._repair_heard = time.monotonic()  # when a repairing node last heard a leader
        # The last repair this host finished: {"reason", "source", "seconds", "at"} (epoch s).
        self.repaired: dict[str, Any] | None = None
        self.free_space = FreeSpace(node_dir, config.storage.min_free_bytes)
        # The last look at the disk while it is below storage.minFreeBytes; None otherwise.
        self.disk_full: DiskSpace | None = None
        self._statvfs_failed = False
        rep = config.replication
        self._membership = self.core.membership
        # The peers' TCP endpoints, shared with the snapshot sender; follows the membership.
        self.endpoints = {**(peer_hints or {}), **self._member_endpoints(self._membership)}
        peers = self.endpoints
        self.peers = PeerTransport(node_id, dict(peers), self.secret, link_tls)
        self.applied_index = self.state.applied_index
        self.tick_seconds = rep.tick_ms / 1000.0
        # A peer counts as reachable if we heard from it within the shortest election timeout;
        # peers answer every heartbeat (each tick), so a live peer is heard far more often.
        self._reach_window = rep.election_ticks * self.tick_seconds
        self.tempo = Tempo()  # the gateway's slow motion: 1 until a gateway says otherwise
        self._last_heard: dict[str, float] = {}
        # Per peer: since when we hear from it without a gap longer than the reach window.
        self._contact_since: dict[str, float] = {}
        self._return: LeadershipReturn | None = None
        preferred = config.preferred_node
        if rep.preferred_leader == "return" and preferred is not None and preferred != node_id:
            self._return = LeadershipReturn(
                preferred,
                settle=RETURN_SETTLE_TIMEOUTS * self._reach_window,
                retry=RETURN_RETRY_TIMEOUTS * self._reach_window,
            )
        self._pending: list[tuple[bytes, asyncio.Future[Any]]] = []
        self._waiters: dict[int, tuple[int, asyncio.Future[Any]]] = {}
        self._applied = asyncio.Event()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.counters = {
            "proposals": 0,
            "applied_entries": 0,
            "fsyncs": 0,
            "raft_messages_in": 0,
            "long_polls": 0,
            "leadership_transfers": 0,
            "compactions": 0,
            "snapshots_sent": 0,
            "snapshot_bytes_sent": 0,
            "snapshot_failures": 0,
            "snapshots_installed": 0,
        }
        self._damage_noted: set[str] = set()  # damaged stores the node log has named
        self._removed_said: tuple[str, int] | None = None  # the core's removed, as last said
        # Why things happen on this node, for a person watching (GET /log, docs/API.md).
        self.node_log = NodeLog(node_id)
        self._started = time.monotonic()  # for its uptime (GET /status)
        # The Raft messages it sends and receives, for the Messages panel (docs/API.md).
        self.trace = MessageTrace(node_id, rep.trace_messages)
        if self.core.last_index:
            self.node_log.add(
                "restart",
                f"started with its log up to index {self.core.last_index} (term "
                f"{self.core.term}), {self.applied_index} entries applied; it learns the "
                "leader and any missing entries from its peers",
            )
        else:
            self.node_log.add("restart", "started with an empty log (a new node)")
        if self._rebuilt is not None:
            log.warning("node %s: %s", node_id, self._rebuilt)
            self.node_log.add("repair", self._rebuilt, "warning")
        elif self.core.recovering:
            self.node_log.add(
                "restart",
                "the last run did not stop cleanly and fsync is os: the end of its log may be "
                "lost, so it votes only with nodes in the same case until it has caught up",
                "warning",
            )
        if self.repair is not None:
            self.node_log.add(
                "repair",
                f"repairing: {self.repair.reason}; its data was set aside "
                f"({self.repair.aside or 'nothing to set aside'}): it asks the leader for a "
                "snapshot, and neither votes nor counts toward commits until it is installed",
                "warning",
            )
        self.snapshot_sender = SnapshotSender(
            node_id=node_id,
            secret=self.secret,
            endpoints=peers,
            work_dir=node_dir / "snapshot-out",
            stores_dir=self.state.stores_dir,
            snapshot_now=self._snapshot_now,
            first_index=lambda: self.core.log.first_index,
            report=self._snapshot_reported,
            link_cut=lambda peer: (
                peer in self.peers.cuts.outbound or self.peers.shaper.drops_all(peer)
            ),
            node_log=self.node_log,
            counters=self.counters,
            tls=link_tls,
        )
        self.snapshot_receiver = SnapshotReceiver(node_dir / "snapshot-in", self.receive_snapshot)
        # Set once, with the exit status, when this node must stop for good (see _fail).
        self.failure: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        # Set once, with the reason, when its data is damaged and must be rebuilt: the
        # process's main then sets it aside and starts the node again (request_repair).
        self.repair_requested: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._hand_over_task: asyncio.Task[None] | None = None
        # Persistent subscriptions are delivered by the leader (engine/node/subscriptions.py).
        self.subscriptions = SubscriptionService(self)
        # Gateways watching this node's role and term (engine/node/leadership.py).
        core = self.core
        self.leadership = LeadershipFeed(node_id, core.role, core.term, core.leader_id)

    def _open_data(self, node_dir: Path, rng: random.Random) -> RaftNode:
        """Open the log and the stores, checked first: damage raises RepairNeeded before any
        of it is served or replicated."""
        if self.repair is None:
            damage = find_damage(node_dir)
            if damage is not None:
                raise RepairNeeded(damage.where, damage.reason)
        rep = self.config.replication
        raft_config = RaftConfig(
            node_id=self.node_id,
            voters=self.config.node_ids,
            preferred=self.config.preferred_node,
            election_ticks=rep.election_ticks,
            heartbeat_ticks=rep.heartbeat_ticks,
            write_quorum=rep.write_quorum,
        )
        fsync = self.config.storage.fsync
        # With fsync: os, a run that did not stop cleanly may have ended in a power loss, which
        # costs the end of the log: the core then votes as a node that lost state.
        unclean = self._running.exists() and fsync == "os"
        opening = "raft.db"
        try:
            self.log_storage = SqliteLogStorage(node_dir / "raft.db", fsync)
            opening = "stores"
            self.state = StateMachine(node_dir, fsync, log_wal=node_dir / "raft.db-wal")
            opening = "raft.db"
            self._finish_snapshot_install()
            repair = self.repair
            if repair is not None and self.log_storage.initial_state().term < repair.term:
                # The term and vote the damaged log held: never vote twice in a term.
                self.log_storage.save(HardState(repair.term, repair.vote, 0), [], None)
            last = self.log_storage.last_index()
            if self.state.held_index > last and self.log_storage.snapshot().index == 0:
                # A power loss (fsync: os) cost the log entries a store had durably applied;
                # the log still holds every entry from the first: rebuild the stores from it
                # (a repair would need a leader, and every node may be in this case).
                self._rebuilt = (
                    f"its stores hold entries up to index {self.state.held_index} but its log "
                    f"ends at {last} (a power loss): its stores are discarded and rebuilt from "
                    "its log"
                )
                self.state.discard()
            for store_id in self.state.stores():
                held = self.state.store(store_id).applied_index
                if held > last:
                    raise RepairNeeded(
                        "raft.db",
                        f"the log ends at index {last} but store {store_id} applied {held} "
                        "(entries lost with its WAL or a truncation)",
                    )
            core = RaftNode(
                raft_config,
                self.log_storage,
                rng,
                applied=self.state.applied_index,
                committed=self.state.held_index,
                recovering=unclean or self._rebuilt is not None,
            )
            _mark_running(self._running)
            return core
        except (sqlite3.DatabaseError, ValueError, RepairNeeded) as exc:
            self._close_data()
            if isinstance(exc, RepairNeeded):
                raise
            if isinstance(exc, sqlite3.DatabaseError) and not is_damage(exc):
                raise
            raise RepairNeeded(opening, str(exc)) from exc

    def _close_data(self) -> None:
        """Close whatever of the log and stores is open, without a durable point (the data is
        damaged, or being set aside)."""
        for part in ("log_storage", "state"):
            opened = getattr(self, part, None)
            with contextlib.suppress(Exception):
                if isinstance(opened, StateMachine):
                    opened.close_now()
                elif opened is not None:
                    opened.close()

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the peer links, the clock and the ready loop."""
        self.peers.start()
        self._tasks = [
            asyncio.create_task(self._ready_loop(), name="raft-ready"),
            asyncio.create_task(self._clock(), name="raft-clock"),
        ]
        self._wake.set()

    async def stop(self) -> None:
        """Stop the loops, fail waiting proposals and close the files."""
        await self.subscriptions.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.peers.close()
        await self.snapshot_sender.close()
        for _, fut in self._pending:
            if not fut.done():
                fut.set_exception(GateError("unavailable", "the node is shutting down"))
        for _, fut in self._waiters.values():
            if not fut.done():
                fut.set_exception(GateError("timeout", "the node shut down; outcome unknown"))
        if self._hand_over_task is not None:
            self._hand_over_task.cancel()
        if self.repair_requested.done():
            self._close_data()  # set aside next: no durable point on damaged stores
        else:
            self.log_storage.close()
            self.state.close()
            self._running.unlink(missing_ok=True)  # a clean stop: nothing lost

    # -- inputs ------------------------------------------------------------------------------

    def receive(self, messages: list[Message]) -> None:
        """Feed Raft messages from peers into the core."""
        if self.failure.done():
            return
        now = time.monotonic()
        for msg in messages:
            # A snapshot request is stepped only with its data, by the snapshot transfer.
            if msg.to != self.node_id or isinstance(msg, SnapshotRequest):
                continue
            before = self._last_heard.get(msg.frm)
            if before is None or now - before > self._reach_window:
                self._contact_since[msg.frm] = now
            self._last_heard[msg.frm] = now
            try:
                self.core.step(msg)
            except LogDivergence as exc:
                # Only possible with writeQuorum: leader, whose failovers may drop writes this
                # node already applied. Its stores are ahead of the cluster: rebuild them.
                self.request_repair("raft.db", f"log diverged below its commit index ({exc})")
                return
        self.trace.received(messages)
        self.counters["raft_messages_in"] += len(messages)
        self._wake.set()

    def receive_snapshot(self, request: SnapshotRequest) -> None:
        """Step a leader's snapshot request whose files were received and checked (unless the
        link from its leader is cut: a partition loses it)."""
        if self.failure.done() or request.frm in self.peers.cuts.inbound:
            return
        self._last_heard[request.frm] = time.monotonic()
        self.trace.received((request,))
        self.core.step(request)
        self._wake.set()

    def _snapshot_reported(self, peer: str, delivered: Snapshot | None) -> None:
        self.core.report_snapshot(peer, delivered)
        self._wake.set()

    def _snapshot_now(self) -> Snapshot:
        """The snapshot of the state machine as it is: at its applied index."""
        index = self.state.applied_index
        return Snapshot.of(index, self.core.log.term(index), self.core.membership_at(index))

    # -- membership (docs/ENGINE.md, "Membership changes") ------------------------------------

    def _member_endpoints(self, membership: Membership) -> dict[str, Endpoint]:
        """The TCP endpoint of each other member: from the membership (members added at run
        time), else from the config."""
        listed = {n.node_id: n.tcp for n in self.config.nodes}
        endpoints: dict[str, Endpoint] = {}
        for member in membership.members:
            address = membership.address(member)
            if member == self.node_id:
                continue
            if address is not None:
                endpoints[member] = Endpoint(*address.tcp)
            elif member in listed:
                endpoints[member] = listed[member]
        return endpoints

    def _say_removed(self) -> None:
        """Told it was removed: say so once in the process's own output too, which is all
        the operator of a node started by hand may watch."""
        removed = self.core.removed
        if removed == self._removed_said:
            return
        self._removed_said = removed
        if removed is not None:
            log.warning(
                "node %s: removed from the cluster by %s at index %d: no longer campaigns "
                "(it may be stopped; its data stays in %s)",
                self.node_id,
                *removed,
                self.node_dir,
            )

    def _former_endpoint(self, node_id: str, removed_at: int) -> Endpoint | None:
        """Where a removed node listens: its address in the membership before its removal
        (a node added at run time), else the config's."""
        address = self.core.membership_at(removed_at - 1).address(node_id)
        if address is not None:
            return Endpoint(*address.tcp)
        return next((n.tcp for n in self.config.nodes if n.node_id == node_id), None)

    def _follow_membership(self) -> None:
        """The core took another membership: link to its members, and only to them."""
        membership = self.core.membership
        if membership == self._membership:
            return
        self._membership = membership
        endpoints = self._member_endpoints(membership)
        self.endpoints.clear()
        self.endpoints.update(endpoints)
        self.peers.set_peers(endpoints)
        role = (
            "a voter"
            if self.core.voter
            else ("a learner" if self.node_id in membership.learners else "not a member")
        )
        self.node_log.add(
            "member",
            f"members now: voters {', '.join(membership.voters)}"
            + (f", learners {', '.join(membership.learners)}" if membership.learners else "")
            + f"; {self.node_id} is {role}",
        )

    async def change_membership(
        self, kind: ChangeKind, node_id: str, address: Address | None, timeout: float
    ) -> dict[str, Any]:
        """On the leader: add a learner, or remove a member, once committed
        ``{"index": ..., "membership": ...}``.

        A leader asked to remove itself hands leadership over first and answers ``not_leader``
        naming its successor (the gateway asks it again there).  Raises ``change_in_progress``
        while an earlier change is uncommitted, ``quorum_too_small`` for a removal after which
        the voters this leader hears from would not make a write quorum, ``node_exists`` /
        ``node_not_found`` for a change that does not apply.
        """
        core = self.core
        if core.role != "leader":
            raise GateError("not_leader", "this node is not the leader", leader=core.leader_id)
        if not core.serving:
            raise GateError(
                "unavailable", f"leader {self.node_id} has not committed an entry of its term yet"
            )
        if core.membership_pending:
            raise GateError("change_in_progress", "another membership change is not committed yet")
        if kind == "remove":
            self._check_removal(node_id)
            if node_id == self.node_id:
                to = self._hand_over_for_removal()
                raise GateError(
                    "not_leader",
                    f"{self.node_id} hands leadership over to {to} before it is removed",
                    leader=to,
                )
        try:
            entry = core.propose_membership(kind, node_id, address)
        except NotLeader as exc:
            raise GateError("not_leader", "leadership was lost", leader=exc.leader) from None
        except ChangeInProgress as exc:
            raise GateError("change_in_progress", str(exc)) from None
        except MembershipError as exc:
            code = "node_exists" if kind == "add" else "node_not_found"
            raise GateError(code, str(exc)) from None
        self.node_log.add("member", f"asked to {kind} {node_id}: membership entry {entry.index}")
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiters[entry.index] = (entry.term, fut)
        self._wake.set()
        try:
            async with asyncio.timeout(timeout):
                await fut
        except TimeoutError:
            raise GateError(
                "timeout", f"membership entry {entry.index} not committed in time"
            ) from None
        return {"index": entry.index, "membership": membership_codec.to_json(core.membership)}

    def _check_removal(self, node_id: str) -> None:
        membership = self.core.membership
        if node_id not in membership.members:
            raise GateError("node_not_found", f"{node_id} is not a member of this cluster")
        if node_id not in membership.voters:
            return  # a learner counts for nothing
        remaining = [v for v in membership.voters if v != node_id]
        mode = self.config.replication.write_quorum
        now = time.monotonic()
        reachable = sum(v == self.node_id or self._heard_within(v, now) for v in remaining)
        if not remaining or not has_quorum(reachable, len(remaining), mode):
            needed = write_quorum_size(max(1, len(remaining)), mode)
            raise GateError(
                "quorum_too_small",
                f"removing {node_id} would leave {reachable} reachable of {len(remaining)} "
                f"voters, and a write needs {needed}",
            )

    def _hand_over_for_removal(self) -> str:
        """The leader is to be removed: hand over to the most up-to-date voter in contact."""
        core = self.core
        now = time.monotonic()
        match = core.match_indexes()
        voters = [v for v in core.membership.voters if v in match and self._heard_within(v, now)]
        if not voters:
            raise GateError(
                "quorum_too_small", f"{self.node_id} leads and no other voter is in contact"
            )
        to = max(voters, key=lambda v: (match[v], v))
        if core.transferring_to is None:
            self.node_log.add("transfer", f"to be removed: handing leadership over to {to}")
            core.transfer_leadership(to)
            self.counters["leadership_transfers"] += 1
            self._wake.set()
        return core.transferring_to or to

    def _finish_snapshot_install(self) -> None:
        """A crash after the stores took a snapshot but before the log did: the log starts
        after the snapshot too (its entries up to it are what the stores replaced)."""
        installed = self.state.installed_snapshot
        storage = self.log_storage
        if installed is None or installed.index <= storage.snapshot().index:
            return
        if storage.last_index() >= installed.index and storage.term(installed.index) == (
            installed.term
        ):
            return
        storage.save(None, [], installed)

    def request_repair(self, file: str, reason: str) -> None:
        """This node's data is damaged (``file``, relative to its directory, and why): rebuild
        it from the leader (engine/node/repair.py), a leader handing leadership over first.

        With ``storage.repair: manual`` the node stops instead (exit status DAMAGED), with one
        line saying how to repair it.  The entry point for every kind of damage found while
        the node runs; damage found at start raises RepairNeeded from the constructor.
        """
        if self.failure.done() or self.repair_requested.done() or self._hand_over_task:
            return
        what = f"{file}: {' '.join(reason.split())}"
        if self.config.storage.repair == "manual":
            why = "storage.repair is manual"
            self._fail(DAMAGED, refusal(self.node_id, self.config.source, what, why))
            return
        log.error("node %s: %s; rebuilding its data from the leader", self.node_id, what)
        self.node_log.add("repair", f"{what}: rebuilding its data from the leader", "error")
        self._hand_over_task = asyncio.create_task(self._repair_after_hand_over(what))

    async def _repair_after_hand_over(self, what: str) -> None:
        """A leader hands leadership to the most up-to-date peer in contact before it repairs
        (a leader that just goes costs the cluster an election timeout of writes)."""
        core = self.core
        deadline = time.monotonic() + 2 * self._reach_window
        while core.role == "leader" and time.monotonic() < deadline:
            now = time.monotonic()
            match = core.match_indexes()
            peers = [p for p in match if self._heard_within(p, now)]
            if peers and core.transferring_to is None:
                to = max(peers, key=lambda p: (match[p], p))
                self.node_log.add("transfer", f"damaged: handing leadership over to {to}")
                core.transfer_leadership(to)
                self.counters["leadership_transfers"] += 1
                self._wake.set()
            await asyncio.sleep(self.tick_seconds)
        if not self.repair_requested.done():
            self.repair_requested.set_result(what)

    def _repair_progress(self) -> None:
        """A repairing node: done once its core took a leader's snapshot; given up once no
        leader was heard for REPAIR_DEADLINE."""
        repair = self.repair
        if repair is None:
            return
        if not self.core.repairing:
            self.repair = None
            clear_marker(self.node_dir)
            took = time.time() - repair.since
            self.repaired = {
                "reason": repair.reason,
                "source": self.core.leader_id,
                "seconds": round(took, 3),
                "at": time.time(),
            }
            log.info("node %s repaired from %s in %.1f s", self.node_id, self.core.leader_id, took)
            self.node_log.add(
                "repair",
                f"repaired: {self.core.leader_id}'s snapshot installed {took:.1f} s after the "
                f"damage ({repair.reason}); it follows the leader again",
            )
            return
        leader = self.core.leader_id
        if leader is not None and self._heard_within(leader, time.monotonic()):
            self._repair_heard = time.monotonic()
        elif time.monotonic() - self._repair_heard > REPAIR_DEADLINE:
            why = f"no leader answered its repair within {REPAIR_DEADLINE:g} s"
            self._fail(DAMAGED, refusal(self.node_id, self.config.source, repair.reason, why))

    def _fail(self, status: int, reason: str) -> None:
        """Stop replicating for good; the process's main ends it with ``status`` (at once, with
        no clean-up: closing the stores would record a durable point past the failure)."""
        log.critical("node %s: %s; stopping (exit status %d)", self.node_id, reason, status)
        self.node_log.add("failure", f"{reason}; stopping (exit status {status})", "error")
        if not self.failure.done():
            self.failure.set_result(status)

    async def _clock(self) -> None:
        while True:
            await asyncio.sleep(self.tick_seconds)
            self._watch_disk()
            self._repair_progress()
            self.core.tick()
            if self._return is not None:
                self._maybe_return_leadership(self._return)
            self._wake.set()

    def _watch_disk(self) -> None:
        """Stop taking entries below ``storage.minFreeBytes`` free, and resume above it.

        Stopping before the disk is really full leaves room for what is under way (entries
        held but not applied, checkpoints, the hard state), so no write fails half-way and the
        node needs no restart.  A leader hands leadership over to the most up-to-date peer it
        hears from: that peer takes over in one round trip (TimeoutNow), where refusing writes
        alone would leave the cluster with a leader that takes none, and stepping down would
        cost an election timeout.
        """
        try:
            space = self.free_space.check()
        except OSError as exc:
            if not self._statvfs_failed:  # once: the clock goes on, the last verdict stands
                self._statvfs_failed = True
                self.node_log.add("disk", f"cannot tell the free space: {exc}", "warning")
            return
        self._statvfs_failed = False
        core = self.core
        if not space.full:
            if self.disk_full is not None:
                self.disk_full = None
                core.accepting = True
                self.node_log.add(
                    "disk",
                    f"disk space back ({space.path}: {space.free_bytes // (1024 * 1024)} MB "
                    "free): takes new entries again",
                )
            return
        first = self.disk_full is None
        self.disk_full = space
        core.accepting = False
        if first:
            need = self.config.storage.min_free_bytes // (1024 * 1024)
            self.node_log.add(
                "disk",
                f"{space.describe()}, below storage.minFreeBytes ({need} MB): takes no new "
                "entries until space is freed",
                "error",
            )
            log.error("node %s: %s; takes no new entries", self.node_id, space.describe())
        if core.role == "leader" and core.transferring_to is None:
            self._hand_over(space, first)

    def _hand_over(self, space: DiskSpace, first: bool) -> None:
        """A leader with a full disk: hand leadership to the most up-to-date peer in contact."""
        core = self.core
        now = time.monotonic()
        match = core.match_indexes()
        peers = [p for p in match if self._heard_within(p, now)]
        if not peers:
            return  # no one to hand over to: writes are refused until space is back
        to = max(peers, key=lambda p: (match[p], p))
        if first:
            self.node_log.add("transfer", f"{space.describe()}: handing leadership over to {to}")
        core.transfer_leadership(to)
        self.counters["leadership_transfers"] += 1

    def _heard_within(self, peer: str, now: float) -> bool:
        heard = self._last_heard.get(peer)
        return heard is not None and now - heard < self._reach_window

    def _maybe_return_leadership(self, policy: LeadershipReturn) -> None:
        """preferredLeader "return": hand leadership back to the master once it is caught up."""
        core = self.core
        if core.role != "leader" or core.transferring_to is not None:
            return
        now = time.monotonic()
        preferred = policy.preferred
        since = self._contact_since.get(preferred) if self._heard_within(preferred, now) else None
        match = core.match_indexes().get(preferred)
        lag = None if match is None else core.last_index - match
        if policy.due(
            now,
            serving=core.serving,
            handed_over=self.handed_over,
            in_contact_since=since,
            lag=lag,
        ):
            self.node_log.add(
                "transfer",
                f"the preferred node {preferred} is back and caught up: handing leadership "
                "back to it (replication.preferredLeader: return)",
            )
            core.transfer_leadership(preferred)
            self.counters["leadership_transfers"] += 1

    # -- operator faults and hand-overs (docs/API.md, "Cluster") --------------------------------

    def transfer(self, to: str) -> dict[str, Any]:
        """On the leader: hand leadership to ``to`` (the core brings it up to date first).

        Raises ``node_not_found``, ``not_leader`` (the gateway follows its hint), or
        ``node_down`` when this leader has not heard from ``to`` lately: down, paused or cut off.
        """
        core = self.core
        if to not in core.membership.members:
            raise GateError("node_not_found", f"no node {to!r} in this cluster")
        if to not in core.membership.voters:
            raise GateError("node_is_learner", f"{to} is a learner: it cannot lead")
        if core.role != "leader":
            raise GateError("not_leader", "this node is not the leader", leader=core.leader_id)
        if to == self.node_id:
            return {"from": self.node_id, "already_leader": True}
        if not self._heard_within(to, time.monotonic()):
            raise GateError(
                "node_down",
                f"{to} cannot take over: the leader {self.node_id} has not heard from it "
                f"within {self._reach_window:g} s (down, paused or cut off)",
            )
        self.node_log.add("transfer", f"asked to hand leadership over to {to}")
        core.transfer_leadership(to)
        self.counters["leadership_transfers"] += 1
        self._wake.set()
        return {"from": self.node_id, "already_leader": False}

    def cut_links(
        self, peers: list[str] | None, direction: str, *, heal: bool = False
    ) -> dict[str, Any]:
        """Cut (or, with ``heal``, restore) this node's Raft links to ``peers`` (None: all).

        ``peers`` and ``direction`` are checked already (engine/protocol/link_cuts.py).
        """
        cuts = self.peers.cuts
        (cuts.heal if heal else cuts.cut)(peers, direction)
        what = "healed" if heal else "cut"
        self.node_log.add(
            "partition",
            f"links {what} by an operator: {cuts.describe()}",
            "info" if heal else "warning",
        )
        return self.link_status()

    def set_tempo(self, tempo: Tempo) -> dict[str, Any]:
        """Run at ``tempo`` (docs/API.md, "Tempo"): the core's election timeout range and
        heartbeat interval, the windows this host measures in election timeouts, and the
        delay of every Raft message sent, all ``tempo.scale`` times the config's."""
        rep = self.config.replication
        scale = tempo.scale
        if scale != self.tempo.scale:
            self.core.retime(rep.election_ticks * scale, rep.heartbeat_ticks * scale)
            self._reach_window = rep.election_ticks * scale * self.tick_seconds
            if self._return is not None:  # measured in election timeouts too
                self._return.settle = RETURN_SETTLE_TIMEOUTS * self._reach_window
                self._return.retry = RETURN_RETRY_TIMEOUTS * self._reach_window
            self.peers.shaper.set_delay(message_delay(scale, self.tick_seconds))
            self.node_log.add(
                "tempo",
                f"tempo {tempo.text}: election timeout {rep.election_ticks * scale}-"
                f"{2 * rep.election_ticks * scale - 1} ticks, a heartbeat every "
                f"{rep.heartbeat_ticks * scale} ticks, each message sent "
                f"{self.peers.shaper.delay * 1000:g} ms late",
            )
        self.tempo = tempo
        return tempo.to_json()

    def set_link_fault(self, fault: LinkFault) -> dict[str, Any]:
        """Shape the Raft link to ``fault.to`` (checked already: engine/protocol/link_faults.py)."""
        self.peers.shaper.set_fault(fault)
        self.node_log.add("partition", f"link to {fault.to} faulty: {fault.describe()}", "warning")
        return self.link_faults()

    def clear_link_faults(self, peer: str | None) -> dict[str, Any]:
        """Clear the fault of the link to ``peer`` (every link of this node when None)."""
        for cleared in self.peers.shaper.clear(peer):
            self.node_log.add("partition", f"link to {cleared} whole again: fault cleared")
        return self.link_faults()

    def drop_message(self, trace_id: int) -> dict[str, Any]:
        """Drop the message numbered ``trace_id`` in this node's trace while it is still on its
        way (waiting out the tempo's or a link fault's delay): RaftScope's "drop".  Raises
        ``message_not_found`` once it has gone, or if it was never delayed."""
        peer = self.peers.shaper.drop_message(trace_id)
        if peer is None:
            raise GateError(
                "message_not_found",
                f"message {trace_id} of {self.node_id} is not in flight: delivered already, "
                "or never delayed (slow the tempo or a link down first)",
                id=trace_id,
            )
        record = self.trace.record(trace_id)
        kind = str(record[3]) if record is not None else "message"
        self.node_log.add(
            "partition", f"{kind} {trace_id} to {peer} dropped in flight, by hand", "warning"
        )
        return {"node": self.node_id, "id": trace_id, "to": peer, "type": kind}

    def link_faults(self) -> dict[str, Any]:
        """``{"link_faults": [...]}``: this node's outgoing link faults, by peer."""
        faults = self.peers.shaper.faults
        return {"link_faults": [faults[peer].to_json() for peer in sorted(faults)]}

    def link_status(self) -> dict[str, Any]:
        """``{"isolated": bool, "cuts": {"in": [...], "out": [...]}}``."""
        cuts = self.peers.cuts
        return {"isolated": cuts.isolated, "cuts": cuts.view()}

    def reachable_peers(self) -> int:
        """How many peers we heard from recently (within an election timeout)."""
        horizon = time.monotonic() - self._reach_window
        return sum(1 for t in self._last_heard.values() if t >= horizon)

    def _check_quorum(self) -> None:
        members = self.core.membership.voters
        voters = len(members)
        mode = self.config.replication.write_quorum
        now = time.monotonic()
        reachable = 1 + sum(self._heard_within(v, now) for v in members if v != self.node_id)
        if not has_quorum(reachable, voters, mode):
            needed = write_quorum_size(voters, mode)
            # Refuse up front: the write is then certainly not written (503, not 504).
            raise GateError(
                "unavailable",
                f"no write quorum: the leader reaches {reachable} of {voters} nodes "
                f"and needs {needed}",
            )

    async def propose(self, command: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Replicate one command; once committed and applied here, ``{"result", "index"}``.

        ``index`` is the command's log index: a reader that waits for a node to apply it
        sees this write (read-your-writes for every kind of write, not only appends).
        """
        (answer,) = await self.propose_many([command], timeout)
        if isinstance(answer, GateError):
            raise answer
        return answer

    async def propose_many(
        self, commands: list[dict[str, Any]], timeout: float
    ) -> list[dict[str, Any] | GateError]:
        """Replicate commands as consecutive entries of one round; each one's answer, in order:
        ``{"result", "index"}`` once committed and applied here, or its own error (a command
        refused at apply time fails alone).  A refusal up front (not the leader, no quorum, a
        full disk) is raised for all."""
        if self.core.role != "leader":
            raise GateError("not_leader", "this node is not the leader", leader=self.core.leader_id)
        if self.disk_full is not None:
            # Retryable: the gateway follows the hint to the node taking over.
            raise GateError(
                "not_leader",
                f"{self.disk_full.describe()}; it hands leadership over",
                leader=self.core.transferring_to,
            )
        self._check_quorum()
        loop = asyncio.get_running_loop()
        waiting: list[asyncio.Future[Any]] = []
        for command in commands:
            fut: asyncio.Future[Any] = loop.create_future()
            self._pending.append((encode_command(command), fut))
            waiting.append(fut)
        self._wake.set()
        try:
            # Awaited one by one, not with asyncio.wait: a round resolves them all at once, and
            # the first wakes this task directly, before the round's disk work (_ready_loop).
            # Plus the tempo's round trip to a follower and back: slow motion slows a command
            # down without failing it (its callers' timeouts are full-speed figures).
            async with asyncio.timeout(timeout + 2 * self.peers.shaper.delay):
                for fut in waiting:
                    with contextlib.suppress(Exception):
                        await fut  # read below: an error fails only its own command
        except TimeoutError:
            pass  # what is not done is answered ``timeout``
        finally:
            for fut in waiting:
                if not fut.done():
                    fut.cancel()  # its waiter entry is skipped when it applies
        answers: list[dict[str, Any] | GateError] = []
        for fut in waiting:
            if fut.cancelled():
                answers.append(
                    GateError(
                        "timeout",
                        "not committed in time; outcome unknown, retry with the same event ids",
                    )
                )
            elif isinstance(exc := fut.exception(), GateError):
                answers.append(exc)
            elif exc is not None:
                raise exc
            else:
                answers.append(fut.result())
        return answers

    def _flush_proposals(self) -> None:
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        try:
            entries = self.core.propose([data for data, _ in pending])
        except NotLeader as exc:
            for _, fut in pending:
                if not fut.done():
                    fut.set_exception(
                        GateError("not_leader", "leadership was lost", leader=exc.leader)
                    )
            return
        self.counters["proposals"] += len(entries)
        for entry, (_, fut) in zip(entries, pending, strict=True):
            self._waiters[entry.index] = (entry.term, fut)

    # -- the ready loop -----------------------------------------------------------------------

    async def _ready_loop(self) -> None:
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                self._flush_proposals()
                while self.core.has_ready():
                    # The order is the core's contract (engine/replication/ready.py).
                    run_ready(self.core, send=self._send, apply=self._apply, persist=self._persist)
                    if self.repair is not None:
                        self._repair_progress()
                    self._follow_membership()
                    # Once the round is persisted: a new leader announces its term at once.
                    self._announce()
                    self._flush_proposals()
                    # Let the answers of this round go out before the next round's disk work.
                    await asyncio.sleep(0)
                    self.state.maintain()
                self._compact()
                for note in self.core.take_notes():
                    self.node_log.add(note.kind, note.text, note.level)
                self._say_removed()
                self.subscriptions.leadership(self.core.serving, self.core.term)
        except _ApplyFailed as exc:
            if is_damage(exc):
                self.request_repair("stores", f"{exc}: {exc.__cause__}")
            else:
                self._fail(APPLY_FAILED, f"{exc}{self._disk_note(exc)}")
        except Exception as exc:
            if is_damage(exc):
                self.request_repair("raft.db", f"its log cannot be read or written: {exc}")
                return
            # A log that cannot be written (a failed fsync or checkpoint, a full disk) must stop
            # the node: without this loop it would still answer probes but never replicate.
            log.exception("node %s cannot go on with its log", self.node_id)
            self._fail(LOG_FAILED, f"its log cannot be written{self._disk_note(exc)}")

    def _disk_note(self, exc: BaseException) -> str:
        """``: disk full (...)`` when a write failed for want of space (the disk filled faster
        than the check saw, from outside, or with the check off), else nothing."""
        try:
            space = self.free_space.check(fresh=True)
        except OSError:
            return ""
        return f": {space.describe()}" if space.full or out_of_space(exc) else ""

    @property
    def handed_over(self) -> bool:
        """A leader that took over by a hand-over (TimeoutNow), not by winning an election after
        its timer ran out: what tells a transfer from a failover on a console."""
        return self.core.role == "leader" and self.core.won_by_transfer

    def _announce(self) -> None:
        core = self.core
        self.leadership.update(core.role, core.term, core.leader_id, self.handed_over)

    def _compact(self) -> None:
        """Compact the log up to ``compactAfter`` entries behind what the stores hold durably
        (and never past a snapshot being sent), in steps of half that, so each compaction
        deletes a batch."""
        keep = self.config.replication.compact_after
        target = self.state.durable_index - keep
        floor = self.snapshot_sender.compaction_floor()
        if floor is not None:
            target = min(target, floor)
        if target - self.core.log.snapshot.index < max(1, keep // 2):
            return
        marker = self.core.compact(target)
        if marker is not None:
            self.log_storage.compact(marker)
            self.counters["compactions"] += 1

    def _send(self, messages: list[Message]) -> None:
        # Appends without entries only carry the commit index (or are heartbeats): they are held
        # COMMIT_NOTICE_DELAY, and never overtake what goes now (send_later).  A snapshot
        # request becomes a transfer of the stores (engine/node/snapshots.py).
        # Each message goes with its number in the trace, by which it can be dropped in flight.
        first = self.trace.sent(messages)
        now: list[Message] = []
        held: list[Message] = []
        now_ids: list[int] = []
        held_ids: list[int] = []
        for n, msg in enumerate(messages):
            if isinstance(msg, SnapshotRequest):
                self.snapshot_sender.send(msg)
                continue
            if isinstance(msg, Removed) and msg.to not in self.peers.links:
                # A former member has no link: it is told on a connection of its own.
                endpoint = self._former_endpoint(msg.to, msg.index)
                if endpoint is not None:
                    self.peers.send_once(msg.to, endpoint, [msg])
                continue
            notice = isinstance(msg, AppendRequest) and not msg.entries
            (held if notice else now).append(msg)
            (held_ids if notice else now_ids).append(first + n if first else 0)
        self.peers.send(now, now_ids)
        self.peers.send_later(held, COMMIT_NOTICE_DELAY, held_ids)

    def _persist(
        self, hard_state: HardState | None, entries: list[Entry], snapshot: Snapshot | None
    ) -> None:
        if snapshot is not None:
            # The stores first: a crash before the log's write is finished at the next start
            # (_finish_snapshot_install).
            self.state.install(self.snapshot_receiver.take(snapshot), snapshot)
            self.applied_index = snapshot.index
            self.counters["snapshots_installed"] += 1
            self.node_log.add(
                "snapshot",
                f"installed {self.core.leader_id}'s snapshot at index {snapshot.index} (term "
                f"{snapshot.term}): its stores replaced, it follows on from the leader's log",
            )
        self.log_storage.save(hard_state, entries, snapshot)
        self.counters["fsyncs"] += 1

    def _apply(self, entries: list[Entry]) -> None:
        try:
            results = self.state.apply([(e.index, e.data) for e in entries])
        except Exception as exc:
            # A state machine that cannot apply a committed entry must not go on past it: the
            # round ends here, before its write, and so does the ready loop.
            log.exception("node %s failed to apply its entries", self.node_id)
            raise _ApplyFailed(
                f"entries {entries[0].index}..{entries[-1].index} cannot be applied"
            ) from exc
        self.applied_index = entries[-1].index
        self.counters["applied_entries"] += len(entries)
        for entry, result in zip(entries, results, strict=True):
            waiter = self._waiters.pop(entry.index, None)
            if waiter is None:
                continue
            term, fut = waiter
            if fut.done():
                continue
            if term != entry.term:
                fut.set_exception(
                    GateError("not_leader", "the entry was replaced after a leader change")
                )
            elif isinstance(result, dict) and "error" in result:
                fut.set_exception(GateError.from_dict(result["error"]))
            else:
                fut.set_result(
                    {"result": result if result is not None else {}, "index": entry.index}
                )
        self._applied.set()
        self._applied = asyncio.Event()

    # -- reads and status --------------------------------------------------------------------

    async def read(
        self,
        query: dict[str, Any],
        *,
        min_position: int | None = None,
        min_index: int | None = None,
        floor_index: int | None = None,
        wait: float = FRESH_WAIT,
        wait_ms: int = 0,
    ) -> Any:
        """Answer a read from this node's applied state.

        The query is validated first, and a read that no wait can serve is refused at once
        (``_refuse_early``).  Then ``stale`` when, after a short wait, this node has not applied
        log index ``min_index`` (the client's last write) and ``floor_index`` (the gateway's
        last acknowledged write), or its store has not reached position ``min_position``.
        With ``wait_ms``, a forward ``all`` query is a long poll: it first waits up to that long
        for an event past ``from_position`` (the observers' tail, engine/gateway/observers.py).
        """
        answer = plan_read(query)
        if self.repair is not None or self.repair_requested.done():
            raise GateError("stale", f"{self.node_id} is rebuilding its data from the leader")
        if not self._fresh_enough(query, min_position, min_index, floor_index):
            self._refuse_early(query, min_position, min_index)
            deadline = time.monotonic() + wait
            while not self._fresh_enough(query, min_position, min_index, floor_index):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise GateError(
                        "stale", self._behind(query, min_position, min_index, floor_index)
                    )
                await self.wait_applied(remaining)
        after = query.get("from_position") or 0
        forward = query.get("direction") in (None, "forward")
        if wait_ms > 0 and query.get("kind") == "all" and forward and isinstance(after, int):
            self.counters["long_polls"] += 1
            await self.wait_for_position(str(query.get("store")), after, wait_ms / 1000)
        return self.answer_read(answer)

    def answer_read(self, answer: Answer) -> Any:
        """Run a read on the applied state now; a store found damaged is logged once."""
        try:
            return answer(self.state)
        except GateError as err:
            if err.code == "store_damaged":
                self._note_damaged()
            raise

    def _note_damaged(self) -> None:
        """Say once per store that it is damaged: from now on it refuses every read."""
        damaged = self.state.damaged()
        self._damage_noted &= damaged.keys()  # a store deleted and created again starts sound
        for store_id, reason in damaged.items():
            if self.config.storage.repair == "auto":
                self.request_repair(f"stores/{store_id}.db", reason)
            if store_id not in self._damage_noted:
                self._damage_noted.add(store_id)
                log.error(
                    "node %s: store %r is damaged (%s); it serves no reads",
                    self.node_id,
                    store_id,
                    reason,
                )
                self.node_log.add(
                    "damaged", f"store {store_id} damaged ({reason}): it serves no reads", "error"
                )

    async def wait_applied(self, timeout: float) -> None:
        """Wait until the next batch of committed entries is applied, or ``timeout`` seconds."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._applied.wait(), timeout)

    async def wait_for_position(self, store: str, after: int, timeout: float) -> None:
        """Wait until ``store`` holds an event past position ``after``, or ``timeout`` seconds.

        Woken by each apply, never by polling; returns early when the store is missing.
        """
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self.state.store(store).last_position > after:
                    return
            except GateError:
                return  # the read that follows answers store_not_found
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            await self.wait_applied(remaining)

    def _fresh_enough(
        self,
        query: dict[str, Any],
        min_position: int | None,
        min_index: int | None,
        floor_index: int | None,
    ) -> bool:
        if floor_index and self.applied_index < floor_index:
            return False
        if min_index:
            # The log index covers every kind of write, deletes included: it decides alone.
            return self.applied_index >= min_index
        if not (min_position and "store" in query):
            return True
        last = self._last_position(query["store"])
        return last is None or last >= min_position  # a missing store answers store_not_found

    def _last_position(self, store: str) -> int | None:
        try:
            return self.state.store(store).last_position
        except GateError:
            return None

    def _refuse_early(
        self, query: dict[str, Any], min_position: int | None, min_index: int | None
    ) -> None:
        """Refuse, before waiting, a read that waiting cannot serve: 404 or 400 at once.

        A follower that lacks the store may just not have applied its creation yet: its
        ``store_not_found`` sends the gateway on to the leader.  The leader holds every
        acknowledged write in its log, and has applied them all once it serves and has applied
        its commit index: a ``min_index`` past its log, or a ``min_position`` past its store,
        names a write that was never acknowledged.
        """
        core = self.core
        leading = core.role == "leader"
        store = query.get("store")
        past_log = leading and min_index is not None and min_index > core.last_index
        if store is not None and (past_log or not leading):
            self.state.store(store)
        if past_log:
            raise invalid(
                f"min_index {min_index} is past the end of the log (last index {core.last_index})",
                field="min_index",
            )
        settled = leading and core.serving and self.applied_index >= core.commit_index
        if settled and min_position and not min_index and store is not None:
            last = self._last_position(store)
            if last is not None and min_position > last:
                raise invalid(
                    f"min_position {min_position} is past the last position of store "
                    f"{store!r} ({last})",
                    field="min_position",
                )

    def _behind(
        self,
        query: dict[str, Any],
        min_position: int | None,
        min_index: int | None,
        floor_index: int | None,
    ) -> str:
        """How far this node is behind a read, e.g. ``node2 has applied 1200 of 1250``."""
        needed = max(min_index or 0, floor_index or 0)
        if self.applied_index < needed:
            return f"{self.node_id} has applied {self.applied_index} of {needed}"
        store = query["store"]
        return (
            f"store {store!r} on {self.node_id} is at position {self._last_position(store)} "
            f"of {min_position}"
        )

    def status(self) -> dict[str, Any]:
        """This node's replication status (``GET /status``)."""
        core = self.core
        now = time.monotonic()
        status: dict[str, Any] = {
            "node_id": self.node_id,
            **self.inside(),
            "preferred": self.config.preferred_node == self.node_id,
            "started_at": self.node_log.started_at,
            "uptime_s": round(now - self._started, 3),
            "last_index": core.last_index,
            "snapshot": {"index": core.log.snapshot.index, "term": core.log.snapshot.term},
            "serving": core.serving,
            "voter": core.voter,
            # Told by a member that it was removed from the cluster: it no longer campaigns.
            "removed": (
                None if core.removed is None else {"by": core.removed[0], "index": core.removed[1]}
            ),
            # The peers heard from within an election timeout (what a removal's check counts).
            "reachable": sorted(p for p in self._last_heard if self._heard_within(p, now)),
            "membership": {
                **membership_codec.to_json(core.membership),
                "pending": core.membership_pending,
            },
            "pid": os.getpid(),
            "transferring_to": core.transferring_to,
            "handed_over": self.handed_over,
            "recovering": core.recovering,
            "damaged": self.damage_reason(),
            # Why this node is rebuilding its data from the leader, or None.
            "repairing": None if self.repair is None else self.repair.reason,
            "repaired": self.repaired,
            "disk_full": None if self.disk_full is None else self.disk_full.describe(),
            **self.link_status(),
            **self.link_faults(),
            "tempo": self.tempo.to_json(),
        }
        if core.role == "leader":
            status["match"] = core.match_indexes()
        return status

    def inside(self) -> dict[str, Any]:
        """This node's Raft state as its status reports it, and nothing else (TCP op
        ``inside``): read from the core in memory, no disk, so a gateway can ask it several
        times a second while someone watches (engine/gateway/inside.py).  ``progress`` is the
        leader's only."""
        core = self.core
        inside: dict[str, Any] = {
            "role": core.role,
            "term": core.term,
            "leader": core.leader_id,
            "voted_for": core.vote,
            "commit_position": core.commit_index,
            "applied_position": self.applied_index,
            "log": {"first_index": core.log.first_index, "last_index": core.last_index},
            "election_timer": self._election_timer(),
        }
        if core.role == "leader":
            inside["progress"] = {
                peer: {"match": pr.match, "next": pr.next, "state": pr.state}
                for peer, pr in core.progress_view().items()
            }
        return inside

    def _election_timer(self) -> dict[str, int]:
        """The core's election timer in milliseconds (its ticks times the tick)."""
        elapsed, timeout = self.core.election_timer
        tick_ms = self.tick_seconds * 1000
        return {"elapsed_ms": round(elapsed * tick_ms), "timeout_ms": round(timeout * tick_ms)}

    def damage_reason(self) -> str | None:
        """Why this node serves no reads of some store (its file is damaged), or None."""
        damaged = self.state.damaged()
        if not damaged:
            return None
        return "; ".join(f"store {store_id}: {reason}" for store_id, reason in damaged.items())

    @property
    def ready_for_writes(self) -> bool:
        """A leader is known and (from here) reachable."""
        core = self.core
        if core.role == "leader":
            return core.serving
        return (
            core.leader_id is not None
            and core.leader_id in self._last_heard
            and (time.monotonic() - self._last_heard[core.leader_id] < self._reach_window)
        )


def _mark_running(path: Path) -> None:
    """Create the marker a clean stop removes, durably (its directory fsynced)."""
    path.touch()
    fsync_path(path.parent)
