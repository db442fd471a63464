"""The cluster view of a ``backend: jetstream`` gateway, from the nats-servers themselves.

Each round asks every server, concurrently, over its monitoring port: ``/healthz`` (HTTP up: 200),
``/varz`` (version, start time), ``/jsz?streams=true`` (the meta leader, and the streams this
server holds with their leader and replicas), ``/routez`` (the servers it has routes to) and,
on servers that have it (2.10 and later), ``/raftz`` (the meta group's Raft term); and over its
client port it reads the ``INFO`` line every NATS server sends first (TCP up).  The result is the
shape ``GET /api/cluster`` serves for Gate's own nodes (engine/gateway/health.py), so the
consoles show either backend the same way, plus a ``streams`` list: each stream's leader and its
replicas' lag as the stream's leader reports them.

Its changes are published as the Gate monitor's are: ``node_up``, ``node_down``, ``node_restarted``,
``leader_changed`` (the JetStream meta leader, with its term where the servers expose one), and
``stream_leader_changed`` for each stream whose Raft group elected another leader; so the
failover timeline shows JetStream's elections.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from engine.config_model import ClusterConfig, NodeConfig
from engine.protocol.errors import GateError
from engine.protocol.tempo import Tempo
from engine.transport.http_pool import HttpPool, HttpResponse
from engine.transport.monitor_core import QUEUE_SIZE, MonitorCore

ManagedInfo = Callable[[str], tuple[bool, int | None]]
NodeState = Callable[[str], str]
RestartInfo = Callable[[str], tuple[int, int | None]]
_PROBE_ERRORS = (TimeoutError, OSError, orjson.JSONDecodeError)
_INFO_MAX = 64 * 1024  # a NATS INFO line is a few hundred bytes; anything longer is not NATS


@dataclass(slots=True)
class _Probe:
    """What one round learned about one server."""

    http_up: bool = False
    http_latency_ms: float | None = None
    tcp_up: bool = False
    tcp_latency_ms: float | None = None
    answered: bool = False  # the monitoring port answered (whether or not /healthz said 200)
    varz: dict[str, Any] = field(default_factory=dict)
    jsz: dict[str, Any] = field(default_factory=dict)
    routes: list[str] = field(default_factory=list)
    term: int | None = None  # the meta group's term, from /raftz


class JetStreamMonitor(MonitorCore):
    """Probes the nats-servers every ``gateway.healthInterval`` and keeps the cluster view.

    It offers what the gateway asks of Gate's ``HealthMonitor`` (the view, the leader, the event
    feed, a round now); reads and writes go to JetStream through the backend, not through it,
    so no server is ever "fresh" for the Gate router.
    """

    def __init__(
        self,
        config: ClusterConfig,
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
        self._nodes = config.nodes
        self._interval = config.gateway.health_interval if interval is None else interval
        self._probe_timeout = (
            min(1.0, max(0.5, self._interval)) if probe_timeout is None else probe_timeout
        )
        self._clock = clock
        self._managed_info = managed_info
        self._node_state = node_state
        self._restart_info = restart_info
        self.on_member_event: Callable[[dict[str, Any]], None] | None = None
        self.tempo = Tempo()  # JetStream keeps its own timing: always the config's
        self.leaders_pushed = 0  # servers push nothing to the gateway: rounds only
        self._http: dict[str, HttpPool] = {}
        self._logged: dict[str, tuple[bool, bool]] = {}
        self._stream_leaders: dict[str, str | None] = {}
        self._view = {
            "leader": None,
            "term": 0,
            "nodes": [],
            "tempo": self.tempo.to_json(),
            "backend": "jetstream",
            "streams": [],
        }

    # -- what the gateway reads ---------------------------------------------------------------

    # The leader is the JetStream meta leader's server; the term the meta group's where the
    # servers expose it (``/raftz``), else 0.

    @property
    def leader_last_index(self) -> int:
        return 0

    def fresh_nodes(self) -> list[str]:
        return []

    def damaged_nodes(self) -> set[str]:
        return set()

    def note_damaged(self, node_id: str, reason: str) -> None:
        """JetStream repairs its own replicas; nothing of Gate's read rotation to change."""

    def note_leader_hint(self, node_id: str, term: int | None = None) -> None:
        """No Gate node answers ``not_leader`` here: the rounds alone say who leads."""

    def note_membership(self, membership: Any) -> None:
        """The servers are the config's; JetStream's peers are not changed through Gate."""

    def set_tempo(self, tempo: Tempo) -> None:
        raise GateError(
            "invalid_request", "backend jetstream: nats-servers keep their own timing (no tempo)"
        )

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        if self._loop_task is None:
            self._loop_task = asyncio.create_task(self._run(), name="gate-jetstream-health")

    async def stop(self) -> None:
        await self._stop_rounds()
        for http in self._http.values():
            http.close()
        self._http.clear()

    async def _run(self) -> None:
        while True:
            started = self._clock()
            try:
                await self.refresh()
            except Exception:
                self._log.exception("health round failed")
            await asyncio.sleep(max(0.0, self._interval - (self._clock() - started)))

    # -- one round ----------------------------------------------------------------------------

    async def _probe_round(self) -> dict[str, Any]:
        probes = await asyncio.gather(*(self._probe(node) for node in self._nodes))
        view = self._apply(dict(zip((n.node_id for n in self._nodes), probes, strict=True)))
        self._publish({"type": "cluster", **view})
        return view

    async def _probe(self, node: NodeConfig) -> _Probe:
        probe = _Probe()
        await asyncio.gather(self._probe_http(node, probe), self._probe_tcp(node, probe))
        return probe

    async def _get(self, node: NodeConfig, path: str) -> HttpResponse:
        http = self._http.get(node.node_id)
        if http is None:
            http = self._http[node.node_id] = HttpPool(node.http.connect_host, node.http.port)
        async with asyncio.timeout(self._probe_timeout):
            return await http.request("GET", path)

    async def _probe_http(self, node: NodeConfig, probe: _Probe) -> None:
        started = self._clock()
        try:
            # Any answer means the server runs; 200 that JetStream is current there too.
            probe.http_up = (await self._get(node, "/healthz")).status == 200
        except _PROBE_ERRORS:
            return
        probe.answered = True
        probe.http_latency_ms = _ms(self._clock() - started)

        async def fetch(path: str) -> Any:
            with contextlib.suppress(*_PROBE_ERRORS):
                resp = await self._get(node, path)
                return orjson.loads(resp.body) if resp.status == 200 else None
            return None

        varz, jsz, routez, raftz = await asyncio.gather(
            fetch("/varz"), fetch("/jsz?streams=true"), fetch("/routez"), fetch("/raftz")
        )
        probe.varz = varz if isinstance(varz, dict) else {}
        probe.jsz = jsz if isinstance(jsz, dict) else {}
        routes = routez.get("routes") if isinstance(routez, dict) else None
        if isinstance(routes, list):
            names = {r.get("remote_name") for r in routes if isinstance(r, dict)}
            probe.routes = sorted(n for n in names if isinstance(n, str))
        probe.term = _meta_term(raftz)

    async def _probe_tcp(self, node: NodeConfig, probe: _Probe) -> None:
        """Up when the client port sends the ``INFO`` line every NATS server begins with."""
        started = self._clock()
        writer = None
        try:
            async with asyncio.timeout(self._probe_timeout):
                reader, writer = await asyncio.open_connection(
                    node.tcp.connect_host, node.tcp.port, limit=_INFO_MAX
                )
                line = await reader.readline()
        except (TimeoutError, OSError, ValueError):
            return
        finally:
            if writer is not None:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
        if line.startswith(b"INFO "):
            probe.tcp_up = True
            probe.tcp_latency_ms = _ms(self._clock() - started)

    def _apply(self, probes: dict[str, _Probe]) -> dict[str, Any]:
        # The meta leader as the servers that answer name it; the leader's own word first.
        named = [_meta(p.jsz).get("leader") for p in probes.values() if p.answered and p.jsz]
        leader = next(
            (nid for nid, p in probes.items() if p.answered and _meta(p.jsz).get("leader") == nid),
            None,
        )
        if leader is None:
            names = [n for n in named if isinstance(n, str) and n in probes]
            leader = names[0] if names and names.count(names[0]) == len(names) else None
        if leader is not None and not probes[leader].answered:
            leader = None  # named by followers that have not noticed it died yet
        term = probes[leader].term if leader is not None else None
        streams = _streams(probes)
        lags = _lags(streams)
        nodes = [self._row(node, probes[node.node_id], leader, lags) for node in self._nodes]
        for entry in nodes:
            self._note_changes(entry)
        self._note_stream_leaders(streams)
        self._view = {
            "leader": leader,
            "term": term if term is not None else 0,
            "nodes": nodes,
            "tempo": self.tempo.to_json(),
            "backend": "jetstream",
            "streams": streams,
        }
        self._set_leader(leader, term)
        return self._view

    def _row(
        self, node: NodeConfig, probe: _Probe, leader: str | None, lags: dict[str, int]
    ) -> dict[str, Any]:
        node_id = node.node_id
        managed, pid = self._managed_info(node_id) if self._managed_info else (False, None)
        restarts, exit_code = self._restart_info(node_id) if self._restart_info else (0, None)
        up = probe.answered
        role = "down" if not up else "leader" if node_id == leader else "follower"
        varz = probe.varz
        uptime = varz.get("uptime")
        return {
            "node_id": node_id,
            "role": role,
            "preferred": node.preferred,
            "voter": True,
            "http": {
                "addr": node.http.addr,
                "enabled": True,
                "up": probe.http_up,
                "latency_ms": probe.http_latency_ms,
            },
            "tcp": {
                "addr": node.tcp.addr,
                "enabled": True,
                "up": probe.tcp_up,
                "latency_ms": probe.tcp_latency_ms,
            },
            "term": probe.term if up else None,
            "commit_position": None,
            "applied_position": None,
            # The most its replicas trail their stream leaders, in messages (0 on a leader).
            "lag": lags.get(node_id, 0) if up else None,
            "fresh": False,
            "serving": probe.http_up,
            "managed": managed,
            "pid": pid,
            "state": self._node_state(node_id) if self._node_state else None,
            "isolated": False,
            "cuts": {"in": [], "out": []},
            "link_faults": [],
            "damaged": None,
            "repairing": None,
            "repaired": None,
            "disk_full": None,
            "restarts": restarts,
            "exit_code": exit_code,
            "log": None,
            "voted_for": None,
            "started_at": None,
            "uptime_s": _duration_s(uptime) if isinstance(uptime, str) else None,
            "election_timer": None,
            "progress": None,
            "handed_over": False,  # the meta leader cannot be moved here
            "version": varz.get("version") if up else None,
            "routes": probe.routes,
        }

    # -- changes ------------------------------------------------------------------------------

    def _note_changes(self, entry: dict[str, Any]) -> None:
        node_id = entry["node_id"]
        http, tcp = entry["http"], entry["tcp"]
        if self._logged.get(node_id) != (http["up"], tcp["up"]):
            self._logged[node_id] = (http["up"], tcp["up"])
            states = " | ".join(
                f"🟢 {name} up" if ep["up"] else f"🔴 {name} down"
                for name, ep in (("HTTP", http), ("TCP", tcp))
            )
            self._log.log(
                logging.INFO if http["up"] and tcp["up"] else logging.WARNING,
                f"nats-server {node_id} [HTTP {http['addr']} | TCP {tcp['addr']}] : {states}",
            )
        self._note_up_and_restarts(entry)

    def _note_stream_leaders(self, streams: list[dict[str, Any]]) -> None:
        for stream in streams:
            name, leader = stream["stream"], stream["leader"]
            if name in self._stream_leaders and self._stream_leaders[name] == leader:
                continue
            previous = self._stream_leaders.get(name)
            self._stream_leaders[name] = leader
            if leader is None and previous is None:
                continue
            self._log.info("JetStream stream %s: leader %s (was %s)", name, leader, previous)
            self._publish(
                {
                    "type": "stream_leader_changed",
                    "stream": name,
                    "leader": leader,
                    "previous": previous,
                }
            )

    def _set_leader(self, leader: str | None, term: int | None) -> None:
        previous = self._leader
        self._leader = leader
        if term is not None:
            self._term = term
        if leader != previous:
            self._log.info("JetStream meta leader: %s (was %s)", leader, previous)
            self._leader_changed(leader, previous, term)


def _meta(jsz: dict[str, Any]) -> dict[str, Any]:
    meta = jsz.get("meta_cluster")
    return meta if isinstance(meta, dict) else {}


def _meta_term(raftz: Any) -> int | None:
    """The meta group's term in a ``/raftz`` answer (``{"$SYS": {"_meta_": {"term": 3}}}``)."""
    if not isinstance(raftz, dict):
        return None
    groups = raftz.get("$SYS")
    meta = groups.get("_meta_") if isinstance(groups, dict) else None
    term = meta.get("term") if isinstance(meta, dict) else None
    return term if isinstance(term, int) and not isinstance(term, bool) else None


def _streams(probes: dict[str, _Probe]) -> list[dict[str, Any]]:
    """Every stream, as its leader reports it (else as any server that holds it does):
    ``{"stream", "leader", "messages", "last_seq", "replicas": [{"node_id", "current", "lag",
    "offline"}]}``, by name."""
    found: dict[str, tuple[bool, dict[str, Any]]] = {}
    for node_id, probe in probes.items():
        if not probe.answered:
            continue
        for account in probe.jsz.get("account_details") or ():
            if not isinstance(account, dict):
                continue
            for detail in account.get("stream_detail") or ():
                if not isinstance(detail, dict) or not isinstance(detail.get("name"), str):
                    continue
                cluster = _dict(detail.get("cluster"))
                own = cluster.get("leader") == node_id
                if detail["name"] in found and (found[detail["name"]][0] or not own):
                    continue
                found[detail["name"]] = (own, _stream(detail, cluster, node_id if own else None))
    return [found[name][1] for name in sorted(found)]


def _stream(detail: dict[str, Any], cluster: dict[str, Any], leader: str | None) -> dict[str, Any]:
    state = _dict(detail.get("state"))
    replicas = []
    for peer in cluster.get("replicas") or ():
        if isinstance(peer, dict) and isinstance(peer.get("name"), str):
            lag = peer.get("lag")
            replicas.append(
                {
                    "node_id": peer["name"],
                    "current": peer.get("current") is True,
                    "lag": lag if isinstance(lag, int) else 0,
                    "offline": peer.get("offline") is True,
                }
            )
    return {
        "stream": detail["name"],
        # Only the leader's own report counts: a follower keeps naming a dead leader a while.
        "leader": leader,
        "messages": state.get("messages"),
        "last_seq": state.get("last_seq"),
        "replicas": replicas if leader is not None else [],
    }


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _lags(streams: list[dict[str, Any]]) -> dict[str, int]:
    lags: dict[str, int] = {}
    for stream in streams:
        for replica in stream["replicas"]:
            node_id = replica["node_id"]
            lags[node_id] = max(lags.get(node_id, 0), replica["lag"])
    return lags


def _duration_s(text: str) -> float | None:
    """A Go-style duration of ``/varz`` (``1d2h3m4s``) in seconds."""
    units = {"y": 31_536_000, "d": 86_400, "h": 3_600, "m": 60, "s": 1}
    total, number = 0.0, ""
    for char in text:
        if char.isdigit() or char == ".":
            number += char
        elif char in units and number:
            total += float(number) * units[char]
            number = ""
        else:
            return None
    return total


def _ms(seconds: float) -> float:
    return round(seconds * 1000.0, 3)
