"""The gateway's routes as its own app declares them, for tests that must cover every one."""

from __future__ import annotations

from engine.cluster_secret import resolve_cluster_secret
from engine.gateway.app import Gateway, build_gateway_app
from engine.gateway.health import HealthMonitor
from engine.gateway.routing import Router
from engine.gateway.tcp_pool import NodePool
from tests.cluster_harness import RunningCluster


async def gateway_routes(cluster: RunningCluster) -> dict[str, set[str]]:
    """Every path of the gateway's API with the methods it takes (from the app itself)."""
    config = resolve_cluster_secret(cluster.config, create=False)
    pool = NodePool(config)
    health = HealthMonitor(config, pool)
    app = build_gateway_app(Gateway(config, Router(config, pool, health), health, None))
    routes: dict[str, set[str]] = {}
    for resource in app.router.resources():
        path = resource.canonical
        routes.setdefault(path, set()).update(route.method for route in resource)
    pool.close()
    return routes
