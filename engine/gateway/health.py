"""The gateway's health monitor: probes every node each round and keeps the cluster view.

Each round probes all nodes concurrently (HTTP ``GET /health``, TCP ``ping`` and TCP ``status``),
builds the view served as ``GET /api/cluster``, logs status changes in the ElysianGate format
and publishes the view and the changes to subscribers of the cluster event feed.

It also keeps the cluster's tempo (engine/protocol/tempo.py): its rounds come ``scale`` times
less often, and each round takes the newest tempo any node holds and brings every node that
answers to it (a node restarted at 1, one that was down when it was set, another gateway's).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

import orjson

from engine.config_model import ClusterConfig, NodeConfig
from engine.gateway.tcp_pool import NodePool
from engine.protocol.errors import GateError
from engine.protocol.tempo import Tempo, parse_tempo
from engine.transport.http_pool import HttpPool, HttpResponse
from engine.transport.monitor_core import QUEUE_SIZE, MonitorCore

ManagedInfo = Callable[[str], tuple[bool, int | None]]
NodeState = Callable[[str], str]  # a managed node's process: running, paused, stopped, exited
# A managed node's restarts after unexpected exits, and the return code of the last such exit.
RestartInfo = Callable[[str], tuple[int, int | None]]
_PROBE_ERRORS = (TimeoutError, OSError)  # OSError: ConnectionError, HttpProtocolError


class ClusterMonitor(Protocol):
    """What the gateway asks of a cluster monitor: :class:`HealthMonitor` for Gate's nodes,
    engine/jetstream/monitor.py ``JetStreamMonitor`` for nats-servers (picked at start-up by
    the backend, engine/gateway/main.py)."""

    on_member_event: Callable[[dict[str, Any]], None] | None
    tempo: Tempo
    leaders_pushed: int

    @property
    def view(self) -> dict[str, Any]: ...

    @property
    def leader(self) -> str | None: ...

    @property
    def leader_last_index(self) -> int: ...

    def fresh_nodes(self) -> list[str]: ...

    def damaged_nodes(self) -> set[str]: ...

    def note_damaged(self, node_id: str, reason: str) -> None: ...

    def note_leader_hint(self, node_id: str, term: int | None = None) -> None: ...

    def note_membership(self, membership: Any) -> None: ...

    def set_tempo(self, tempo: Tempo) -> None: ...

    def leader_moved(self) -> asyncio.Future[None]: ...

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]: ...

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None: ...

    def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def refresh(self) -> dict[str, Any]: ...


@dataclass(slots=True)
class _Probe:
    """What one round learned about one node."""

    http_up: bool = False
    http_latency_ms: float | None = None
    tcp_up: bool = False
    tcp_latency_ms: float | None = None
    status: dict[str, Any] | None = None


class HealthMonitor(MonitorCore):
    """Probes the nodes every ``interval`` seconds and maintains the cluster view."""

    def __init__(
        self,
        config: ClusterConfig,
        pool: NodePool,
        *,
        interval: float | None = None,
        probe_timeout: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        log: logging.Logger | None = None,
        managed_info: ManagedInfo | None = None,
        node_state: NodeState | None = None,
        restart_info: RestartInfo | None = None,
        queue_size: int = QUEUE_SIZE,
    ) -> None:
        super().__init__(queue_size=queue_size, log=log or logging.getLogger("gate.health"))
        self._config = config
        self._pool = pool
        self.members = pool.members
        # Called with each membership event (the gateway launches or stops managed nodes).
        self.on_member_event: Callable[[dict[str, Any]], None] | None = None
        self._interval = config.gateway.health_interval if interval is None else interval
        self.tempo = Tempo()
        self._retimed = asyncio.Event()  # wakes the rounds' sleep when the tempo changes
        self._pushes: set[asyncio.Task[None]] = set()  # tempo pushed to nodes behind
        # Short enough that a hung node does not stall the rounds for long, long enough that a
        # busy node on a loaded machine is not reported down.
        self._probe_timeout = (
            min(1.0, max(0.5, self._interval)) if probe_timeout is None else probe_timeout
        )
        self._clock = clock
        self._managed_info = managed_info
        self._node_state = node_state
        self._restart_info = restart_info
        self._started_at = time.time()  # repairs finished before are not news
        self._http: dict[str, HttpPool] = {}  # per node, for the HTTP probes
        # A node's /status needs a reader's token once tokens exist (docs/API.md, "Roles").
        token = next((t.token for t in config.security.all_tokens), None)
        self._http_auth = [("Authorization", f"Bearer {token}")] if token else []
        # Per node: (role, http up, tcp up) as last logged; the last role seen while up.
        self._logged: dict[str, tuple[str, bool, bool]] = {}
        self._last_role = {n.node_id: n.config_role for n in config.nodes}
        self._links: dict[str, tuple[bool, list[str], list[str]]] = {}  # as last published
        self._faults: dict[str, list[dict[str, Any]]] = {}  # link faults, as last published
        self._damaged: dict[str, str | None] = {}  # as last published
        self._repairing: dict[str, str | None] = {}  # as last published
        self._repaired: dict[str, Any] = {}  # each node's last finished repair, as published
        self._disk_full: dict[str, str | None] = {}  # as last logged
        self._hint: tuple[str, int] | None = None  # (leader, term) from a not_leader answer
        self._view = {
            "leader": None,
            "term": 0,
            "nodes": [],
            "tempo": self.tempo.to_json(),
        }
        self._leader_last = 0
        self._hint_sure = False  # whether the hint was pushed (see _leadership_pushed)
        self._hint_handed = False  # the pushed leader said it was handed over (a transfer)
        self.leaders_pushed = 0  # leaders adopted from a node's announcement (a metric)
        self._watched: set[str] = set()
        for node in self.members.nodes:
            self._watch(node)

    def _watch(self, node: NodeConfig) -> None:
        """Listen to the node's leadership announcements (once per member)."""
        if node.tcp.enabled and node.node_id not in self._watched:
            self._watched.add(node.node_id)
            self._pool.get(node.node_id).watch(partial(self._leadership_pushed, node.node_id))

    # -- public state ------------------------------------------------------------------------

    @property
    def leader_last_index(self) -> int:
        """The leader's last log index in the latest round (0 when no leader answered)."""
        return self._leader_last

    def fresh_nodes(self) -> list[str]:
        """Followers that are up, within ``replication.freshLag`` of the leader and not damaged."""
        return [n["node_id"] for n in self._view["nodes"] if n["role"] == "follower" and n["fresh"]]

    def damaged_nodes(self) -> set[str]:
        """Nodes out of the read rotation: a store of theirs failed its checks."""
        return {n["node_id"] for n in self._view["nodes"] if n.get("damaged")}

    def note_damaged(self, node_id: str, reason: str) -> None:
        """Take a node out of the read rotation now, on its ``store_damaged`` answer, not at the
        next round (which then reads the same from the node's status)."""
        nodes = []
        for entry in self._view["nodes"]:
            if entry["node_id"] == node_id and not entry.get("damaged"):
                entry = entry | {"damaged": reason, "fresh": False}
                self._note_changes(entry)
            nodes.append(entry)
        self._view = self._view | {"nodes": nodes}

    def note_leader_hint(self, node_id: str, term: int | None = None) -> None:
        """Take a ``not_leader`` hint from a node: ``node_id`` leads in ``term``.

        Adopted at once (so a retried write goes to the new leader without waiting for a
        round) unless it is older than what the monitor already knows; a hint without a term
        counts as the current term.  Later rounds replace it once they see that term.
        """
        term = self._term if term is None else term
        if node_id not in self.members or term < self._term or node_id == self._leader:
            return
        self._hint = (node_id, term)
        self._hint_sure = False
        self._hint_handed = False
        self._set_leader(node_id, term)

    def _leadership_pushed(self, node_id: str, msg: dict[str, Any]) -> None:
        """A node announced its role, term and leader (engine/node/leadership.py).

        A leader of a newer term is adopted at once: this is how a write waiting on a leader
        that froze or was cut off learns where to go, without waiting for a health round
        (which a frozen node holds for a probe timeout).  Only news counts: an older or
        equal term changes nothing the rounds do not already handle.
        """
        if msg.get("push") != "leadership":
            return
        term = msg.get("term")
        if not isinstance(term, int) or isinstance(term, bool):
            return
        leader = node_id if msg.get("role") == "leader" else msg.get("leader")
        if not isinstance(leader, str):
            return
        # Only the leader knows how it won; a follower naming it leaves that unknown (False).
        handed = leader == node_id and msg.get("handed_over") is True
        if term > self._term or (term == self._term and self._leader is None):
            before = self._leader
            self.note_leader_hint(leader, term)
            if self._leader != before:
                self.leaders_pushed += 1
                # Pushed, the leader and its term are facts (a node names only a leader it has
                # heard from in that term), so its row may say so; a ``not_leader`` hint may
                # name a transfer's target before it has won, in the old term.
                self._hint_sure = True
                self._hint_handed = handed
                self._view = self._view | {"nodes": self._rows_led_by(leader, term)}
        elif handed and (leader, term) == (self._leader, self._term) and not self._hint_handed:
            # The leader's own word, after a follower named it first: its row says it was
            # handed over, so the consoles' timelines tell a transfer, not a failover.
            self._hint_handed = True
            self._view = self._view | {"nodes": self._rows_led_by(leader, term)}

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        """Start the periodic rounds (call from a running event loop)."""
        if self._loop_task is None:
            self._loop_task = asyncio.create_task(self._run(), name="gate-health")

    async def stop(self) -> None:
        """Stop the rounds and close the HTTP connections."""
        await self._stop_rounds()
        for push in list(self._pushes):
            push.cancel()
        for http in self._http.values():
            http.close()
        self._http.clear()

    async def _run(self) -> None:
        while True:
            started = self._clock()
            # Only a change of tempo during this round or the pause after it cuts the pause short.
            self._retimed.clear()
            try:
                await self.refresh()
            except Exception:
                # A bug in one round must not end the monitoring; the next round retries.
                self._log.exception("health round failed")
            pause = self._interval * self.tempo.scale - (self._clock() - started)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._retimed.wait(), max(0.0, pause))

    # -- tempo -----------------------------------------------------------------------------

    def set_tempo(self, tempo: Tempo) -> None:
        """Take ``tempo`` as the cluster's: the rounds' pace follows at once, a
        ``tempo_changed`` event is published, and the rounds bring the nodes to it."""
        previous, self.tempo = self.tempo, tempo
        self._view = self._view | {"tempo": tempo.to_json()}
        if tempo.scale != previous.scale:
            self._log.info("Tempo %s (was %s)", tempo.text, previous.text)
            self._publish(
                {"type": "tempo_changed", "scale": tempo.scale, "previous": previous.scale}
            )
            self._retimed.set()

    def _follow_tempo(self, statuses: dict[str, dict[str, Any]]) -> None:
        """Take the newest tempo a node holds, then push ours to each node not at it."""
        held: dict[str, Tempo] = {}
        for node_id, status in statuses.items():
            with contextlib.suppress(GateError):
                held[node_id] = parse_tempo(status.get("tempo"))
        newest = max(held.values(), key=lambda t: t.since, default=self.tempo)
        if newest.since > self.tempo.since:
            self.set_tempo(newest)
        for node_id, tempo in held.items():
            if tempo != self.tempo:
                push = asyncio.create_task(self._push_tempo(node_id, self.tempo))
                self._pushes.add(push)
                push.add_done_callback(self._pushes.discard)

    async def _push_tempo(self, node_id: str, tempo: Tempo) -> None:
        """Tell one node the tempo (best effort: the next round tries again)."""
        msg = {"op": "tempo", "tempo": tempo.to_json()}
        with contextlib.suppress(*_PROBE_ERRORS, KeyError):
            await self._pool.get(node_id).request(msg, self._probe_timeout)

    # -- one round -----------------------------------------------------------------------------

    async def _probe_round(self) -> dict[str, Any]:
        nodes = self.members.nodes
        probes = await asyncio.gather(*(self._probe(node) for node in nodes))
        view = self._apply(dict(zip((n.node_id for n in nodes), probes, strict=True)))
        self._publish({"type": "cluster", **view})
        return view

    def note_membership(self, membership: Any) -> None:
        """Take a committed membership (a leader's status or answer): publish what changed,
        and tell the gateway (``on_member_event``)."""
        for event in self.members.learn(membership):
            node_id = event["node_id"]
            if event["type"] == "member_added":
                self._watch(self.members.node(node_id))
                self._log.info("Node %s joins the cluster as a %s", node_id, _kind(event))
            elif event["type"] == "member_promoted":
                self._log.info("Node %s promoted to voter", node_id)
            else:
                self._log.info("Node %s removed from the cluster", node_id)
                self._watched.discard(node_id)
                self._pool.drop(node_id)
            self._publish(event)
            if self.on_member_event is not None:
                self.on_member_event(event)

    async def _probe(self, node: NodeConfig) -> _Probe:
        probe = _Probe()
        await asyncio.gather(self._probe_http(node, probe), self._probe_tcp(node, probe))
        return probe

    async def _probe_http(self, node: NodeConfig, probe: _Probe) -> None:
        if not node.http.enabled:
            return
        started = self._clock()
        try:
            probe.http_up = (await self._get(node, "/health")).status == 200
        except _PROBE_ERRORS:
            return
        if probe.http_up:
            probe.http_latency_ms = _ms(self._clock() - started)
        if not node.tcp.enabled:
            # Without a TCP endpoint the node's status can only come over HTTP.
            probe.status = await self._http_status(node)

    async def _http_status(self, node: NodeConfig) -> dict[str, Any] | None:
        try:
            resp = await self._get(node, "/status")
            status = orjson.loads(resp.body) if resp.status == 200 else None
        except (*_PROBE_ERRORS, orjson.JSONDecodeError):
            return None
        return status if isinstance(status, dict) else None

    async def _get(self, node: NodeConfig, path: str) -> HttpResponse:
        http = self._http.get(node.node_id)
        if http is None:
            endpoint = node.http
            http = self._http[node.node_id] = HttpPool(
                endpoint.connect_host, endpoint.port, tls=self._pool.tls
            )
        async with asyncio.timeout(self._probe_timeout):
            return await http.request("GET", path, None, self._http_auth)

    async def _probe_tcp(self, node: NodeConfig, probe: _Probe) -> None:
        if not node.tcp.enabled:
            return
        conn = self._pool.get(node.node_id)

        async def ping() -> None:
            started = self._clock()
            try:
                answer = await conn.request({"op": "ping"}, self._probe_timeout)
            except _PROBE_ERRORS:
                return
            if answer.get("ok"):
                probe.tcp_up = True
                probe.tcp_latency_ms = _ms(self._clock() - started)

        async def status() -> None:
            try:
                answer = await conn.request({"op": "status"}, self._probe_timeout)
            except _PROBE_ERRORS:
                return
            result = answer.get("result")
            if answer.get("ok") and isinstance(result, dict):
                probe.status = result
                # A newly elected leader is adopted the moment it answers, not when the whole
                # round ends: a frozen old leader would otherwise hold the round for a timeout.
                term = result.get("term")
                if result.get("role") == "leader" and isinstance(term, int) and term > self._term:
                    self.note_leader_hint(node.node_id, term)

        await asyncio.gather(ping(), status())

    def _apply(self, probes: dict[str, _Probe]) -> dict[str, Any]:
        """Turn one round's probes into the view; log, set the leader and publish changes."""
        statuses = {nid: p.status for nid, p in probes.items() if p.status is not None}
        term = max((status_int(s.get("term")) for s in statuses.values()), default=self._term)
        # A node still saying "leader" with a term below another node's term is stale.
        leaders = [
            nid
            for nid, s in statuses.items()
            if s.get("role") == "leader" and status_int(s.get("term")) == term
        ]
        leader = leaders[0] if len(leaders) == 1 else None
        # A hint newer than this round's probes (they may predate the failover) stands.
        hint = self._hint
        hinted = False
        if hint and (
            hint[1] > term or (hint[1] == term and leader is None and hint[0] in statuses)
        ):
            leader, term = hint
            hinted = True
        else:
            self._hint = None
        leader_last = status_int(statuses[leader].get("last_index")) if leader in statuses else None
        self._leader_last = leader_last or 0
        membership = statuses[leader].get("membership") if leader in statuses else None
        if isinstance(membership, dict) and membership.get("pending") is False:
            self.note_membership(membership)
        # Members learned in this round show from the next (they were not probed).
        nodes = [
            self._node_view(node, probes[node.node_id], leader, leader_last)
            for node in self.members.nodes
            if node.node_id in probes
        ]
        for entry in nodes:
            self._note_changes(entry)
        self._view = {
            "leader": self._leader,
            "term": self._term,
            "nodes": nodes,
            "tempo": self.tempo.to_json(),
        }
        self._set_leader(leader, term)
        self._follow_tempo(statuses)
        if hinted and self._hint_sure and leader is not None:
            self._view = self._view | {"nodes": self._rows_led_by(leader, term)}
        return self._view

    def _node_view(
        self, node: NodeConfig, probe: _Probe, leader: str | None, leader_last: int | None
    ) -> dict[str, Any]:
        status = probe.status
        role = str(status.get("role", "follower")) if status is not None else "down"
        managed, pid = self._managed_info(node.node_id) if self._managed_info else (False, None)
        restarts, exit_code = self._restart_info(node.node_id) if self._restart_info else (0, None)
        entry: dict[str, Any] = {
            "node_id": node.node_id,
            "role": role,
            "preferred": node.preferred,
            "voter": self.members.voter(node.node_id),
            "http": {
                "addr": node.http.addr,
                "enabled": node.http.enabled,
                "up": probe.http_up,
                "latency_ms": probe.http_latency_ms,
            },
            "tcp": {
                "addr": node.tcp.addr,
                "enabled": node.tcp.enabled,
                "up": probe.tcp_up,
                "latency_ms": probe.tcp_latency_ms,
            },
            "term": None,
            "commit_position": None,
            "applied_position": None,
            "lag": None,
            "fresh": False,
            "serving": False,
            "managed": managed,
            "pid": pid,
            # A paused node does not answer, like a dead one: only its supervisor tells them apart.
            "state": self._node_state(node.node_id) if self._node_state else None,
            # Links cut by isolate (docs/API.md): only a node that answers can say.
            "isolated": False,
            "cuts": {"in": [], "out": []},
            # Its outgoing link faults ({"to", "drop", "delayMs", "duplicate", "seed"}).
            "link_faults": [],
            # Why the node serves no reads (a store failed its checks), null when it does.
            "damaged": None,
            # Why the node rebuilds its data from the leader (engine/node/repair.py), or null;
            # and its last finished repair ({"reason", "source", "seconds", "at"}) or null.
            "repairing": None,
            "repaired": None,
            # Why a node that answers takes no new entries, e.g. "disk full (data/node2: 3 MB
            # free)"; None when it takes them (or does not answer).
            "disk_full": None,
            "restarts": restarts,
            "exit_code": exit_code,
            # The span of the Raft log the node holds (older entries compacted into a snapshot).
            "log": None,
            # Each node's inside, as its status reports it (docs/ENGINE.md, "Node status").
            "voted_for": None,
            "started_at": None,
            "uptime_s": None,
            "election_timer": None,
            "progress": None,
            # On the leader: it was handed the leadership (a transfer), not elected in a failover.
            "handed_over": False,
        }
        if status is not None:
            applied = status_int(status.get("applied_position"))
            lag = None
            if node.node_id == leader:
                lag = 0
            elif leader_last is not None:
                lag = max(0, leader_last - applied)
            damaged = status.get("damaged")
            damaged = damaged if isinstance(damaged, str) and damaged else None
            repairing = status.get("repairing")
            repairing = repairing if isinstance(repairing, str) and repairing else None
            repaired = status.get("repaired")
            entry.update(
                term=status_int(status.get("term")),
                commit_position=status_int(status.get("commit_position")),
                applied_position=applied,
                lag=lag,
                fresh=(
                    lag is not None
                    and lag <= self._config.replication.fresh_lag
                    and not damaged
                    and not repairing
                ),
                damaged=damaged,
                repairing=repairing,
                repaired=repaired if isinstance(repaired, dict) else None,
                serving=bool(status.get("serving", False)),
                isolated=status.get("isolated") is True,
                handed_over=status.get("handed_over") is True,
                disk_full=status["disk_full"] if isinstance(status.get("disk_full"), str) else None,
            )
            faults = status.get("link_faults")
            if isinstance(faults, list):
                entry["link_faults"] = [
                    {"from": node.node_id, **f} for f in faults if isinstance(f, dict)
                ]
            cuts = status.get("cuts")
            if isinstance(cuts, dict):
                entry["cuts"] = {side: _names(cuts.get(side)) for side in ("in", "out")}
            span = status.get("log")
            if isinstance(span, dict):
                entry["log"] = {
                    "first_index": status_int(span.get("first_index")),
                    "last_index": status_int(span.get("last_index")),
                }
            entry.update(inside_fields(status))
            if pid is None and isinstance(status.get("pid"), int):
                entry["pid"] = status["pid"]
        return entry

    def _note_changes(self, entry: dict[str, Any]) -> None:
        node_id = entry["node_id"]
        up = entry["role"] != "down"
        if up:
            self._last_role[node_id] = entry["role"]
        http, tcp = entry["http"], entry["tcp"]
        state = (self._last_role.get(node_id, "follower"), http["up"], tcp["up"])
        if self._logged.get(node_id) != state:
            self._logged[node_id] = state
            self._log_status(node_id, state[0], http, tcp, up)
        if up:  # a node that does not answer cannot say; a restarted one has no cuts
            links = (entry["isolated"], entry["cuts"]["in"], entry["cuts"]["out"])
            if self._links.get(node_id, (False, [], [])) != links:
                self._links[node_id] = links
                self._publish(
                    {
                        "type": "links_changed",
                        "node_id": node_id,
                        "isolated": entry["isolated"],
                        "cuts": entry["cuts"],
                    }
                )
        if up and self._faults.get(node_id, []) != entry["link_faults"]:
            self._faults[node_id] = entry["link_faults"]
            self._publish(
                {"type": "link_faults_changed", "node_id": node_id, "faults": entry["link_faults"]}
            )
        damaged = entry.get("damaged")
        if up and self._damaged.get(node_id) != damaged:
            self._damaged[node_id] = damaged
            if damaged:
                self._log.error(f"Node {node_id} serves no reads: {damaged}")
            self._publish({"type": "node_damaged", "node_id": node_id, "damaged": damaged})
        if up:
            self._note_repairs(entry)
        if up and self._disk_full.get(node_id) != entry["disk_full"]:
            self._disk_full[node_id] = entry["disk_full"]
            if entry["disk_full"] is not None:
                self._log.warning("Node %s: %s, takes no new entries", node_id, entry["disk_full"])
            else:
                self._log.info("Node %s: disk space back, takes new entries", node_id)
        self._note_up_and_restarts(entry)

    def _note_repairs(self, entry: dict[str, Any]) -> None:
        """Publish a node's repair as it starts and once it is done (timeline events)."""
        node_id, repairing, repaired = entry["node_id"], entry["repairing"], entry["repaired"]
        source = self._leader if self._leader != node_id else None
        if self._repairing.get(node_id) != repairing:
            self._repairing[node_id] = repairing
            if repairing is not None:
                self._log.error(f"Node {node_id} repairing: {repairing}; rebuilding from {source}")
                self._publish(
                    {
                        "type": "node_repairing",
                        "node_id": node_id,
                        "reason": repairing,
                        "source": source,
                    }
                )
        if repaired is not None and self._repaired.get(node_id) != repaired:
            known = node_id in self._repaired
            self._repaired[node_id] = repaired
            if known or repaired.get("at", 0) >= self._started_at:
                self._log.info(
                    f"Node {node_id} repaired from {repaired.get('source')} in "
                    f"{repaired.get('seconds')} s"
                )
                self._publish({"type": "node_repaired", "node_id": node_id, **repaired})

    def _log_status(
        self, node_id: str, role: str, http: dict[str, Any], tcp: dict[str, Any], up: bool
    ) -> None:
        # ElysianGate's format, e.g.
        # Node leader (node1) [HTTP 127.0.0.1:8090 | TCP 127.0.0.1:8890] : 🟢 HTTP up | 🔴 TCP down
        parts = [(name, ep) for name, ep in (("HTTP", http), ("TCP", tcp)) if ep["enabled"]]
        addrs = " | ".join(f"{name} {ep['addr']}" for name, ep in parts)
        states = " | ".join(
            f"🟢 {name} up" if ep["up"] else f"🔴 {name} down" for name, ep in parts
        )
        all_up = up and all(ep["up"] for _, ep in parts)
        self._log.log(
            logging.INFO if all_up else logging.WARNING,
            f"Node {role} ({node_id}) [{addrs}] : {states}",
        )

    def _set_leader(self, leader: str | None, term: int) -> None:
        previous = self._leader
        self._leader = leader
        self._term = term
        self._view = self._view | {"leader": leader, "term": term}
        if leader != previous:
            self._leader_changed(leader, previous, term)

    def _rows_led_by(self, leader: str, term: int) -> list[dict[str, Any]]:
        """The node rows agreeing with an adopted leader, so the view never names a leader its
        own rows call a follower; the next round replaces them with what the nodes say.  A
        row that still claims leadership is demoted and taken out of the read rotation."""
        rows = []
        for entry in self._view["nodes"]:
            if entry["role"] == "down":
                pass
            elif entry["node_id"] == leader:
                entry = entry | {"role": "leader", "term": term, "fresh": False}
                if self._hint_handed:  # else its probe's word stands
                    entry["handed_over"] = True
            elif entry["role"] == "leader":
                entry = entry | {"role": "follower", "fresh": False, "handed_over": False}
            rows.append(entry)
        return rows


def _kind(event: dict[str, Any]) -> str:
    return "voter" if event.get("voter") else "learner"


def _ms(seconds: float) -> float:
    return round(seconds * 1000.0, 3)


def status_int(value: Any) -> int:
    """A status field as an int (0 when a node leaves it out or sends garbage)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _names(value: Any) -> list[str]:
    """A status field that lists node ids (empty when a node leaves it out or sends garbage)."""
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def inside_fields(status: dict[str, Any]) -> dict[str, Any]:
    """The fields of a node's status that show its inside: its vote, since when it runs, its
    election timer and, on a leader, each follower's progress (garbage reads as null)."""
    voted = status.get("voted_for")
    started = status.get("started_at")
    uptime = status.get("uptime_s")
    timer = status.get("election_timer")
    progress = status.get("progress")
    return {
        "voted_for": voted if isinstance(voted, str) else None,
        "started_at": started if isinstance(started, int | float) else None,
        "uptime_s": uptime if isinstance(uptime, int | float) else None,
        "election_timer": (
            {key: status_int(timer.get(key)) for key in ("elapsed_ms", "timeout_ms")}
            if isinstance(timer, dict)
            else None
        ),
        "progress": (
            {
                peer: {
                    "match": status_int(pr.get("match")),
                    "next": status_int(pr.get("next")),
                    "state": str(pr.get("state")),
                }
                for peer, pr in progress.items()
                if isinstance(peer, str) and isinstance(pr, dict)
            }
            if isinstance(progress, dict)
            else None
        ),
    }
