"""Recorded, fixed data shaped like ``console.ops.operations.Operations``, for snapshot tests.

The dashboard reads everything through the operations layer, so a stand-in holding a fixed
cluster view, fixed observer lines, producers, subscriptions and streams makes every screenshot
the same on every run: no clock, no network, no randomness.  The stand-ins record what the app
asked them to do, so tests can also check the wiring of keys and dialogs.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, cast

from console.ops.catalogue import EVERYTHING, Offer
from console.ops.cluster import (
    ClusterStatus,
    FollowerProgress,
    HealthSample,
    LinksResult,
    NodeActionResult,
    NodeLogLine,
    NodeLogPage,
    NodeRow,
    TransferResult,
)
from console.ops.errors import OpsError
from console.ops.formatting import received_line, seen_line, selector_text
from console.ops.inside import merge_inside
from console.ops.line_feed import LineFeed
from console.ops.messages import TraceLine, trace_line
from console.ops.observers import ObserverRow
from console.ops.operations import Operations
from console.ops.session import Access
from console.ops.stores import Running, StoreRow, StoreSwitch
from console.ops.streams import AppendResult, GreenhouseView, SnapshotRow, StreamPage, StreamRow
from console.ops.subscriptions import ConsumerPolicy, SubscriptionRow
from domain.greenhouse.aggregate import Greenhouse
from domain.greenhouse.producer import ProducerRow
from engine.client import GateError
from engine.client.checker import LiveVerdict
from engine.client.results import MemberAnswer, MessageDropped

URL = "http://127.0.0.1:8899"
TYPES = (
    ("temperature_measured:v1", "temperature", 23),
    ("humidity_measured:v1", "humidity", 65),
    ("light_measured:v1", "light", 40),
    ("fan_activated:v1", "intensity", 70),
    ("desired_temperature_set:v1", "temperature", 21),
    ("heater_deactivated:v1", None, None),
)


def node(
    node_id: str,
    role: str,
    *,
    term: int = 3,
    position: int = 1240,
    lag: int = 0,
    up: bool = True,
    preferred: bool = False,
    latency: float = 1.4,
    first: int = 1,
    voter: bool = True,
    cut: tuple[str, ...] = (),
    isolated: bool = False,
    voted: str | None = "node1",
    timer: tuple[int, int] | None = None,
    progress: tuple[FollowerProgress, ...] = (),
) -> NodeRow:
    """A node row with loopback addresses derived from its number; its election timer ran
    ``timer`` = (elapsed, timeout) ms (by default a little, longer the higher its number)."""
    number = int(node_id.removeprefix("node"))
    elapsed, timeout = timer or ((100, 300) if role == "leader" else (60 * number, 420))
    return NodeRow(
        node_id=node_id,
        role=role if up else "down",
        preferred=preferred,
        http_addr=f"127.0.0.1:{8089 + number}",
        http_up=up,
        http_latency_ms=latency if up else None,
        tcp_addr=f"127.0.0.1:{8889 + number}",
        tcp_up=up,
        tcp_latency_ms=latency - 0.3 if up else None,
        term=term if up else None,
        commit_position=position if up else None,
        applied_position=position - lag if up else None,
        lag=lag if up else None,
        fresh=lag == 0,
        managed=True,
        pid=4240 + number if up else None,
        voter=voter,
        log_first=first if up else None,
        log_last=position if up else None,
        isolated=up and isolated,
        cut_in=cut if up else (),
        cut_out=cut if up else (),
        voted_for=voted if up else None,
        uptime_s=(3725.0 - 700 * (number - 1)) if up else None,
        timer_elapsed_ms=elapsed if up else None,
        timer_timeout_ms=timeout if up else None,
        progress=progress if up else (),
    )


HEALTHY = ClusterStatus(
    leader="node1",
    term=3,
    nodes=(
        node(
            "node1",
            "leader",
            preferred=True,
            latency=1.2,
            progress=(
                FollowerProgress("node2", 1240, 1241, "replicate"),
                FollowerProgress("node3", 1236, 1237, "probe"),
            ),
        ),
        node("node2", "follower", latency=1.6),
        node("node3", "follower", lag=4, latency=2.3),
    ),
)
# The leader is down and the other two are electing: no leader.
NO_LEADER = ClusterStatus(
    leader=None,
    term=4,
    nodes=(
        node("node1", "leader", up=False, preferred=True),
        node("node2", "candidate", term=4, latency=1.9),
        node("node3", "follower", term=3, latency=2.1),
    ),
)
NEW_LEADER = ClusterStatus(
    leader="node2",
    term=4,
    nodes=(
        node("node1", "leader", up=False, preferred=True),
        node("node2", "leader", term=4, position=1262, latency=1.5),
        node("node3", "follower", term=4, position=1262, latency=2.0),
    ),
)
CATCHING_UP = ClusterStatus(
    leader="node2",
    term=4,
    nodes=(
        node("node1", "follower", term=4, position=1290, lag=28, preferred=True, latency=3.1),
        node("node2", "leader", term=4, position=1290, latency=1.5),
        node("node3", "follower", term=4, position=1290, latency=2.0),
    ),
)
CAUGHT_UP = replace(
    CATCHING_UP,
    nodes=(
        node("node1", "follower", term=4, position=1301, preferred=True, latency=1.3),
        node("node2", "leader", term=4, position=1301, latency=1.5),
        node("node3", "follower", term=4, position=1301, latency=2.0),
    ),
)
FAILOVER = (HEALTHY, NO_LEADER, NEW_LEADER, CATCHING_UP, CAUGHT_UP)

# Each node's log in HEALTHY's story: node1 won term 3 after node2 restarted, node3 came back
# behind and caught up. Times are 09:41:00 UTC on, plus the seconds given.
LOG_START = 1796550060.0
NODE_LOGS: dict[str, list[tuple[float, str, str, str]]] = {
    "node1": [
        (
            0.0,
            "info",
            "restart",
            "started with its log up to index 1180 (term 2), 1180 entries "
            "applied; it learns the leader and any missing entries from its peers",
        ),
        (1.2, "info", "election", "election timeout: no word from a leader in 7 ticks"),
        (
            1.2,
            "info",
            "election",
            "asking for pre-votes: could it win term 3? (its log ends at index 1180, term 2)",
        ),
        (1.3, "info", "vote", "node2 granted its pre-vote (2 votes, 2 needed)"),
        (1.3, "info", "election", "campaigning for term 3 (a candidate), voting for itself"),
        (1.3, "info", "vote", "node2 granted its vote (2 votes, 2 needed)"),
        (
            1.3,
            "info",
            "leader",
            "became leader for term 3; serves once its no-op at index 1181 is committed",
        ),
        (
            9.8,
            "warning",
            "repair",
            "no answer from node3 for entries after index 1190: probing again",
        ),
        (14.1, "info", "repair", "node3 refused entries after index 1204: probing from 1191"),
        (
            14.1,
            "info",
            "catch_up",
            "node3 matches up to index 1190: sending the 46 entries it lacks",
        ),
        (14.3, "info", "catch_up", "node3 caught up at index 1236"),
    ],
    "node2": [
        (
            0.0,
            "info",
            "restart",
            "started with its log up to index 1180 (term 2), 1180 entries applied; it learns "
            "the leader and any missing entries from its peers",
        ),
        (1.3, "info", "vote", "pre-vote granted to node1 for term 3"),
        (1.3, "info", "term", "term 2 → 3: a vote request from node1 (was follower)"),
        (1.3, "info", "vote", "voted for node1 in term 3"),
        (1.4, "info", "follower", "following leader node1 (term 3)"),
    ],
    "node3": [
        (
            12.0,
            "info",
            "restart",
            "started with its log up to index 1190 (term 3), 1190 "
            "entries applied; it learns the leader and any missing entries from its peers",
        ),
        (
            12.9,
            "info",
            "vote",
            "pre-vote refused to node2 for term 4: leader node1 was heard "
            "within the election timeout",
        ),
        (14.0, "info", "follower", "following leader node1 (term 3)"),
        (
            14.1,
            "info",
            "repair",
            "refused an append from node1 at index 1204: its log ends at "
            "index 1190, the leader's entries start past it",
        ),
        (14.2, "info", "repair", "log matches leader node1 again up to index 1236"),
    ],
}


def record(stream: str, number: int, position: int) -> dict[str, Any]:
    """A fixed greenhouse event record."""
    event_type, field_name, value = TYPES[(number + position) % len(TYPES)]
    data = {field_name: value + number % 5} if field_name else {}
    if event_type == "fan_activated:v1":
        data = {"intensity": 70, "operator": "John"}
    return {
        "event_id": f"00000000-0000-4000-8000-{position:012d}",
        "event_type": event_type,
        "stream_id": stream,
        "event_number": number,
        "position": position,
        "data": data,
        "metadata": {},
        "created": f"2026-11-22T10:15:{number % 60:02d}.000000Z",
        "created_epoch": 1795342500000000 + number * 1000000,
    }


class RecordedHealth:
    """The health monitor's ``latest`` sample, changed by the test (``show``)."""

    def __init__(self, status: ClusterStatus | None, rate: float = 14.6) -> None:
        self.latest: HealthSample | None = None
        self.updates = 0
        self.taken_at = 100.0
        self.store = "reg_gh"
        if status is not None:
            self.show(status, rate)

    def show(
        self,
        status: ClusterStatus | None,
        rate: float = 14.6,
        error: str = "",
        head: int | None = None,
    ) -> None:
        """A new sample, one second after the previous one (``head``: the store's last
        position)."""
        self.taken_at += 1.0
        row = next((r for r in STORES if r.store_id == self.store), StoreRow(self.store, 0, 0))
        self.latest = HealthSample(
            status,
            rate,
            error or None,
            self.taken_at,
            head,
            store=self.store,
            streams=row.streams,
            events=row.events,
        )
        self.updates += 1

    def follow(self, store: str) -> None:
        self.store = store


STORES = [StoreRow("reg_gh", 3, 1240, 2), StoreRow("shop", 2, 57, 0)]


class RecordedStores:
    """The cluster's stores and their counts."""

    async def rows(self, *, subscriptions: bool = True) -> list[StoreRow]:
        return STORES


class RecordedObserver:
    """An observer with a fixed feed."""

    def __init__(self, row: ObserverRow, lines: list[str]) -> None:
        self.row_data = row
        self.name = row.name
        self.feed = LineFeed(500)
        for line in lines:
            self.feed.push(line)


class RecordedObservers:
    """The observer registry's read side, and a record of what was asked."""

    def __init__(self, observers: list[RecordedObserver]) -> None:
        self.observers = {o.name: o for o in observers}
        self.created: list[tuple[dict[str, Any], str]] = []
        self.stopped: list[str] = []

    def names(self) -> list[str]:
        return list(self.observers)

    def get(self, name: str) -> RecordedObserver:
        if name not in self.observers:
            raise OpsError(f"no observer named {name!r}")
        return self.observers[name]

    def rows(self) -> list[ObserverRow]:
        return [o.row_data for o in self.observers.values()]

    async def create(self, selector: dict[str, Any], name: str | None = None) -> RecordedObserver:
        name = (name or "").strip() or f"reg_gh:{next(iter(selector.values()))}"
        self.created.append((selector, name))
        row = ObserverRow(
            name, next(iter(selector)), selector_text(selector), 0, 0.0, 0, "running", None
        )
        observer = RecordedObserver(row, [])
        self.observers[name] = observer
        return observer

    async def create_by_event_type(self, event_type: str, name: str | None = None) -> Any:
        return await self.create({"by_event_type": event_type}, name)

    async def create_by_payload(self, pattern: dict[str, Any], name: str | None = None) -> Any:
        return await self.create({"by_event_payload": pattern}, name)

    async def stop(self, name: str) -> RecordedObserver:
        self.stopped.append(name)
        return self.observers.pop(name)


class RecordedProducers:
    """Producer rows."""

    def __init__(self, rows: list[ProducerRow]) -> None:
        self.rows_data = rows
        self.started: list[int] = []
        self.rate = 5.0

    def rows(self) -> list[ProducerRow]:
        return list(self.rows_data)

    async def start(self, count: int = 3) -> list[str]:
        self.started.append(count)
        return [f"greenhouse-{n}" for n in range(1, count + 1)]

    async def stop(self, stream: str) -> None:
        self.rows_data = [
            replace(r, state="stopped") if r.stream == stream else r for r in self.rows_data
        ]


@dataclass
class RecordedConsumer:
    """A consumer's feed."""

    name: str
    feed: LineFeed = field(default_factory=lambda: LineFeed(500))
    policy: ConsumerPolicy = field(default_factory=ConsumerPolicy)
    state: str = "running"


class RecordedSubscriptions:
    """Subscription rows and this console's consumers."""

    def __init__(self, rows: list[SubscriptionRow], consumers: list[RecordedConsumer]) -> None:
        self.rows_data = rows
        self.consumers = {c.name: c for c in consumers}
        self.created: list[tuple[str, dict[str, Any], int | str]] = []

    async def rows(self) -> list[SubscriptionRow]:
        return list(self.rows_data)

    def known_rows(self) -> list[SubscriptionRow] | None:
        return list(self.rows_data)

    def consumer_names(self) -> list[str]:
        return list(self.consumers)

    def consumer(self, name: str) -> RecordedConsumer:
        return self.consumers[name]

    async def create(self, name: str, selector: dict[str, Any], start_from: int | str = 0) -> bool:
        self.created.append((name, selector, start_from))
        return True

    async def start_consumer(
        self, name: str, policy: ConsumerPolicy | None = None
    ) -> RecordedConsumer:
        self.consumers[name] = RecordedConsumer(name, policy=policy or ConsumerPolicy())
        return self.consumers[name]

    def set_policy(self, name: str, policy: ConsumerPolicy) -> None:
        self.consumers[name].policy = policy

    async def stop_consumer(self, name: str) -> None:
        del self.consumers[name]

    async def delete(self, name: str) -> None:
        self.rows_data = [r for r in self.rows_data if r.name != name]

    async def replay_parked(self, name: str) -> None:
        return None


class RecordedStreams:
    """Streams of fixed events."""

    def __init__(self, versions: dict[str, int]) -> None:
        self.versions = versions
        self.appended: list[tuple[str, int]] = []

    async def rows(self) -> list[StreamRow]:
        return [StreamRow(s, v) for s, v in self.versions.items()]

    async def names(self) -> list[str]:
        return list(self.versions)

    async def read(
        self, stream: str, start: int | None = 0, count: int = 10, direction: str = "forward"
    ) -> StreamPage:
        if stream not in self.versions:
            raise OpsError(f"there is no stream {stream!r} in reg_gh")
        version = self.versions[stream]
        if direction == "forward":
            numbers = list(range(start or 0, min(version + 1, (start or 0) + count)))
        else:
            first = version if start is None else min(start, version)
            numbers = list(range(first, max(-1, first - count), -1))
        offset = 10 * int(stream.rsplit("-", 1)[1])
        return StreamPage(stream, version, [record(stream, n, offset + 3 * n) for n in numbers])

    async def append_generated(self, stream: str, count: int = 5) -> AppendResult:
        self.appended.append((stream, count))
        version = self.versions.get(stream, -1) + count
        self.versions[stream] = version
        return AppendResult(stream, [], version, 2000)

    async def append_event(
        self, stream: str, event_type: str, data: dict[str, Any], count: int = 1
    ) -> AppendResult:
        return await self.append_generated(stream, count)

    async def greenhouse(self, stream: str) -> GreenhouseView:
        house = Greenhouse(
            stream,
            name="Tomato House",
            location="North field",
            city="Ghent",
            country="Belgium",
            target_temperature=21,
            target_humidity=60,
            target_light=50,
            current_temperature=23,
            current_humidity=65,
            current_light=40,
            actuators={"fan": 70, "light": None, "heater": None, "sprinkler": 30},
            version=self.versions.get(stream, -1),
        )
        snapshots = [
            SnapshotRow(v, "greenhouse:v1", f"2026-11-22T{10 + v // 100:02d}:00:00Z", "active")
            for v in (100, 200)
        ]
        return GreenhouseView(house, snapshots)

    async def take_snapshot(self, stream: str) -> Greenhouse:
        return (await self.greenhouse(stream)).greenhouse


class RecordedCluster:
    """Node actions, recorded; each one answers as if it settled at once.  The nodes' logs are
    ``NODE_LOGS``; a node in ``silent`` does not answer."""

    def __init__(self, health: RecordedHealth) -> None:
        self.health = health
        self.actions: list[tuple[str | None, str]] = []
        self.silent: set[str] = set()
        self.logs = {node_id: list(lines) for node_id, lines in NODE_LOGS.items()}
        self.dropped: list[tuple[str, int]] = []
        self.arrived: set[int] = set()

    async def node_log(
        self, node_id: str, *, after: int | None = None, limit: int = 100
    ) -> NodeLogPage:
        if node_id in self.silent:
            raise GateError(
                "unavailable", f"{node_id} does not answer (down, paused or unreachable)"
            )
        lines = tuple(
            NodeLogLine(seq, LOG_START + offset, level, kind, text)
            for seq, (offset, level, kind, text) in enumerate(self.logs[node_id], start=1)
        )
        shown = lines[-limit:] if after is None else lines[after : after + limit]
        return NodeLogPage(node_id, LOG_START, len(lines), 0, shown)

    async def drop_message(self, node: str, seq: int) -> MessageDropped:
        """A message of ``SLOW_MOTION`` dropped; one in ``arrived`` has gone already."""
        if seq in self.arrived:
            raise OpsError(f"message {seq} of {node} has arrived already")
        self.dropped.append((node, seq))
        return {"node": node, "id": seq, "to": "node2", "type": "append"}

    async def status(self) -> ClusterStatus:
        latest = self.health.latest
        if latest is None or latest.status is None:
            raise GateError("unavailable", "the gateway does not answer")
        return latest.status

    async def transfer(self, node_id: str | None) -> TransferResult:
        self.actions.append((node_id, "transfer"))
        status = await self.status()
        return TransferResult(str(node_id), status.leader, False, status, 0.4)

    async def isolate(
        self, node_id: str, peers: list[str] | None = None, direction: str = "both"
    ) -> LinksResult:
        self.actions.append((node_id, f"isolate {' '.join(peers or ['all'])} {direction}"))
        status = await self.status()
        before = status.node(node_id)
        others = tuple(n.node_id for n in status.nodes if n.node_id != node_id)
        cut = tuple(peers or others)
        after = replace(
            before,
            isolated=peers is None and direction == "both",
            cut_in=cut if direction in ("both", "in") else (),
            cut_out=cut if direction in ("both", "out") else (),
        )
        self._replace(status, after)
        return LinksResult(before, after, status.leader == node_id)

    def _replace(self, status: ClusterStatus, row: NodeRow) -> None:
        """The next look at the cluster shows ``row`` for its node."""
        rows = tuple(row if n.node_id == row.node_id else n for n in status.nodes)
        self.health.show(replace(status, nodes=rows))

    async def heal(
        self, node_id: str, peers: list[str] | None = None, direction: str = "both"
    ) -> LinksResult:
        self.actions.append((node_id, "heal"))
        status = await self.status()
        before = status.node(node_id)
        after = replace(before, isolated=False, cut_in=(), cut_out=())
        self._replace(status, after)
        return LinksResult(before, after, status.leader == node_id)

    async def add_node(
        self, node_id: str, *, http: tuple[str, int], tcp: tuple[str, int]
    ) -> MemberAnswer:
        self.actions.append((node_id, f"add {http[0]}:{http[1]} {tcp[0]}:{tcp[1]}"))
        return {"node_id": node_id, "action": "add", "accepted": True, "index": 1301}

    async def remove_node(self, node_id: str) -> MemberAnswer:
        self.actions.append((node_id, "remove"))
        return {"node_id": node_id, "action": "remove", "accepted": True, "index": 1302}

    async def act(self, node_id: str | None, action: str, *, wait: bool = True) -> NodeActionResult:
        self.actions.append((node_id, action))
        status = self.health.latest.status if self.health.latest else None
        leader = status.leader if status is not None else None
        node = node_id or leader  # as the gateway does: no node named is the leader
        return NodeActionResult(str(node), action, node == leader, True, 1.2, "node2", 4)


class RecordedVerdict:
    """The verdict monitor's ``latest``: none (no producer started) unless a test sets one."""

    def __init__(self) -> None:
        self.latest: LiveVerdict | None = None
        self.unreadable = False


T0 = 1_765_000_000.0  # the recorded trace's clock: 05:46:40 UTC


def _message(at: float, kind: str, frm: str, to: str, term: int, **fields: Any) -> dict[str, Any]:
    return {
        "kind": "message",
        "node": frm,
        "seq": int(at * 10),
        "time": T0 + at,
        "dir": "send",
        "type": kind,
        "frm": frm,
        "to": to,
        "term": term,
        **fields,
    }


def _vote(at: float, frm: str, to: str, term: int, pre: bool) -> dict[str, Any]:
    return _message(
        at,
        "vote",
        frm,
        to,
        term,
        last_log_index=1240,
        last_log_term=3,
        pre_vote=pre,
        transfer=False,
    )


def _granted(
    at: float, frm: str, to: str, term: int, pre: bool, granted: bool = True
) -> dict[str, Any]:
    return _message(at, "vote_response", frm, to, term, granted=granted, pre_vote=pre)


# node1 led term 3 and was killed: node2 asks for pre-votes, then votes, wins term 4 and
# brings node3 up to date; then producers write at full rate and the trace sums it up.
ELECTION: list[dict[str, Any]] = [
    {"kind": "heartbeats", "time": T0, "count": 10, "nodes": ["node1", "node2", "node3"]},
    _vote(1.512, "node2", "node1", 4, True),
    _vote(1.512, "node2", "node3", 4, True),
    _granted(1.514, "node3", "node2", 4, True),
    _vote(1.516, "node2", "node1", 4, False),
    _vote(1.516, "node2", "node3", 4, False),
    _granted(1.519, "node3", "node2", 4, False),
    _message(
        1.521, "append", "node2", "node3", 4, prev_index=1240, prev_term=3, entries=1, commit=1240
    ),
    _message(
        1.523, "append_response", "node3", "node2", 4, success=True, match_index=1241, reject_hint=0
    ),
    {"kind": "heartbeats", "time": T0 + 2.0, "count": 6, "nodes": ["node2", "node3"]},
    {
        "kind": "summary",
        "time": T0 + 3.0,
        "dir": "send",
        "type": "append",
        "frm": "node2",
        "to": "node3",
        "count": 340,
        "per_second": 340.0,
        "term": 4,
        "entries_min": 1,
        "entries_max": 40,
        "commit": 5210,
    },
    {
        "kind": "summary",
        "time": T0 + 3.0,
        "dir": "send",
        "type": "append_response",
        "frm": "node3",
        "to": "node2",
        "count": 338,
        "per_second": 338.0,
        "term": 4,
        "rejected": 0,
        "match_index": 5231,
    },
    {"kind": "missed", "node": "node2", "count": 120},
]


FLIGHT = 0.95  # seconds a Raft message flies at tempo 20 (engine/protocol/tempo.py)


def _beats(at: float, commit: int) -> list[dict[str, Any]]:
    """node1's heartbeats to node2 and node3 at ``at``, at tempo 20."""
    return [
        _message(
            at + 0.001 * n,
            "append",
            "node1",
            peer,
            3,
            prev_index=commit,
            prev_term=3,
            entries=0,
            commit=commit,
        )
        for n, peer in enumerate(("node2", "node3"))
    ]


def _answers(at: float, match: int) -> list[dict[str, Any]]:
    """node2 and node3 answering node1 at ``at``, having matched ``match``."""
    return [
        _message(
            at + 0.001 * n,
            "append_response",
            peer,
            "node1",
            3,
            success=True,
            match_index=match,
            reject_hint=0,
        )
        for n, peer in enumerate(("node2", "node3"))
    ]


# Tempo 20: node1 leads term 3, a heartbeat each second, each its own arrow, as is the one write
# in between; each message flies 0.95 s, so an answer comes back just before the next heartbeat.
# The write commits when the first answer to it arrives (3.4 s): the heartbeats at 4 s carry it.
SLOW_MOTION: list[dict[str, Any]] = [
    *_beats(0.0, 1250),
    *_answers(FLIGHT, 1250),
    *_beats(1.0, 1250),
    _message(
        1.5, "append", "node1", "node2", 3, prev_index=1250, prev_term=3, entries=1, commit=1250
    ),
    _message(
        1.501, "append", "node1", "node3", 3, prev_index=1250, prev_term=3, entries=1, commit=1250
    ),
    *_answers(1.0 + FLIGHT, 1250),
    *_beats(2.0, 1250),
    *_answers(1.5 + FLIGHT, 1251),
    *_answers(2.0 + FLIGHT, 1251),
    *_beats(3.0, 1250),
    *_answers(3.0 + FLIGHT, 1251),
    *_beats(4.0, 1251),
]
for _seq, _line in enumerate(SLOW_MOTION, start=100):
    _line["seq"] = _seq  # each its own number in node1's (or the answerer's) trace


class RecordedMessages:
    """The message trace, recorded: every line at the first drain once watched."""

    def __init__(self, raw: list[dict[str, Any]]) -> None:
        self.lines = [trace_line(r, T0 + 3.0) for r in raw]
        self.watching = False
        self.problem = ""
        self.tempo = 1  # the last tempo the app told it
        self._drained = False

    def watch(self, on: bool) -> None:
        self.watching = on

    def unfold(self, tempo: int) -> None:
        self.tempo = tempo

    def drain(self) -> tuple[list[TraceLine], int]:
        if self._drained:
            return [], 0
        self._drained = True
        return self.lines, 0


class RecordedInside:
    """The nodes' inside feed: nothing until a test hands it a message (``take``)."""

    def __init__(self) -> None:
        self.nodes: dict[str, dict[str, Any]] = {}
        self.updates = 0
        self.watching = False
        self.problem = ""

    def watch(self, on: bool) -> None:
        self.watching = on
        if not on:
            self.nodes = {}

    def take(self, nodes: dict[str, dict[str, Any]]) -> None:
        self.nodes.update(nodes)
        self.updates += 1

    def merged(self, status: ClusterStatus) -> ClusterStatus:
        return merge_inside(status, self.nodes)


class RecordedOps:
    """The parts of ``Operations`` the dashboard uses, holding fixed data."""

    def __init__(
        self,
        status: ClusterStatus | None = HEALTHY,
        *,
        empty: bool = False,
        access: Access | None = None,
        trace: list[dict[str, Any]] | None = None,
    ) -> None:
        self.url = URL
        self.store = "reg_gh"
        self.access = access or Access()
        self.started_engine = True
        self.health = RecordedHealth(status)
        self.cluster = RecordedCluster(self.health)
        self.stores = RecordedStores()
        self.messages = RecordedMessages([] if empty else ELECTION if trace is None else trace)
        self.inside = RecordedInside()
        self.verdict = RecordedVerdict()
        if empty:
            self.observers = RecordedObservers([])
            self.producers = RecordedProducers([])
            self.subscriptions = RecordedSubscriptions([], [])
            self.streams = RecordedStreams({})
            return
        all_lines = [
            seen_line(record(f"greenhouse-{1 + n % 3}", 40 + n, 1200 + n)) for n in range(30)
        ]
        all_lines.insert(12, "⚠️  3 events dropped: this observer fell behind")
        payload_lines = [
            seen_line(record("greenhouse-2", 7 + 6 * n, 1203 + 6 * n)) for n in range(4)
        ]
        self.observers = RecordedObservers(
            [
                RecordedObserver(
                    ObserverRow(
                        "reg_gh:$all", "by_stream", "by_stream $all", 1240, 14.6, 3, "running", None
                    ),
                    all_lines,
                ),
                RecordedObserver(
                    ObserverRow(
                        "john",
                        "by_event_payload",
                        'by_event_payload %{operator: "John"}',
                        41,
                        0.8,
                        0,
                        "running",
                        None,
                    ),
                    payload_lines,
                ),
            ]
        )
        self.producers = RecordedProducers(
            [
                ProducerRow(
                    f"greenhouse-{n}", "random", 5.0, 410 + n, 409 + n, n - 1, "running", None
                )
                for n in (1, 2, 3)
            ]
            + [ProducerRow("greenhouse-4", "random", 5.0, 12, 11, 0, "stopped", None)]
        )
        # Parks one delivery in 300: the table shows the policy, the dialog starts from it.
        park = ConsumerPolicy("nack_park", 300)
        consumer = RecordedConsumer("my_sub", policy=park)
        for n in range(5):
            consumer.feed.push(received_line("my_sub", record("greenhouse-1", 20 + n, 1100 + n)))
        self.subscriptions = RecordedSubscriptions(
            [
                SubscriptionRow(
                    "my_sub",
                    "by_stream $all",
                    0,
                    1236,
                    consumers=1,
                    in_flight=0,
                    parked=4,
                    delivered=1240,
                    acked=1236,
                    nacked=4,
                    consuming_here=True,
                    policy=park,
                ),
                SubscriptionRow(
                    "heat",
                    "by_event_type heater_activated:v1",
                    0,
                    88,
                    consumers=0,
                    in_flight=0,
                    parked=2,
                    delivered=90,
                    acked=88,
                    nacked=2,
                    consuming_here=False,
                ),
            ],
            [consumer],
        )
        self.streams = RecordedStreams(
            {"greenhouse-1": 410, "greenhouse-2": 411, "greenhouse-3": 412}
        )

    @property
    def offer(self) -> Offer:
        """As ``Operations.offer``: what the recorded cluster view's backend offers."""
        latest = self.health.latest
        return EVERYTHING if latest is None or latest.status is None else latest.status.offer

    def running(self) -> Running:
        producers = [row for row in self.producers.rows() if row.state == "running"]
        return Running(len(self.observers.names()), len(producers), 1)

    async def switch_store(self, store: str) -> StoreSwitch:
        """The store named, an empty one (a new one only for an admin), nothing left running."""
        known = {row.store_id: row for row in STORES}
        if store not in known and self.access.role != "admin":
            raise OpsError(
                f"there is no store {store!r} (stores: reg_gh, shop); only an admin creates one"
            )
        row = known.get(store, StoreRow(store, 0, 0, 0))
        switch = StoreSwitch(self.store, row, store not in known, self.running())
        self.store = store
        self.health.follow(store)
        self.verdict = RecordedVerdict()
        self.observers = RecordedObservers([])
        self.producers = RecordedProducers([])
        self.subscriptions = RecordedSubscriptions([], [])
        self.streams = RecordedStreams({"shop-1": 30, "shop-2": 26})
        return switch

    def as_operations(self) -> Operations:
        """This stand-in, typed as what the app takes."""
        return cast(Operations, self)
