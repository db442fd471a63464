"""The gateway's public HTTP and WebSocket API (docs/API.md)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import uuid
from collections.abc import Coroutine
from importlib import resources
from typing import Any

import orjson
import yaml
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from engine.backends.port import Backend, ClusterOps
from engine.config import is_valid_id
from engine.config_model import ClusterConfig, Endpoint, Role
from engine.gateway.gate_cluster_ops import NODE_OP_TIMEOUT
from engine.gateway.health import ClusterMonitor
from engine.gateway.inside import InsideHub, serve_inside
from engine.gateway.metrics import GatewayCollector, RequestCounts
from engine.gateway.observers import ObserverHub
from engine.gateway.routing import Router
from engine.gateway.supervisor import NodeSupervisor, port_free
from engine.gateway.trace import TraceHub, serve_trace
from engine.protocol import commands
from engine.protocol import definitions as subscription_definitions
from engine.protocol.commands import validate_store_id
from engine.protocol.errors import GateError
from engine.protocol.link_cuts import parse_cut_request
from engine.protocol.link_faults import parse_drop_request, parse_link_fault
from engine.protocol.members import parse_new_node
from engine.protocol.tempo import Tempo, parse_tempo_request
from engine.transport.auth import WHOAMI_ROUTE, check_route_roles, whoami
from engine.transport.http_common import (
    READ_ROUTE_ROLES,
    add_read_routes,
    int_param,
    json_response,
    new_app,
    path_int,
    read_json,
)
from engine.transport.limits import drain_client, open_websocket, send_bounded
from engine.transport.preflight import GATEWAY_SERVICE

log = logging.getLogger("gate.gateway")

NODE_ACTIONS = ("stop", "kill", "start", "restart", "pause", "resume")


def _now_us() -> int:
    return time.time_ns() // 1000


def _new_id() -> str:
    return str(uuid.uuid4())


# Every write answer names the log index of the write, so a client can ask later reads to
# wait for it (``min_index``): read-your-writes for snapshots and stores too, not only events.
LOG_INDEX_HEADER = "Gate-Log-Index"


def _written(index: int, body: Any = None, status: int = 200) -> web.Response:
    headers = {LOG_INDEX_HEADER: str(index)}
    if body is None:
        return web.Response(status=204, headers=headers)
    return json_response(body, status, headers)


async def _optional_body(request: web.Request) -> Any:
    """The JSON body, or None when the request has none."""
    return await read_json(request) if request.body_exists else None


@functools.cache
def _openapi_json() -> bytes:
    """The API's OpenAPI document (``openapi.yaml``) as JSON, parsed once, when first asked for."""
    text = resources.files("engine.gateway").joinpath("openapi.yaml").read_text(encoding="utf-8")
    return orjson.dumps(yaml.safe_load(text))


class Gateway:
    """The gateway's request handlers and the state they share."""

    def __init__(
        self,
        config: ClusterConfig,
        router: Router,
        health: ClusterMonitor,
        supervisor: NodeSupervisor | None,
        backend: Backend,
        ops: ClusterOps,
    ) -> None:
        self.config = config
        # The store handlers' only way to the events (engine/backends/port.py); ``ops`` the
        # cluster operations' (transfer, node log), and says which ones the backend refuses
        # before a handler asks Gate's nodes through the router (membership, tempo, links).
        self.backend = backend
        self.ops = ops
        self.counts = RequestCounts()  # for /metrics
        self.router = router
        self.health = health
        self.members = router.pool.members
        self.supervisor = supervisor
        health.on_member_event = self._member_event
        self.stores_ready = asyncio.Event()
        self._background: set[asyncio.Task[None]] = set()
        self.observers = ObserverHub(self._observer_read)
        # Asks the nodes for their Raft messages while anyone watches /api/cluster/trace.
        self.trace = TraceHub(router.ask, lambda: self.members.node_ids)
        # Asks the nodes for their inside while anyone watches /api/cluster/inside.
        self.inside = InsideHub(router.ask, lambda: self.members.node_ids)
        # What the config leaves open to the network (engine/exposure.py), set at start.
        self.insecure: list[str] = []

    # -- events and stores -------------------------------------------------------------------

    async def append(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        command = commands.build_append(
            request.match_info["store"],
            request.match_info["stream"],
            body,
            now_epoch_us=_now_us(),
            new_id=_new_id,
            max_events=self.config.limits.max_events_per_append,
        )
        result, index = await self.counts.append(
            self.backend.append(command), len(command["events"])
        )
        return _written(index, result)

    async def create_store(self, request: web.Request) -> web.Response:
        command = commands.build_create_store(await read_json(request), now_epoch_us=_now_us())
        result, index = await self.counts.write(self.backend.create_store(command))
        return _written(index, result or {"store_id": command["store"]}, 201)

    async def delete_store(self, request: web.Request) -> web.Response:
        command = commands.build_delete_store(request.match_info["store"])
        _, index = await self.counts.write(self.backend.delete_store(command))
        return _written(index)

    def _snapshot_key(self, request: web.Request) -> tuple[str, str, str, int]:
        info = request.match_info
        return info["store"], info["source_uuid"], info["stream_uuid"], path_int(request, "version")

    async def put_snapshot(self, request: web.Request) -> web.Response:
        store, source, stream, version = self._snapshot_key(request)
        body = await read_json(request)
        command = commands.build_snapshot_put(
            store, source, stream, version, body, now_epoch_us=_now_us()
        )
        _, index = await self.counts.write(self.backend.put_snapshot(command))
        return _written(index)

    async def delete_snapshot(self, request: web.Request) -> web.Response:
        store, source, stream, version = self._snapshot_key(request)
        command = commands.build_snapshot_delete(store, source, stream, version)
        _, index = await self.counts.write(self.backend.delete_snapshot(command))
        return _written(index)

    async def serve_read(
        self, request: web.Request, query: dict[str, Any], freshness: dict[str, int]
    ) -> Any:
        return await self.counts.read(self.backend.read(query, freshness))

    async def _observer_read(
        self, query: dict[str, Any], min_position: int | None, wait_ms: int
    ) -> Any:
        freshness = {"min_position": min_position} if min_position else {}
        return await self.counts.read(self.backend.read(query, freshness, wait_ms))

    # -- persistent subscriptions ------------------------------------------------------------

    async def put_subscription(self, request: web.Request) -> web.Response:
        info = request.match_info
        command = subscription_definitions.build_put(
            info["store"], info["name"], await read_json(request), now_epoch_us=_now_us()
        )
        result, index = await self.counts.write(self.backend.put_subscription(command))
        return _written(index, result, 201 if result.get("created") else 200)

    async def delete_subscription(self, request: web.Request) -> web.Response:
        info = request.match_info
        command = subscription_definitions.build_delete(info["store"], info["name"])
        _, index = await self.counts.write(self.backend.delete_subscription(command))
        return _written(index)

    async def list_subscriptions(self, request: web.Request) -> web.Response:
        return json_response(await self.backend.list_subscriptions(request.match_info["store"]))

    async def replay_parked(self, request: web.Request) -> web.Response:
        info = request.match_info
        return json_response(await self.backend.replay_parked(info["store"], info["name"]), 202)

    async def consume(self, request: web.Request) -> web.WebSocketResponse:
        store = validate_store_id(request.match_info["store"])
        name = subscription_definitions.validate_name(request.match_info["name"])
        return await self.backend.consume(request, store, name)

    # -- cluster -----------------------------------------------------------------------------

    async def cluster(self, request: web.Request) -> web.Response:
        view = {**self.health.view, "insecure": self.insecure}
        return json_response(view | {"unsupported": list(self.ops.unsupported)})

    async def cluster_events(self, request: web.Request) -> web.WebSocketResponse:
        ws = await open_websocket(request, heartbeat=20)
        queue = self.health.subscribe()
        try:
            await send_bounded(
                ws, request, orjson.dumps({"type": "cluster", **self.health.view}).decode()
            )
            reader = asyncio.create_task(drain_client(ws))
            while not ws.closed:
                getter = asyncio.create_task(queue.get())
                done, _ = await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
                if getter not in done:
                    getter.cancel()
                    break
                await send_bounded(ws, request, orjson.dumps(getter.result()).decode())
            reader.cancel()
        except (ConnectionError, RuntimeError):
            pass
        finally:
            self.health.unsubscribe(queue)
        return ws

    async def cluster_trace(self, request: web.Request) -> web.WebSocketResponse:
        self.ops.require("trace")
        return await serve_trace(self.trace, request)

    async def cluster_inside(self, request: web.Request) -> web.WebSocketResponse:
        self.ops.require("inside")
        return await serve_inside(self.inside, request)

    async def node_log(self, request: web.Request) -> web.Response:
        """A node's recent log lines (why things happen on it), asked of that node."""
        node_id = request.match_info["node_id"]
        if node_id not in self.members:
            raise GateError("node_not_found", f"no node {node_id!r} in this cluster")
        after = int_param(request, "after", minimum=0)
        limit = int_param(request, "limit", minimum=1)  # its maximum: the node's (400)
        return json_response(await self.ops.node_log(node_id, after, limit))

    def _known_node(self, request: web.Request) -> str:
        """The path's node id: 400 when it cannot be a node id, 404 when no node has it."""
        node_id = request.match_info["node_id"]
        if not is_valid_id(node_id):
            raise GateError(
                "invalid_request", f"{node_id[:80]!r} is not a node id ([A-Za-z0-9_-]{{1,64}})"
            )
        if node_id not in self.members:
            raise GateError("node_not_found", f"no node {node_id!r} in this cluster")
        return node_id

    # -- membership (docs/API.md, "Membership") ------------------------------------------------

    async def add_node(self, request: web.Request) -> web.Response:
        """Add a node: the leader writes it into the log as a learner; a managed one is
        launched here; the leader promotes it once it caught up."""
        self.ops.require("membership")
        body = await read_json(request)
        node_id, http, tcp = parse_new_node(body)
        if node_id in self.members:
            raise GateError("node_exists", f"{node_id} is already a member of this cluster")
        for name, (host, port) in (("http", http), ("tcp", tcp)):
            owner = self.members.port_owner(host, port)
            if owner is not None:
                raise GateError(
                    "port_in_use", f"{host}:{port} is taken by {owner}", field=name, node=owner
                )
        if self.supervisor is not None:
            taken = next(
                (f"{h}:{p}" for h, p in (http, tcp) if not port_free(Endpoint(h, p))), None
            )
            if taken is not None:
                raise GateError("port_in_use", f"{taken} is already in use on this machine")
        msg = {"op": "add_member", "node": body}
        result = await self._ask_leader(msg, "add a node")
        self.health.note_membership(result.get("membership"))
        self._refresh_soon()
        answer = {"node_id": node_id, "action": "add", "accepted": True, "voter": False}
        return json_response(answer | {"index": result.get("index")}, 202)

    async def remove_node(self, request: web.Request) -> web.Response:
        """Remove a node: the leader writes it out of the log (handing leadership over first
        when it is the one removed); a managed node is then stopped."""
        node_id = self._known_node(request)
        self.ops.require("membership")
        if await _optional_body(request) is not None:
            raise GateError("invalid_request", "removing a node takes no body")
        msg = {"op": "remove_member", "node_id": node_id}
        result = await self._ask_leader(msg, "remove a node")
        self.health.note_membership(result.get("membership"))
        self._refresh_soon()
        answer = {"node_id": node_id, "action": "remove", "accepted": True}
        return json_response(answer | {"index": result.get("index")}, 202)

    async def _ask_leader(self, msg: dict[str, Any], what: str) -> dict[str, Any]:
        result = await self.router.on_leader(
            lambda leader, remaining: self.router.ask(leader, msg, remaining), what=what
        )
        if not isinstance(result, dict):
            raise GateError("internal", f"the leader's answer to {what} is not an object")
        return result

    def _member_event(self, event: dict[str, Any]) -> None:
        """Launch a managed node that joined, stop one that was removed."""
        if self.supervisor is None:
            return
        node_id = event["node_id"]
        if event["type"] == "member_added":
            self._in_background(self.supervisor.add(self.members.node(node_id)), node_id)
        elif event["type"] == "member_removed" and self.supervisor.manages(node_id):
            self._in_background(self.supervisor.remove(node_id), node_id)

    def _in_background(self, work: Coroutine[Any, Any, None], node_id: str) -> None:
        async def run() -> None:
            try:
                await work
            except Exception as exc:
                log.warning("managing %s after a membership change failed: %s", node_id, exc)

        task = asyncio.create_task(run())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def transfer(self, request: web.Request) -> web.Response:
        """Ask the leader to hand leadership over to the node (docs/API.md, "Cluster")."""
        node_id = self._known_node(request)
        if await _optional_body(request) is not None:
            raise GateError("invalid_request", "transfer takes no body")
        self.ops.require("transfer")
        if self._down(node_id):
            raise GateError("node_down", f"{node_id} is down: it cannot take over")
        result = await self.ops.transfer(node_id)
        self._refresh_soon()
        body = {"node_id": node_id, "action": "transfer", "accepted": True, **result}
        return json_response(body, 202)

    async def cut_links(self, request: web.Request) -> web.Response:
        """Cut (isolate) or restore (heal) a node's Raft links to its peers, in the node."""
        node_id = self._known_node(request)
        self.ops.require("isolate")
        action = request.path.rsplit("/", 1)[-1]
        body = await _optional_body(request)
        peers, direction = parse_cut_request(body, node_id, self.members.node_ids)
        msg = {"op": action, "peers": peers, "direction": direction}
        try:
            result = await self.router.ask(node_id, msg, NODE_OP_TIMEOUT)
        except (TimeoutError, OSError):
            raise GateError(
                "node_down", f"{node_id} does not answer (down, paused or unreachable)"
            ) from None
        self._refresh_soon()
        body = {"node_id": node_id, "action": action, "accepted": True, **result}
        return json_response(body, 202)

    # -- slow motion and link faults (docs/API.md, "Tempo", "Link faults") --------------------

    async def get_tempo(self, request: web.Request) -> web.Response:
        return json_response(self.health.tempo.to_json())

    async def set_tempo(self, request: web.Request) -> web.Response:
        """Every node at the new tempo now, and the probes' pace with them.

        Slowing down, the followers go first and the leader last; speeding up, the leader
        first: either way no follower waits for a heartbeat at the slower pace with a timeout
        of the faster one, so a change of tempo starts no election.  A node that does not
        answer is brought to it by the health rounds once it does.
        """
        self.ops.require("tempo")
        scale = parse_tempo_request(await read_json(request))
        tempo = Tempo(scale, time.time())
        leader = self.health.leader
        slower = scale > self.health.tempo.scale
        order = sorted(self.members.node_ids, key=lambda n: (n == leader) == slower)
        told: list[str] = []
        for node_id in order:
            msg = {"op": "tempo", "tempo": tempo.to_json()}
            with contextlib.suppress(TimeoutError, OSError, GateError):
                await self.router.ask(node_id, msg, NODE_OP_TIMEOUT)
                told.append(node_id)
        self.health.set_tempo(tempo)
        pending = [n for n in order if n not in told]
        return json_response({**tempo.to_json(), "nodes": sorted(told), "pending": pending})

    async def get_links(self, request: web.Request) -> web.Response:
        """Every node's outgoing link faults, asked of the nodes."""
        self.ops.require("links")
        answers = await self._ask_links(list(self.members.node_ids), {"op": "links"})
        links = [
            {"from": node_id, **fault}
            for node_id, answer in answers.items()
            for fault in answer.get("link_faults", [])
        ]
        unreachable = [n for n in self.members.node_ids if n not in answers]
        return json_response({"links": links, "unreachable": unreachable})

    async def set_link(self, request: web.Request) -> web.Response:
        """Make one direction of one link lossy, slow or repetitive, in its sender."""
        self.ops.require("links")
        frm, fault = parse_link_fault(await read_json(request), self.members.node_ids)
        fault_json = fault.to_json()
        answers = await self._ask_links([frm], {"op": "links", "set": fault_json})
        if frm not in answers:
            raise GateError("node_down", f"{frm} does not answer (down, paused or unreachable)")
        self._refresh_soon()
        return json_response({"from": frm, **fault_json})

    async def drop_message(self, request: web.Request) -> web.Response:
        """Drop one Raft message still on its way, in its sender (RaftScope's "drop")."""
        self.ops.require("links")
        node_id, trace_id = parse_drop_request(await read_json(request), self.members.node_ids)
        try:
            msg = {"op": "drop", "trace_id": trace_id}
            answer = await self.router.ask(node_id, msg, NODE_OP_TIMEOUT)
        except (TimeoutError, OSError):
            raise GateError(
                "node_down", f"{node_id} does not answer (down, paused or unreachable)"
            ) from None
        return json_response(answer)

    async def clear_links(self, request: web.Request) -> web.Response:
        """Clear the link faults that match ``from`` and ``to`` (each optional: all of them)."""
        self.ops.require("links")
        unknown = sorted(set(request.query) - {"from", "to"})
        if unknown:
            raise GateError(
                "invalid_request", f"unknown parameter {unknown[0][:80]!r} (allowed: from, to)"
            )
        chosen: dict[str, str | None] = {}
        for name in ("from", "to"):
            value = request.query.get(name)
            if value is not None and value not in self.members:
                raise GateError(
                    "invalid_request", f"no node {value[:80]!r} in this cluster", field=name
                )
            chosen[name] = value
        senders = [chosen["from"]] if chosen["from"] else list(self.members.node_ids)
        senders = [n for n in senders if n != chosen["to"]]
        answers = await self._ask_links(senders, {"op": "links", "clear": chosen["to"]})
        self._refresh_soon()
        unreachable = [n for n in senders if n not in answers]
        return json_response({"cleared": sorted(answers), "unreachable": unreachable})

    async def _ask_links(
        self, node_ids: list[str], msg: dict[str, Any]
    ) -> dict[str, dict[str, Any]]:
        """Each node's answer to a ``links`` op; a node that does not answer is left out."""

        async def ask(node_id: str) -> dict[str, Any] | None:
            try:
                answer = await self.router.ask(node_id, msg, NODE_OP_TIMEOUT)
            except (TimeoutError, OSError):
                return None
            return answer if isinstance(answer, dict) else None

        answers = await asyncio.gather(*(ask(n) for n in node_ids))
        return {n: a for n, a in zip(node_ids, answers, strict=True) if a is not None}

    def _down(self, node_id: str) -> bool:
        """Whether the last health round found ``node_id`` down."""
        return any(
            n["node_id"] == node_id and n["role"] == "down" for n in self.health.view["nodes"]
        )

    def _refresh_soon(self) -> None:
        """A health round now, so /api/cluster and the feed show the change without waiting."""
        task = asyncio.create_task(self._refresh())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _refresh(self) -> None:
        # Best effort: the periodic rounds go on (and log their failures) anyway.
        with contextlib.suppress(Exception):
            await self.health.refresh()

    async def node_action(self, request: web.Request) -> web.Response:
        node_id = request.match_info["node_id"]
        action = request.match_info["action"]
        if node_id not in self.members:
            raise GateError("node_not_found", f"no node {node_id!r} in this cluster")
        if action not in NODE_ACTIONS:
            raise GateError(
                "invalid_request",
                f"unknown action {action!r}; use one of {', '.join(NODE_ACTIONS)}",
            )
        if self.supervisor is None:
            raise GateError(
                "node_not_managed",
                f"this gateway does not manage {node_id} (gateway.startsNodes is false)",
            )
        task = asyncio.create_task(self._run_action(node_id, action))
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return json_response({"node_id": node_id, "action": action, "accepted": True}, 202)

    async def _run_action(self, node_id: str, action: str) -> None:
        assert self.supervisor is not None
        log.info("node action: %s %s", action, node_id)
        try:
            result = getattr(self.supervisor, action)(node_id)
            if asyncio.iscoroutine(result):
                await result
        except Exception as exc:
            log.warning("node action %s %s failed: %s", action, node_id, exc)
        await self.health.refresh()

    # -- health ------------------------------------------------------------------------------

    async def health_check(self, request: web.Request) -> web.Response:
        # "service" tells a console about to start a cluster that Gate already runs here.
        return json_response({"status": "ok", "service": GATEWAY_SERVICE})

    async def ready(self, request: web.Request) -> web.Response:
        if self.health.leader is None:
            raise GateError("unavailable", "no leader is known")
        if not self.stores_ready.is_set():
            raise GateError("unavailable", "the configured stores are being created")
        return json_response({"status": "ready", "leader": self.health.leader})

    async def ensure_stores(self) -> None:
        """Create the stores the config lists, once a leader can take the writes."""
        for store in self.config.stores:
            while True:
                try:
                    await self.backend.create_store(
                        commands.build_create_store({"store_id": store}, now_epoch_us=_now_us())
                    )
                    log.info("created store %s", store)
                    break
                except GateError as err:
                    if err.code == "store_exists":
                        break
                    if err.code not in ("unavailable", "timeout"):
                        log.error("cannot create store %s: %s", store, err.message)
                        break
                    await asyncio.sleep(0.1)
        self.stores_ready.set()

    async def close(self) -> None:
        await self.observers.close()
        await self.trace.close()
        await self.inside.close()
        await self.backend.close()
        for task in list(self._background):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


_NODE = "/api/cluster/nodes/{node_id}"
_SNAPSHOT = "/api/stores/{store}/snapshots/{source_uuid}/{stream_uuid}/{version}"
_SUBSCRIPTION = "/api/stores/{store}/subscriptions/{name}"
# The role each route needs (docs/API.md, "Roles"); None: open to anyone.  build_gateway_app
# refuses a route missing here, so a new route cannot go without one.
ROUTE_ROLES: dict[tuple[str, str], Role | None] = {
    ("GET", "/health"): None,
    ("GET", "/ready"): None,
    ("GET", "/metrics"): "reader",
    ("GET", "/api/openapi.json"): "reader",
    ("GET", WHOAMI_ROUTE): "reader",
    ("GET", "/api/cluster"): "reader",
    ("GET", "/api/cluster/events"): "reader",
    ("GET", "/api/cluster/tempo"): "reader",
    ("GET", "/api/cluster/links"): "reader",
    ("GET", "/api/cluster/trace"): "reader",
    ("GET", "/api/cluster/inside"): "reader",
    ("GET", _NODE + "/log"): "reader",
    ("GET", "/api/stores/{store}/observe"): "reader",
    ("GET", "/api/stores/{store}/subscriptions"): "reader",
    **READ_ROUTE_ROLES,
    ("POST", "/api/stores/{store}/streams/{stream}/events"): "writer",
    ("PUT", _SNAPSHOT): "writer",
    ("DELETE", _SNAPSHOT): "writer",
    ("PUT", _SUBSCRIPTION): "writer",
    ("DELETE", _SUBSCRIPTION): "writer",
    ("POST", _SUBSCRIPTION + "/replay-parked"): "writer",
    ("GET", _SUBSCRIPTION + "/consume"): "writer",  # consuming acks and nacks
    ("POST", "/api/stores"): "admin",
    ("DELETE", "/api/stores/{store}"): "admin",
    ("POST", "/api/cluster/nodes"): "admin",
    ("DELETE", _NODE): "admin",
    ("POST", _NODE + "/transfer"): "admin",
    ("POST", _NODE + "/isolate"): "admin",
    ("POST", _NODE + "/heal"): "admin",
    ("POST", _NODE + "/{action}"): "admin",
    ("POST", "/api/cluster/tempo"): "admin",
    ("POST", "/api/cluster/links"): "admin",
    ("DELETE", "/api/cluster/links"): "admin",
    ("POST", "/api/cluster/links/drop"): "admin",
}


def build_gateway_app(gateway: Gateway) -> web.Application:
    """The aiohttp application of a gateway."""
    config = gateway.config
    app = new_app(config, ROUTE_ROLES)
    registry = CollectorRegistry()
    registry.register(GatewayCollector(gateway.counts, gateway.router, gateway.health))

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    async def openapi(request: web.Request) -> web.Response:
        return web.Response(body=_openapi_json(), content_type="application/json")

    r = app.router
    r.add_get("/health", gateway.health_check)
    r.add_get("/ready", gateway.ready)
    r.add_get("/metrics", metrics)
    r.add_get("/api/openapi.json", openapi)
    r.add_get(WHOAMI_ROUTE, whoami)
    r.add_post("/api/stores/{store}/streams/{stream}/events", gateway.append)
    r.add_post("/api/stores", gateway.create_store)
    r.add_delete("/api/stores/{store}", gateway.delete_store)
    r.add_put(_SNAPSHOT, gateway.put_snapshot)
    r.add_delete(_SNAPSHOT, gateway.delete_snapshot)
    r.add_get("/api/cluster", gateway.cluster)
    r.add_get("/api/cluster/events", gateway.cluster_events)
    r.add_get("/api/cluster/trace", gateway.cluster_trace)
    r.add_get("/api/cluster/inside", gateway.cluster_inside)
    r.add_get(_NODE + "/log", gateway.node_log)
    r.add_get("/api/cluster/tempo", gateway.get_tempo)
    r.add_post("/api/cluster/tempo", gateway.set_tempo)
    r.add_get("/api/cluster/links", gateway.get_links)
    r.add_post("/api/cluster/links", gateway.set_link)
    r.add_delete("/api/cluster/links", gateway.clear_links)
    r.add_post("/api/cluster/links/drop", gateway.drop_message)
    # Before the generic node action, which would take these paths as unknown actions.
    r.add_post("/api/cluster/nodes", gateway.add_node)
    r.add_delete(_NODE, gateway.remove_node)
    r.add_post(_NODE + "/transfer", gateway.transfer)
    r.add_post(_NODE + "/isolate", gateway.cut_links)
    r.add_post(_NODE + "/heal", gateway.cut_links)
    r.add_post(_NODE + "/{action}", gateway.node_action)
    r.add_get("/api/stores/{store}/observe", gateway.observers.handle)
    r.add_get("/api/stores/{store}/subscriptions", gateway.list_subscriptions)
    r.add_put(_SUBSCRIPTION, gateway.put_subscription)
    r.add_delete(_SUBSCRIPTION, gateway.delete_subscription)
    r.add_post(_SUBSCRIPTION + "/replay-parked", gateway.replay_parked)
    r.add_get(_SUBSCRIPTION + "/consume", gateway.consume)
    add_read_routes(app, gateway.serve_read)
    check_route_roles(app, ROUTE_ROLES)
    return app
