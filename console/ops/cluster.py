"""The cluster as the gateway sees it: the node-health table, node actions, live health.

``ClusterOps.act`` does a node action and, where it makes a difference for what a person sees
next, waits for its effect: after stopping or killing the leader it waits for a new leader (and
says how long the failover took); after starting a node it waits until the node answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from console.ops.catalogue import Offer
from console.ops.errors import OpsError
from console.ops.numbers import parse_whole
from console.ops.rate import Clock, CounterRate
from engine.client import GateClient, GateError, results
from engine.client.results import ClusterView, LinkFaultView, MessageDropped, NodeView
from engine.config import is_valid_id

NODE_ACTIONS = ("stop", "kill", "start", "restart", "pause", "resume")
# Under the node table in both consoles: the same marks mean the same there.
NODE_LEGEND = "★ leader · ☆ preferred leader · positions are replicated-log indexes"
# ... on a cluster of nats-servers (``backend: jetstream``), which report no log positions.
JETSTREAM_LEGEND = "★ meta leader · lag: messages its stream replicas trail their leaders"
# Added under it once the gateway has restarted a node.
RESTART_LEGEND = "↻N: restarted N times by the gateway after exiting on its own"
# Added under it while a node's links are cut (isolate).
CUT_LEGEND = "✂: Raft links cut (isolated, or a partial cut: see the timeline)"
# Added under it while a node's outgoing links are faulty (POST /api/cluster/links).
FAULT_LEGEND = "≈: a Raft link of it lossy, slow or repeating (link faults: see the timeline)"
# The tempos the slow-down and speed-up keys step through (docs/API.md, "Tempo").
TEMPO_STEPS = (1, 2, 5, 10, 20, 50, 100)
MAX_TEMPO = TEMPO_STEPS[-1]
SLOW_TEMPO = 20  # what "Slow Motion" proposes, in both consoles
MAX_DELAY_MS = 60_000  # a link fault's delay at most (the gateway's limit)
_PERCENT = re.compile(r"[0-9]{1,3}(\.[0-9]{1,3})?")
DIRECTIONS = ("both", "in", "out")  # of a cut: in, what the node hears; out, what it sends
_GOING_DOWN = ("stop", "kill", "pause")
NODE_LOG_KEPT = 1000  # the lines each node keeps in memory (docs/API.md, "Node log")
_POLL = 0.1  # seconds between looks at the cluster while waiting for an action's effect
# Membership changes the gateway refuses, with a reason worth showing as it is.
_MEMBER_REFUSALS = (
    "invalid_request",
    "node_exists",
    "node_not_found",
    "port_in_use",
    "change_in_progress",
    "quorum_too_small",
)


@dataclass(frozen=True, slots=True)
class FollowerProgress:
    """What the leader knows of one follower's log (docs/ENGINE.md, "Node status")."""

    node_id: str
    match: int  # the highest index known to be replicated there
    next: int  # the next index the leader sends it
    state: str  # probe, replicate or snapshot

    @property
    def text(self) -> str:
        """``node2 1262/1263``, and the state when it is not ``replicate``."""
        state = "" if self.state == "replicate" else f" ({self.state})"
        return f"{self.node_id} {self.match}/{self.next}{state}"


def uptime_text(seconds: float | None) -> str:
    """``54s``, ``12m05s``, ``2h03m``, ``3d04h``: at most six characters; ``-`` when unknown."""
    if seconds is None:
        return "-"
    whole = max(0, int(seconds))
    minutes, secs = divmod(whole, 60)
    hours, mins = divmod(minutes, 60)
    days, hrs = divmod(hours, 24)
    if days:
        return f"{days}d{hrs:02d}h"
    if hours:
        return f"{hours}h{mins:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


@dataclass(frozen=True, slots=True)
class NodeRow:
    """One node in the node-health table."""

    node_id: str
    role: str
    preferred: bool
    http_addr: str
    http_up: bool
    http_latency_ms: float | None
    tcp_addr: str
    tcp_up: bool
    tcp_latency_ms: float | None
    term: int | None
    commit_position: int | None
    applied_position: int | None
    lag: int | None
    fresh: bool
    managed: bool
    pid: int | None
    state: str | None = None  # a managed node's process: running, paused, stopped, exited
    isolated: bool = False  # every Raft link to its peers cut (docs/API.md, "Partitions")
    cut_in: tuple[str, ...] = ()  # the peers it does not hear
    cut_out: tuple[str, ...] = ()  # the peers that do not hear it
    restarts: int = 0  # started again by the gateway after exiting on its own
    exit_code: int | None = None  # of its last unexpected exit; negative: the signal
    disk_full: str | None = None  # why it takes no new entries: "disk full (...: 3 MB free)"
    repairing: str | None = None  # why it rebuilds its data from the leader (self-repair)
    repaired_from: str | None = None  # the leader of its last finished repair
    voter: bool = True  # False for a learner (a node added, not yet caught up and promoted)
    log_first: int | None = None  # the span of the Raft log it holds (None: unknown)
    log_last: int | None = None
    # Its inside, as its status reported it at the gateway's last probe (None: unknown), or
    # fresher from the nodes' inside feed while the Cluster panel is shown (console/ops/inside.py).
    voted_for: str | None = None
    uptime_s: float | None = None
    timer_elapsed_ms: int | None = None  # its election timer (on a leader: the quorum check)
    timer_timeout_ms: int | None = None
    progress: tuple[FollowerProgress, ...] = ()  # on the leader: each follower's
    handed_over: bool = False  # a leader handed the leadership (a transfer), not elected

    @property
    def timer_left(self) -> float | None:
        """The share of its election timeout still to run, 0 to 1; None when unknown."""
        if self.timer_elapsed_ms is None or not self.timer_timeout_ms:
            return None
        return max(0.0, 1 - self.timer_elapsed_ms / self.timer_timeout_ms)

    @property
    def timer_words(self) -> str:
        """``times out in 270/420 ms``; a leader's, ``checks its quorum in 200/300 ms``."""
        timer = "checks its quorum in" if self.role == "leader" else "times out in"
        return f"{timer} {self.timer_text}"

    @property
    def timer_text(self) -> str:
        """``270/420 ms``: what is left of its timeout, of the whole; ``-`` when unknown."""
        if self.timer_elapsed_ms is None or self.timer_timeout_ms is None:
            return "-"
        left = max(0, self.timer_timeout_ms - self.timer_elapsed_ms)
        return f"{left}/{self.timer_timeout_ms} ms"

    # Its outgoing link faults: (peer, what happens to the messages) by peer.
    link_faults: tuple[tuple[str, str], ...] = ()

    @property
    def faults_text(self) -> str:
        """``→node2 drop 30% · +200 ms; →node3 dup 5%``; empty without link faults."""
        return "; ".join(f"→{peer} {what}" for peer, what in self.link_faults)

    @property
    def cut(self) -> bool:
        """Whether any of its Raft links is cut."""
        return bool(self.isolated or self.cut_in or self.cut_out)

    @property
    def cuts_text(self) -> str:
        """Its cut links in words: ``isolated``, ``cut from node2``, ``not hearing node2 · not
        heard by node3``; ``links whole`` when none is cut."""
        if self.isolated:
            return "isolated"
        if not self.cut:
            return "links whole"
        if self.cut_in == self.cut_out:
            return f"cut from {', '.join(self.cut_in)}"
        parts = []
        if self.cut_in:
            parts.append(f"not hearing {', '.join(self.cut_in)}")
        if self.cut_out:
            parts.append(f"not heard by {', '.join(self.cut_out)}")
        return " · ".join(parts)

    @property
    def log_span(self) -> str:
        """``1801..52000``: the first and last index of its log; ``-`` when unknown."""
        if self.log_first is None or self.log_last is None:
            return "-"
        return f"{self.log_first}..{self.log_last}"

    @property
    def last_exit(self) -> str | None:
        """How its last unexpected exit ended, ``signal 9`` or ``code 1``; None before any."""
        if self.exit_code is None:
            return None
        code = self.exit_code
        return f"signal {-code}" if code < 0 else f"code {code}"

    @property
    def marked_id(self) -> str:
        """The node id, then ``↻N`` once the gateway restarted it N times, ``✂`` while a link
        of it is cut."""
        marks = (f" ↻{self.restarts}" if self.restarts else "") + (" ✂" if self.cut else "")
        return self.node_id + marks + (" ≈" if self.link_faults else "")

    @property
    def up(self) -> bool:
        """Whether the node answers at all."""
        return self.http_up or self.tcp_up

    @property
    def shown_role(self) -> str:
        """The role to show: ``paused`` for a paused node, which otherwise looks ``down``, and
        ``repairing`` for one rebuilding its damaged data from the leader."""
        if self.state == "paused":
            return "paused"
        if not self.up:
            return "down"
        if self.repairing is not None:
            return "repairing"
        return "learner" if self.role == "follower" and not self.voter else self.role


@dataclass(frozen=True, slots=True)
class ClusterStatus:
    """The leader, the term and every node's health."""

    leader: str | None
    term: int | None
    nodes: tuple[NodeRow, ...]
    tempo: int = 1  # the cluster runs this many times slower than its config's timing
    # backend jetstream: each stream's leader (None while its Raft group has none), by name.
    stream_leaders: tuple[tuple[str, str | None], ...] = ()
    # The cluster operations the gateway's backend refuses (catalogue ``Operation.needs``).
    unsupported: tuple[str, ...] = ()
    jetstream: bool = False  # the nodes are nats-servers (``backend: jetstream``)

    @property
    def offer(self) -> Offer:
        """What its backend offers (the consoles hide, mark and refuse the rest)."""
        return Offer("JetStream" if self.jetstream else "Gate", self.unsupported)

    @property
    def tempo_text(self) -> str:
        """``tempo ×1/20`` in slow motion; empty at full speed."""
        return "" if self.tempo == 1 else f"tempo ×1/{self.tempo}"

    @property
    def legend(self) -> str:
        """The words under the node table: the marks (a JetStream cluster's own), ``↻`` once a
        node was restarted, ``✂`` while a node's links are cut."""
        lines = [JETSTREAM_LEGEND if self.jetstream else NODE_LEGEND]
        if any(node.restarts for node in self.nodes):
            lines.append(RESTART_LEGEND)
        if any(node.cut for node in self.nodes):
            lines.append(CUT_LEGEND)
        if any(node.link_faults for node in self.nodes):
            lines.append(FAULT_LEGEND)
        return "\n".join(lines)

    @property
    def voters(self) -> tuple[NodeRow, ...]:
        """The nodes counted in elections and write quorums (not the learners)."""
        return tuple(node for node in self.nodes if node.voter)

    @property
    def nodes_up(self) -> int:
        """How many nodes answer."""
        return sum(1 for node in self.nodes if node.up)

    @property
    def majority(self) -> int:
        """How many voters must be up for a leader to be elected and a write to commit."""
        return len(self.voters) // 2 + 1

    def no_majority(self, without: str | None = None) -> str | None:
        """``no majority: 1 of 3 nodes up, 2 are needed`` when too few voters are up (not
        counting ``without``, a node on its way down); None when enough are."""
        up = sum(1 for node in self.voters if node.up and node.node_id != without)
        if up >= self.majority:
            return None
        return f"no majority: {up} of {len(self.voters)} nodes up, {self.majority} are needed"

    def progress_of(self, node_id: str) -> FollowerProgress | None:
        """What the leader knows of ``node_id``'s log; None without a leader that says."""
        for node in self.nodes:
            if node.node_id == self.leader:
                return next((p for p in node.progress if p.node_id == node_id), None)
        return None

    def inside(self, node_id: str) -> list[str]:
        """A node's inside in words, for a detail pane: its vote, how long it has run, its
        election timer; and the leader's match/next index of it (on the leader: of each
        follower)."""
        node = self.node(node_id)
        if not node.up:
            return [f"{node.node_id}: does not answer"]
        if self.jetstream:  # a nats-server shows no vote, timer or match index of its Raft
            return [f"{node.node_id}: {node.shown_role} · up {uptime_text(node.uptime_s)}"]
        words = [
            f"{node.node_id}: voted for {node.voted_for or 'nobody'} in term {node.term}",
            f"up {uptime_text(node.uptime_s)}",
            node.timer_words,
        ]
        matched = self.match_next(node.node_id)
        return [" · ".join(words)] + ([matched] if matched else [])

    def match_next(self, node_id: str) -> str | None:
        """The leader's match and next index: of each follower on the leader, ``match/next:
        node2 1240/1241 · node3 1236/1237 (probe)``; of a follower, ``leader node1: match
        1236, next 1237 (probe)``; None when no leader reports it."""
        node = self.node(node_id)
        if node.progress:
            return "match/next: " + " · ".join(p.text for p in node.progress)
        progress = self.progress_of(node.node_id)
        if progress is None:
            return None
        state = "" if progress.state == "replicate" else f" ({progress.state})"
        return f"leader {self.leader}: match {progress.match}, next {progress.next}{state}"

    def node(self, node_id: str) -> NodeRow:
        """One node's row; ``OpsError`` naming the nodes when unknown."""
        for node in self.nodes:
            if node.node_id == node_id.strip():
                return node
        known = ", ".join(n.node_id for n in self.nodes)
        raise OpsError(f"no node {node_id.strip()!r} in this cluster (nodes: {known})")

    def link_peer(self, sender: str, text: str) -> str:
        """The peer a link of ``sender`` goes to, or "all" for every one; ``OpsError`` for an
        unknown node or ``sender`` itself, which has no link."""
        if text.strip() in ("", "all"):
            return "all"
        peer = self.node(text).node_id
        if peer == sender:
            raise OpsError(f"{sender} has no link to itself; name a peer")
        return peer

    def default_node(self, action: str) -> str | None:
        """The node an action is for when none is named: the only one down for ``start``, the
        only paused one for ``resume``, the only one with cut links for ``heal`` (with several,
        or none, there is no default)."""
        if action == "start":
            candidates = [n for n in self.nodes if not n.up and n.state != "paused"]
        elif action == "resume":
            candidates = [n for n in self.nodes if n.state == "paused"]
        elif action == "heal":
            candidates = [n for n in self.nodes if n.cut]
        else:
            return None
        return candidates[0].node_id if len(candidates) == 1 else None

    def new_member_id(self, text: str) -> str:
        """A new member's id as typed (empty: the next free ``nodeN``); ``OpsError`` for one
        the cluster has, or one no node can have."""
        word = text.strip() or self.next_member()[0]
        if not is_valid_id(word):
            raise OpsError(f"{word[:24]!r} cannot be a node id: letters, digits, _ and - (1 to 64)")
        if any(node.node_id == word for node in self.nodes):
            raise OpsError(f"{word} is a member already")
        return word

    def next_member(self) -> tuple[str, str, str]:
        """What the add-node dialog and option 32 propose: the next free ``nodeN`` id, and
        ``host:port`` addresses past the highest HTTP and TCP ports of the members, skipping
        ports taken on this machine when the host is a loopback one (a cluster this console
        started, or one on the same machine)."""
        numbers = [int(n.node_id[4:]) for n in self.nodes if n.node_id[4:].isdigit()]
        node_id = f"node{max(numbers, default=0) + 1}"
        taken = {parse_address(a) for n in self.nodes for a in (n.http_addr, n.tcp_addr)}
        ports = {port for _, port in taken}

        def next_address(addresses: list[str]) -> str:
            known = [parse_address(a) for a in addresses]
            host = known[-1][0] if known else "127.0.0.1"
            port = max((p for _, p in known), default=8090) + 1
            while port in ports or (port < 65535 and not _port_free(host, port)):
                port += 1
            ports.add(port)
            return f"{host}:{port}"

        http = next_address([n.http_addr for n in self.nodes if n.http_addr != "-"])
        tcp = next_address([n.tcp_addr for n in self.nodes if n.tcp_addr != "-"])
        return node_id, http, tcp

    def transfer_target(self) -> str:
        """The node a leadership transfer goes to when none is named: the only voter up besides
        the leader; ``OpsError`` when there is no such single node."""
        others = [n.node_id for n in self.voters if n.up and n.node_id != self.leader]
        if len(others) != 1:
            raise OpsError("name the node to take over (" + ", ".join(others or ["none up"]) + ")")
        return others[0]

    def peers(self, node_id: str, text: str) -> list[str] | None:
        """The peers named in ``text`` (ids apart by commas or spaces) for a cut of
        ``node_id``'s links; None (every peer) for an empty answer or ``all``; ``OpsError``
        for an unknown node, the node itself or a peer named twice."""
        words = text.replace(",", " ").split()
        if not words or words == ["all"]:
            return None
        peers = [self.node(word).node_id for word in words]
        if node_id in peers:
            raise OpsError(f"{node_id} cannot be cut from itself; name its peers")
        if len(set(peers)) != len(peers):
            raise OpsError("a peer is named twice")
        return peers

    @classmethod
    def from_view(cls, view: ClusterView) -> ClusterStatus:
        """Build from ``GET /api/cluster``."""
        return cls(
            leader=view.get("leader"),
            term=view.get("term"),
            nodes=tuple(_node_row(n) for n in view.get("nodes") or []),
            tempo=tempo["scale"] if (tempo := view.get("tempo")) else 1,
            stream_leaders=tuple((s["stream"], s["leader"]) for s in view.get("streams") or []),
            unsupported=tuple(view.get("unsupported") or ()),
            jetstream=view.get("backend") == "jetstream",
        )


def _node_row(node: NodeView) -> NodeRow:
    http = node.get("http") or {}
    tcp = node.get("tcp") or {}
    return NodeRow(
        node_id=str(node.get("node_id")),
        role=str(node.get("role") or "down"),
        preferred=bool(node.get("preferred")),
        http_addr=str(http.get("addr") or "-"),
        http_up=bool(http.get("up")),
        http_latency_ms=http.get("latency_ms"),
        tcp_addr=str(tcp.get("addr") or "-"),
        tcp_up=bool(tcp.get("up")),
        tcp_latency_ms=tcp.get("latency_ms"),
        term=node.get("term"),
        commit_position=node.get("commit_position"),
        applied_position=node.get("applied_position"),
        lag=node.get("lag"),
        fresh=bool(node.get("fresh")),
        managed=bool(node.get("managed")),
        pid=node.get("pid"),
        state=node.get("state"),
        restarts=int(node.get("restarts") or 0),
        exit_code=node.get("exit_code"),
        isolated=bool(node.get("isolated")),
        cut_in=tuple((node.get("cuts") or {}).get("in") or ()),
        cut_out=tuple((node.get("cuts") or {}).get("out") or ()),
        disk_full=node["disk_full"] if isinstance(node.get("disk_full"), str) else None,
        repairing=_text(node.get("repairing")),
        repaired_from=_repaired_from(node),
        voter=node.get("voter") is not False,
        log_first=span["first_index"] if (span := node.get("log")) else None,
        log_last=span["last_index"] if span else None,
        voted_for=_text(node.get("voted_for")),
        uptime_s=node.get("uptime_s"),
        timer_elapsed_ms=timer["elapsed_ms"] if (timer := node.get("election_timer")) else None,
        timer_timeout_ms=timer["timeout_ms"] if timer else None,
        progress=tuple(
            FollowerProgress(peer, int(pr["match"]), int(pr["next"]), str(pr["state"]))
            for peer, pr in sorted((node.get("progress") or {}).items())
        ),
        link_faults=tuple((str(f.get("to")), fault_text(f)) for f in node.get("link_faults") or ()),
        handed_over=node.get("handed_over") is True,
    )


def fault_text(fault: LinkFaultView) -> str:
    """What a link fault does: ``drop 30% · +200 ms · dup 5%``."""
    parts = []
    if fault.get("drop"):
        parts.append(f"drop {fault['drop']:.0%}")
    if fault.get("delayMs"):
        parts.append(f"+{fault['delayMs']} ms")
    if fault.get("duplicate"):
        parts.append(f"dup {fault['duplicate']:.0%}")
    return " · ".join(parts)


def tempo_words(scale: int) -> str:
    """The tempo as both consoles' Slow Motion say it: ``tempo ×1/20``, ``tempo ×1 (full
    speed)``."""
    return f"tempo ×1/{scale}" if scale > 1 else "tempo ×1 (full speed)"


def tempo_step(scale: int, direction: int) -> int:
    """The next tempo slower (``direction`` 1) or faster (-1) than ``scale`` among
    :data:`TEMPO_STEPS`, staying at the ends."""
    if direction > 0:
        return next((s for s in TEMPO_STEPS if s > scale), MAX_TEMPO)
    return next((s for s in reversed(TEMPO_STEPS) if s < scale), 1)


def parse_percent(text: str, what: str) -> float:
    """``30`` or ``30%`` (or ``2.5``) as 0.3 (empty: 0); ``OpsError`` for anything else or
    past 100."""
    word = text.strip().removesuffix("%").strip() or "0"
    if _PERCENT.fullmatch(word) is None or float(word) > 100:
        shown = text.strip()[:24]
        raise OpsError(f"{what} must be a percentage from 0 to 100, not {shown!r}")
    return float(word) / 100


def parse_fault(drop: str, delay: str, duplicate: str) -> tuple[float, int, float]:
    """A link fault as typed: drop %, delay in ms, duplicate % (each empty: 0)."""
    return (
        parse_percent(drop, "drop"),
        parse_whole(delay, "delay (ms)", default=0, maximum=MAX_DELAY_MS),
        parse_percent(duplicate, "duplicate"),
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _repaired_from(node: NodeView) -> str | None:
    repaired = node.get("repaired")
    return _text(repaired.get("source")) if repaired else None


def _port_free(host: str, port: int) -> bool:
    """Whether ``port`` can be listened on here; True for a host not on this machine (a
    gateway elsewhere checks its own, and refuses a taken port with ``port_in_use``)."""
    if host not in ("127.0.0.1", "localhost", "::1"):
        return True
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def parse_address(text: str) -> tuple[str, int]:
    """``127.0.0.1:8094`` as ``("127.0.0.1", 8094)``; ``OpsError`` for anything that is not a
    host, a colon and a port from 1 to 65535."""
    host, colon, port = text.strip().rpartition(":")
    if not colon or not host or not port.isascii() or not port.isdigit():
        raise OpsError(f"{text.strip()!r} is not host:port (e.g. 127.0.0.1:8094)")
    if not 1 <= int(port) <= 65535:
        raise OpsError(f"port {port} is not between 1 and 65535")
    return host, int(port)


def parse_direction(text: str) -> str:
    """A cut's direction as typed: ``both`` (the default, for an empty answer), ``in`` or
    ``out``; ``OpsError`` for anything else."""
    word = text.strip().lower() or "both"
    if word not in DIRECTIONS:
        raise OpsError(f"direction {text.strip()!r}: use both, in or out")
    return word


@dataclass(frozen=True, slots=True)
class LinksResult:
    """A node's Raft links before and after an isolate or heal."""

    before: NodeRow
    after: NodeRow
    was_leader: bool
    # After a cut that leaves too few voters that hear each other: why no leader can be elected.
    no_majority: str | None = None


@dataclass(frozen=True, slots=True)
class TempoResult:
    """A tempo set: the scale now and before, and the nodes still to take it (down)."""

    scale: int
    previous: int
    pending: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LinkFaultResult:
    """A link fault set (``what`` says what it does) or cleared (``what`` empty)."""

    frm: str
    peers: tuple[str, ...]
    what: str


@dataclass(frozen=True, slots=True)
class TransferResult:
    """A leadership hand-over that completed: who leads now, who led, and how long it took."""

    node_id: str
    previous: str | None
    already: bool  # the node led already: nothing was done
    status: ClusterStatus
    elapsed: float
    streams: tuple[str, ...] = ()  # backend jetstream: the streams whose leadership it took


@dataclass(frozen=True, slots=True)
class NodeActionResult:
    """What a node action did, and what was seen afterwards."""

    node_id: str
    action: str
    was_leader: bool
    settled: bool  # the expected effect was seen before the deadline
    elapsed: float
    leader: str | None
    term: int | None
    # Why no leader can come, when too few nodes are up (``ClusterStatus.no_majority``).
    no_majority: str | None = None


class ClusterOps:
    """Cluster status and node actions through the gateway."""

    def __init__(self, client: GateClient, *, settle_timeout: float = 20.0) -> None:
        self.client = client
        self.settle_timeout = settle_timeout
        # A tempo step reads the tempo, then sets the next: keys pressed in a row must each
        # step from where the one before left it, not all from the tempo they read at once.
        self._tempo_lock = asyncio.Lock()

    async def status(self) -> ClusterStatus:
        """The gateway's current view of the cluster."""
        return ClusterStatus.from_view(await self.client.cluster())

    async def node(self, node_id: str) -> NodeRow:
        """One node's health."""
        return (await self.status()).node(node_id)

    async def node_ids(self) -> list[str]:
        """The cluster's node ids."""
        return [node.node_id for node in (await self.status()).nodes]

    async def node_log(
        self, node_id: str, *, after: int | None = None, limit: int = 100
    ) -> NodeLogPage:
        """A page of one node's log: the newest ``limit`` lines, or those past ``after``."""
        answer = await self.client.node_log(node_id, after=after, limit=limit)
        return NodeLogPage.from_answer(answer)

    async def act(self, node_id: str | None, action: str, *, wait: bool = True) -> NodeActionResult:
        """Do ``action`` on a node (the leader when ``node_id`` is None or empty)."""
        if action not in NODE_ACTIONS:
            raise OpsError(f"unknown node action {action!r}; use one of {', '.join(NODE_ACTIONS)}")
        before = await self.status()
        target = (node_id or "").strip() or before.leader
        if target is None:
            raise OpsError("there is no leader right now; name a node")
        before.node(target)  # an unknown node is an OpsError naming the nodes
        was_leader = target == before.leader
        try:
            await self.client.node_action(target, action)
        except GateError as exc:
            if exc.code == "node_not_managed":
                raise OpsError(
                    f"this gateway does not manage {target} (it did not start the nodes), "
                    "so it cannot stop or start them"
                ) from None
            raise
        started = time.monotonic()
        settled, after = (False, before)
        if wait:
            settled, after = await self._settle(target, action, was_leader)
        return NodeActionResult(
            node_id=target,
            action=action,
            was_leader=was_leader,
            settled=settled,
            elapsed=time.monotonic() - started,
            leader=after.leader,
            term=after.term,
            no_majority=after.no_majority(target if action in _GOING_DOWN else None),
        )

    async def transfer(self, node_id: str | None) -> TransferResult:
        """Hand leadership over to ``node_id`` (the only other voter up when None) and wait
        until the cluster shows it leading; ``OpsError`` when it cannot take over (unknown,
        down, a learner, cut off) or has not within the settle timeout."""
        before = await self.status()
        target = (node_id or "").strip() or before.transfer_target()
        node = before.node(target)  # an unknown node is an OpsError naming the nodes
        if not node.voter:
            raise OpsError(f"{node.node_id} is a learner: only a voter can lead")
        try:
            answer = await self.client.transfer_leadership(node.node_id)
        except GateError as exc:
            if exc.code == "node_down":
                raise OpsError(f"{exc.message} (start, resume or heal it first)") from None
            raise
        started = time.monotonic()
        previous = answer.get("from") or before.leader
        # backend jetstream: the stores' streams change leader, the meta leader stays.
        streams = tuple(answer.get("streams") or ())
        if answer.get("already_leader"):
            return TransferResult(node.node_id, previous, True, before, 0.0, streams)

        def took_over(status: ClusterStatus) -> bool:
            if not streams:
                return status.leader == node.node_id
            leaders = dict(status.stream_leaders)
            return all(leaders.get(stream) == node.node_id for stream in streams)

        deadline = started + self.settle_timeout
        while True:
            with contextlib.suppress(GateError):
                status = await self.status()
                if took_over(status):
                    elapsed = time.monotonic() - started
                    return TransferResult(node.node_id, previous, False, status, elapsed, streams)
            if time.monotonic() > deadline:
                raise OpsError(
                    f"{node.node_id} did not take over within {self.settle_timeout:g} s "
                    f"(the leader gives up after an election timeout; see its node log)"
                )
            await asyncio.sleep(_POLL)

    async def add_node(
        self, node_id: str, *, http: tuple[str, int], tcp: tuple[str, int]
    ) -> results.MemberAnswer:
        """Add ``node_id`` listening on ``http`` and ``tcp`` (host, port): it joins as a learner
        (a gateway that starts nodes launches it) and is promoted once caught up.  A refusal
        (bad id or port, a member already, a port taken, another change under way) is an
        ``OpsError`` with the gateway's reason."""
        try:
            return await self.client.add_node(node_id.strip(), http=http, tcp=tcp)
        except GateError as exc:
            if exc.code in _MEMBER_REFUSALS:
                raise OpsError(exc.message) from None
            raise

    async def remove_node(self, node_id: str) -> results.MemberAnswer:
        """Remove ``node_id`` from the cluster (a leader hands leadership over first; a managed
        node is then stopped); ``OpsError`` naming the nodes when unknown, or with the
        gateway's reason when refused (another change under way, too few voters left)."""
        row = (await self.status()).node(node_id)
        try:
            return await self.client.remove_node(row.node_id)
        except GateError as exc:
            if exc.code in _MEMBER_REFUSALS:
                raise OpsError(exc.message) from None
            raise

    async def isolate(
        self, node_id: str, peers: list[str] | None = None, direction: str = "both"
    ) -> LinksResult:
        """Cut ``node_id``'s Raft links (to ``peers``, every peer when None)."""
        return await self._links(node_id, peers, direction, heal=False)

    async def heal(
        self, node_id: str, peers: list[str] | None = None, direction: str = "both"
    ) -> LinksResult:
        """Restore ``node_id``'s Raft links (to ``peers``, every peer when None)."""
        return await self._links(node_id, peers, direction, heal=True)

    async def _links(
        self, node_id: str, peers: list[str] | None, direction: str, *, heal: bool
    ) -> LinksResult:
        status = await self.status()
        row = status.node(node_id)
        if peers is not None:
            peers = status.peers(row.node_id, " ".join(peers))
        call = self.client.heal if heal else self.client.isolate
        try:
            answer = await call(row.node_id, peers, direction)
        except GateError as exc:
            if exc.code == "node_down":
                raise OpsError(f"{exc.message}: its links cannot be changed") from None
            if exc.code == "invalid_request":
                raise OpsError(exc.message) from None
            raise
        cuts = answer.get("cuts") or {}
        after = dataclasses.replace(
            row,
            isolated=bool(answer.get("isolated")),
            cut_in=tuple(cuts.get("in") or ()),
            cut_out=tuple(cuts.get("out") or ()),
        )
        alone = None if heal or not after.isolated else status.no_majority(row.node_id)
        return LinksResult(row, after, was_leader=row.node_id == status.leader, no_majority=alone)

    async def set_tempo(self, scale: int) -> TempoResult:
        """Run the cluster ``scale`` times slower (1: full speed); ``OpsError`` outside 1-100."""
        if not 1 <= scale <= MAX_TEMPO:
            raise OpsError(f"tempo {scale}: from 1 (full speed) to {MAX_TEMPO} times slower")
        async with self._tempo_lock:
            return await self._set_tempo(lambda _: scale)

    async def step_tempo(self, direction: int) -> TempoResult:
        """One step slower (1), faster (-1), or back to full speed (0)."""
        async with self._tempo_lock:
            return await self._set_tempo(lambda now: tempo_step(now, direction) if direction else 1)

    async def _set_tempo(self, choose: Callable[[int], int]) -> TempoResult:
        """Set the tempo ``choose`` picks from the tempo now (under the tempo lock)."""
        before = (await self.client.tempo())["scale"]
        answer = await self.client.set_tempo(choose(before))
        return TempoResult(answer["scale"], before, tuple(answer.get("pending") or ()))

    async def set_link_fault(
        self, frm: str, to: str, drop: float, delay_ms: int, duplicate: float
    ) -> LinkFaultResult:
        """Make the link from ``frm`` to ``to`` lossy, slow or repeating; all zero clears it
        (``to`` "all": every link of ``frm``)."""
        status = await self.status()
        sender = status.node(frm).node_id
        peer = status.link_peer(sender, to)
        peers = (
            [n.node_id for n in status.nodes if n.node_id != sender] if peer == "all" else [peer]
        )
        if not 0 <= delay_ms <= MAX_DELAY_MS:
            raise OpsError(f"delay {delay_ms} ms: from 0 to {MAX_DELAY_MS}")
        try:
            if not (drop or delay_ms or duplicate):
                for peer in peers:
                    await self.client.clear_link_faults(sender, peer)
                return LinkFaultResult(sender, tuple(peers), "")
            for peer in peers:
                fault = await self.client.set_link_fault(
                    sender, peer, drop=drop, delay_ms=delay_ms, duplicate=duplicate
                )
        except GateError as exc:
            if exc.code in ("invalid_request", "node_down"):
                raise OpsError(exc.message) from None
            raise
        return LinkFaultResult(sender, tuple(peers), fault_text(fault))

    async def drop_message(self, node: str, seq: int) -> MessageDropped:
        """Drop the message ``node`` sent as ``seq`` in its trace while it is still on its way;
        ``OpsError`` in words once it has gone."""
        try:
            return await self.client.drop_message(node, seq)
        except GateError as exc:
            if exc.code == "message_not_found":
                raise OpsError(
                    f"message {seq} of {node} has arrived already: only one still on its way "
                    "can be dropped (slow the tempo down, or a link: f on the Cluster panel)"
                ) from None
            if exc.code in ("invalid_request", "node_down"):
                raise OpsError(exc.message) from None
            raise

    async def _settle(
        self, node_id: str, action: str, was_leader: bool
    ) -> tuple[bool, ClusterStatus]:
        """Wait until the action's effect shows (or the deadline passes)."""

        def done(status: ClusterStatus) -> bool:
            node = status.node(node_id)
            if action in _GOING_DOWN:
                if was_leader:
                    return status.leader not in (None, node_id)
                # A paused node answers no probe, so it is seen paused (or down) soon enough.
                return not node.up or (action == "pause" and node.state == "paused")
            # start / restart / resume: the node answers and knows a leader's term again.
            return node.http_up and node.role != "down" and status.leader is not None

        deadline = time.monotonic() + self.settle_timeout
        last: ClusterStatus | None = None
        if action == "restart":
            # A restart goes down first; give the health monitor time to see that.
            await asyncio.sleep(_POLL)
        while True:
            with contextlib.suppress(GateError):
                last = await self.status()
                if done(last):
                    return True, last
                gone = not last.node(node_id).up
                if was_leader and action in _GOING_DOWN and gone and last.no_majority():
                    return False, last  # no leader can be elected: waiting would not help
            if time.monotonic() > deadline:
                return False, last or await self.status()
            await asyncio.sleep(_POLL)


@dataclass(frozen=True, slots=True)
class NodeLogLine:
    """One line of a node's log: what it decided and why (docs/API.md, "Node log")."""

    seq: int
    time: float  # seconds since the epoch
    level: str  # info, warning, error
    kind: str
    text: str

    @property
    def clock(self) -> str:
        """The local time of day, e.g. ``14:02:07``."""
        return time.strftime("%H:%M:%S", time.localtime(self.time))


@dataclass(frozen=True, slots=True)
class NodeLogPage:
    """A page of a node's log as ``GET /api/cluster/nodes/{id}/log`` answers it."""

    node_id: str
    started_at: float
    last_seq: int
    missed: int
    lines: tuple[NodeLogLine, ...]

    @classmethod
    def from_answer(cls, answer: results.NodeLogPage) -> NodeLogPage:
        lines = tuple(
            NodeLogLine(
                seq=int(line["seq"]),
                time=float(line["time"]),
                level=str(line["level"]),
                kind=str(line["kind"]),
                text=str(line["text"]),
            )
            for line in answer.get("lines") or []
        )
        return cls(
            node_id=str(answer.get("node_id")),
            started_at=float(answer.get("started_at") or 0.0),
            last_seq=int(answer.get("last_seq") or 0),
            missed=int(answer.get("missed") or 0),
            lines=lines,
        )


@dataclass(frozen=True, slots=True)
class NodeLogUpdate:
    """What is new in the followed node's log since the last look."""

    node_id: str
    lines: tuple[NodeLogLine, ...] = ()
    restarted: bool = False  # the node process started again since the lines shown before
    missed: int = 0  # lines that went by unseen (the node keeps its last 1000)
    error: str | None = None  # why the node's log cannot be read now (down, paused)


class NodeLogSource(Protocol):
    """Where pages of a node's log come from (``ClusterOps``, or recorded data in tests)."""

    async def node_log(
        self, node_id: str, *, after: int | None = None, limit: int = 100
    ) -> NodeLogPage: ...


class NodeLogFollower:
    """Follows one node's log at a time, like ``tail -f``: each ``poll`` returns the lines
    added since the last one; naming another node starts over with its newest lines."""

    def __init__(self, cluster: NodeLogSource, *, first_lines: int = 100) -> None:
        self.cluster = cluster
        self.first_lines = first_lines
        self.node_id: str | None = None
        self._after: int | None = None
        self._started_at: float | None = None

    async def poll(self, node_id: str) -> NodeLogUpdate:
        """What is new in ``node_id``'s log; a node that does not answer is an ``error``."""
        if node_id != self.node_id:
            self.node_id, self._after, self._started_at = node_id, None, None
        try:
            limit = self.first_lines if self._after is None else NODE_LOG_KEPT
            page = await self.cluster.node_log(node_id, after=self._after, limit=limit)
            restarted = self._started_at is not None and page.started_at != self._started_at
            if restarted:
                page = await self.cluster.node_log(node_id, after=0, limit=self.first_lines)
        except GateError as exc:
            return NodeLogUpdate(node_id, error=exc.message)
        self._started_at = page.started_at
        if page.lines:
            self._after = page.lines[-1].seq
        elif self._after is None:
            self._after = page.last_seq
        return NodeLogUpdate(node_id, page.lines, restarted, page.missed)


@dataclass(frozen=True, slots=True)
class HealthSample:
    """The latest look at the cluster for a status bar: None status when unreachable."""

    status: ClusterStatus | None
    events_per_second: float
    error: str | None
    taken_at: float
    last_position: int | None = None  # the store's head, when a node could answer the read
    store: str = ""  # the store whose events are counted
    streams: int | None = None  # its counts, when a node could answer the read
    events: int | None = None


class HealthMonitor:
    """Polls the cluster view and the store's last position in the background."""

    def __init__(
        self,
        client: GateClient,
        store: str,
        *,
        interval: float = 1.0,
        clock: Clock = time.monotonic,
    ) -> None:
        self.client = client
        self.store = store
        self.interval = interval
        self.clock = clock
        self.latest: HealthSample | None = None
        # The last cluster view it got, kept while the gateway does not answer.
        self.status: ClusterStatus | None = None
        self._viewed = asyncio.Event()
        self._rate = CounterRate(window=5.0, clock=clock)
        self._task: asyncio.Task[None] | None = None
        self.updates = 0  # samples taken so far (tests wait on it)

    def follow(self, store: str) -> None:
        """Count the events of ``store`` from the next sample (its rate starts afresh)."""
        self.store = store
        self._rate = CounterRate(window=5.0, clock=self.clock)

    def start(self) -> None:
        """Start polling (no-op when running)."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="health monitor")

    async def stop(self) -> None:
        """Stop polling."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def sample(self) -> HealthSample:
        """Take one sample now."""
        name = self.store
        try:
            status = ClusterStatus.from_view(await self.client.cluster())
        except GateError as exc:
            sample = HealthSample(None, 0.0, exc.message, self.clock(), store=name)
        else:
            self.status = status
            self._viewed.set()  # the view is what ``first`` waits for, not the store's read
            try:
                store = await self.client.get_store(name)
            except GateError:
                # No node can answer a read (none is caught up, or no majority): the gateway's
                # view still tells who is up, and nothing is written meanwhile.
                sample = HealthSample(status, 0.0, None, self.clock(), store=name)
            else:
                head = int(store.get("last_position") or 0)
                if name == self.store:  # not switched to another store meanwhile
                    self._rate.update(head)
                sample = HealthSample(
                    status,
                    self._rate.rate(),
                    None,
                    self.clock(),
                    head,
                    store=name,
                    streams=int(store["streams"]),
                    events=int(store["events"]),
                )
        self.latest = sample
        self.updates += 1
        self._viewed.set()
        return sample

    async def first(self) -> None:
        """Wait for the first cluster view, or the first sample without one (the gateway did
        not answer)."""
        await self._viewed.wait()

    async def _run(self) -> None:
        while True:
            await self.sample()
            await asyncio.sleep(self.interval)
