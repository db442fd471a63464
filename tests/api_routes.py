"""The gateway's routes as its own app declares them, for tests that must cover every one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

from engine.cluster_secret import resolve_cluster_secret
from engine.config_model import ClusterConfig
from engine.gateway.app import Gateway, build_gateway_app
from engine.gateway.gate_backend import GateBackend
from engine.gateway.health import HealthMonitor
from engine.gateway.routing import Router
from engine.gateway.tcp_pool import NodePool
from tests.cluster_harness import RunningCluster


@asynccontextmanager
async def gateway_app(config: ClusterConfig) -> AsyncIterator[web.Application]:
    """The gateway's app for ``config`` (with its cluster secret), started nowhere."""
    pool = NodePool(config)
    health = HealthMonitor(config, pool)
    try:
        router = Router(config, pool, health)
        backend = GateBackend(config, router)
        yield build_gateway_app(Gateway(config, router, health, None, backend))
    finally:
        pool.close()


def app_routes(app: web.Application) -> dict[str, set[str]]:
    """Every path of ``app`` with the methods it takes."""
    routes: dict[str, set[str]] = {}
    for resource in app.router.resources():
        routes.setdefault(resource.canonical, set()).update(route.method for route in resource)
    return routes


async def gateway_routes(cluster: RunningCluster) -> dict[str, set[str]]:
    """Every path of the gateway's API with the methods it takes (from the app itself)."""
    async with gateway_app(resolve_cluster_secret(cluster.config, create=False)) as app:
        return app_routes(app)
