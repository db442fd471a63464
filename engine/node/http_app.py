"""A node's HTTP endpoint: health, readiness, status, metrics, and its own read-only store API."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from engine.config_model import Role
from engine.node.host import RaftHost
from engine.node.metrics import NodeCollector
from engine.node.node_log import log_page
from engine.protocol.errors import GateError
from engine.storage.reads import plan_read
from engine.transport.auth import WHOAMI_ROUTE, check_route_roles, whoami
from engine.transport.http_common import (
    READ_ROUTE_ROLES,
    add_read_routes,
    int_param,
    json_response,
    new_app,
)

# The role each route of a node needs (docs/API.md, "Roles"); None: open to anyone.
ROUTE_ROLES: dict[tuple[str, str], Role | None] = {
    ("GET", "/health"): None,
    ("GET", "/ready"): None,
    ("GET", "/status"): "reader",
    ("GET", "/metrics"): "reader",
    ("GET", "/log"): "reader",
    ("GET", WHOAMI_ROUTE): "reader",
    **READ_ROUTE_ROLES,
}


def build_node_app(host: RaftHost) -> web.Application:
    """The aiohttp application of one node."""
    app = new_app(host.config, ROUTE_ROLES)
    registry = CollectorRegistry()
    registry.register(NodeCollector(host))

    async def health(request: web.Request) -> web.Response:
        # Still 200: the process serves (the gateway's probes); it says that it repairs.
        if host.repair is not None:
            reason = host.repair.reason
            return json_response({"status": "repairing", "node_id": host.node_id, "reason": reason})
        return json_response({"status": "ok", "node_id": host.node_id})

    async def ready(request: web.Request) -> web.Response:
        if not host.ready_for_writes:
            raise GateError("unavailable", f"node {host.node_id} knows no reachable leader")
        return json_response({"status": "ready", "leader": host.core.leader_id})

    async def status(request: web.Request) -> web.Response:
        return json_response(host.status())

    async def node_log(request: web.Request) -> web.Response:
        after = int_param(request, "after", minimum=0)
        return json_response(log_page(host.node_log, after, int_param(request, "limit")))

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    async def serve_read(
        request: web.Request, query: dict[str, Any], freshness: dict[str, int]
    ) -> Any:
        # The node's own applied state, as it is: no waiting, so replicas can be compared.
        return host.answer_read(plan_read(query))

    app.router.add_get("/health", health)
    app.router.add_get("/ready", ready)
    app.router.add_get("/status", status)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/log", node_log)
    app.router.add_get(WHOAMI_ROUTE, whoami)
    add_read_routes(app, serve_read)
    check_route_roles(app, ROUTE_ROLES)
    return app
